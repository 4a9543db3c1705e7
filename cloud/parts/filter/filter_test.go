package filter

import (
	"context"
	"errors"
	"slices"
	"testing"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts"
	"github.com/imageflowcanvas/ifc/cloud/parts/internal/testimg"
)

// apply validates params through the catalogue (as the server does) and runs part on src.
func apply(t *testing.T, part string, src gocv.Mat, params map[string]any) gocv.Mat {
	t.Helper()
	p, err := catalog.Default().ValidateParams(part, params)
	if err != nil {
		t.Fatalf("%s params: %v", part, err)
	}
	res, err := New().Process(context.Background(), &parts.Request{Part: part, Params: p, Images: []gocv.Mat{src}})
	if err != nil {
		t.Fatalf("%s: %v", part, err)
	}
	if res.Image.Ptr() == src.Ptr() {
		t.Fatalf("%s returned its input", part)
	}
	return res.Image
}

// stddev is the mean standard deviation over the channels of m.
func stddev(m gocv.Mat) float64 {
	mean, sd := gocv.NewMat(), gocv.NewMat()
	defer mean.Close()
	defer sd.Close()
	gocv.MeanStdDev(m, &mean, &sd)
	var s float64
	for i := range sd.Rows() {
		s += sd.GetDoubleAt(i, 0)
	}
	return s / float64(sd.Rows())
}

// values returns the set of distinct values of a one-channel image.
func values(t *testing.T, m gocv.Mat) map[uint8]bool {
	t.Helper()
	if m.Channels() != 1 {
		t.Fatalf("want one channel, got %d", m.Channels())
	}
	data, err := m.DataPtrUint8()
	if err != nil {
		t.Fatal(err)
	}
	set := map[uint8]bool{}
	for _, v := range data {
		set[v] = true
	}
	return set
}

func binary(set map[uint8]bool, hi uint8) bool {
	for v := range set {
		if v != 0 && v != hi {
			return false
		}
	}
	return len(set) == 2
}

