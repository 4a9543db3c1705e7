// Package prefilter is the edge agent's AI pre-filter: the verified
// classification bundle from models/ (embedded by default, or a directory),
// run on captured stills and, optionally, on live frames.
//
// # Verification and reload
//
// A bundle is used only after models/bundle has checked its manifest and the
// model's sha256 and models/infer has run its golden-image check. Reload
// builds and verifies the new classifier completely before it takes the
// write lock; the swap itself is a pointer exchange. A bundle that fails any
// check is refused with an error and the previous classifier keeps serving,
// so a bad download or a tampered file can never take the pre-filter down.
//
// Concurrency: Classify holds a read lock for the duration of one inference,
// so Reload waits for in-flight calls before it closes the old classifier;
// calls that start after the swap use the new one.
package prefilter

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/infer"
	embedded "github.com/imageflowcanvas/ifc/models/prefilter"
)

// ErrClosed is returned by a Filter used after Close.
var ErrClosed = errors.New("prefilter closed")

// Result is the pre-filter's opinion of one image.
type Result struct {
	Score        float32       `json:"score"`         // 0..1, probability that the part is suspect
	Label        string        `json:"label"`         // "ok" or the positive class ("suspect")
	Suspect      bool          `json:"suspect"`       // Score >= Threshold
	ModelName    string        `json:"model_name"`    // manifest name
	ModelVersion string        `json:"model_version"` // manifest version
	Threshold    float32       `json:"threshold"`     // threshold the label was decided with
	Latency      time.Duration `json:"-"`             // preprocessing + inference time
}

// Model describes the bundle in use.
type Model struct {
	Name      string  `json:"name"`
	Version   string  `json:"version"`
	SHA256    string  `json:"sha256"`
	Threshold float32 `json:"threshold"`
	Source    string  `json:"source"` // "embedded" or the bundle directory
}

// Options configure a Filter.
type Options struct {
	// Logger receives load, verification and reload logs (nil = slog.Default()).
	Logger *slog.Logger
	// IntraOpThreads is passed to infer.Options (0 = one core per inference).
	IntraOpThreads int
}

// Filter is a reloadable, verified pre-filter. It is safe for concurrent use.
type Filter struct {
	opts Options
	log  *slog.Logger

	mu     sync.RWMutex
	c      *infer.Classifier
	model  Model
	closed bool
}

// Open loads and verifies the bundle in dir ("" = the bundle embedded in
// models/prefilter) and returns a Filter serving it.
func Open(dir string, opts Options) (*Filter, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	f := &Filter{opts: opts, log: log.With("component", "prefilter")}
	c, m, err := f.load(dir)
	if err != nil {
		return nil, err
	}
	f.c, f.model = c, m
	f.log.Info("pre-filter ready", "model", m.Name, "version", m.Version, "source", m.Source)
	return f, nil
}

// load reads, checks and golden-verifies a bundle; nothing is shared yet.
func (f *Filter) load(dir string) (*infer.Classifier, Model, error) {
	var (
		b   *bundle.Bundle
		err error
	)
	src := dir
	if dir == "" {
		src = "embedded"
		if b, err = bundle.LoadFS(embedded.FS); err != nil {
			err = fmt.Errorf("embedded bundle: %w", err)
		}
	} else {
		b, err = bundle.LoadDir(dir)
	}
	if err != nil {
		return nil, Model{}, fmt.Errorf("load pre-filter bundle: %w", err)
	}
	c, err := infer.NewClassifier(b, infer.Options{Logger: f.log, IntraOpThreads: f.opts.IntraOpThreads})
	if err != nil {
		return nil, Model{}, fmt.Errorf("verify pre-filter bundle %s: %w", src, err)
	}
	m := b.Manifest
	return c, Model{Name: m.Name, Version: m.Version, SHA256: m.SHA256, Threshold: float32(m.Threshold), Source: src}, nil
}

// Reload verifies the bundle in dir ("" = embedded) and, only if it passes,
// swaps it in atomically. On any error the previous model keeps serving.
func (f *Filter) Reload(dir string) (Model, error) {
	c, m, err := f.load(dir)
	if err != nil {
		cur := f.Model()
		f.log.Error("pre-filter reload refused; previous model keeps serving",
			"dir", dir, "current_version", cur.Version, "err", err)
		return cur, err
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		_ = c.Close()
		return Model{}, ErrClosed
	}
	old, oldModel := f.c, f.model
	f.c, f.model = c, m
	f.mu.Unlock()
	if err := old.Close(); err != nil {
		f.log.Warn("close previous pre-filter", "err", err)
	}
	f.log.Info("pre-filter reloaded", "from", oldModel.Version, "to", m.Version, "source", m.Source)
	return m, nil
}

// Model returns the description of the bundle in use.
func (f *Filter) Model() Model {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.model
}

// Classify scores a BGR Mat. threshold > 0 overrides the model's own
// threshold (an inspection master may set its own).
func (f *Filter) Classify(img gocv.Mat, threshold float32) (Result, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return Result{}, ErrClosed
	}
	start := time.Now()
	v, err := f.c.Classify(img)
	if err != nil {
		return Result{}, fmt.Errorf("pre-filter %s@%s: %w", f.model.Name, f.model.Version, err)
	}
	return f.result(v, threshold, time.Since(start)), nil
}

// ClassifyImage scores an image.Image (converted to a Mat first).
func (f *Filter) ClassifyImage(img image.Image, threshold float32) (Result, error) {
	mat, err := infer.MatFromImage(img)
	if err != nil {
		return Result{}, fmt.Errorf("pre-filter: convert image: %w", err)
	}
	defer mat.Close()
	return f.Classify(mat, threshold)
}

// result turns an infer.Verdict into a Result; the caller holds mu.
func (f *Filter) result(v infer.Verdict, threshold float32, d time.Duration) Result {
	r := Result{
		Score: v.Score, Label: v.Label, Suspect: v.Suspect,
		ModelName: f.model.Name, ModelVersion: f.model.Version,
		Threshold: f.model.Threshold, Latency: d,
	}
	if threshold > 0 && threshold <= 1 && threshold != r.Threshold {
		classes := f.c.Manifest().Classes
		r.Threshold = threshold
		r.Suspect = v.Score >= threshold
		r.Label = classes[0]
		if r.Suspect {
			r.Label = classes[1]
		}
	}
	return r
}

// Close releases the model; later calls return ErrClosed. It is idempotent.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	return f.c.Close()
}
