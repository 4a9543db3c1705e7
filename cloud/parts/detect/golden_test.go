package detect_test

import (
	"context"
	"errors"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts"
	"github.com/imageflowcanvas/ifc/cloud/parts/detect"
	"github.com/imageflowcanvas/ifc/cloud/parts/imageio"
	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/infer"
	"github.com/imageflowcanvas/ifc/models/infer/infertest"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// checkGoldenThroughServer sends each golden PNG of b, as bytes, through a part Server
// running the detect handler (PNG decoded by imageio, not by the bundle's Go path) and
// requires the manifest's expected detections within its tolerances.
func checkGoldenThroughServer(t *testing.T, b *bundle.Bundle) {
	t.Helper()
	requireRuntime(t)
	h, err := detect.NewFromBundle(b, infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	checkGoldenWith(t, b, h)
}

// checkGoldenWith is checkGoldenThroughServer with the handler h (any backend) for b.
func checkGoldenWith(t *testing.T, b *bundle.Bundle, h *detect.Handler) {
	t.Helper()
	srv, err := parts.NewServer(nil, catalog.Default(), h)
	if err != nil {
		t.Fatal(err)
	}
	m := b.Manifest
	if len(m.Golden) == 0 {
		t.Fatal("bundle has no golden images")
	}
	for i, g := range m.Golden {
		png, err := b.ReadFile(g.Image)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Process(context.Background(), &ifcv1.ProcessRequest{
			Part:         catalog.PartDetect,
			Images:       []*ifcv1.Image{{Data: png, Format: ifcv1.ImageFormat_IMAGE_FORMAT_PNG}},
			EncodeOutput: true,
		})
		if err != nil {
			t.Fatalf("golden %d (%s): %v", i, g.Image, err)
		}
		got := make([]bundle.Detection, len(resp.GetDetections()))
		for j, d := range resp.GetDetections() {
			bx := d.GetBox()
			got[j] = bundle.Detection{Label: d.GetLabel(), Score: float64(d.GetScore()),
				Box: bundle.Box{X: float64(bx.GetX()), Y: float64(bx.GetY()), W: float64(bx.GetW()), H: float64(bx.GetH())}}
		}
		if err := bundle.MatchDetections(got, g.Expected.Detections, m.Threshold, m.Tolerance); err != nil {
			t.Errorf("golden %d (%s): %v", i, g.Image, err)
		}
		if resp.GetEncoded() == nil || resp.GetImage().GetFormat() != ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8 {
			t.Fatalf("golden %d: no annotated image", i)
		}
		checkBoxesDrawn(t, png, resp)
		t.Logf("golden %d (%s): %d detections match", i, g.Image, len(got))
	}
}

// requireRuntime skips when the ONNX Runtime library is absent (deploy/ fetches it),
// except in CI, where a missing runtime fails the test.
func requireRuntime(t testing.TB) {
	t.Helper()
	if err := infer.Init(); errors.Is(err, infer.ErrNoRuntime) && os.Getenv("CI") == "" {
		t.Skipf("ONNX Runtime not installed: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
}

func TestGoldenThroughServerTinyDetector(t *testing.T) {
	dir := t.TempDir()
	if err := infertest.WriteBundle(dir, bundle.TaskDetection); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkGoldenThroughServer(t, b)
}

// checkBoxesDrawn requires the annotated image to differ from the input on the left edge of
// every detection's box (where Draw paints the box in its class colour).
func checkBoxesDrawn(t *testing.T, input []byte, resp *ifcv1.ProcessResponse) {
	t.Helper()
	in, err := imageio.DecodeBytes(input, imageio.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := imageio.Decode(resp.GetImage(), imageio.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for _, d := range resp.GetDetections() {
		b := d.GetBox()
		x, y := int(math.Round(float64(b.GetX()))), int(math.Round(float64(b.GetY()+b.GetH()/2)))
		x, y = min(max(x, 0), out.Cols()-1), min(max(y, 0), out.Rows()-1)
		if slices.Equal(in.GetVecbAt(y, x), out.GetVecbAt(y, x)) {
			t.Errorf("%s box edge at (%d,%d) not drawn", d.GetLabel(), x, y)
		}
	}
}
