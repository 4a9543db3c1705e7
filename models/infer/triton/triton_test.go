package triton_test

import (
	"context"
	"errors"
	"image"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/detector"
	"github.com/imageflowcanvas/ifc/models/infer"
	"github.com/imageflowcanvas/ifc/models/infer/infertest"
	"github.com/imageflowcanvas/ifc/models/infer/triton"
)

// tritonURL returns IFC_TEST_TRITON_URL. When it is unset the test fails if
// IFC_REQUIRE_BACKENDS=1 (CI) and is skipped otherwise.
func tritonURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("IFC_TEST_TRITON_URL")
	if u == "" {
		if os.Getenv("IFC_REQUIRE_BACKENDS") == "1" {
			t.Fatal("IFC_TEST_TRITON_URL is unset and IFC_REQUIRE_BACKENDS=1: run `eval $(deploy/dev/triton start)`")
		}
		t.Skip("IFC_TEST_TRITON_URL is unset: run `eval $(deploy/dev/triton start)` to test against Triton")
	}
	return u
}

// requireRuntime skips when the ONNX Runtime library is absent, except in CI.
func requireRuntime(t testing.TB) {
	t.Helper()
	if err := infer.Init(); errors.Is(err, infer.ErrNoRuntime) && os.Getenv("CI") == "" {
		t.Skipf("ONNX Runtime not installed: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
}

func detectorBundle(t testing.TB) *bundle.Bundle {
	t.Helper()
	b, err := bundle.LoadFS(detector.FS)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dial(t testing.TB, b *bundle.Bundle) *triton.Detector {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := triton.Dial(ctx, tritonURL(t), b, triton.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestParseURL(t *testing.T) {
	good := []struct {
		in   string
		want triton.Target
	}{
		{"triton://127.0.0.1:58001/detector", triton.Target{Addr: "127.0.0.1:58001", Model: "detector"}},
		{"triton://triton.ifc.svc:8001/detector/3", triton.Target{Addr: "triton.ifc.svc:8001", Model: "detector", Version: "3"}},
		{"triton://[::1]:8001/detector/", triton.Target{Addr: "[::1]:8001", Model: "detector"}},
	}
	for _, c := range good {
		got, err := triton.ParseURL(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	bad := []string{
		"onnx://detector",                    // wrong scheme
		"triton://127.0.0.1/detector",        // no port
		"triton://127.0.0.1:58001",           // no model
		"triton://127.0.0.1:58001/a/1/extra", // too deep
		"triton://u:p@127.0.0.1:58001/det",   // credentials
		"triton://127.0.0.1:58001/det?x=1",   // query
		"triton://127.0.0.1:58001/det#frag",  // fragment
		"triton://%zz:58001/detector",        // unparseable
	}
	for _, in := range bad {
		if got, err := triton.ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q) = %+v, want an error", in, got)
		}
	}
}

// TestDialUnreachable: nothing listens on the port, so Dial fails quickly and says so.
func TestDialUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := triton.Dial(ctx, "triton://127.0.0.1:1/detector", detectorBundle(t), triton.Options{Timeout: 3 * time.Second})
	if !errors.Is(err, triton.ErrUnreachable) {
		t.Fatalf("Dial to a closed port: %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error does not name the address: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Dial took %v to fail", d)
	}
}

// TestDialUnknownModel: the server is up but has no such model.
func TestDialUnknownModel(t *testing.T) {
	tg, err := triton.ParseURL(tritonURL(t))
	if err != nil {
		t.Fatal(err)
	}
	tg.Model = "no_such_model"
	_, err = triton.Dial(context.Background(), tg.String(), detectorBundle(t), triton.Options{})
	if !errors.Is(err, triton.ErrNotReady) {
		t.Fatalf("Dial of an unknown model: %v, want ErrNotReady", err)
	}
	if !strings.Contains(err.Error(), "no_such_model") {
		t.Errorf("error does not name the model: %v", err)
	}
}

// TestDialMismatchedBundle: the served detector takes 1x3x320x320; a bundle whose manifest
// says 1x3x32x32 is refused at Dial, before any image, naming the tensor and both shapes.
func TestDialMismatchedBundle(t *testing.T) {
	u := tritonURL(t)
	dir := t.TempDir()
	if err := infertest.WriteBundle(dir, bundle.TaskDetection); err != nil {
		t.Fatal(err)
	}
	tiny, err := bundle.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = triton.Dial(context.Background(), u, tiny, triton.Options{})
	if !errors.Is(err, triton.ErrModelMismatch) {
		t.Fatalf("Dial with a mismatched bundle: %v, want ErrModelMismatch", err)
	}
	for _, want := range []string{`"images"`, "[1 3 320 320]", "[1 3 32 32]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// TestSameDetectionsAsInProcess runs every golden image of the detector bundle through
// Triton and through ONNX Runtime in process: the raw outputs agree to 1e-4, and the
// detections are the same (labels, scores within 1e-3, box edges within 0.5 px).
// Dial itself has already passed the bundle's golden check against PyTorch's outputs.
func TestSameDetectionsAsInProcess(t *testing.T) {
	requireRuntime(t)
	b := detectorBundle(t)
	remote := dial(t, b)
	local, err := infer.NewDetector(b, infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	total := 0
	for i, g := range b.Manifest.Golden {
		img, err := b.GoldenImage(i)
		if err != nil {
			t.Fatal(err)
		}
		in, err := remote.Preprocess(img)
		if err != nil {
			t.Fatal(err)
		}
		ro, err := remote.RunTensor(in)
		if err != nil {
			t.Fatal(err)
		}
		lo, err := local.RunTensor(in)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range lo {
			d, err := bundle.MaxAbsDiff(ro[name], want)
			if err != nil || d.Max > 1e-4 {
				t.Errorf("%s: output %s differs by %+v (%v)", g.Image, name, d, err)
			}
		}
		rd, err := remote.DetectImage(img)
		if err != nil {
			t.Fatal(err)
		}
		ld, err := local.DetectImage(img)
		if err != nil {
			t.Fatal(err)
		}
		total += len(rd)
		if len(rd) != len(ld) {
			t.Fatalf("%s: triton %d detections, in process %d:\n%v\n%v", g.Image, len(rd), len(ld), rd, ld)
		}
		for j := range rd {
			r, l := rd[j], ld[j]
			if r.Label != l.Label || math.Abs(float64(r.Score-l.Score)) > 1e-3 || boxErr(r.Box, l.Box) > 0.5 {
				t.Errorf("%s detection %d: triton %+v, in process %+v", g.Image, j, r, l)
			}
		}
		t.Logf("%s: %d detections agree", g.Image, len(rd))
	}
	if total == 0 {
		t.Error("no golden image gave a detection: nothing was compared")
	}
}

func boxErr(a, b infer.Box) float64 {
	return max(math.Abs(a.X-b.X), math.Abs(a.Y-b.Y), math.Abs(a.X+a.W-b.X-b.W), math.Abs(a.Y+a.H-b.Y-b.H))
}

// TestConcurrentDetect: parallel callers on one Detector each get their own image's result.
func TestConcurrentDetect(t *testing.T) {
	b := detectorBundle(t)
	d := dial(t, b)
	want := make([][]infer.Detection, len(b.Manifest.Golden))
	imgs := make([]image.Image, len(want))
	for i := range want {
		img, err := b.GoldenImage(i)
		if err != nil {
			t.Fatal(err)
		}
		imgs[i] = img
		if want[i], err = d.DetectImage(img); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			i := w % len(imgs)
			got, err := d.DetectImage(imgs[i])
			if err == nil && (len(got) != len(want[i]) || (len(got) > 0 && got[0] != want[i][0])) {
				err = errors.New("worker got another image's detections")
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestClosed: a closed detector refuses work with ErrClosed; Close is idempotent.
func TestClosed(t *testing.T) {
	b := detectorBundle(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := triton.Dial(ctx, tritonURL(t), b, triton.Options{SkipGoldenCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	img := gocv.NewMatWithSize(100, 100, gocv.MatTypeCV8UC3)
	defer img.Close()
	if _, err := d.Detect(img); !errors.Is(err, triton.ErrClosed) {
		t.Fatalf("Detect after Close: %v, want ErrClosed", err)
	}
}

// BenchmarkDetect compares one 1080p BGR frame through the whole detector (letterbox,
// network, decode) with the network on Triton (gRPC on loopback, python backend running
// onnxruntime with one intra-op thread) and in process (ONNX Runtime, one intra-op thread).
func BenchmarkDetect(b *testing.B) {
	bun := detectorBundle(b)
	frame := frame1080p(b, bun)
	defer frame.Close()
	b.Run("triton", func(b *testing.B) {
		d := dial(b, bun)
		for b.Loop() {
			if _, err := d.Detect(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("onnx", func(b *testing.B) {
		requireRuntime(b)
		d, err := infer.NewDetector(bun, infer.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		for b.Loop() {
			if _, err := d.Detect(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// frame1080p is the first golden image scaled to 1920×1080.
func frame1080p(tb testing.TB, b *bundle.Bundle) gocv.Mat {
	tb.Helper()
	img, err := b.GoldenImage(0)
	if err != nil {
		tb.Fatal(err)
	}
	src, err := infer.MatFromImage(img)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dst := gocv.NewMat()
	gocv.Resize(src, &dst, image.Pt(1920, 1080), 0, 0, gocv.InterpolationLinear)
	return dst
}

// BenchmarkRunTensor isolates the network call: one preprocessed 1×3×320×320 tensor through
// Triton (encode, gRPC on loopback, python backend, decode) and through ONNX Runtime in process.
func BenchmarkRunTensor(b *testing.B) {
	bun := detectorBundle(b)
	in, err := bun.GoldenInput(0)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("triton", func(b *testing.B) {
		d := dial(b, bun)
		for b.Loop() {
			if _, err := d.RunTensor(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("onnx", func(b *testing.B) {
		requireRuntime(b)
		d, err := infer.NewDetector(bun, infer.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		for b.Loop() {
			if _, err := d.RunTensor(in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
