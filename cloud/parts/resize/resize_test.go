package resize

import (
	"context"
	"testing"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts"
	"github.com/imageflowcanvas/ifc/cloud/parts/internal/testimg"
)

// run validates params through the catalogue (as the server does) and resizes src.
func run(t *testing.T, src gocv.Mat, params map[string]any) gocv.Mat {
	t.Helper()
	p, err := catalog.Default().ValidateParams(catalog.PartResize, params)
	if err != nil {
		t.Fatal(err)
	}
	res, err := New().Process(context.Background(), &parts.Request{Part: catalog.PartResize, Params: p, Images: []gocv.Mat{src}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Image
}

func TestResizeModes(t *testing.T) {
	tests := []struct {
		name       string
		srcW, srcH int
		params     map[string]any
		w, h       int
	}{
		{"keep aspect fits width", 400, 200, map[string]any{"width": 100, "height": 100}, 100, 50},
		{"keep aspect fits height", 200, 400, map[string]any{"width": 100, "height": 100}, 50, 100},
		{"stretch", 400, 200, map[string]any{"width": 100, "height": 100, "keep_aspect": false}, 100, 100},
		{"letterbox exact size", 400, 200, map[string]any{"width": 128, "height": 96, "letterbox": true}, 128, 96},
		{"letterbox odd padding", 301, 100, map[string]any{"width": 64, "height": 63, "letterbox": true}, 64, 63},
		{"letterbox upscale", 20, 10, map[string]any{"width": 64, "height": 64, "letterbox": true}, 64, 64},
		{"same size", 64, 48, map[string]any{"width": 64, "height": 48}, 64, 48},
		{"extreme aspect keeps a pixel", 4000, 2, map[string]any{"width": 100, "height": 100, "interpolation": "area"}, 100, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := testimg.Scene(tt.srcW, tt.srcH, 0, 1)
			defer src.Close()
			out := run(t, src, tt.params)
			defer out.Close()
			if out.Cols() != tt.w || out.Rows() != tt.h {
				t.Errorf("output %dx%d, want %dx%d", out.Cols(), out.Rows(), tt.w, tt.h)
			}
			if out.Channels() != 3 {
				t.Errorf("output has %d channels", out.Channels())
			}
		})
	}
}

func TestLetterboxPadding(t *testing.T) {
	src := testimg.Solid(200, 100, 0, 0, 255) // red, 2:1
	defer src.Close()
	out := run(t, src, map[string]any{"width": 100, "height": 100, "letterbox": true, "pad_value": 7})
	defer out.Close()
	// The image scales to 100×50, centred: rows 0..24 and 75..99 are padding.
	for _, y := range []int{0, 24, 75, 99} {
		if px := out.GetVecbAt(y, 50); px[0] != 7 || px[1] != 7 || px[2] != 7 {
			t.Errorf("row %d pixel %v, want padding 7", y, px)
		}
	}
	for _, y := range []int{25, 50, 74} {
		if px := out.GetVecbAt(y, 50); px[2] != 255 || px[0] != 0 {
			t.Errorf("row %d pixel %v, want the red image", y, px)
		}
	}
}

func TestLetterboxDefaultPadIsYOLOGrey(t *testing.T) {
	src := testimg.Gray(50, 100, 0, 1)
	defer src.Close()
	out := run(t, src, map[string]any{"width": 64, "height": 64, "letterbox": true})
	defer out.Close()
	if out.Channels() != 1 {
		t.Fatalf("grey input gave %d channels", out.Channels())
	}
	if v := out.GetUCharAt(10, 0); v != 114 {
		t.Errorf("padding = %d, want 114", v)
	}
}

func TestResizeGolden(t *testing.T) {
	src := testimg.Scene(160, 90, 0, 1)
	defer src.Close()
	out := run(t, src, map[string]any{"width": 64, "height": 64, "letterbox": true})
	defer out.Close()
	testimg.Golden(t, "letterbox_160x90_to_64", out)
}

func TestResizeRejectsBadSize(t *testing.T) {
	src := testimg.Scene(10, 10, 0, 1)
	defer src.Close()
	if _, err := Resize(src, Options{Width: 0, Height: 5}); err == nil {
		t.Error("accepted width 0")
	}
}

func BenchmarkLetterbox1080pTo640(b *testing.B) {
	src := testimg.Scene(1920, 1080, 8, 1)
	defer src.Close()
	o := Options{Width: 640, Height: 640, KeepAspect: true, Letterbox: true, PadValue: 114, Interpolation: gocv.InterpolationLinear}
	for b.Loop() {
		out, err := Resize(src, o)
		if err != nil {
			b.Fatal(err)
		}
		out.Close()
	}
}
