package detect

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts"
	"github.com/imageflowcanvas/ifc/cloud/parts/internal/testimg"
	"github.com/imageflowcanvas/ifc/models/infer"
)

// fakeDetector returns fixed detections and counts calls.
type fakeDetector struct {
	dets  []infer.Detection
	err   error
	calls atomic.Int32
}

func (f *fakeDetector) Detect(img gocv.Mat) ([]infer.Detection, error) {
	f.calls.Add(1)
	if img.Empty() {
		return nil, errors.New("empty")
	}
	return f.dets, f.err
}

var threeDets = []infer.Detection{
	{Label: "scratch", ClassID: 0, Score: 0.55, Box: infer.Box{X: 5, Y: 5, W: 20, H: 10}},
	{Label: "dent", ClassID: 1, Score: 0.92, Box: infer.Box{X: 40, Y: 20, W: 15, H: 15}},
	{Label: "crack", ClassID: 2, Score: 0.31, Box: infer.Box{X: 10, Y: 30, W: 30, H: 8}},
}

func process(t *testing.T, h *Handler, img gocv.Mat, params map[string]any) *parts.Result {
	t.Helper()
	p, err := catalog.Default().ValidateParams(catalog.PartDetect, params)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Process(context.Background(), &parts.Request{Part: catalog.PartDetect, Params: p, Images: []gocv.Mat{img}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDetectThresholdAndCap(t *testing.T) {
	h, err := New(&fakeDetector{dets: threeDets}, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	img := testimg.Scene(64, 48, 0, 1)
	defer img.Close()
	tests := []struct {
		name   string
		params map[string]any
		want   []string
	}{
		{"model threshold by default, best first", map[string]any{"annotate": false}, []string{"dent", "scratch", "crack"}},
		{"score_threshold raises it", map[string]any{"annotate": false, "score_threshold": 0.5}, []string{"dent", "scratch"}},
		{"max_detections caps", map[string]any{"annotate": false, "max_detections": 1}, []string{"dent"}},
		{"threshold is inclusive", map[string]any{"annotate": false, "score_threshold": 0.92}, []string{"dent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := process(t, h, img, tt.params)
			if res.Image.Ptr() != img.Ptr() {
				t.Error("annotate=false must pass the input image through")
			}
			var got []string
			for _, d := range res.Detections {
				got = append(got, d.GetLabel())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("labels %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("labels %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestDetectAnnotates(t *testing.T) {
	h, _ := New(&fakeDetector{dets: threeDets}, 0.3)
	for _, grey := range []bool{false, true} {
		img := testimg.Solid(64, 48, 128, 128, 128)
		if grey {
			g := gocv.NewMat()
			gocv.CvtColor(img, &g, gocv.ColorBGRToGray)
			img.Close()
			img = g
		}
		res := process(t, h, img, nil)
		out := res.Image
		if out.Ptr() == img.Ptr() || out.Channels() != 3 || out.Cols() != 64 || out.Rows() != 48 {
			t.Fatalf("grey=%v: annotated image %dx%dx%d", grey, out.Cols(), out.Rows(), out.Channels())
		}
		// The box edge of "dent" (x=40..55, y=20..35) is drawn in its class colour.
		if px := out.GetVecbAt(28, 40); px[0] == 128 && px[1] == 128 && px[2] == 128 {
			t.Errorf("grey=%v: no box drawn at the detection's edge", grey)
		}
		if px := out.GetVecbAt(47, 63); px[0] != 128 {
			t.Errorf("grey=%v: pixel away from boxes changed: %v", grey, px)
		}
		d := res.Detections[0]
		if d.GetLabel() != "dent" || d.GetClassId() != 1 || d.GetBox().GetX() != 40 || d.GetBox().GetW() != 15 {
			t.Errorf("proto detection %v", d)
		}
		out.Close()
		img.Close()
	}
}

func TestDetectErrors(t *testing.T) {
	if _, err := New(nil, 0.5); err == nil {
		t.Error("New accepted a nil detector")
	}
	if _, err := New(&fakeDetector{}, 1.5); err == nil {
		t.Error("New accepted threshold 1.5")
	}
	boom := errors.New("session closed")
	h, _ := New(&fakeDetector{err: boom}, 0.5)
	img := testimg.Scene(8, 8, 0, 1)
	defer img.Close()
	_, err := h.Process(context.Background(), &parts.Request{Part: "detect", Params: parts.Params{}, Images: []gocv.Mat{img}})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the detector's", err)
	}
}
