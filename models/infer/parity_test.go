package infer_test

// The export-mismatch trap: these tests compare the Go path with what PyTorch produced for
// the committed bundles models/prefilter and models/detector.
//
//   - preprocessing parity: Go/OpenCV preprocessing of each golden PNG against the Python
//     golden_<n>.input.bin, within tolerance.input_abs;
//   - output parity: ONNX Runtime (from Go) on the Python input tensor against each PyTorch
//     golden_<n>.output.<t>.bin, within tolerance.output_abs;
//   - decode parity: the Go CenterNet decoder on the PyTorch outputs against the expected
//     detections, within box_px and score_abs;
//   - the full golden check the loaders run.
//
// A missing bundle fails the tests. While the models are being trained, set
// IFC_MODELS_PENDING=1 to skip them instead (never in CI).

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/infer"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// realBundle loads models/<name> (sha256 verified) or fails (skips when IFC_MODELS_PENDING=1).
func realBundle(tb testing.TB, name string) *bundle.Bundle {
	tb.Helper()
	dir := filepath.Join("..", name)
	if _, err := os.Stat(filepath.Join(dir, bundle.ManifestFile)); err != nil {
		if os.Getenv("IFC_MODELS_PENDING") == "1" {
			tb.Skipf("bundle models/%s not there yet (IFC_MODELS_PENDING=1): %v", name, err)
		}
		tb.Fatalf("bundle models/%s is missing (%v); the parity tests need it. Set IFC_MODELS_PENDING=1 only while it is being trained", name, err)
	}
	b, err := bundle.LoadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// runner opens the bundle without the golden check, so each parity test reports its own
// numbers rather than the first failure of the combined check.
func runner(tb testing.TB, b *bundle.Bundle) (bundle.Runner, func()) {
	tb.Helper()
	opt := infer.Options{SkipGoldenCheck: true, Logger: quiet}
	if b.Manifest.Task == bundle.TaskClassification {
		c, err := infer.NewClassifier(b, opt)
		if err != nil {
			tb.Fatal(err)
		}
		return c, func() { c.Close() }
	}
	d, err := infer.NewDetector(b, opt)
	if err != nil {
		tb.Fatal(err)
	}
	return d, func() { d.Close() }
}

var realBundles = []string{"prefilter", "detector"}

func TestPreprocessParity(t *testing.T) {
	for _, name := range realBundles {
		t.Run(name, func(t *testing.T) {
			b := realBundle(t, name)
			r, done := runner(t, b)
			defer done()
			tol := b.Manifest.Tolerance.InputAbs
			for i, g := range b.Manifest.Golden {
				img, err := b.GoldenImage(i)
				if err != nil {
					t.Fatal(err)
				}
				// The Go image path and OpenCV's own PNG decoder (what Python's cv2.imread
				// uses) must give the same BGR pixels.
				raw, err := b.ReadFile(g.Image)
				if err != nil {
					t.Fatal(err)
				}
				cvImg, err := gocv.IMDecode(raw, gocv.IMReadColor)
				if err != nil {
					t.Fatal(err)
				}
				goImg, err := infer.MatFromImage(img)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(cvImg.ToBytes(), goImg.ToBytes()) {
					t.Errorf("%s: image.Image -> Mat differs from cv::imdecode", g.Image)
				}
				cvImg.Close()
				goImg.Close()

				got, err := r.Preprocess(img)
				if err != nil {
					t.Fatal(err)
				}
				want, err := b.GoldenInput(i)
				if err != nil {
					t.Fatal(err)
				}
				d, err := bundle.MaxAbsDiff(got, want)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: max |Go - Python| input = %.3g at %d (tolerance %g)", g.Image, d.Max, d.Index, tol)
				if d.Max > tol {
					t.Errorf("%s: preprocessing differs from %s by %g at element %d (got %g, want %g; tolerance %g)",
						g.Image, g.Input, d.Max, d.Index, d.Got, d.Want, tol)
				}
			}
		})
	}
}

func TestOutputParity(t *testing.T) {
	for _, name := range realBundles {
		t.Run(name, func(t *testing.T) {
			b := realBundle(t, name)
			r, done := runner(t, b)
			defer done()
			tol := b.Manifest.Tolerance.OutputAbs
			compared := 0
			for i, g := range b.Manifest.Golden {
				in, err := b.GoldenInput(i)
				if err != nil {
					t.Fatal(err)
				}
				outs, err := r.RunTensor(in)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range b.Manifest.Outputs {
					want, ok, err := b.GoldenOutput(i, o.Name)
					if err != nil {
						t.Fatal(err)
					}
					if !ok {
						continue
					}
					compared++
					d, err := bundle.MaxAbsDiff(outs[o.Name], want)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("%s %s: max |ORT - PyTorch| = %.3g (tolerance %g)", g.Input, o.Name, d.Max, tol)
					if d.Max > tol {
						t.Errorf("%s: output %s differs from %s by %g at element %d (got %g, want %g; tolerance %g)",
							g.Input, o.Name, g.Outputs[o.Name], d.Max, d.Index, d.Got, d.Want, tol)
					}
				}
			}
			if compared == 0 {
				t.Fatal("the manifest lists no golden output tensors: output parity cannot be checked")
			}
		})
	}
}

func TestDecodeParity(t *testing.T) {
	b := realBundle(t, "detector")
	m := b.Manifest
	pp := m.Postprocess
	dec := infer.CenterNet{Classes: m.Classes, Threshold: float32(m.Threshold), Stride: pp.Stride,
		NMSIoU: pp.NMSIoU, MaxDetections: pp.MaxDetections}
	hs, _ := m.Output("heatmap")
	grid := infer.Grid{C: int(hs.Shape[1]), H: int(hs.Shape[2]), W: int(hs.Shape[3])}
	pre := infer.NewPreprocessor(m)
	checked := 0
	for i, g := range m.Golden {
		heat, ok1, err1 := b.GoldenOutput(i, "heatmap")
		wh, ok2, err2 := b.GoldenOutput(i, "wh")
		off, ok3, err3 := b.GoldenOutput(i, "offset")
		for _, err := range []error{err1, err2, err3} {
			if err != nil {
				t.Fatal(err)
			}
		}
		if !ok1 || !ok2 || !ok3 {
			t.Logf("%s: not all three outputs are in the bundle; decode parity skipped for it", g.Image)
			continue
		}
		img, err := b.GoldenImage(i)
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, _, tr := pre.Geometry(img.Bounds().Dx(), img.Bounds().Dy())
		dets := dec.Decode(heat, wh, off, grid, tr)
		got := make([]bundle.Detection, len(dets))
		for k, d := range dets {
			got[k] = bundle.Detection{Label: d.Label, Score: float64(d.Score), Box: d.Box}
		}
		if err := bundle.MatchDetections(got, g.Expected.Detections, m.Threshold, m.Tolerance); err != nil {
			t.Errorf("%s: Go decoding of the PyTorch outputs: %v", g.Image, err)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no golden entry has heatmap, wh and offset: decode parity cannot be checked")
	}
}

func TestRealBundlesPassGoldenCheck(t *testing.T) {
	for _, name := range realBundles {
		t.Run(name, func(t *testing.T) {
			b := realBundle(t, name)
			opt := infer.Options{Logger: quiet}
			var err error
			if b.Manifest.Task == bundle.TaskClassification {
				var c *infer.Classifier
				if c, err = infer.NewClassifier(b, opt); err == nil {
					c.Close()
				}
			} else {
				var d *infer.Detector
				if d, err = infer.NewDetector(b, opt); err == nil {
					d.Close()
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func goldenMat(b *testing.B, bd *bundle.Bundle) gocv.Mat {
	raw, err := bd.ReadFile(bd.Manifest.Golden[0].Image)
	if err != nil {
		b.Fatal(err)
	}
	m, err := gocv.IMDecode(raw, gocv.IMReadColor)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkClassifier measures one pre-filter call (preprocess + network) on one core.
func BenchmarkClassifier(b *testing.B) {
	bd := realBundle(b, "prefilter")
	c, err := infer.NewClassifier(bd, infer.Options{IntraOpThreads: 1, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	img := goldenMat(b, bd)
	defer img.Close()
	for b.Loop() {
		if _, err := c.Classify(img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDetector measures one detector call (preprocess + network + decode) on one core.
func BenchmarkDetector(b *testing.B) {
	bd := realBundle(b, "detector")
	d, err := infer.NewDetector(bd, infer.Options{IntraOpThreads: 1, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	img := goldenMat(b, bd)
	defer img.Close()
	for b.Loop() {
		if _, err := d.Detect(img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPreprocess1080p measures letterboxing a 1920×1080 frame into the detector input.
func BenchmarkPreprocess1080p(b *testing.B) {
	bd := realBundle(b, "detector")
	pre := infer.NewPreprocessor(bd.Manifest)
	img := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(10, 20, 30, 0), 1080, 1920, gocv.MatTypeCV8UC3)
	defer img.Close()
	dst := make([]float32, pre.Elements())
	for b.Loop() {
		if _, err := pre.Apply(img, dst); err != nil {
			b.Fatal(err)
		}
	}
}
