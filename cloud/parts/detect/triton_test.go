package detect_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/parts/detect"
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

func openTriton(t testing.TB) *detect.Handler {
	t.Helper()
	h, err := detect.Open(context.Background(), tritonURL(t), infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestTritonGoldenThroughServer: the golden PNGs, as bytes through the part server, give the
// manifest's expected detections with the network on Triton, as they do in process.
func TestTritonGoldenThroughServer(t *testing.T) {
	h := openTriton(t)
	defer h.Close()
	if want := "detector@" + mustManifest(t).Version + " on " + tritonURL(t); h.Model() != want {
		t.Errorf("Model() = %q, want %q", h.Model(), want)
	}
	b, err := bundle.LoadFS(detector.FS)
	if err != nil {
		t.Fatal(err)
	}
	checkGoldenWith(t, b, h)
}

// TestOpenBackends: the backend URL picks the implementation; bad URLs are refused clearly.
func TestOpenBackends(t *testing.T) {
	t.Run("default is the embedded detector in process", func(t *testing.T) {
		requireRuntime(t)
		h, err := detect.Open(context.Background(), "", infer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if h.Model() != "detector@"+mustManifest(t).Version {
			t.Errorf("Model() = %q", h.Model())
		}
	})
	t.Run("onnx bundle directory", func(t *testing.T) {
		requireRuntime(t)
		dir := t.TempDir()
		if err := infertest.WriteBundle(dir, bundle.TaskDetection); err != nil {
			t.Fatal(err)
		}
		h, err := detect.Open(context.Background(), "onnx://"+dir, infer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if !strings.HasPrefix(h.Model(), "detector@0.0.1-test") {
			t.Errorf("Model() = %q", h.Model())
		}
	})
	for _, c := range []struct{ url, want string }{
		{"kserve://127.0.0.1:58001/detector", "unknown scheme"},
		{"onnx://somehost/bundle", "want onnx: or onnx:///path"},
		{"onnx:///no/such/bundle/dir", "no/such/bundle/dir"},
		{"triton://127.0.0.1/detector", "want host:port"},
	} {
		if _, err := detect.Open(context.Background(), c.url, infer.Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", c.url, err, c.want)
		}
	}
	t.Run("triton unreachable", func(t *testing.T) {
		_, err := detect.Open(context.Background(), "triton://127.0.0.1:1/detector", infer.Options{})
		if !errors.Is(err, triton.ErrUnreachable) {
			t.Fatalf("Open of a closed port: %v, want ErrUnreachable", err)
		}
	})
}

// BenchmarkDetectTriton1080p is BenchmarkDetectReal1080p with the network on Triton.
func BenchmarkDetectTriton1080p(b *testing.B) {
	h := openTriton(b)
	defer h.Close()
	benchmark1080p(b, h)
}
