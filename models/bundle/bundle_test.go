package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"testing/fstest"
)

// fakeRunner returns canned tensors and predictions.
type fakeRunner struct {
	input []float32
	outs  map[string][]float32
	pred  Prediction
}

func (f *fakeRunner) Preprocess(image.Image) ([]float32, error) { return f.input, nil }
func (f *fakeRunner) RunTensor([]float32) (map[string][]float32, error) {
	return f.outs, nil
}
func (f *fakeRunner) Predict(image.Image) (Prediction, error) { return f.pred, nil }

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 20), uint8(y * 20), 7, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// classifierFS builds a valid classification bundle; edit lets a test change the manifest first.
func classifierFS(t testing.TB, edit func(m map[string]any)) (fstest.MapFS, *fakeRunner) {
	t.Helper()
	model := []byte("not really onnx, but the loader only hashes it")
	sum := sha256.Sum256(model)
	in := make([]float32, 3*8*8)
	for i := range in {
		in[i] = float32(i) / 192
	}
	out := []float32{0.75}
	m := map[string]any{
		"name": "prefilter", "version": "1.0.0", "task": "classification", "file": "model.onnx",
		"sha256": hex.EncodeToString(sum[:]), "opset": 17,
		"input":   map[string]any{"name": "images", "shape": []int{1, 3, 8, 8}, "layout": "NCHW", "dtype": "float32"},
		"outputs": []any{map[string]any{"name": "score", "shape": []int{1, 1}}},
		"preprocess": map[string]any{"resize": "letterbox", "interpolation": "area", "pad_value": 114,
			"color": "RGB", "scale": 1.0 / 255, "mean": []float64{0, 0, 0}, "std": []float64{1, 1, 1}},
		"classes":   []string{"ok", "suspect"},
		"threshold": 0.5,
		"training":  map[string]any{"seed": 1, "anything": "goes"},
		"golden": []any{map[string]any{"image": "golden_0.png", "input": "golden_0.input.bin",
			"outputs": map[string]any{"score": "golden_0.output.score.bin"}, "expected_score": 0.75}},
		"tolerance": map[string]any{"input_abs": 0.02, "output_abs": 0.001, "box_px": 2, "score_abs": 0.01},
	}
	if edit != nil {
		edit(m)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"manifest.json":             {Data: raw},
		"model.onnx":                {Data: model},
		"golden_0.png":              {Data: pngBytes(t, 8, 8)},
		"golden_0.input.bin":        {Data: EncodeFloat32s(in)},
		"golden_0.output.score.bin": {Data: EncodeFloat32s(out)},
	}
	r := &fakeRunner{input: append([]float32(nil), in...), outs: map[string][]float32{"score": {0.75}}, pred: Prediction{Score: 0.75}}
	return fsys, r
}

func TestLoadAndGoldenOK(t *testing.T) {
	fsys, r := classifierFS(t, nil)
	b, err := LoadFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if b.Manifest.Name != "prefilter" || b.Manifest.Training["anything"] != "goes" {
		t.Fatalf("manifest = %+v", b.Manifest)
	}
	if err := CheckGolden(b, r); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedModelRefused(t *testing.T) {
	fsys, _ := classifierFS(t, nil)
	fsys["model.onnx"] = &fstest.MapFile{Data: []byte("not really onnx, but the loader only hashes iT")}
	_, err := LoadFS(fsys)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	fsys, _ = classifierFS(t, func(m map[string]any) { m["sha256"] = strings.Repeat("ab", 32) })
	if _, err := LoadFS(fsys); !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
}

func TestWrongGoldenRefused(t *testing.T) {
	cases := map[string]func(r *fakeRunner, fsys fstest.MapFS){
		"score":      func(r *fakeRunner, _ fstest.MapFS) { r.pred.Score = 0.8 },
		"raw output": func(r *fakeRunner, _ fstest.MapFS) { r.outs["score"] = []float32{0.752} },
		"missing output": func(r *fakeRunner, _ fstest.MapFS) {
			delete(r.outs, "score")
		},
		"preprocessing": func(r *fakeRunner, _ fstest.MapFS) { r.input[17] += 0.05 },
		"truncated input.bin": func(_ *fakeRunner, fsys fstest.MapFS) {
			fsys["golden_0.input.bin"].Data = fsys["golden_0.input.bin"].Data[:12]
		},
		"corrupt png": func(_ *fakeRunner, fsys fstest.MapFS) {
			fsys["golden_0.png"].Data = []byte("\x89PNG nope")
		},
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			fsys, r := classifierFS(t, nil)
			breakIt(r, fsys)
			b, err := LoadFS(fsys)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckGolden(b, r)
			if !errors.Is(err, ErrGolden) {
				t.Fatalf("err = %v, want ErrGolden", err)
			}
			t.Log(err)
		})
	}
}

