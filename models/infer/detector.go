package infer

import (
	"fmt"
	"image"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/models/bundle"
)

// Detector finds and classifies defects with a CenterNet bundle. It is safe for concurrent use.
type Detector struct {
	m      *bundle.Manifest
	pre    *Preprocessor
	s      *session
	bufs   *bufPool
	dec    CenterNet
	grid   Grid
	hm     int // output index of heatmap, wh, offset
	wh     int
	offset int
}

// NewDetector opens a detection bundle and runs its golden check; a bundle that fails it is
// refused with an error wrapping bundle.ErrGolden.
func NewDetector(b *bundle.Bundle, opt Options) (*Detector, error) {
	m := b.Manifest
	if m.Task != bundle.TaskDetection {
		return nil, fmt.Errorf("bundle %s is a %s model, want %s", m.Name, m.Task, bundle.TaskDetection)
	}
	s, err := newSession(b, opt)
	if err != nil {
		return nil, err
	}
	pre := NewPreprocessor(m)
	d := &Detector{m: m, pre: pre, s: s, bufs: newBufPool(pre.Elements())}
	for i, name := range m.OutputNames() {
		switch name {
		case "heatmap":
			d.hm = i
		case "wh":
			d.wh = i
		case "offset":
			d.offset = i
		}
	}
	hs, _ := m.Output("heatmap")
	d.grid = Grid{C: int(hs.Shape[1]), H: int(hs.Shape[2]), W: int(hs.Shape[3])}
	pp := m.Postprocess
	d.dec = CenterNet{Classes: m.Classes, Threshold: float32(m.Threshold), Stride: pp.Stride,
		NMSIoU: pp.NMSIoU, MaxDetections: pp.MaxDetections}
	if err := verify(b, d, opt); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Manifest returns the manifest of the loaded bundle.
func (d *Detector) Manifest() *bundle.Manifest { return d.m }

// Detect finds defects in a BGR image; boxes are in its pixels, sorted by descending score.
func (d *Detector) Detect(img gocv.Mat) ([]Detection, error) {
	buf := d.bufs.get()
	defer d.bufs.put(buf)
	t, err := d.pre.Apply(img, *buf)
	if err != nil {
		return nil, err
	}
	var dets []Detection
	err = d.s.run(*buf, func(outs [][]float32) error {
		dets = d.dec.Decode(outs[d.hm], outs[d.wh], outs[d.offset], d.grid, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("detect with %s: %w", d.m.Name, err)
	}
	return dets, nil
}

// DetectImage finds defects in an image.Image (converted to a BGR Mat first).
func (d *Detector) DetectImage(img image.Image) ([]Detection, error) {
	mat, err := MatFromImage(img)
	if err != nil {
		return nil, err
	}
	defer mat.Close()
	return d.Detect(mat)
}

// Preprocess returns the network input for img (bundle.Runner).
func (d *Detector) Preprocess(img image.Image) ([]float32, error) {
	return preprocessImage(d.pre, img)
}

// RunTensor runs the network on an input tensor (bundle.Runner).
func (d *Detector) RunTensor(input []float32) (map[string][]float32, error) {
	return d.s.runCopy(input)
}

// Predict detects defects in img (bundle.Runner).
func (d *Detector) Predict(img image.Image) (bundle.Prediction, error) {
	dets, err := d.DetectImage(img)
	if err != nil {
		return bundle.Prediction{}, err
	}
	return Prediction(dets), nil
}

// Prediction turns detections into the bundle's golden-check form.
func Prediction(dets []Detection) bundle.Prediction {
	out := make([]bundle.Detection, len(dets))
	for i, x := range dets {
		out[i] = bundle.Detection{Label: x.Label, Score: float64(x.Score), Box: x.Box}
	}
	return bundle.Prediction{Detections: out}
}

// Close releases the ONNX Runtime session; later calls return ErrClosed. It is idempotent.
func (d *Detector) Close() error { return d.s.close() }
