package infer

import (
	"image"
	"math"
	"slices"

	"github.com/imageflowcanvas/ifc/models/bundle"
)

// Box is an axis-aligned box in original-image pixels: top-left corner, width, height.
type Box = bundle.Box

// Detection is one detected defect in original-image pixels.
type Detection struct {
	Label   string
	ClassID int
	Score   float32
	Box     Box
}

// Rect returns the box as an integer rectangle (edges rounded to the nearest pixel).
func (d Detection) Rect() image.Rectangle {
	return image.Rect(int(math.Round(d.Box.X)), int(math.Round(d.Box.Y)),
		int(math.Round(d.Box.X+d.Box.W)), int(math.Round(d.Box.Y+d.Box.H)))
}

// CenterNet holds the decoding parameters of a CenterNet detector.
type CenterNet struct {
	Classes       []string
	Threshold     float32
	Stride        int
	NMSIoU        float64
	MaxDetections int
}

// Grid is the heatmap geometry: C classes over H×W output cells.
type Grid struct{ C, H, W int }

type peak struct {
	score   float32
	c, y, x int
}

// Decode turns the raw CenterNet outputs into detections in original-image pixels, as
// docs/model-bundle.md specifies: a cell is a peak when it equals the maximum of its 3×3
// neighbourhood (cells outside the map do not count) and its score >= Threshold; the top
// MaxDetections peaks by score are kept (ties: lower class, then row, then column first);
// centre = (cell + offset) * Stride; box = centre ± wh/2 in network-input pixels; then
// the letterbox is undone with t, the box clipped to the image (a box clipped to nothing
// is kept, with zero width or height, exactly as the Python reference decoder in
// models/train/evaluate.py does, so both sides produce the same list), and class-wise
// NMS applied at NMSIoU. The result is sorted by descending score.
// heat is [C,H,W], wh and off are [2,H,W] (batch dimension of 1 omitted).
func (p CenterNet) Decode(heat, wh, off []float32, g Grid, t Transform) []Detection {
	plane := g.H * g.W
	if len(heat) < g.C*plane || len(wh) < 2*plane || len(off) < 2*plane {
		return nil
	}
	var peaks []peak
	for c := range g.C {
		hm := heat[c*plane : (c+1)*plane]
		for y := range g.H {
			for x := range g.W {
				v := hm[y*g.W+x]
				if !(v >= p.Threshold) || !isPeak(hm, g.W, g.H, x, y, v) {
					continue
				}
				peaks = append(peaks, peak{v, c, y, x})
			}
		}
	}
	// Stable: equal scores keep (class, row, column) order.
	slices.SortStableFunc(peaks, func(a, b peak) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	if len(peaks) > p.MaxDetections {
		peaks = peaks[:p.MaxDetections]
	}
	stride := float64(p.Stride)
	sw, sh := float64(t.SrcW), float64(t.SrcH)
	dets := make([]Detection, 0, len(peaks))
	for _, pk := range peaks {
		i := pk.y*g.W + pk.x
		cx := (float64(pk.x) + float64(off[i])) * stride
		cy := (float64(pk.y) + float64(off[plane+i])) * stride
		bw, bh := float64(wh[i]), float64(wh[plane+i])
		x1, y1 := t.ToOriginal(cx-bw/2, cy-bh/2)
		x2, y2 := t.ToOriginal(cx+bw/2, cy+bh/2)
		x1, x2 = clamp(x1, 0, sw), clamp(x2, 0, sw)
		y1, y2 = clamp(y1, 0, sh), clamp(y2, 0, sh)
		label := ""
		if pk.c < len(p.Classes) {
			label = p.Classes[pk.c]
		}
		dets = append(dets, Detection{Label: label, ClassID: pk.c, Score: pk.score,
			Box: Box{X: x1, Y: y1, W: x2 - x1, H: y2 - y1}})
	}
	return NMS(dets, p.NMSIoU)
}

// isPeak reports whether v (at x, y) equals the maximum of its 3×3 neighbourhood.
func isPeak(hm []float32, w, h, x, y int, v float32) bool {
	for dy := -1; dy <= 1; dy++ {
		yy := y + dy
		if yy < 0 || yy >= h {
			continue
		}
		for dx := -1; dx <= 1; dx++ {
			xx := x + dx
			if xx < 0 || xx >= w {
				continue
			}
			if hm[yy*w+xx] > v {
				return false
			}
		}
	}
	return true
}

func clamp(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

// IoU is the intersection over union of two boxes (0 when either is empty).
func IoU(a, b Box) float64 {
	ix := math.Min(a.X+a.W, b.X+b.W) - math.Max(a.X, b.X)
	iy := math.Min(a.Y+a.H, b.Y+b.H) - math.Max(a.Y, b.Y)
	if ix <= 0 || iy <= 0 {
		return 0
	}
	inter := ix * iy
	union := a.W*a.H + b.W*b.H - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// NMS is class-wise greedy non-maximum suppression: within each class, a detection is
// dropped when its IoU with a higher-scoring kept detection is greater than iou. The
// result is sorted by descending score (stable for equal scores).
func NMS(dets []Detection, iou float64) []Detection {
	sorted := slices.Clone(dets)
	slices.SortStableFunc(sorted, func(a, b Detection) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	kept := sorted[:0:0]
	for _, d := range sorted {
		keep := true
		for _, k := range kept {
			if k.ClassID == d.ClassID && IoU(k.Box, d.Box) > iou {
				keep = false
				break
			}
		}
		if keep {
			kept = append(kept, d)
		}
	}
	return kept
}
