package infer

import (
	"errors"
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/models/bundle"
)

// MaxImageSide bounds the width and height of an image given to Preprocess.
const MaxImageSide = 16384

// Transform maps network-input pixels back to original-image pixels:
// original = (input - Pad) / Scale, per axis.
type Transform struct {
	ScaleX, ScaleY float64
	PadX, PadY     float64
	// SrcW and SrcH are the original image size.
	SrcW, SrcH int
}

// ToOriginal maps a point in network-input pixels to original-image pixels.
func (t Transform) ToOriginal(x, y float64) (float64, float64) {
	return (x - t.PadX) / t.ScaleX, (y - t.PadY) / t.ScaleY
}

// Preprocessor turns BGR uint8 images into the network input exactly as the manifest says
// (docs/model-bundle.md, "Preprocessing"). It is immutable and safe for concurrent use.
type Preprocessor struct {
	w, h     int
	letter   bool
	interp   gocv.InterpolationFlags
	pad      uint8
	rgb      bool
	lut      [3][256]float32 // per output channel: byte value -> normalised float
	elements int
}

// NewPreprocessor builds the preprocessing of a validated manifest.
func NewPreprocessor(m *bundle.Manifest) *Preprocessor {
	p := m.Preprocess
	w, h := m.InputSize()
	pp := &Preprocessor{
		w: w, h: h,
		letter:   p.Resize == "letterbox",
		interp:   gocv.InterpolationLinear,
		pad:      uint8(p.PadValue),
		rgb:      p.Color == "RGB",
		elements: 3 * w * h,
	}
	if p.Interpolation == "area" {
		pp.interp = gocv.InterpolationArea
	}
	// Same float32 operations, in the same order, as numpy on the Python side:
	// x = float32(byte) * scale; x = (x - mean) / std.
	scale := float32(p.Scale)
	for c := range 3 {
		mean, std := float32(p.Mean[c]), float32(p.Std[c])
		for v := range 256 {
			x := float32(v) * scale
			pp.lut[c][v] = (x - mean) / std
		}
	}
	return pp
}

// Size returns the network input width and height.
func (p *Preprocessor) Size() (w, h int) { return p.w, p.h }

// Elements is the length of the input tensor (3*H*W).
func (p *Preprocessor) Elements() int { return p.elements }

// Geometry computes the resize and placement for a w×h source: the resized size, the
// top-left of the pasted image on the canvas and the transform back to the source.
func (p *Preprocessor) Geometry(w, h int) (nw, nh, left, top int, t Transform) {
	if !p.letter {
		return p.w, p.h, 0, 0, Transform{
			ScaleX: float64(p.w) / float64(w), ScaleY: float64(p.h) / float64(h), SrcW: w, SrcH: h,
		}
	}
	r := math.Min(float64(p.w)/float64(w), float64(p.h)/float64(h))
	// Halves round up, as floor(x + 0.5) in models/train/prep.py (not Python's round(),
	// which rounds half to even).
	nw = min(max(int(math.Round(float64(w)*r)), 1), p.w)
	nh = min(max(int(math.Round(float64(h)*r)), 1), p.h)
	left, top = (p.w-nw)/2, (p.h-nh)/2
	return nw, nh, left, top, Transform{
		ScaleX: r, ScaleY: r, PadX: float64(left), PadY: float64(top), SrcW: w, SrcH: h,
	}
}

