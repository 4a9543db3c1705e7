package infer

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/imageflowcanvas/ifc/models/bundle"
)

// ErrClosed is returned by a model used after Close.
var ErrClosed = errors.New("model is closed")

// Options configures a Classifier or Detector.
type Options struct {
	// IntraOpThreads is the number of threads ONNX Runtime uses inside one operator
	// (default 1: one image uses one core; run more models or calls in parallel instead).
	IntraOpThreads int
	// SkipGoldenCheck skips the golden check at construction. Only for tools and tests that
	// inspect a bundle known to fail it; production code never sets it.
	SkipGoldenCheck bool
	// Logger receives construction and verification logs (default slog.Default()).
	Logger *slog.Logger
}

// session is one ONNX Runtime session with its bound input and output tensors.
//
// Concurrency: a session owns fixed tensors, so one Run at a time; mu serialises Run and
// the reads of the outputs. We chose one session behind a mutex over a session pool: the
// model is small, one call uses one core (intra-op threads 1), and the hosts have two cores
// shared with capture and sync, so a pool would add memory and little throughput.
// Preprocessing and decoding of other calls proceed outside the lock.
type session struct {
	mu       sync.Mutex
	s        *ort.AdvancedSession
	in       *ort.Tensor[float32]
	outs     []*ort.Tensor[float32]
	outNames []string
	closed   bool
}

func newSession(b *bundle.Bundle, opt Options) (*session, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	m := b.Manifest
	threads := opt.IntraOpThreads
	if threads <= 0 {
		threads = 1
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return nil, fmt.Errorf("intra-op threads %d: %w", threads, err)
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("inter-op threads: %w", err)
	}
	s := &session{outNames: m.OutputNames()}
	ok := false
	defer func() {
		if !ok {
			s.destroy()
		}
	}()
	s.in, err = ort.NewEmptyTensor[float32](ort.NewShape(m.Input.Shape...))
	if err != nil {
		return nil, fmt.Errorf("input tensor: %w", err)
	}
	outs := make([]ort.Value, len(m.Outputs))
	for i, o := range m.Outputs {
		t, err := ort.NewEmptyTensor[float32](ort.NewShape(o.Shape...))
		if err != nil {
			return nil, fmt.Errorf("output tensor %s: %w", o.Name, err)
		}
		s.outs = append(s.outs, t)
		outs[i] = t
	}
	s.s, err = ort.NewAdvancedSessionWithONNXData(b.Model, []string{m.Input.Name}, s.outNames,
		[]ort.Value{s.in}, outs, so)
	if err != nil {
		return nil, fmt.Errorf("create session for %s %s: %w", m.Name, m.Version, err)
	}
	ok = true
	return s, nil
}

// run copies input into the input tensor, runs the network and calls read with the outputs
// (in manifest order) while still holding the lock; read must not keep the slices.
func (s *session) run(input []float32, read func(outs [][]float32) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	dst := s.in.GetData()
	if len(input) != len(dst) {
		return fmt.Errorf("input has %d elements, want %d", len(input), len(dst))
	}
	copy(dst, input)
	if err := s.s.Run(); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	outs := make([][]float32, len(s.outs))
	for i, t := range s.outs {
		outs[i] = t.GetData()
	}
	return read(outs)
}

// runCopy runs the network and returns copies of every output by name.
func (s *session) runCopy(input []float32) (map[string][]float32, error) {
	res := make(map[string][]float32, len(s.outNames))
	err := s.run(input, func(outs [][]float32) error {
		for i, o := range outs {
			res[s.outNames[i]] = append([]float32(nil), o...)
		}
		return nil
	})
	return res, err
}

func (s *session) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.destroy()
}

func (s *session) destroy() error {
	var errs []error
	if s.s != nil {
		errs = append(errs, s.s.Destroy())
	}
	if s.in != nil {
		errs = append(errs, s.in.Destroy())
	}
	for _, t := range s.outs {
		errs = append(errs, t.Destroy())
	}
	return errors.Join(errs...)
}

// bufPool recycles input tensors between calls of the same size.
type bufPool struct {
	n int
	p sync.Pool
}

func newBufPool(n int) *bufPool {
	bp := &bufPool{n: n}
	bp.p.New = func() any { b := make([]float32, n); return &b }
	return bp
}

func (bp *bufPool) get() *[]float32  { return bp.p.Get().(*[]float32) }
func (bp *bufPool) put(b *[]float32) { bp.p.Put(b) }