func TestFilters(t *testing.T) {
	noisy := testimg.Scene(96, 64, 40, 1)
	defer noisy.Close()
	noisyStd := stddev(noisy)
	tests := []struct {
		part   string
		params map[string]any
		check  func(t *testing.T, out gocv.Mat)
	}{
		{"grayscale", nil, func(t *testing.T, out gocv.Mat) {
			if out.Channels() != 1 || out.Cols() != 96 || out.Rows() != 64 {
				t.Errorf("grayscale gave %dx%dx%d", out.Cols(), out.Rows(), out.Channels())
			}
		}},
		{"gaussian_blur", map[string]any{"ksize": 7, "sigma": 2}, func(t *testing.T, out gocv.Mat) {
			if s := stddev(out); s >= noisyStd {
				t.Errorf("blur did not reduce variance: stddev %.1f -> %.1f", noisyStd, s)
			}
		}},
		{"median_blur", map[string]any{"ksize": 5}, func(t *testing.T, out gocv.Mat) {
			if s := stddev(out); s >= noisyStd {
				t.Errorf("median did not reduce variance: stddev %.1f -> %.1f", noisyStd, s)
			}
		}},
		{"threshold", map[string]any{"type": "otsu"}, func(t *testing.T, out gocv.Mat) {
			if set := values(t, out); !binary(set, 255) {
				t.Errorf("otsu output not binary: %d values", len(set))
			}
		}},
		{"threshold", map[string]any{"type": "binary_inv", "thresh": 100, "max_value": 200}, func(t *testing.T, out gocv.Mat) {
			if set := values(t, out); !binary(set, 200) {
				t.Errorf("binary_inv output not {0,200}: %v", set)
			}
		}},
		{"threshold", map[string]any{"type": "adaptive_gaussian", "block_size": 15, "c": 3}, func(t *testing.T, out gocv.Mat) {
			if set := values(t, out); !binary(set, 255) {
				t.Errorf("adaptive output not binary: %d values", len(set))
			}
		}},
		{"canny", map[string]any{"low": 50, "high": 150, "aperture": 5, "l2gradient": true}, func(t *testing.T, out gocv.Mat) {
			if set := values(t, out); !binary(set, 255) {
				t.Errorf("canny output not binary edges: %d values", len(set))
			}
		}},
		{"clahe", map[string]any{"clip_limit": 3, "tile_grid": 4}, func(t *testing.T, out gocv.Mat) {
			if out.Channels() != 3 || out.Cols() != 96 {
				t.Errorf("clahe gave %dx%dx%d", out.Cols(), out.Rows(), out.Channels())
			}
		}},
		{"morphology", map[string]any{"op": "open", "shape": "ellipse", "ksize": 5}, func(t *testing.T, out gocv.Mat) {
			if s := stddev(out); s >= noisyStd {
				t.Errorf("opening did not smooth: stddev %.1f -> %.1f", noisyStd, s)
			}
		}},
		{"crop", map[string]any{"x": 10, "y": 5, "width": 30, "height": 20}, func(t *testing.T, out gocv.Mat) {
			if out.Cols() != 30 || out.Rows() != 20 {
				t.Errorf("crop gave %dx%d, want 30x20", out.Cols(), out.Rows())
			}
			if got, want := out.GetVecbAt(0, 0), noisy.GetVecbAt(5, 10); !slices.Equal(got, want) {
				t.Errorf("crop origin pixel %v, want %v", got, want)
			}
		}},
		{"rotate", map[string]any{"angle": 90}, func(t *testing.T, out gocv.Mat) {
			if out.Cols() != 64 || out.Rows() != 96 {
				t.Errorf("rotate 90 gave %dx%d, want 64x96", out.Cols(), out.Rows())
			}
			// Clockwise: the source's bottom-left corner becomes the top-left.
			if got, want := out.GetVecbAt(0, 0), noisy.GetVecbAt(63, 0); !slices.Equal(got, want) {
				t.Errorf("rotated corner %v, want %v", got, want)
			}
		}},
		{"rotate", map[string]any{"angle": 180}, func(t *testing.T, out gocv.Mat) {
			if out.Cols() != 96 || !slices.Equal(out.GetVecbAt(0, 0), noisy.GetVecbAt(63, 95)) {
				t.Errorf("rotate 180 wrong")
			}
		}},
		{"rotate", map[string]any{"angle": 0, "flip": "horizontal"}, func(t *testing.T, out gocv.Mat) {
			if !slices.Equal(out.GetVecbAt(3, 0), noisy.GetVecbAt(3, 95)) {
				t.Errorf("horizontal flip wrong")
			}
		}},
		{"rotate", map[string]any{"angle": 270, "flip": "vertical"}, func(t *testing.T, out gocv.Mat) {
			if out.Cols() != 64 || out.Rows() != 96 {
				t.Errorf("rotate 270 gave %dx%d", out.Cols(), out.Rows())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.part, func(t *testing.T) {
			out := apply(t, tt.part, noisy, tt.params)
			defer out.Close()
			if out.Empty() {
				t.Fatal("empty output")
			}
			tt.check(t, out)
		})
	}
}

func TestFiltersOnGrey(t *testing.T) {
	g := testimg.Gray(48, 32, 10, 2)
	defer g.Close()
	for _, part := range New().Parts() {
		params := map[string]any{}
		if part == catalog.PartCrop {
			params = map[string]any{"width": 8, "height": 8}
		}
		t.Run(part, func(t *testing.T) {
			out := apply(t, part, g, params)
			defer out.Close()
			if out.Channels() != 1 || out.Type() != gocv.MatTypeCV8UC1 {
				t.Errorf("grey input gave type %v", out.Type())
			}
		})
	}
}

func TestCropOutsideImage(t *testing.T) {
	src := testimg.Scene(40, 30, 0, 1)
	defer src.Close()
	for _, tt := range []struct {
		params map[string]any
		field  string
	}{
		{map[string]any{"x": 40, "width": 1, "height": 1}, "x"},
		{map[string]any{"y": 30, "width": 1, "height": 1}, "y"},
		{map[string]any{"x": 30, "width": 11, "height": 1}, "width"},
		{map[string]any{"y": 20, "width": 1, "height": 11}, "height"},
	} {
		p, err := catalog.Default().ValidateParams(catalog.PartCrop, tt.params)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Apply(catalog.PartCrop, src, p)
		var perr *catalog.ParamsError
		if !errors.Is(err, parts.ErrBadInput) || !errors.As(err, &perr) || perr.Fields[0].Field != tt.field {
			t.Errorf("%v: err = %v, want bad input naming %s", tt.params, err, tt.field)
		}
	}
}

func TestFilterGolden(t *testing.T) {
	src := testimg.Scene(80, 60, 0, 3)
	defer src.Close()
	for _, tt := range []struct {
		name, part string
		params     map[string]any
	}{
		{"canny", "canny", map[string]any{"low": 40, "high": 120}},
		{"threshold_otsu", "threshold", map[string]any{"type": "otsu"}},
		{"gaussian_blur_9", "gaussian_blur", map[string]any{"ksize": 9, "sigma": 3}},
		{"clahe", "clahe", map[string]any{"clip_limit": 2, "tile_grid": 4}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := apply(t, tt.part, src, tt.params)
			defer out.Close()
			testimg.Golden(t, tt.name, out)
		})
	}
}

func BenchmarkGaussianBlur640(b *testing.B) {
	src := testimg.Scene(640, 640, 8, 1)
	defer src.Close()
	p := parts.Params{"ksize": 5, "sigma": 0.0}
	for b.Loop() {
		out, err := Apply(catalog.PartGaussianBlur, src, p)
		if err != nil {
			b.Fatal(err)
		}
		out.Close()
	}
}

func BenchmarkCanny640(b *testing.B) {
	src := testimg.Gray(640, 640, 8, 1)
	defer src.Close()
	p := parts.Params{"low": 50, "high": 150, "aperture": 3, "l2gradient": false}
	for b.Loop() {
		out, err := Apply(catalog.PartCanny, src, p)
		if err != nil {
			b.Fatal(err)
		}
		out.Close()
	}
}
