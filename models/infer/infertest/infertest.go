// Package infertest writes small, valid model bundles around two tiny ONNX models, for
// tests of packages that load bundles (models/infer, models/eval, the edge pre-filter, the
// cloud detect part) without the real models.
//
// tiny_classifier: input [1,3,16,16] -> score = sigmoid(8*mean(0.5 c0 + 0.3 c1 + 0.2 c2) - 3),
// c0..c2 the channels fed (R, G, B). tiny_detector: input [1,3,32,32], stride 4, classes
// "red" and "blue": heatmap = sigmoid(12*avgpool4(R-G) - 3) and sigmoid(12*avgpool4(B-G) - 3),
// wh = 8, offset = 0.5 everywhere. testdata/gen_tiny_models.py regenerates them.
//
// The golden files are produced by the Go path itself, so a bundle written here checks the
// loading and verification machinery, not parity with Python.
package infertest

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/infer"
)

var (
	//go:embed testdata/tiny_classifier.onnx
	tinyClassifier []byte
	//go:embed testdata/tiny_detector.onnx
	tinyDetector []byte
)

// Image draws a grey w×h image with a red square near the top left and a blue one near
// the bottom right.
func Image(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{R: 90, G: 90, B: 90, A: 255}
			if x >= w/4 && x < w/4+w/5 && y >= h/4 && y < h/4+h/5 {
				c = color.RGBA{R: 240, G: 30, B: 30, A: 255}
			}
			if x >= w*3/5 && x < w*3/5+w/6 && y >= h*3/5 && y < h*3/5+h/6 {
				c = color.RGBA{R: 20, G: 30, B: 250, A: 255}
			}
			c.G += uint8((x + y) % 3)
			img.Set(x, y, c)
		}
	}
	return img
}

// WriteBundle writes a complete bundle for task (bundle.TaskClassification or
// bundle.TaskDetection) into dir, which must exist, and returns nothing but an error.
func WriteBundle(dir, task string) error {
	var m map[string]any
	var model []byte
	switch task {
	case bundle.TaskClassification:
		model = tinyClassifier
		m = map[string]any{
			"name": "prefilter", "version": "0.0.1-test", "task": task,
			"input":   map[string]any{"name": "images", "shape": []int{1, 3, 16, 16}},
			"outputs": []any{map[string]any{"name": "score", "shape": []int{1, 1}}},
			"classes": []string{"ok", "suspect"}, "threshold": 0.5,
		}
	case bundle.TaskDetection:
		model = tinyDetector
		m = map[string]any{
			"name": "detector", "version": "0.0.1-test", "task": task,
			"input": map[string]any{"name": "images", "shape": []int{1, 3, 32, 32}},
			"outputs": []any{
				map[string]any{"name": "heatmap", "shape": []int{1, 2, 8, 8}},
				map[string]any{"name": "wh", "shape": []int{1, 2, 8, 8}},
				map[string]any{"name": "offset", "shape": []int{1, 2, 8, 8}},
			},
			"classes": []string{"red", "blue"}, "threshold": 0.3,
			"postprocess": map[string]any{"type": "centernet", "stride": 4, "nms_iou": 0.5, "max_detections": 20},
		}
	default:
		return fmt.Errorf("infertest: unknown task %q", task)
	}
	sum := sha256.Sum256(model)
	m["file"], m["sha256"], m["opset"] = "model.onnx", hex.EncodeToString(sum[:]), 17
	m["preprocess"] = map[string]any{"resize": "letterbox", "interpolation": "area", "pad_value": 114,
		"color": "RGB", "scale": 1.0 / 255, "mean": []float64{0, 0, 0}, "std": []float64{1, 1, 1}}
	m["tolerance"] = map[string]any{"input_abs": 0.02, "output_abs": 0.001, "box_px": 2, "score_abs": 0.01}
	m["training"] = map[string]any{"generator": "infertest", "format": "png"}
	outs := map[string]any{}
	for _, o := range m["outputs"].([]any) {
		name := o.(map[string]any)["name"].(string)
		outs[name] = "golden_0.output." + name + ".bin"
	}
	golden := map[string]any{"image": "golden_0.png", "input": "golden_0.input.bin", "outputs": outs}
	if task == bundle.TaskClassification {
		golden["expected_score"] = 0.0
	} else {
		golden["expected"] = map[string]any{"detections": []any{}}
	}
	m["golden"] = []any{golden}
	write := func(name string, data []byte) error {
		return os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	writeManifest := func() error {
		raw, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		return write("manifest.json", raw)
	}
	img := Image(60, 40)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	for name, data := range map[string][]byte{"model.onnx": model, "golden_0.png": buf.Bytes()} {
		if err := write(name, data); err != nil {
			return err
		}
	}
	if err := writeManifest(); err != nil {
		return err
	}

	// Produce the golden tensors and results with the Go path, golden check skipped.
	b, err := bundle.LoadDir(dir)
	if err != nil {
		return err
	}
	opt := infer.Options{SkipGoldenCheck: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var r bundle.Runner
	var closer io.Closer
	if task == bundle.TaskClassification {
		c, err := infer.NewClassifier(b, opt)
		if err != nil {
			return err
		}
		r, closer = c, c
	} else {
		d, err := infer.NewDetector(b, opt)
		if err != nil {
			return err
		}
		r, closer = d, d
	}
	defer closer.Close()
	in, err := r.Preprocess(img)
	if err != nil {
		return err
	}
	if err := write("golden_0.input.bin", bundle.EncodeFloat32s(in)); err != nil {
		return err
	}
	res, err := r.RunTensor(in)
	if err != nil {
		return err
	}
	for name, v := range res {
		if err := write("golden_0.output."+name+".bin", bundle.EncodeFloat32s(v)); err != nil {
			return err
		}
	}
	pred, err := r.Predict(img)
	if err != nil {
		return err
	}
	if task == bundle.TaskClassification {
		golden["expected_score"] = pred.Score
	} else {
		if len(pred.Detections) == 0 {
			return errors.New("infertest: the golden image gives no detections")
		}
		golden["expected"] = map[string]any{"detections": pred.Detections}
	}
	return writeManifest()
}
