package synth

import (
	"bytes"
	"errors"
	"image"
	"math"
	"testing"
)

func TestGenerateDeterministic(t *testing.T) {
	opt := DefaultOptions()
	for i := range 8 {
		a, err := Generate(1, i, opt)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Generate(1, i, opt)
		if !bytes.Equal(a.Image.Pix, b.Image.Pix) {
			t.Fatalf("index %d: same seed and index gave different pixels", i)
		}
		if len(a.Defects) != len(b.Defects) {
			t.Fatalf("index %d: defects differ: %v vs %v", i, a.Defects, b.Defects)
		}
		for j := range a.Defects {
			if a.Defects[j] != b.Defects[j] {
				t.Fatalf("index %d: defects differ: %v vs %v", i, a.Defects, b.Defects)
			}
		}
	}
	a, _ := Generate(1, 0, opt)
	b, _ := Generate(2, 0, opt)
	c, _ := Generate(1, 1, opt)
	if bytes.Equal(a.Image.Pix, b.Image.Pix) || bytes.Equal(a.Image.Pix, c.Image.Pix) {
		t.Fatal("different seeds or indexes gave the same image")
	}
}

func TestGenerateLabels(t *testing.T) {
	opt := DefaultOptions()
	opt.Width, opt.Height = 384, 288
	opt.DefectRate = 1
	classes := map[string]int{}
	surfaces := map[string]int{}
	for i := range 300 {
		s, err := Generate(5, i, opt)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Image.Bounds(); got != image.Rect(0, 0, 384, 288) {
			t.Fatalf("bounds %v", got)
		}
		surfaces[s.Surface]++
		if len(s.Defects) == 0 || len(s.Defects) > opt.MaxDefects {
			t.Fatalf("index %d: %d defects with defect rate 1", i, len(s.Defects))
		}
		for _, d := range s.Defects {
			classes[d.Class]++
			if d.Box.Empty() || !d.Box.In(s.Image.Bounds()) {
				t.Fatalf("index %d: box %v of %s not inside the image", i, d.Box, d.Class)
			}
			if max(d.Box.Dx(), d.Box.Dy()) < 6 || min(d.Box.Dx(), d.Box.Dy()) < 2 {
				t.Fatalf("index %d: %s box %v too small to see", i, d.Class, d.Box)
			}
		}
	}
	for _, c := range Classes {
		if classes[c] < 20 {
			t.Errorf("class %s appeared %d times in 300 defective images", c, classes[c])
		}
	}
	for _, s := range Surfaces {
		if surfaces[s] < 50 {
			t.Errorf("surface %s appeared %d times in 300 images", s, surfaces[s])
		}
	}
}

func TestDefectRate(t *testing.T) {
	opt := DefaultOptions()
	opt.DefectRate = 0
	for i := range 50 {
		s, _ := Generate(3, i, opt)
		if len(s.Defects) != 0 {
			t.Fatalf("index %d: defects %v with defect rate 0", i, s.Defects)
		}
	}
	opt.DefectRate = 0.3
	n := 0
	for i := range 400 {
		s, _ := Generate(3, i, opt)
		if len(s.Defects) > 0 {
			n++
		}
	}
	if f := float64(n) / 400; math.Abs(f-0.3) > 0.08 {
		t.Fatalf("defective fraction %.2f, want about 0.3", f)
	}
}

// TestDefectsChangePixels checks that a labelled box really covers a visible change:
// the same part drawn without its defect differs inside the box.
func TestDefectsChangePixels(t *testing.T) {
	opt := DefaultOptions()
	opt.DefectRate = 1
	for i := range 40 {
		r := NewRand(11, i)
		p := RandomPart(r, opt)
		clean := *p
		clean.defects = nil
		clean.features = append([]feature(nil), p.features...)
		for k := range clean.features {
			clean.features[k].missing = false
		}
		a := image.NewRGBA(image.Rect(0, 0, 320, 320))
		b := image.NewRGBA(image.Rect(0, 0, 320, 320))
		ds := p.DrawAt(a, image.Pt(160, 160))
		clean.DrawAt(b, image.Pt(160, 160))
		for _, d := range ds {
			diff := 0
			for y := d.Box.Min.Y; y < d.Box.Max.Y; y++ {
				for x := d.Box.Min.X; x < d.Box.Max.X; x++ {
					o := a.PixOffset(x, y)
					for c := range 3 {
						diff = max(diff, int(math.Abs(float64(a.Pix[o+c])-float64(b.Pix[o+c]))))
					}
				}
			}
			if diff < 25 {
				t.Errorf("index %d: %s at %v changes pixels by at most %d", i, d.Class, d.Box, diff)
			}
		}
	}
}

