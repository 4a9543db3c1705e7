package infer_test

import (
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/infer"
	"github.com/imageflowcanvas/ifc/models/infer/infertest"
)

func writeBundle(t *testing.T, task string) string {
	t.Helper()
	dir := t.TempDir()
	if err := infertest.WriteBundle(dir, task); err != nil {
		t.Fatal(err)
	}
	return dir
}

func uniformMat(t *testing.T, w, h int, b, g, r uint8) gocv.Mat {
	t.Helper()
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(b), float64(g), float64(r), 0), h, w, gocv.MatTypeCV8UC3)
	t.Cleanup(func() { m.Close() })
	return m
}

func TestClassifierTinyModel(t *testing.T) {
	dir := writeBundle(t, bundle.TaskClassification)
	b, err := bundle.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := infer.NewClassifier(b, infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Uniform BGR (b, g, r): score = sigmoid(8 * (0.5 r + 0.3 g + 0.2 b)/255 - 3).
	for _, px := range [][3]uint8{{0, 0, 0}, {255, 255, 255}, {10, 20, 250}, {250, 20, 10}} {
		mat := uniformMat(t, 37, 23, px[0], px[1], px[2])
		v, err := c.Classify(mat)
		if err != nil {
			t.Fatal(err)
		}
		r, g, bl := float64(px[2])/255, float64(px[1])/255, float64(px[0])/255
		// The letterbox pads with 114, which the model sees too: mix by area.
		_, nh, _, _, _ := infer.NewPreprocessor(c.Manifest()).Geometry(37, 23)
		frac := float64(16*nh) / 256
		mix := func(v float64) float64 { return frac*v + (1-frac)*114.0/255 }
		want := 1 / (1 + math.Exp(-(8*(0.5*mix(r)+0.3*mix(g)+0.2*mix(bl)) - 3)))
		if math.Abs(float64(v.Score)-want) > 2e-3 {
			t.Errorf("pixel %v: score %v, want %v", px, v.Score, want)
		}
		wantSuspect := v.Score >= 0.5
		if v.Suspect != wantSuspect || (v.Label == "suspect") != wantSuspect || v.Model != "prefilter@0.0.1-test" {
			t.Errorf("verdict %+v", v)
		}
	}
}

func TestDetectorTinyModel(t *testing.T) {
	dir := writeBundle(t, bundle.TaskDetection)
	b, err := bundle.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := infer.NewDetector(b, infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// A red 16×16 square at (16, 16) in a 64×64 grey image: the 32×32 input sees 8×8 at (8, 8),
	// heatmap cells (2..3, 2..3) are an equal plateau, so all four are peaks, and their
	// boxes overlap by IoU 1/3 or less, so NMS at 0.5 keeps them; wh = 8 input px = 16 original px.
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			c := color.RGBA{R: 90, G: 90, B: 90, A: 255}
			if x >= 16 && x < 32 && y >= 16 && y < 32 {
				c = color.RGBA{R: 250, G: 10, B: 10, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	dets, err := d.DetectImage(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(dets) != 4 {
		t.Fatalf("got %d detections, want 4: %+v", len(dets), dets)
	}
	for _, x := range dets {
		if x.Label != "red" || x.ClassID != 0 || x.Box.W != 16 || x.Box.H != 16 {
			t.Errorf("detection %+v", x)
		}
		// Plateau cells (2..3, 2..3) have centres 10 or 14 input px = 20 or 28 original px.
		if c := x.Rect().Min; (c.X != 12 && c.X != 20) || (c.Y != 12 && c.Y != 20) {
			t.Errorf("box %v not on the square", x.Rect())
		}
	}
	mat, err := infer.MatFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	defer mat.Close()
	before := mat.Clone()
	defer before.Close()
	infer.Draw(&mat, dets)
	diff := gocv.NewMat()
	defer diff.Close()
	gocv.AbsDiff(mat, before, &diff)
	gray := gocv.NewMat()
	defer gray.Close()
	gocv.CvtColor(diff, &gray, gocv.ColorBGRToGray)
	if gocv.CountNonZero(gray) == 0 {
		t.Fatal("Draw changed nothing")
	}
}

func TestGoldenMismatchRefused(t *testing.T) {
	for _, task := range []string{bundle.TaskClassification, bundle.TaskDetection} {
		t.Run(task, func(t *testing.T) {
			dir := writeBundle(t, task)
			// Corrupt one raw output: the network no longer reproduces it.
			name := "golden_0.output.score.bin"
			if task == bundle.TaskDetection {
				name = "golden_0.output.wh.bin"
			}
			path := filepath.Join(dir, name)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := bundle.DecodeFloat32s(raw, len(raw)/4)
			v[0] += 0.01
			if err := os.WriteFile(path, bundle.EncodeFloat32s(v), 0o644); err != nil {
				t.Fatal(err)
			}
			b, err := bundle.LoadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var openErr error
			if task == bundle.TaskClassification {
				_, openErr = infer.NewClassifier(b, infer.Options{})
			} else {
				_, openErr = infer.NewDetector(b, infer.Options{})
			}
			if !errors.Is(openErr, bundle.ErrGolden) {
				t.Fatalf("err = %v, want ErrGolden", openErr)
			}
			t.Log(openErr)
		})
	}
}

func TestTamperedModelRefused(t *testing.T) {
	dir := writeBundle(t, bundle.TaskClassification)
	path := filepath.Join(dir, "model.onnx")
	raw, _ := os.ReadFile(path)
	raw[len(raw)-1] ^= 1
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.LoadDir(dir); !errors.Is(err, bundle.ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
}

func TestWrongTaskRefused(t *testing.T) {
	b, err := bundle.LoadDir(writeBundle(t, bundle.TaskClassification))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := infer.NewDetector(b, infer.Options{}); err == nil {
		t.Fatal("classification bundle opened as a detector")
	}
}

func TestConcurrentUseAndClose(t *testing.T) {
	b, err := bundle.LoadDir(writeBundle(t, bundle.TaskClassification))
	if err != nil {
		t.Fatal(err)
	}
	c, err := infer.NewClassifier(b, infer.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	img := infertest.Image(50, 30)
	want, err := c.ClassifyImage(img)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				v, err := c.ClassifyImage(img)
				if err != nil {
					errs <- err
					return
				}
				if v != want {
					errs <- errors.New("results differ between goroutines")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.ClassifyImage(img); !errors.Is(err, infer.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestLibraryPath(t *testing.T) {
	t.Setenv(infer.LibraryEnv, "/nonexistent/libonnxruntime.so")
	if _, err := infer.LibraryPath(); !errors.Is(err, infer.ErrNoRuntime) {
		t.Fatalf("err = %v, want infer.ErrNoRuntime", err)
	}
	t.Setenv(infer.LibraryEnv, "")
	if _, err := infer.LibraryPath(); err != nil {
		t.Skipf("no library in the default locations: %v", err)
	}
}
