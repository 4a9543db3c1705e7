package eval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"math"
	"strconv"
	"time"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/infer"
	"github.com/imageflowcanvas/ifc/models/synth"
)

// Metric is a metric value; it marshals to JSON as a number rounded to 6 decimals, or
// null when undefined (NaN).
type Metric float64

// MarshalJSON implements json.Marshaler.
func (m Metric) MarshalJSON() ([]byte, error) {
	f := float64(m)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, math.Round(f*1e6)/1e6, 'f', -1, 64), nil
}

// MaxImages bounds the size of one evaluation run.
const MaxImages = 100000

// Config describes the synthetic test set an evaluation runs on.
type Config struct {
	// Seed is the synth stream seed (use one never used in training; the test split is 99).
	Seed uint64
	// N is the number of images, indices 0..N-1.
	N int
	// Options are the generator options; use the ones the training data was drawn with.
	Options synth.Options
	// JPEGQuality, when in 1..100, round-trips every image through JPEG at that quality
	// (Go encoder, OpenCV decoder) before inference, as when the training data was written
	// as JPEG. 0 feeds the generated pixels as they are.
	JPEGQuality int
	// Logger receives progress (default slog.Default()).
	Logger *slog.Logger
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.N < 1 || c.N > MaxImages {
		return fmt.Errorf("eval: n %d not in 1..%d", c.N, MaxImages)
	}
	if c.JPEGQuality < 0 || c.JPEGQuality > 100 {
		return fmt.Errorf("eval: jpeg quality %d not in 0..100", c.JPEGQuality)
	}
	if err := c.Options.Validate(); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	return nil
}

// Latency summarises per-image inference times in milliseconds. It covers preprocessing,
// the network and decoding of an image already in memory as a BGR Mat; generating and
// converting the image are not included.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Mean float64 `json:"mean_ms"`
	Max  float64 `json:"max_ms"`
}

func summarize(ds []time.Duration) Latency {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	var sum, mx time.Duration
	for _, d := range ds {
		sum += d
		mx = max(mx, d)
	}
	l := Latency{P50: ms(Percentile(ds, 50)), P95: ms(Percentile(ds, 95)), P99: ms(Percentile(ds, 99)), Max: ms(mx)}
	if len(ds) > 0 {
		l.Mean = ms(sum / time.Duration(len(ds)))
	}
	return l
}

// TestSet describes the generated data in a report.
type TestSet struct {
	Generator   string   `json:"generator"`
	Seed        uint64   `json:"seed"`
	Images      int      `json:"images"`
	Width       int      `json:"width"`
	Height      int      `json:"height"`
	DefectRate  float64  `json:"defect_rate"`
	MaxDefects  int      `json:"max_defects"`
	Surfaces    []string `json:"surfaces,omitempty"`
	JPEGQuality int      `json:"jpeg_quality,omitempty"`
}

func (c Config) testSet() TestSet {
	return TestSet{Generator: synth.Version, Seed: c.Seed, Images: c.N, Width: c.Options.Width,
		Height: c.Options.Height, DefectRate: c.Options.DefectRate, MaxDefects: c.Options.MaxDefects,
		Surfaces: c.Options.Surfaces, JPEGQuality: c.JPEGQuality}
}

// Classifier is what EvaluateClassifier needs (infer.Classifier implements it).
type Classifier interface {
	Classify(img gocv.Mat) (infer.Verdict, error)
	Threshold() float32
}

// Detector is what EvaluateDetector needs (infer.Detector implements it).
type Detector interface {
	Detect(img gocv.Mat) ([]infer.Detection, error)
}

// ClassifierReport is the result of evaluating a pre-filter. A positive is an image with
// at least one defect.
type ClassifierReport struct {
	Model   string  `json:"model"`
	Task    string  `json:"task"`
	TestSet TestSet `json:"test_set"`
	AUROC   Metric  `json:"auroc"`
	// AtThreshold holds recall and false positive rate at the model's threshold.
	AtThreshold Rates   `json:"at_threshold"`
	Latency     Latency `json:"latency"`
}

// DetectorReport is the result of evaluating a detector.
type DetectorReport struct {
	Model   string  `json:"model"`
	Task    string  `json:"task"`
	TestSet TestSet `json:"test_set"`
	// MAP50 is the mean over classes with ground truth of the VOC all-point AP at IoU 0.5.
	MAP50 Metric `json:"map50"`
	// AP50PerClass is the AP of each class (null for a class without ground truth).
	AP50PerClass map[string]Metric `json:"ap50_per_class"`
	// GroundTruthPerClass counts the ground-truth boxes of each class.
	GroundTruthPerClass map[string]int `json:"ground_truth_per_class"`
	// Detections is the number of detections over all images.
	Detections int     `json:"detections"`
	Latency    Latency `json:"latency"`
}

// sample is one generated test image as a BGR Mat (the caller closes it) with its labels.
func (c Config) sample(i int) (gocv.Mat, []synth.Defect, error) {
	s, err := synth.Generate(c.Seed, i, c.Options)
	if err != nil {
		return gocv.Mat{}, nil, fmt.Errorf("generate image %d: %w", i, err)
	}
	if c.JPEGQuality > 0 {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, s.Image, &jpeg.Options{Quality: c.JPEGQuality}); err != nil {
			return gocv.Mat{}, nil, fmt.Errorf("encode image %d: %w", i, err)
		}
		m, err := gocv.IMDecode(buf.Bytes(), gocv.IMReadColor)
		if err != nil {
			return gocv.Mat{}, nil, fmt.Errorf("decode image %d: %w", i, err)
		}
		return m, s.Defects, nil
	}
	m, err := infer.MatFromImage(s.Image)
	if err != nil {
		return gocv.Mat{}, nil, fmt.Errorf("image %d: %w", i, err)
	}
	return m, s.Defects, nil
}

