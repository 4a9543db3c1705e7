package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Camera states reported by Status.
const (
	StateStarting = "starting" // Run not started yet, or opening the device
	StateLive     = "live"     // frames are flowing
	StateMissing  = "missing"  // the device is absent; Run keeps retrying
	StateError    = "error"    // the device failed; Run keeps retrying
)

// Options configures a Camera. The zero value is usable.
type Options struct {
	Logger     *slog.Logger
	MinBackoff time.Duration // first retry delay after a failure; default 250ms
	MaxBackoff time.Duration // retry delay cap; default 5s
	// V4L2Opener opens a v4l2 device; nil means pion/mediadevices. Tests inject fakes here.
	V4L2Opener V4L2Opener
}

// Status is a snapshot of a camera's health.
type Status struct {
	State  string    `json:"state"`
	Device string    `json:"device"`
	Width  int       `json:"width"`
	Height int       `json:"height"`
	FPS    float64   `json:"fps"`
	Err    string    `json:"error,omitempty"`
	Since  time.Time `json:"since"`  // when State last changed
	Frames uint64    `json:"frames"` // frames delivered since Open
}

// Camera is one capture source with its reconnect loop and subscribers.
type Camera struct {
	spec    string
	src     Source
	opts    Options
	log     *slog.Logger
	running atomic.Bool

	mu      sync.Mutex
	status  Status
	changed chan struct{} // closed and replaced on every state change
	subs    map[*subscriber]struct{}
	seq     uint64
}

type subscriber struct {
	ch      chan Frame
	dropped atomic.Uint64
}

// Open parses and validates spec and returns a Camera that has not started capturing.
func Open(spec string, opts Options) (*Camera, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(opts.MinBackoff, 5*time.Second)
	}
	u, factory, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	src, err := factory(u, opts)
	if err != nil {
		return nil, fmt.Errorf("open camera %q: %w", spec, err)
	}
	w, h, fps := src.Mode()
	c := &Camera{
		spec:    spec,
		src:     src,
		opts:    opts,
		log:     opts.Logger.With("component", "capture", "device", src.Device()),
		changed: make(chan struct{}),
		subs:    map[*subscriber]struct{}{},
		status:  Status{State: StateStarting, Device: src.Device(), Width: w, Height: h, FPS: fps, Since: time.Now()},
	}
	return c, nil
}

// Spec returns the spec the camera was opened with.
func (c *Camera) Spec() string { return c.spec }

// Status returns a snapshot of the camera's state.
func (c *Camera) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// setState records a state change and wakes Still callers.
func (c *Camera) setState(state string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if c.status.State == state && c.status.Err == msg {
		return
	}
	c.status.State, c.status.Err, c.status.Since = state, msg, time.Now()
	close(c.changed)
	c.changed = make(chan struct{})
}

// Run captures until ctx ends, reopening the source with exponential backoff (with jitter)
// after every failure. It returns nil when ctx is cancelled; it may be called only once.
func (c *Camera) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("capture: Run called twice")
	}
	backoff := c.opts.MinBackoff
	for ctx.Err() == nil {
		stream, err := c.src.Open(ctx)
		if err == nil {
			backoff = c.opts.MinBackoff
			c.log.Info("camera open")
			err = c.pump(ctx, stream)
			if cerr := stream.Close(); cerr != nil {
				c.log.Warn("close camera", "err", cerr)
			}
		}
		if ctx.Err() != nil {
			break
		}
		state := StateError
		if errors.Is(err, ErrNoCamera) {
			state = StateMissing
		}
		c.setState(state, err)
		wait := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		c.log.Warn("camera unavailable, retrying", "state", state, "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		backoff = min(2*backoff, c.opts.MaxBackoff)
	}
	c.setState(StateError, errors.New("capture stopped"))
	return nil
}

// pump delivers frames from one open stream until it fails or ctx ends.
func (c *Camera) pump(ctx context.Context, s Stream) error {
	for {
		f, err := s.Next(ctx)
		if err != nil {
			return err
		}
		c.publish(f)
	}
}

// publish stamps f with the next sequence number and offers it to every subscriber
// without blocking: a full subscriber buffer loses this frame.
func (c *Camera) publish(f Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	f.Seq = c.seq
	c.status.Frames++
	b := f.Image.Bounds()
	c.status.Width, c.status.Height = b.Dx(), b.Dy()
	if c.status.State != StateLive {
		c.status.State, c.status.Err, c.status.Since = StateLive, "", time.Now()
		close(c.changed)
		c.changed = make(chan struct{})
	}
	for s := range c.subs {
		select {
		case s.ch <- f:
		default:
			s.dropped.Add(1)
		}
	}
}

// Subscribe returns a channel of live frames with the given buffer (at least 1) and a
// function that unsubscribes and closes the channel. A subscriber that does not keep up
// loses frames; capture never waits for it. The channel stays open when Run returns.
func (c *Camera) Subscribe(buffer int) (<-chan Frame, func()) {
	s := &subscriber{ch: make(chan Frame, max(1, buffer))}
	c.mu.Lock()
	c.subs[s] = struct{}{}
	c.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			c.mu.Lock()
			delete(c.subs, s)
			close(s.ch)
			c.mu.Unlock()
		})
	}
}

// Still waits for the next frame (full resolution, as the source delivers it). It fails
// fast with ErrNoCamera when the device is missing and ErrUnavailable when it has failed,
// and also when the camera drops to one of those states while waiting.
func (c *Camera) Still(ctx context.Context) (Frame, error) {
	ch, cancel := c.Subscribe(1)
	defer cancel()
	for {
		c.mu.Lock()
		st, changed := c.status, c.changed
		c.mu.Unlock()
		switch st.State {
		case StateMissing:
			return Frame{}, fmt.Errorf("still from %s: %w: %s", st.Device, ErrNoCamera, st.Err)
		case StateError:
			return Frame{}, fmt.Errorf("still from %s: %w: %s", st.Device, ErrUnavailable, st.Err)
		}
		select {
		case f := <-ch:
			return f, nil
		case <-changed:
		case <-ctx.Done():
			return Frame{}, fmt.Errorf("still from %s (state %s): %w", st.Device, st.State, ctx.Err())
		}
	}
}
