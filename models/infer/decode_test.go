package infer

import (
	"image"
	"math"
	"testing"
)

// heads builds zeroed CenterNet outputs for c classes on an h×w grid.
type heads struct {
	g            Grid
	heat, wh, of []float32
}

func newHeads(c, h, w int) *heads {
	return &heads{g: Grid{C: c, H: h, W: w}, heat: make([]float32, c*h*w), wh: make([]float32, 2*h*w), of: make([]float32, 2*h*w)}
}

// set places a centre of class c at cell (x, y) with score s, offset (ox, oy), size (bw, bh).
func (hd *heads) set(c, x, y int, s, ox, oy, bw, bh float32) {
	plane := hd.g.H * hd.g.W
	i := y*hd.g.W + x
	hd.heat[c*plane+i] = s
	hd.of[i], hd.of[plane+i] = ox, oy
	hd.wh[i], hd.wh[plane+i] = bw, bh
}

func identity(w, h int) Transform { return Transform{ScaleX: 1, ScaleY: 1, SrcW: w, SrcH: h} }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-4 }

func boxNear(t *testing.T, got, want Box) {
	t.Helper()
	if !near(got.X, want.X) || !near(got.Y, want.Y) || !near(got.W, want.W) || !near(got.H, want.H) {
		t.Fatalf("box = %+v, want %+v", got, want)
	}
}

var twoClasses = CenterNet{Classes: []string{"scratch", "dent"}, Threshold: 0.3, Stride: 4, NMSIoU: 0.5, MaxDetections: 10}

func TestDecodeSinglePeak(t *testing.T) {
	hd := newHeads(2, 4, 4)
	hd.set(1, 2, 1, 0.9, 0.25, 0.5, 6, 4)
	// A lower neighbour is not a peak; a far-away cell under the threshold is ignored.
	hd.heat[16+1*4+3] = 0.8
	hd.heat[0] = 0.29
	dets := twoClasses.Decode(hd.heat, hd.wh, hd.of, hd.g, identity(16, 16))
	if len(dets) != 1 {
		t.Fatalf("got %d detections: %+v", len(dets), dets)
	}
	d := dets[0]
	if d.Label != "dent" || d.ClassID != 1 || d.Score != 0.9 {
		t.Fatalf("detection = %+v", d)
	}
	// centre = ((2+0.25)*4, (1+0.5)*4) = (9, 6); box = centre ± (3, 2).
	boxNear(t, d.Box, Box{X: 6, Y: 4, W: 6, H: 4})
	if r := d.Rect(); r != image.Rect(6, 4, 12, 8) {
		t.Fatalf("rect = %v", r)
	}
}

func TestDecodeThresholdInclusiveAndPlateau(t *testing.T) {
	hd := newHeads(1, 4, 8)
	// Two equal neighbours are both peaks (equal to the 3×3 max), as max-pool equality keeps them.
	hd.set(0, 1, 1, 0.3, 0, 0, 2, 2)
	hd.set(0, 2, 1, 0.3, 0, 0, 2, 2)
	p := twoClasses
	p.Classes = []string{"a"}
	dets := p.Decode(hd.heat, hd.wh, hd.of, hd.g, identity(32, 16))
	if len(dets) != 2 {
		t.Fatalf("got %+v, want two plateau peaks at the inclusive threshold", dets)
	}
	// Stable order for equal scores: row-major cell order.
	if dets[0].Box.X > dets[1].Box.X {
		t.Fatalf("equal scores out of cell order: %+v", dets)
	}
}

func TestDecodeTopK(t *testing.T) {
	hd := newHeads(1, 8, 8)
	scores := []float32{0.5, 0.9, 0.7, 0.6, 0.8}
	for i, s := range scores {
		hd.set(0, i*2%8, i*2/8*2, s, 0, 0, 2, 2) // isolated cells
	}
	p := twoClasses
	p.MaxDetections = 3
	dets := p.Decode(hd.heat, hd.wh, hd.of, hd.g, identity(32, 32))
	if len(dets) != 3 || dets[0].Score != 0.9 || dets[1].Score != 0.8 || dets[2].Score != 0.7 {
		t.Fatalf("top-3 = %+v", dets)
	}
}