func TestMalformedManifestRefused(t *testing.T) {
	for name, raw := range map[string]string{
		"not json":      "{not json",
		"empty":         "",
		"array":         "[]",
		"trailing":      `{"name":"x"} {}`,
		"unknown field": `{"name":"x","versoin":"1"}`,
		"wrong type":    `{"name":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			fsys, _ := classifierFS(t, nil)
			fsys["manifest.json"] = &fstest.MapFile{Data: []byte(raw)}
			if _, err := LoadFS(fsys); !errors.Is(err, ErrManifest) {
				t.Fatalf("err = %v, want ErrManifest", err)
			}
		})
	}
	fsys, _ := classifierFS(t, nil)
	delete(fsys, "manifest.json")
	if _, err := LoadFS(fsys); err == nil {
		t.Fatal("missing manifest accepted")
	}
	fsys["manifest.json"] = &fstest.MapFile{Data: bytes.Repeat([]byte(" "), MaxManifestBytes+1)}
	if _, err := LoadFS(fsys); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("oversized manifest: err = %v", err)
	}
}

func TestPathTricksRefused(t *testing.T) {
	for _, bad := range []string{"../x", "../../etc/passwd", "/etc/passwd", "a/b.onnx", ".hidden", "..", "a\\b", "x..y", "", "model.onnx\x00"} {
		for _, field := range []string{"file", "image", "input", "output"} {
			t.Run(field+"="+bad, func(t *testing.T) {
				fsys, _ := classifierFS(t, func(m map[string]any) {
					g := m["golden"].([]any)[0].(map[string]any)
					switch field {
					case "file":
						m["file"] = bad
					case "image":
						g["image"] = bad
					case "input":
						g["input"] = bad
					case "output":
						g["outputs"] = map[string]any{"score": bad}
					}
				})
				_, err := LoadFS(fsys)
				if !errors.Is(err, ErrManifest) {
					t.Fatalf("err = %v, want ErrManifest", err)
				}
			})
		}
	}
}

func TestValidateNamesField(t *testing.T) {
	cases := []struct {
		field string
		edit  func(m map[string]any)
	}{
		{"name", func(m map[string]any) { m["name"] = "Bad Name" }},
		{"version", func(m map[string]any) { m["version"] = "" }},
		{"task", func(m map[string]any) { m["task"] = "segmentation" }},
		{"sha256", func(m map[string]any) { m["sha256"] = "ABC" }},
		{"opset", func(m map[string]any) { m["opset"] = 11 }},
		{"input.shape", func(m map[string]any) { m["input"].(map[string]any)["shape"] = []int{1, 1, 8, 8} }},
		{"input.shape[2]", func(m map[string]any) { m["input"].(map[string]any)["shape"] = []int{1, 3, 100000, 8} }},
		{"input.dtype", func(m map[string]any) { m["input"].(map[string]any)["dtype"] = "float16" }},
		{"outputs", func(m map[string]any) { m["outputs"] = []any{} }},
		{"outputs[0].shape", func(m map[string]any) {
			m["outputs"] = []any{map[string]any{"name": "score", "shape": []int{1 << 20, 1 << 20}}}
		}},
		{"preprocess.resize", func(m map[string]any) { m["preprocess"].(map[string]any)["resize"] = "crop" }},
		{"preprocess.interpolation", func(m map[string]any) { m["preprocess"].(map[string]any)["interpolation"] = "cubic" }},
		{"preprocess.pad_value", func(m map[string]any) { m["preprocess"].(map[string]any)["pad_value"] = 300 }},
		{"preprocess.std[1]", func(m map[string]any) { m["preprocess"].(map[string]any)["std"] = []float64{1, 0, 1} }},
		{"preprocess.scale", func(m map[string]any) { m["preprocess"].(map[string]any)["scale"] = -1 }},
		{"classes", func(m map[string]any) { m["classes"] = []string{"ok"} }},
		{"classes[1]", func(m map[string]any) { m["classes"] = []string{"ok", "ok"} }},
		{"threshold", func(m map[string]any) { m["threshold"] = 1.5 }},
		{"tolerance.output_abs", func(m map[string]any) { m["tolerance"].(map[string]any)["output_abs"] = 0 }},
		{"golden", func(m map[string]any) { m["golden"] = []any{} }},
		{"golden[0].expected_score", func(m map[string]any) {
			delete(m["golden"].([]any)[0].(map[string]any), "expected_score")
		}},
		{"golden[0].outputs", func(m map[string]any) {
			m["golden"].([]any)[0].(map[string]any)["outputs"] = map[string]any{"logits": "x.bin"}
		}},
		{"golden[0].input", func(m map[string]any) {
			m["golden"].([]any)[0].(map[string]any)["input"] = "golden_0.png"
		}},
		{"postprocess", func(m map[string]any) { m["task"] = "detection" }},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			fsys, _ := classifierFS(t, c.edit)
			_, err := LoadFS(fsys)
			if !errors.Is(err, ErrManifest) {
				t.Fatalf("err = %v, want ErrManifest", err)
			}
			if !strings.Contains(err.Error(), ": "+c.field+": ") {
				t.Fatalf("error %q does not name field %q", err, c.field)
			}
		})
	}
}

func detectorManifest() map[string]any {
	return map[string]any{
		"name": "detector", "version": "1.0.0", "task": "detection", "file": "model.onnx",
		"sha256": strings.Repeat("0", 64), "opset": 17,
		"input": map[string]any{"name": "images", "shape": []int{1, 3, 32, 32}},
		"outputs": []any{
			map[string]any{"name": "heatmap", "shape": []int{1, 2, 8, 8}},
			map[string]any{"name": "wh", "shape": []int{1, 2, 8, 8}},
			map[string]any{"name": "offset", "shape": []int{1, 2, 8, 8}},
		},
		"preprocess": map[string]any{"resize": "stretch", "interpolation": "linear", "pad_value": 0,
			"color": "BGR", "scale": 1, "mean": []float64{0, 0, 0}, "std": []float64{1, 1, 1}},
		"classes":     []string{"a", "b"},
		"threshold":   0.3,
		"postprocess": map[string]any{"type": "centernet", "stride": 4, "nms_iou": 0.5, "max_detections": 10},
		"golden": []any{map[string]any{"image": "g.png", "input": "g.bin", "outputs": map[string]any{},
			"expected": map[string]any{"detections": []any{
				map[string]any{"label": "a", "score": 0.9, "box": map[string]any{"x": 1, "y": 2, "w": 3, "h": 4}}}}}},
		"tolerance": map[string]any{"input_abs": 0.02, "output_abs": 0.001, "box_px": 2, "score_abs": 0.01},
	}
}

func TestDetectorManifest(t *testing.T) {
	parse := func(edit func(m map[string]any)) error {
		m := detectorManifest()
		if edit != nil {
			edit(m)
		}
		raw, _ := json.Marshal(m)
		_, err := ParseManifest(raw)
		return err
	}
	if err := parse(nil); err != nil {
		t.Fatal(err)
	}
	for field, edit := range map[string]func(m map[string]any){
		"outputs.heatmap.shape": func(m map[string]any) {
			m["outputs"].([]any)[0].(map[string]any)["shape"] = []int{1, 3, 8, 8}
		},
		"outputs": func(m map[string]any) {
			m["outputs"].([]any)[2].(map[string]any)["name"] = "off"
		},
		"postprocess.stride":         func(m map[string]any) { m["postprocess"].(map[string]any)["stride"] = 3 },
		"postprocess.type":           func(m map[string]any) { m["postprocess"].(map[string]any)["type"] = "yolo" },
		"postprocess.max_detections": func(m map[string]any) { m["postprocess"].(map[string]any)["max_detections"] = 0 },
		"golden[0].expected.detections[0].label": func(m map[string]any) {
			m["golden"].([]any)[0].(map[string]any)["expected"] = map[string]any{"detections": []any{
				map[string]any{"label": "zzz", "score": 0.9, "box": map[string]any{"x": 1, "y": 2, "w": 3, "h": 4}}}}
		},
		"golden[0].expected.detections": func(m map[string]any) {
			delete(m["golden"].([]any)[0].(map[string]any), "expected")
		},
	} {
		err := parse(edit)
		if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), ": "+field+": ") {
			t.Errorf("%s: err = %v", field, err)
		}
	}
}

func TestMatchDetections(t *testing.T) {
	tol := Tolerance{BoxPx: 2, ScoreAbs: 0.01}
	d := func(l string, s, x, y, w, h float64) Detection {
		return Detection{Label: l, Score: s, Box: Box{X: x, Y: y, W: w, H: h}}
	}
	want := []Detection{d("a", 0.9, 10, 10, 20, 20), d("b", 0.6, 50, 50, 10, 10)}
	cases := []struct {
		name string
		got  []Detection
		ok   bool
	}{
		{"exact, other order", []Detection{want[1], want[0]}, true},
		{"within tolerance", []Detection{d("a", 0.905, 11.5, 9, 20, 21), want[1]}, true},
		{"box too far", []Detection{d("a", 0.9, 13, 10, 20, 20), want[1]}, false},
		{"size too far", []Detection{d("a", 0.9, 10, 10, 23, 20), want[1]}, false},
		{"score too far", []Detection{d("a", 0.88, 10, 10, 20, 20), want[1]}, false},
		{"wrong label", []Detection{d("b", 0.9, 10, 10, 20, 20), want[1]}, false},
		{"missing", []Detection{want[0]}, false},
		{"extra", []Detection{want[0], want[1], d("a", 0.5, 0, 0, 5, 5)}, false},
		{"extra borderline", []Detection{want[0], want[1], d("a", 0.305, 0, 0, 5, 5)}, true},
	}
	for _, c := range cases {
		err := MatchDetections(c.got, want, 0.3, tol)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
	}
	// A borderline expected detection may be missing.
	if err := MatchDetections(nil, []Detection{d("a", 0.305, 1, 1, 1, 1)}, 0.3, tol); err != nil {
		t.Errorf("borderline expected: %v", err)
	}
}

func TestDecodeFloat32s(t *testing.T) {
	in := []float32{1, -2.5, 3e-8}
	out, err := DecodeFloat32s(EncodeFloat32s(in), 3)
	if err != nil || out[0] != 1 || out[1] != -2.5 || out[2] != 3e-8 {
		t.Fatalf("%v %v", out, err)
	}
	if _, err := DecodeFloat32s(make([]byte, 11), 3); err == nil {
		t.Fatal("short data accepted")
	}
}

func FuzzParseManifest(f *testing.F) {
	fsys, _ := classifierFS(f, nil)
	f.Add(fsys["manifest.json"].Data)
	raw, _ := json.Marshal(detectorManifest())
	f.Add(raw)
	f.Add([]byte(`{"file":"../x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		// Anything accepted must be safe to use.
		if !ValidFileName(m.File) {
			t.Fatalf("accepted file %q", m.File)
		}
		for _, g := range m.Golden {
			if !ValidFileName(g.Image) || !ValidFileName(g.Input) {
				t.Fatalf("accepted golden %+v", g)
			}
		}
		if w, h := m.InputSize(); w < MinInputSide || h < MinInputSide {
			t.Fatalf("accepted input %dx%d", w, h)
		}
	})
}
