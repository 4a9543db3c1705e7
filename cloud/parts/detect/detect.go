// Package detect is the detect part service: it runs an object detector on the input
// image and returns the detections (boxes in input-image pixels) and the image, annotated
// with boxes, labels and scores when the annotate param is set (the default).
//
// The detector is anything with Detect(gocv.Mat) — in production models/infer's ONNX
// Runtime Detector or models/infer/triton's Detector (network on Triton, chosen by Open
// from a triton:// backend URL), in unit tests a fake. A detector that also has
// DetectContext (the remote one) gets the request's context, so a cancelled or timed-out
// execution stops waiting for Triton. The detector applies the model's own score
// threshold; the score_threshold param can only raise it (a detection the model dropped
// cannot be recovered here), so its default is the model's threshold.
package detect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts"
	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/detector"
	"github.com/imageflowcanvas/ifc/models/infer"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Detector finds objects in an 8-bit BGR (or grey) image; boxes are in its pixels.
// It must be safe for concurrent use.
type Detector interface {
	Detect(img gocv.Mat) ([]infer.Detection, error)
}

// contextDetector is a Detector whose calls honour a context (a remote backend).
type contextDetector interface {
	DetectContext(ctx context.Context, img gocv.Mat) ([]infer.Detection, error)
}

// Handler runs the detect part.
type Handler struct {
	det       Detector
	threshold float64
	owned     io.Closer // the detector the handler opened, closed by Close
	model     string
}

// New returns a detect handler using det, whose own score threshold is modelThreshold
// (used when the request does not set score_threshold).
func New(det Detector, modelThreshold float64) (*Handler, error) {
	if det == nil {
		return nil, errors.New("new detect handler: nil detector")
	}
	if modelThreshold < 0 || modelThreshold > 1 {
		return nil, fmt.Errorf("new detect handler: model threshold %v outside [0, 1]", modelThreshold)
	}
	return &Handler{det: det, threshold: modelThreshold}, nil
}

// NewFromBundle opens a verified detection bundle with ONNX Runtime in process (the
// bundle's golden check runs first; a model failing it is refused) and returns a handler
// owning it; Close releases it. The model's manifest threshold is the default score_threshold.
func NewFromBundle(b *bundle.Bundle, opt infer.Options) (*Handler, error) {
	det, err := infer.NewDetector(b, opt)
	if err != nil {
		return nil, fmt.Errorf("open detector: %w", err)
	}
	m := det.Manifest()
	return owning(det, m.Threshold, m.Name+"@"+m.Version)
}

// owning returns a handler over det that closes det on Close (and at once
// when the handler cannot be made).
func owning(det interface {
	Detector
	io.Closer
}, threshold float64, model string) (*Handler, error) {
	h, err := New(det, threshold)
	if err != nil {
		det.Close()
		return nil, err
	}
	h.owned, h.model = det, model
	return h, nil
}

// NewEmbedded opens the detector bundle compiled into the binary (models/detector) like
// NewFromBundle: checksum, golden check, ONNX Runtime session. Close releases it.
func NewEmbedded(opt infer.Options) (*Handler, error) {
	b, err := bundle.LoadFS(detector.FS)
	if err != nil {
		return nil, fmt.Errorf("load embedded detector bundle: %w", err)
	}
	return NewFromBundle(b, opt)
}

// Model names the model NewFromBundle loaded ("name@version"; NewTriton adds " on <url>"),
// or "" for New.
func (h *Handler) Model() string { return h.model }

// Close releases a detector opened by NewFromBundle; it is idempotent and a no-op for New.
func (h *Handler) Close() error {
	if h.owned == nil {
		return nil
	}
	return h.owned.Close()
}

// Service returns "detect".
func (*Handler) Service() string { return catalog.ServiceDetect }

// Parts returns the parts run by this service.
func (*Handler) Parts() []string { return []string{catalog.PartDetect} }

// Process detects objects in req.Images[0].
func (h *Handler) Process(ctx context.Context, req *parts.Request) (*parts.Result, error) {
	img := req.Images[0]
	var dets []infer.Detection
	var err error
	if cd, ok := h.det.(contextDetector); ok {
		dets, err = cd.DetectContext(ctx, img)
	} else {
		dets, err = h.det.Detect(img)
	}
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	threshold := h.threshold
	if req.Params.Has("score_threshold") {
		threshold = req.Params.Float("score_threshold")
	}
	dets = Filter(dets, threshold, req.Params.Int("max_detections"))
	res := &parts.Result{Detections: ToProto(dets)}
	if !req.Params.Bool("annotate") {
		res.Image = img // unchanged: the server passes it through
		return res, nil
	}
	res.Image = Annotate(img, dets)
	return res, nil
}

// Filter keeps detections scoring at least threshold, best first, at most max (0: no cap).
func Filter(dets []infer.Detection, threshold float64, max int) []infer.Detection {
	out := make([]infer.Detection, 0, len(dets))
	for _, d := range dets {
		if float64(d.Score) >= threshold {
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// Annotate returns a BGR copy of img with dets drawn on it (boxes, labels, scores).
func Annotate(img gocv.Mat, dets []infer.Detection) gocv.Mat {
	out := gocv.NewMat()
	if img.Channels() == 1 {
		gocv.CvtColor(img, &out, gocv.ColorGrayToBGR)
	} else {
		img.CopyTo(&out)
	}
	infer.Draw(&out, dets)
	return out
}

// ToProto converts detections to their proto form.
func ToProto(dets []infer.Detection) []*ifcv1.Detection {
	out := make([]*ifcv1.Detection, len(dets))
	for i, d := range dets {
		out[i] = &ifcv1.Detection{
			Label:   d.Label,
			Score:   d.Score,
			ClassId: int32(d.ClassID),
			Box:     &ifcv1.Box{X: float32(d.Box.X), Y: float32(d.Box.Y), W: float32(d.Box.W), H: float32(d.Box.H)},
		}
	}
	return out
}