func TestDecodeLetterboxAndClip(t *testing.T) {
	// A 200×100 image letterboxed into 32×32: r = 0.16, resized 32×16, pad top 8.
	pre := &Preprocessor{w: 32, h: 32, letter: true}
	_, _, left, top, tr := pre.Geometry(200, 100)
	if left != 0 || top != 8 || !near(tr.ScaleX, 0.16) {
		t.Fatalf("geometry left=%d top=%d %+v", left, top, tr)
	}
	hd := newHeads(1, 8, 8)
	hd.set(0, 3, 3, 0.95, 0.5, 0.5, 8, 4) // centre (14, 14) -> box [10,12]-[18,16] input px
	hd.set(0, 0, 2, 0.85, 0, 0, 10, 10)   // centre (0, 8) -> box [-5,3]-[5,13], clipped
	hd.set(0, 7, 0, 0.75, 0.5, 0.5, 4, 4) // centre (30, 2) -> entirely in the top padding: zero height
	p := twoClasses
	p.Classes = []string{"a"}
	dets := p.Decode(hd.heat, hd.wh, hd.of, hd.g, tr)
	if len(dets) != 3 {
		t.Fatalf("got %+v", dets)
	}
	// x: (28-0)/0.16 = 175 .. 200 (clipped); y: both edges clip to 0.
	boxNear(t, dets[2].Box, Box{X: 175, Y: 0, W: 25, H: 0})
	// (10-0)/0.16 = 62.5, (12-8)/0.16 = 25, w 8/0.16 = 50, h 4/0.16 = 25.
	boxNear(t, dets[0].Box, Box{X: 62.5, Y: 25, W: 50, H: 25})
	// x1 clipped to 0, x2 = 5/0.16 = 31.25; y1 = (3-8)/0.16 < 0 -> 0, y2 = (13-8)/0.16 = 31.25.
	boxNear(t, dets[1].Box, Box{X: 0, Y: 0, W: 31.25, H: 31.25})
}

func TestDecodeStretchTransform(t *testing.T) {
	pre := &Preprocessor{w: 32, h: 32}
	_, _, _, _, tr := pre.Geometry(64, 16)
	hd := newHeads(1, 8, 8)
	hd.set(0, 4, 4, 0.9, 0, 0, 8, 8) // centre (16,16) -> [12,12]-[20,20] -> x*2, y/2
	p := twoClasses
	p.Classes = []string{"a"}
	dets := p.Decode(hd.heat, hd.wh, hd.of, hd.g, tr)
	if len(dets) != 1 {
		t.Fatalf("got %+v", dets)
	}
	boxNear(t, dets[0].Box, Box{X: 24, Y: 6, W: 16, H: 4})
}

func TestDecodeShortInput(t *testing.T) {
	if d := twoClasses.Decode(make([]float32, 3), nil, nil, Grid{C: 2, H: 4, W: 4}, identity(4, 4)); d != nil {
		t.Fatalf("got %+v", d)
	}
}

func TestNMS(t *testing.T) {
	det := func(c int, s float32, x, y, w, h float64) Detection {
		return Detection{ClassID: c, Score: s, Box: Box{X: x, Y: y, W: w, H: h}}
	}
	in := []Detection{
		det(0, 0.6, 1, 0, 10, 10), // IoU with the 0.9 box = 90/110 = 0.818 -> suppressed
		det(0, 0.9, 0, 0, 10, 10), // kept
		det(1, 0.8, 0, 0, 10, 10), // other class -> kept
		det(0, 0.7, 5, 0, 10, 10), // IoU 50/150 = 0.333 with the 0.9 box -> kept
		det(0, 0.5, 20, 20, 5, 5), // disjoint -> kept
		det(1, 0.4, 0, 0, 10, 10), // same class as 0.8, identical -> suppressed
	}
	out := NMS(in, 0.5)
	want := []float32{0.9, 0.8, 0.7, 0.5}
	if len(out) != len(want) {
		t.Fatalf("got %+v", out)
	}
	for i, s := range want {
		if out[i].Score != s {
			t.Fatalf("out[%d].Score = %v, want %v (%+v)", i, out[i].Score, s, out)
		}
	}
	// IoU exactly at the threshold is kept (only "greater than" suppresses).
	a, b := det(0, 0.9, 0, 0, 10, 10), det(0, 0.8, 5, 0, 10, 10)
	if iou := IoU(a.Box, b.Box); !near(iou, 1.0/3) {
		t.Fatalf("IoU = %v", iou)
	}
	if out := NMS([]Detection{a, b}, 1.0/3); len(out) != 2 {
		t.Fatalf("IoU == threshold suppressed: %+v", out)
	}
	if IoU(Box{W: 0, H: 5}, Box{W: 0, H: 5}) != 0 {
		t.Fatal("empty boxes overlap")
	}
	if len(in) != 6 || in[0].Score != 0.6 {
		t.Fatal("NMS modified its input")
	}
}
