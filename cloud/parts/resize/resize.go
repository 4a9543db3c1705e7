// Package resize is the resize part service.
//
// Modes, from the params: keep_aspect=false stretches to exactly width×height;
// keep_aspect=true (the default) scales to fit inside width×height; letterbox=true scales
// to fit and pads to exactly width×height with pad_value (114 by default, the grey YOLO
// detectors are trained with), the image centred (odd padding goes right/bottom).
package resize

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts"
)

// Handler runs the resize part.
type Handler struct{}

// New returns the resize handler.
func New() *Handler { return &Handler{} }

// Service returns "resize".
func (*Handler) Service() string { return catalog.ServiceResize }

// Parts returns the parts run by this service.
func (*Handler) Parts() []string { return []string{catalog.PartResize} }

// Process resizes req.Images[0].
func (*Handler) Process(_ context.Context, req *parts.Request) (*parts.Result, error) {
	out, err := Resize(req.Images[0], OptionsFrom(req.Params))
	if err != nil {
		return nil, err
	}
	return &parts.Result{Image: out}, nil
}

// Options are the resize params in typed form.
type Options struct {
	Width, Height int
	KeepAspect    bool
	Letterbox     bool
	PadValue      uint8
	Interpolation gocv.InterpolationFlags
}

// OptionsFrom reads Options from validated params.
func OptionsFrom(p parts.Params) Options {
	return Options{
		Width:         p.Int("width"),
		Height:        p.Int("height"),
		KeepAspect:    p.Bool("keep_aspect"),
		Letterbox:     p.Bool("letterbox"),
		PadValue:      uint8(p.Int("pad_value")),
		Interpolation: interpolation(p.String("interpolation")),
	}
}

// interpolation maps a catalogue name to the OpenCV flag.
func interpolation(name string) gocv.InterpolationFlags {
	switch name {
	case "nearest":
		return gocv.InterpolationNearestNeighbor
	case "area":
		return gocv.InterpolationArea
	case "cubic":
		return gocv.InterpolationCubic
	default:
		return gocv.InterpolationLinear
	}
}

// Resize returns a new Mat: src resized according to o.
func Resize(src gocv.Mat, o Options) (gocv.Mat, error) {
	if o.Width < 1 || o.Height < 1 || o.Width > catalog.MaxImageSide || o.Height > catalog.MaxImageSide {
		return gocv.Mat{}, fmt.Errorf("%w: resize to %dx%d", parts.ErrBadInput, o.Width, o.Height)
	}
	sw, sh := src.Cols(), src.Rows()
	if !o.KeepAspect && !o.Letterbox {
		return scale(src, o.Width, o.Height, o.Interpolation), nil
	}
	s := math.Min(float64(o.Width)/float64(sw), float64(o.Height)/float64(sh))
	nw := clamp(int(math.Round(float64(sw)*s)), 1, o.Width)
	nh := clamp(int(math.Round(float64(sh)*s)), 1, o.Height)
	scaled := scale(src, nw, nh, o.Interpolation)
	if !o.Letterbox || (nw == o.Width && nh == o.Height) {
		return scaled, nil
	}
	defer scaled.Close()
	top := (o.Height - nh) / 2
	left := (o.Width - nw) / 2
	dst := gocv.NewMat()
	v := o.PadValue
	gocv.CopyMakeBorder(scaled, &dst, top, o.Height-nh-top, left, o.Width-nw-left, gocv.BorderConstant,
		color.RGBA{R: v, G: v, B: v, A: 0})
	return dst, nil
}

// scale resizes src to exactly w×h (a copy when the size already matches).
func scale(src gocv.Mat, w, h int, interp gocv.InterpolationFlags) gocv.Mat {
	if src.Cols() == w && src.Rows() == h {
		return src.Clone()
	}
	dst := gocv.NewMat()
	gocv.Resize(src, &dst, image.Pt(w, h), 0, 0, interp)
	return dst
}

// clamp limits v to [lo, hi].
func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
