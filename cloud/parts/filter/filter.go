// Package filter is the filter part service: grayscale, gaussian_blur, median_blur,
// threshold, canny, clahe, morphology, crop and rotate, on 8-bit grey or BGR images.
//
// Output channels: grayscale, threshold and canny always give one grey channel (threshold
// and canny convert colour input to grey first); the others keep the input's channels
// (clahe equalises the lightness of colour images in Lab, leaving hue alone).
package filter

import (
	"context"
	"fmt"
	"image"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts"
)

// op runs one filter part on src, returning a new Mat.
type op func(src gocv.Mat, p parts.Params) (gocv.Mat, error)

// ops maps part ids to their implementations.
var ops = map[string]op{
	catalog.PartGrayscale:    grayscale,
	catalog.PartGaussianBlur: gaussianBlur,
	catalog.PartMedianBlur:   medianBlur,
	catalog.PartThreshold:    threshold,
	catalog.PartCanny:        cannyOp,
	catalog.PartCLAHE:        clahe,
	catalog.PartMorphology:   morphology,
	catalog.PartCrop:         crop,
	catalog.PartRotate:       rotate,
}

// Handler runs the filter parts.
type Handler struct{}

// New returns the filter handler.
func New() *Handler { return &Handler{} }

// Service returns "filter".
func (*Handler) Service() string { return catalog.ServiceFilter }

// Parts returns the parts run by this service, in catalogue order.
func (*Handler) Parts() []string {
	var ids []string
	for _, d := range catalog.Default().ByService(catalog.ServiceFilter) {
		if _, ok := ops[d.GetId()]; ok {
			ids = append(ids, d.GetId())
		}
	}
	return ids
}

// Process runs req.Part on req.Images[0].
func (*Handler) Process(_ context.Context, req *parts.Request) (*parts.Result, error) {
	out, err := Apply(req.Part, req.Images[0], req.Params)
	if err != nil {
		return nil, err
	}
	return &parts.Result{Image: out}, nil
}

// Apply runs filter part id on src with validated params p and returns a new Mat.
func Apply(id string, src gocv.Mat, p parts.Params) (gocv.Mat, error) {
	f, ok := ops[id]
	if !ok {
		return gocv.Mat{}, fmt.Errorf("filter: no part %q", id)
	}
	if src.Empty() {
		return gocv.Mat{}, fmt.Errorf("%w: %s: empty image", parts.ErrBadInput, id)
	}
	out, err := f(src, p)
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("%s: %w", id, err)
	}
	return out, nil
}

// toGray returns src as one grey channel (a copy).
func toGray(src gocv.Mat) gocv.Mat {
	dst := gocv.NewMat()
	if src.Channels() == 1 {
		src.CopyTo(&dst)
		return dst
	}
	gocv.CvtColor(src, &dst, gocv.ColorBGRToGray)
	return dst
}

func grayscale(src gocv.Mat, _ parts.Params) (gocv.Mat, error) {
	return toGray(src), nil
}

func gaussianBlur(src gocv.Mat, p parts.Params) (gocv.Mat, error) {
	k, sigma := p.Int("ksize"), p.Float("sigma")
	dst := gocv.NewMat()
	gocv.GaussianBlur(src, &dst, image.Pt(k, k), sigma, sigma, gocv.BorderDefault)
	return dst, nil
}

func medianBlur(src gocv.Mat, p parts.Params) (gocv.Mat, error) {
	dst := gocv.NewMat()
	gocv.MedianBlur(src, &dst, p.Int("ksize"))
	return dst, nil
}

func threshold(src gocv.Mat, p parts.Params) (gocv.Mat, error) {
	gray := toGray(src)
	defer gray.Close()
	dst := gocv.NewMat()
	maxv := float32(p.Float("max_value"))
	switch t := p.String("type"); t {
	case "binary":
		gocv.Threshold(gray, &dst, float32(p.Float("thresh")), maxv, gocv.ThresholdBinary)
	case "binary_inv":
		gocv.Threshold(gray, &dst, float32(p.Float("thresh")), maxv, gocv.ThresholdBinaryInv)
	case "otsu":
		gocv.Threshold(gray, &dst, 0, maxv, gocv.ThresholdBinary|gocv.ThresholdOtsu)
	case "adaptive_mean", "adaptive_gaussian":
		method := gocv.AdaptiveThresholdMean
		if t == "adaptive_gaussian" {
			method = gocv.AdaptiveThresholdGaussian
		}
		gocv.AdaptiveThreshold(gray, &dst, maxv, method, gocv.ThresholdBinary, p.Int("block_size"), float32(p.Float("c")))
	default:
		dst.Close()
		return gocv.Mat{}, fmt.Errorf("%w: threshold type %q", parts.ErrBadInput, t)
	}
	return dst, nil
}