// Apply preprocesses src (BGR, 8-bit, 1, 3 or 4 channels) into dst, which must hold
// Elements() values in NCHW order, and returns the transform back to src pixels.
func (p *Preprocessor) Apply(src gocv.Mat, dst []float32) (Transform, error) {
	if len(dst) != p.elements {
		return Transform{}, fmt.Errorf("preprocess: destination has %d elements, want %d", len(dst), p.elements)
	}
	if src.Empty() {
		return Transform{}, errors.New("preprocess: empty image")
	}
	w, h := src.Cols(), src.Rows()
	if w > MaxImageSide || h > MaxImageSide {
		return Transform{}, fmt.Errorf("preprocess: image %dx%d exceeds %d pixels a side", w, h, MaxImageSide)
	}
	bgr, converted, err := asBGR(src)
	if err != nil {
		return Transform{}, err
	}
	if converted {
		defer bgr.Close()
	}
	nw, nh, left, top, t := p.Geometry(w, h)
	resized := bgr
	if nw != w || nh != h {
		resized = gocv.NewMat()
		defer resized.Close()
		gocv.Resize(bgr, &resized, image.Pt(nw, nh), 0, 0, p.interp)
	} else if !bgr.IsContinuous() {
		resized = bgr.Clone()
		defer resized.Close()
	}
	pix, err := resized.DataPtrUint8()
	if err != nil {
		return Transform{}, fmt.Errorf("preprocess: %w", err)
	}
	// Output channel c reads source byte channel src[c] (BGR order in the Mat).
	srcCh := [3]int{0, 1, 2}
	if p.rgb {
		srcCh = [3]int{2, 1, 0}
	}
	plane := p.w * p.h
	for c := range 3 {
		lut := &p.lut[c]
		padV := lut[p.pad]
		out := dst[c*plane : (c+1)*plane]
		sc := srcCh[c]
		for y := range p.h {
			row := out[y*p.w : (y+1)*p.w]
			sy := y - top
			if sy < 0 || sy >= nh {
				for x := range row {
					row[x] = padV
				}
				continue
			}
			for x := 0; x < left; x++ {
				row[x] = padV
			}
			in := pix[sy*nw*3 : (sy+1)*nw*3]
			for x := range nw {
				row[left+x] = lut[in[x*3+sc]]
			}
			for x := left + nw; x < p.w; x++ {
				row[x] = padV
			}
		}
	}
	return t, nil
}

// asBGR returns src if it is 8-bit BGR, else a converted copy (converted is true) the
// caller must close.
func asBGR(src gocv.Mat) (out gocv.Mat, converted bool, err error) {
	switch src.Type() {
	case gocv.MatTypeCV8UC3:
		return src, false, nil
	case gocv.MatTypeCV8UC1:
		out = gocv.NewMat()
		gocv.CvtColor(src, &out, gocv.ColorGrayToBGR)
		return out, true, nil
	case gocv.MatTypeCV8UC4:
		out = gocv.NewMat()
		gocv.CvtColor(src, &out, gocv.ColorBGRAToBGR)
		return out, true, nil
	default:
		return gocv.Mat{}, false, fmt.Errorf("preprocess: unsupported Mat type %v (want 8-bit BGR)", src.Type())
	}
}

// MatFromImage converts an image to a BGR 8-bit Mat (the caller closes it). For images with
// alpha the colour channels are taken as stored and alpha is dropped, as OpenCV's imread does.
func MatFromImage(img image.Image) (gocv.Mat, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 1 || h < 1 || w > MaxImageSide || h > MaxImageSide {
		return gocv.Mat{}, fmt.Errorf("image size %dx%d outside [1, %d]", w, h, MaxImageSide)
	}
	data := make([]byte, w*h*3)
	switch im := img.(type) {
	case *image.RGBA:
		copyRGBX(data, im.Pix, im.Stride, im.PixOffset(b.Min.X, b.Min.Y), w, h)
	case *image.NRGBA:
		copyRGBX(data, im.Pix, im.Stride, im.PixOffset(b.Min.X, b.Min.Y), w, h)
	case *image.Gray:
		for y := range h {
			row := im.Pix[im.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := range w {
				v := row[x]
				i := (y*w + x) * 3
				data[i], data[i+1], data[i+2] = v, v, v
			}
		}
	default:
		for y := range h {
			for x := range w {
				r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				i := (y*w + x) * 3
				data[i], data[i+1], data[i+2] = uint8(bl>>8), uint8(g>>8), uint8(r>>8)
			}
		}
	}
	m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, data)
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("image to Mat: %w", err)
	}
	return m, nil
}

func copyRGBX(dst, pix []byte, stride, off, w, h int) {
	for y := range h {
		row := pix[off+y*stride : off+y*stride+w*4]
		o := dst[y*w*3 : (y+1)*w*3]
		for x := range w {
			o[x*3], o[x*3+1], o[x*3+2] = row[x*4+2], row[x*4+1], row[x*4]
		}
	}
}