// forEach generates the test set and calls run on each image, timing it.
func (c Config) forEach(ctx context.Context, what string, run func(i int, img gocv.Mat, truth []synth.Defect) error) ([]time.Duration, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "eval", "model", what)
	lat := make([]time.Duration, 0, c.N)
	last := time.Now()
	for i := range c.N {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img, truth, err := c.sample(i)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		err = run(i, img, truth)
		lat = append(lat, time.Since(t0))
		img.Close()
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		if time.Since(last) > 10*time.Second {
			log.Info("evaluating", "done", i+1, "of", c.N)
			last = time.Now()
		}
	}
	return lat, nil
}

// EvaluateClassifier runs the pre-filter over the test set: AUROC, recall and false
// positive rate at its threshold, and latency.
func EvaluateClassifier(ctx context.Context, model string, c Classifier, cfg Config) (ClassifierReport, error) {
	scores := make([]float64, 0, cfg.N)
	positive := make([]bool, 0, cfg.N)
	lat, err := cfg.forEach(ctx, model, func(_ int, img gocv.Mat, truth []synth.Defect) error {
		v, err := c.Classify(img)
		if err != nil {
			return err
		}
		scores = append(scores, float64(v.Score))
		positive = append(positive, len(truth) > 0)
		return nil
	})
	if err != nil {
		return ClassifierReport{}, err
	}
	rep := ClassifierReport{Model: model, Task: bundle.TaskClassification, TestSet: cfg.testSet(),
		AtThreshold: AtThreshold(scores, positive, float64(c.Threshold())), Latency: summarize(lat)}
	auc, err := AUROC(scores, positive)
	if errors.Is(err, ErrOneClass) {
		auc = math.NaN()
	} else if err != nil {
		return ClassifierReport{}, err
	}
	rep.AUROC = Metric(auc)
	return rep, nil
}

// EvaluateDetector runs the detector over the test set: mAP@0.5, AP per class and latency.
func EvaluateDetector(ctx context.Context, model string, d Detector, classes []string, cfg Config) (DetectorReport, error) {
	images := make([]Image, 0, cfg.N)
	n := 0
	lat, err := cfg.forEach(ctx, model, func(_ int, img gocv.Mat, truth []synth.Defect) error {
		dets, err := d.Detect(img)
		if err != nil {
			return err
		}
		images = append(images, toImage(truth, dets))
		n += len(dets)
		return nil
	})
	if err != nil {
		return DetectorReport{}, err
	}
	mAP, per := MeanAP(images, classes, 0.5)
	rep := DetectorReport{Model: model, Task: bundle.TaskDetection, TestSet: cfg.testSet(), MAP50: Metric(mAP),
		AP50PerClass: map[string]Metric{}, GroundTruthPerClass: map[string]int{}, Detections: n,
		Latency: summarize(lat)}
	for c, r := range per {
		rep.GroundTruthPerClass[c] = r.GroundTruth
		rep.AP50PerClass[c] = Metric(r.AP)
	}
	return rep, nil
}

// toImage converts synth labels and detections into the metric's types. A synth box is
// [Min, Max) in pixels, so its width is Max.X - Min.X.
func toImage(truth []synth.Defect, dets []infer.Detection) Image {
	im := Image{Truth: make([]Object, len(truth)), Preds: make([]Scored, len(dets))}
	for i, t := range truth {
		im.Truth[i] = Object{Class: t.Class, Box: rectBox(t.Box)}
	}
	for i, d := range dets {
		im.Preds[i] = Scored{Class: d.Label, Score: float64(d.Score), Box: d.Box}
	}
	return im
}

func rectBox(r image.Rectangle) Box {
	return Box{X: float64(r.Min.X), Y: float64(r.Min.Y), W: float64(r.Dx()), H: float64(r.Dy())}
}

// Report is the result of Bundle: the bundle's identity, what its manifest claims, and
// either a classifier or a detector evaluation.
type Report struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	// Verified is true: Bundle refuses bundles failing the checksum or golden check.
	Verified bool `json:"verified"`
	// ManifestMetrics are the numbers the manifest claims (measured in Python at training).
	ManifestMetrics map[string]any    `json:"manifest_metrics,omitempty"`
	Classifier      *ClassifierReport `json:"prefilter,omitempty"`
	Detector        *DetectorReport   `json:"detector,omitempty"`
}

// Bundle opens b through models/infer (which runs the golden check and refuses a failing
// model) and evaluates it on the test set cfg describes.
func Bundle(ctx context.Context, b *bundle.Bundle, cfg Config, opt infer.Options) (Report, error) {
	m := b.Manifest
	rep := Report{Name: m.Name, Version: m.Version, SHA256: m.SHA256, ManifestMetrics: m.Metrics}
	model := m.Name + "@" + m.Version
	switch m.Task {
	case bundle.TaskClassification:
		c, err := infer.NewClassifier(b, opt)
		if err != nil {
			return Report{}, err
		}
		defer c.Close()
		rep.Verified = !opt.SkipGoldenCheck
		r, err := EvaluateClassifier(ctx, model, c, cfg)
		if err != nil {
			return Report{}, err
		}
		rep.Classifier = &r
	case bundle.TaskDetection:
		d, err := infer.NewDetector(b, opt)
		if err != nil {
			return Report{}, err
		}
		defer d.Close()
		rep.Verified = !opt.SkipGoldenCheck
		r, err := EvaluateDetector(ctx, model, d, m.Classes, cfg)
		if err != nil {
			return Report{}, err
		}
		rep.Detector = &r
	default:
		return Report{}, fmt.Errorf("eval: unknown task %q", m.Task)
	}
	return rep, nil
}
