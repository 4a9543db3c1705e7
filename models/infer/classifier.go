package infer

import (
	"fmt"
	"image"
	"log/slog"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/models/bundle"
)

// Verdict is the pre-filter result for one image.
type Verdict struct {
	// Score is the probability that the part is suspect.
	Score float32
	// Label is the positive class ("suspect") when Score >= threshold, else the negative ("ok").
	Label string
	// Suspect is Score >= threshold.
	Suspect bool
	// Model is "name@version" of the model that produced the verdict.
	Model string
}

// Classifier is the pre-filter: one score per image. It is safe for concurrent use.
type Classifier struct {
	m    *bundle.Manifest
	pre  *Preprocessor
	s    *session
	bufs *bufPool
}

// NewClassifier opens a classification bundle and runs its golden check; a bundle that
// fails it is refused with an error wrapping bundle.ErrGolden.
func NewClassifier(b *bundle.Bundle, opt Options) (*Classifier, error) {
	m := b.Manifest
	if m.Task != bundle.TaskClassification {
		return nil, fmt.Errorf("bundle %s is a %s model, want %s", m.Name, m.Task, bundle.TaskClassification)
	}
	s, err := newSession(b, opt)
	if err != nil {
		return nil, err
	}
	pre := NewPreprocessor(m)
	c := &Classifier{m: m, pre: pre, s: s, bufs: newBufPool(pre.Elements())}
	if err := verify(b, c, opt); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// verify runs the golden check unless opt says not to, and logs the outcome.
func verify(b *bundle.Bundle, r bundle.Runner, opt Options) error {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "infer", "model", b.Manifest.Name, "version", b.Manifest.Version)
	if opt.SkipGoldenCheck {
		log.Warn("golden check skipped")
		return nil
	}
	if err := bundle.CheckGolden(b, r); err != nil {
		log.Error("model refused", "err", err)
		return fmt.Errorf("verify %s %s: %w", b.Manifest.Name, b.Manifest.Version, err)
	}
	log.Info("model verified", "golden_images", len(b.Manifest.Golden), "sha256", b.Manifest.SHA256)
	return nil
}

// Manifest returns the manifest of the loaded bundle.
func (c *Classifier) Manifest() *bundle.Manifest { return c.m }

// Threshold returns the score at and above which an image is suspect.
func (c *Classifier) Threshold() float32 { return float32(c.m.Threshold) }

// Classify scores a BGR image.
func (c *Classifier) Classify(img gocv.Mat) (Verdict, error) {
	buf := c.bufs.get()
	defer c.bufs.put(buf)
	if _, err := c.pre.Apply(img, *buf); err != nil {
		return Verdict{}, err
	}
	return c.classifyTensor(*buf)
}

// ClassifyImage scores an image.Image (converted to a BGR Mat first).
func (c *Classifier) ClassifyImage(img image.Image) (Verdict, error) {
	mat, err := MatFromImage(img)
	if err != nil {
		return Verdict{}, err
	}
	defer mat.Close()
	return c.Classify(mat)
}

func (c *Classifier) classifyTensor(input []float32) (Verdict, error) {
	var score float32
	err := c.s.run(input, func(outs [][]float32) error {
		score = outs[0][0]
		return nil
	})
	if err != nil {
		return Verdict{}, fmt.Errorf("classify with %s: %w", c.m.Name, err)
	}
	v := Verdict{Score: score, Label: c.m.Classes[0], Model: c.m.Name + "@" + c.m.Version}
	if score >= float32(c.m.Threshold) {
		v.Suspect, v.Label = true, c.m.Classes[1]
	}
	return v, nil
}

// Preprocess returns the network input for img (bundle.Runner).
func (c *Classifier) Preprocess(img image.Image) ([]float32, error) {
	return preprocessImage(c.pre, img)
}

// RunTensor runs the network on an input tensor (bundle.Runner).
func (c *Classifier) RunTensor(input []float32) (map[string][]float32, error) {
	return c.s.runCopy(input)
}

// Predict classifies img and returns the score (bundle.Runner).
func (c *Classifier) Predict(img image.Image) (bundle.Prediction, error) {
	v, err := c.ClassifyImage(img)
	return bundle.Prediction{Score: float64(v.Score)}, err
}

// Close releases the ONNX Runtime session; later calls return ErrClosed. It is idempotent.
func (c *Classifier) Close() error { return c.s.close() }

func preprocessImage(p *Preprocessor, img image.Image) ([]float32, error) {
	mat, err := MatFromImage(img)
	if err != nil {
		return nil, err
	}
	defer mat.Close()
	out := make([]float32, p.Elements())
	if _, err := p.Apply(mat, out); err != nil {
		return nil, err
	}
	return out, nil
}
