package detect_test

import (
	"context"
	"testing"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts"
	"github.com/imageflowcanvas/ifc/cloud/parts/detect"
	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/infer"
	"github.com/imageflowcanvas/ifc/models/infer/infertest"
)

// TestNewFromBundleTinyDetector runs the handler on infertest's tiny detector, whose
// output is known: a red square ("red") and a blue one ("blue").
func TestNewFromBundleTinyDetector(t *testing.T) {
	requireRuntime(t)
	dir := t.TempDir()
	if err := infertest.WriteBundle(dir, bundle.TaskDetection); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := detect.NewFromBundle(b, infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Model() == "" {
		t.Error("no model name")
	}
	img, err := infer.MatFromImage(infertest.Image(128, 96))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	p, _ := catalog.Default().ValidateParams(catalog.PartDetect, nil)
	res, err := h.Process(context.Background(), &parts.Request{Part: "detect", Params: p, Images: []gocv.Mat{img}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Image.Close()
	labels := map[string]bool{}
	for _, d := range res.Detections {
		labels[d.GetLabel()] = true
		if b := d.GetBox(); b.GetX() < 0 || b.GetY() < 0 || b.GetX()+b.GetW() > 128.5 || b.GetY()+b.GetH() > 96.5 {
			t.Errorf("box %v outside the 128x96 image", b)
		}
	}
	if !labels["red"] || !labels["blue"] {
		t.Errorf("detections %v, want red and blue", res.Detections)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
