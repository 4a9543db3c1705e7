package infer

import (
	"image"
	"image/color"
	"testing"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/models/bundle"
)

func manifestFor(w, h int, pp bundle.Preprocess) *bundle.Manifest {
	return &bundle.Manifest{Input: bundle.TensorSpec{Shape: []int64{1, 3, int64(h), int64(w)}}, Preprocess: pp}
}

func uniformMat(t *testing.T, w, h int, b, g, r uint8) gocv.Mat {
	t.Helper()
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(b), float64(g), float64(r), 0), h, w, gocv.MatTypeCV8UC3)
	t.Cleanup(func() { m.Close() })
	return m
}

func TestPreprocessLetterboxUniform(t *testing.T) {
	// 4×2 BGR (10, 20, 30) into 8×8: r = 2, resized 8×4, pad top = 2, bottom = 2.
	pp := bundle.Preprocess{Resize: "letterbox", Interpolation: "area", PadValue: 114, Color: "RGB",
		Scale: 1.0 / 255, Mean: [3]float64{0.5, 0.5, 0.5}, Std: [3]float64{0.25, 0.5, 1}}
	p := NewPreprocessor(manifestFor(8, 8, pp))
	src := uniformMat(t, 4, 2, 10, 20, 30)
	dst := make([]float32, p.Elements())
	tr, err := p.Apply(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if tr.ScaleX != 2 || tr.ScaleY != 2 || tr.PadX != 0 || tr.PadY != 2 || tr.SrcW != 4 || tr.SrcH != 2 {
		t.Fatalf("transform = %+v", tr)
	}
	norm := func(v float32, c int) float32 {
		x := v * float32(1.0/255)
		return (x - float32(pp.Mean[c])) / float32(pp.Std[c])
	}
	rgb := [3]float32{30, 20, 10} // R, G, B
	for c := range 3 {
		for y := range 8 {
			for x := range 8 {
				want := norm(rgb[c], c)
				if y < 2 || y >= 6 {
					want = norm(114, c)
				}
				if got := dst[c*64+y*8+x]; got != want {
					t.Fatalf("c=%d y=%d x=%d: %v, want %v", c, y, x, got, want)
				}
			}
		}
	}
}

func TestPreprocessBGRStretchExact(t *testing.T) {
	// Same size, stretch, BGR kept: the tensor is the bytes, channel-planar.
	pp := bundle.Preprocess{Resize: "stretch", Interpolation: "linear", Color: "BGR", Scale: 1, Std: [3]float64{1, 1, 1}}
	p := NewPreprocessor(manifestFor(3, 2, pp))
	data := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}
	src, err := gocv.NewMatFromBytes(2, 3, gocv.MatTypeCV8UC3, data)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := make([]float32, p.Elements())
	if _, err := p.Apply(src, dst); err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 4, 7, 10, 13, 16, 2, 5, 8, 11, 14, 17, 3, 6, 9, 12, 15, 18}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("dst = %v, want %v", dst, want)
		}
	}
}

func TestGeometryRoundsHalfUp(t *testing.T) {
	p := &Preprocessor{w: 8, h: 8, letter: true}
	// 3×16: r = 0.5, 3*0.5 = 1.5 -> 2, left = 3.
	nw, nh, left, top, _ := p.Geometry(3, 16)
	if nw != 2 || nh != 8 || left != 3 || top != 0 {
		t.Fatalf("nw=%d nh=%d left=%d top=%d", nw, nh, left, top)
	}
	// 5×16: 2.5 -> 3 (half up, as models/train/prep.py; Python's round() would give 2), left = 2.
	if nw, _, left, _, _ := p.Geometry(5, 16); nw != 3 || left != 2 {
		t.Fatalf("nw=%d left=%d", nw, left)
	}
	// 7×16: 3.5 -> 4, left = 2.
	if nw, _, left, _, _ := p.Geometry(7, 16); nw != 4 || left != 2 {
		t.Fatalf("nw=%d left=%d", nw, left)
	}
	// Extreme aspect never collapses to zero.
	if _, nh, _, _, _ := p.Geometry(4096, 1); nh != 1 {
		t.Fatalf("nh=%d", nh)
	}
}