func TestDrawAtOffsetAndClipping(t *testing.T) {
	opt := DefaultOptions()
	opt.DefectRate = 1
	frame := image.NewRGBA(image.Rect(0, 0, 640, 240))
	DrawBackground(frame, NewRand(1, 0))
	for i, at := range []image.Point{{320, 120}, {0, 120}, {639, 0}, {-500, -500}} {
		p := RandomPart(NewRand(9, i), opt)
		for _, d := range p.DrawAt(frame, at) {
			if !d.Box.In(frame.Bounds()) || d.Box.Empty() {
				t.Fatalf("part at %v: box %v outside the frame", at, d.Box)
			}
		}
	}
	// Drawing into a sub-image uses the sub-image's coordinates.
	sub := frame.SubImage(image.Rect(100, 20, 420, 220)).(*image.RGBA)
	p := RandomPart(NewRand(9, 9), opt)
	for _, d := range p.DrawAt(sub, image.Pt(260, 120)) {
		if !d.Box.In(sub.Bounds()) {
			t.Fatalf("box %v outside sub-image %v", d.Box, sub.Bounds())
		}
	}
}

func TestBadOptions(t *testing.T) {
	good := DefaultOptions()
	for name, mut := range map[string]func(*Options){
		"small width":    func(o *Options) { o.Width = 10 },
		"huge height":    func(o *Options) { o.Height = 100000 },
		"negative rate":  func(o *Options) { o.DefectRate = -0.1 },
		"rate above one": func(o *Options) { o.DefectRate = 1.5 },
		"NaN rate":       func(o *Options) { o.DefectRate = math.NaN() },
		"zero defects":   func(o *Options) { o.MaxDefects = 0 },
		"bad surface":    func(o *Options) { o.Surfaces = []string{"wood"} },
	} {
		t.Run(name, func(t *testing.T) {
			o := good
			mut(&o)
			if _, err := Generate(1, 0, o); !errors.Is(err, ErrBadOptions) {
				t.Fatalf("got %v, want ErrBadOptions", err)
			}
		})
	}
	if _, err := Generate(1, -1, good); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("negative index: got %v", err)
	}
	if _, err := SplitSeed("holdout"); err == nil {
		t.Fatal("unknown split accepted")
	}
}

func TestSurfaceSubset(t *testing.T) {
	opt := DefaultOptions()
	opt.Surfaces = []string{Plastic}
	for i := range 20 {
		if s, _ := Generate(4, i, opt); s.Surface != Plastic {
			t.Fatalf("got surface %s", s.Surface)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	opt := DefaultOptions()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Generate(1, i, opt); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// FuzzGenerate checks that any options either fail validation or give an
// image of the asked size with boxes inside it.
func FuzzGenerate(f *testing.F) {
	f.Add(uint64(1), 0, 320, 320, 0.5, 3)
	f.Add(uint64(99), 7, 64, 200, 1.0, 8)
	f.Add(uint64(0), 3, 97, 65, 0.0, 1)
	f.Fuzz(func(t *testing.T, seed uint64, index, w, h int, rate float64, maxDefects int) {
		if w > 512 || h > 512 {
			t.Skip("keep fuzzing fast")
		}
		opt := Options{Width: w, Height: h, DefectRate: rate, MaxDefects: maxDefects}
		s, err := Generate(seed, index, opt)
		if err != nil {
			if !errors.Is(err, ErrBadOptions) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		if s.Image.Bounds() != image.Rect(0, 0, w, h) {
			t.Fatalf("bounds %v", s.Image.Bounds())
		}
		for _, d := range s.Defects {
			if d.Box.Empty() || !d.Box.In(s.Image.Bounds()) {
				t.Fatalf("box %v outside %dx%d", d.Box, w, h)
			}
		}
	})
}