func cannyOp(src gocv.Mat, p parts.Params) (gocv.Mat, error) {
	gray := toGray(src)
	defer gray.Close()
	dst := gocv.NewMat()
	if err := canny(gray, &dst, p.Float("low"), p.Float("high"), p.Int("aperture"), p.Bool("l2gradient")); err != nil {
		dst.Close()
		return gocv.Mat{}, err
	}
	return dst, nil
}

func clahe(src gocv.Mat, p parts.Params) (gocv.Mat, error) {
	g := p.Int("tile_grid")
	c := gocv.NewCLAHEWithParams(p.Float("clip_limit"), image.Pt(g, g))
	defer c.Close()
	dst := gocv.NewMat()
	if src.Channels() == 1 {
		c.Apply(src, &dst)
		return dst, nil
	}
	lab := gocv.NewMat()
	defer lab.Close()
	gocv.CvtColor(src, &lab, gocv.ColorBGRToLab)
	planes := gocv.Split(lab)
	defer func() {
		for i := range planes {
			planes[i].Close()
		}
	}()
	l := gocv.NewMat()
	c.Apply(planes[0], &l)
	planes[0].Close()
	planes[0] = l
	gocv.Merge(planes, &lab)
	gocv.CvtColor(lab, &dst, gocv.ColorLabToBGR)
	return dst, nil
}

func morphology(src gocv.Mat, p parts.Params) (gocv.Mat, error) {
	var op gocv.MorphType
	switch p.String("op") {
	case "open":
		op = gocv.MorphOpen
	case "close":
		op = gocv.MorphClose
	case "erode":
		op = gocv.MorphErode
	case "dilate":
		op = gocv.MorphDilate
	default:
		return gocv.Mat{}, fmt.Errorf("%w: morphology op %q", parts.ErrBadInput, p.String("op"))
	}
	shape := gocv.MorphRect
	switch p.String("shape") {
	case "ellipse":
		shape = gocv.MorphEllipse
	case "cross":
		shape = gocv.MorphCross
	}
	k := p.Int("ksize")
	kernel := gocv.GetStructuringElement(shape, image.Pt(k, k))
	defer kernel.Close()
	dst := gocv.NewMat()
	gocv.MorphologyExWithParams(src, &dst, op, kernel, p.Int("iterations"), gocv.BorderConstant)
	return dst, nil
}

func crop(src gocv.Mat, p parts.Params) (gocv.Mat, error) {
	x, y, w, h := p.Int("x"), p.Int("y"), p.Int("width"), p.Int("height")
	cols, rows := src.Cols(), src.Rows()
	switch {
	case x >= cols:
		return gocv.Mat{}, badField("x", "must be < image width %d, got %d", cols, x)
	case y >= rows:
		return gocv.Mat{}, badField("y", "must be < image height %d, got %d", rows, y)
	case x+w > cols:
		return gocv.Mat{}, badField("width", "x+width must be <= image width %d, got %d", cols, x+w)
	case y+h > rows:
		return gocv.Mat{}, badField("height", "y+height must be <= image height %d, got %d", rows, y+h)
	}
	region := src.Region(image.Rect(x, y, x+w, y+h))
	defer region.Close()
	return region.Clone(), nil
}

// badField reports a param that is out of bounds for this image, as the catalogue would.
func badField(field, format string, args ...any) error {
	return fmt.Errorf("%w: %w", parts.ErrBadInput, &catalog.ParamsError{
		Part:   catalog.PartCrop,
		Fields: []catalog.FieldError{{Field: field, Reason: fmt.Sprintf(format, args...)}},
	})
}

func rotate(src gocv.Mat, p parts.Params) (gocv.Mat, error) {
	var rot gocv.RotateFlag
	switch a := p.Int("angle"); a {
	case 0:
		rot = -1
	case 90:
		rot = gocv.Rotate90Clockwise
	case 180:
		rot = gocv.Rotate180Clockwise
	case 270:
		rot = gocv.Rotate90CounterClockwise
	default:
		return gocv.Mat{}, fmt.Errorf("%w: angle %d", parts.ErrBadInput, a)
	}
	flip := map[string]int{"horizontal": 1, "vertical": 0, "both": -1}
	code, doFlip := flip[p.String("flip")]
	switch {
	case rot < 0 && !doFlip:
		return src.Clone(), nil
	case rot < 0:
		dst := gocv.NewMat()
		gocv.Flip(src, &dst, code)
		return dst, nil
	}
	dst := gocv.NewMat()
	gocv.Rotate(src, &dst, rot)
	if !doFlip {
		return dst, nil
	}
	defer dst.Close()
	flipped := gocv.NewMat()
	gocv.Flip(dst, &flipped, code)
	return flipped, nil
}