func TestPreprocessErrors(t *testing.T) {
	pp := bundle.Preprocess{Resize: "stretch", Interpolation: "linear", Color: "BGR", Scale: 1, Std: [3]float64{1, 1, 1}}
	p := NewPreprocessor(manifestFor(8, 8, pp))
	empty := gocv.NewMat()
	defer empty.Close()
	if _, err := p.Apply(empty, make([]float32, p.Elements())); err == nil {
		t.Fatal("empty Mat accepted")
	}
	src := uniformMat(t, 4, 4, 1, 2, 3)
	if _, err := p.Apply(src, make([]float32, 5)); err == nil {
		t.Fatal("short destination accepted")
	}
	f := gocv.NewMatWithSize(4, 4, gocv.MatTypeCV32FC3)
	defer f.Close()
	if _, err := p.Apply(f, make([]float32, p.Elements())); err == nil {
		t.Fatal("float Mat accepted")
	}
	gray := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(7, 0, 0, 0), 4, 4, gocv.MatTypeCV8UC1)
	defer gray.Close()
	dst := make([]float32, p.Elements())
	if _, err := p.Apply(gray, dst); err != nil || dst[0] != 7 || dst[64] != 7 || dst[128] != 7 {
		t.Fatalf("gray: %v %v", err, dst[:3])
	}
}

func TestMatFromImage(t *testing.T) {
	rgba := image.NewRGBA(image.Rect(0, 0, 4, 3))
	rgba.Set(1, 2, color.RGBA{R: 200, G: 100, B: 50, A: 255})
	nrgba := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	nrgba.Set(1, 2, color.NRGBA{R: 200, G: 100, B: 50, A: 10}) // alpha dropped, colour kept
	gray := image.NewGray(image.Rect(0, 0, 4, 3))
	gray.SetGray(1, 2, color.Gray{Y: 77})
	big := image.NewRGBA(image.Rect(0, 0, 10, 10))
	big.Set(3, 5, color.RGBA{R: 200, G: 100, B: 50, A: 255})
	sub := big.SubImage(image.Rect(2, 3, 6, 6)) // (3,5) -> (1,2)
	pal := image.NewPaletted(image.Rect(0, 0, 4, 3), color.Palette{color.Black, color.RGBA{R: 200, G: 100, B: 50, A: 255}})
	pal.SetColorIndex(1, 2, 1)
	for name, c := range map[string]struct {
		img  image.Image
		want [3]uint8
	}{
		"rgba": {rgba, [3]uint8{50, 100, 200}}, "nrgba": {nrgba, [3]uint8{50, 100, 200}},
		"gray": {gray, [3]uint8{77, 77, 77}}, "subimage": {sub, [3]uint8{50, 100, 200}},
		"paletted": {pal, [3]uint8{50, 100, 200}},
	} {
		m, err := MatFromImage(c.img)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Cols() != 4 || m.Rows() != 3 || m.Type() != gocv.MatTypeCV8UC3 {
			t.Fatalf("%s: %dx%d %v", name, m.Cols(), m.Rows(), m.Type())
		}
		v := m.GetVecbAt(2, 1)
		if v[0] != c.want[0] || v[1] != c.want[1] || v[2] != c.want[2] {
			t.Fatalf("%s: pixel = %v, want BGR %v", name, v, c.want)
		}
		if z := m.GetVecbAt(0, 0); z[0]|z[1]|z[2] != 0 {
			t.Fatalf("%s: (0,0) = %v", name, z)
		}
		m.Close()
	}
	if _, err := MatFromImage(image.NewRGBA(image.Rect(0, 0, 0, 5))); err == nil {
		t.Fatal("empty image accepted")
	}
}
