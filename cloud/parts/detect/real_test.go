package detect_test

import (
	"context"
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts"
	"github.com/imageflowcanvas/ifc/cloud/parts/detect"
	"github.com/imageflowcanvas/ifc/cloud/parts/imageio"
	"github.com/imageflowcanvas/ifc/cloud/parts/internal/testimg"
	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/detector"
	"github.com/imageflowcanvas/ifc/models/infer"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// TestRealDetectorGolden runs the trained, embedded detector through the part server on
// each golden PNG and requires the detections the manifest expects.
func TestRealDetectorGolden(t *testing.T) {
	b, err := bundle.LoadFS(detector.FS)
	if err != nil {
		t.Fatal(err)
	}
	checkGoldenThroughServer(t, b)
}

// TestNewEmbedded opens the embedded detector and checks the default threshold is the model's.
func TestNewEmbedded(t *testing.T) {
	requireRuntime(t)
	h, err := detect.NewEmbedded(infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Model() != "detector@"+mustManifest(t).Version {
		t.Errorf("Model() = %q", h.Model())
	}
}

func mustManifest(t testing.TB) *bundle.Manifest {
	t.Helper()
	b, err := bundle.LoadFS(detector.FS)
	if err != nil {
		t.Fatal(err)
	}
	return b.Manifest
}

// BenchmarkDetectReal1080p is the detect node on a raw 1080p frame: letterbox to the
// network input, ONNX Runtime (one intra-op thread), decode, annotate, raw copy out.
func BenchmarkDetectReal1080p(b *testing.B) {
	requireRuntime(b)
	h, err := detect.NewEmbedded(infer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	benchmark1080p(b, h)
}

// benchmark1080p runs the detect node of h on a raw 1080p frame through a part server.
func benchmark1080p(b *testing.B, h *detect.Handler) {
	srv, err := parts.NewServer(nil, catalog.Default(), h)
	if err != nil {
		b.Fatal(err)
	}
	m := testimg.Scene(1920, 1080, 8, 1)
	raw, err := imageio.ToRaw(m)
	m.Close()
	if err != nil {
		b.Fatal(err)
	}
	req := &ifcv1.ProcessRequest{Part: "detect", Images: []*ifcv1.Image{raw}}
	for b.Loop() {
		if _, err := srv.Process(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
