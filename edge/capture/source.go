package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/imageflowcanvas/ifc/internal/registry"
	"github.com/imageflowcanvas/ifc/models/synth"
)

// ErrNoCamera reports that the configured device is not present (unplugged or never attached).
var ErrNoCamera = errors.New("capture: camera not present")

// ErrUnavailable reports that the camera exists but is not delivering frames.
var ErrUnavailable = errors.New("capture: camera unavailable")

// ErrBadSpec is wrapped by every camera spec parsing or validation error.
var ErrBadSpec = errors.New("capture: bad camera spec")

// Frame is one captured picture.
type Frame struct {
	Seq        uint64         // 1-based, assigned by the Camera in delivery order
	CapturedAt time.Time      // when the source produced the frame
	Image      image.Image    // *image.RGBA or *image.YCbCr; read-only, shared by every subscriber
	Truth      []synth.Defect // ground-truth defects (synthetic source only)
}

// Source is one configured camera: it can be opened (again and again) into a Stream.
type Source interface {
	// Open starts the device. It returns an error wrapping ErrNoCamera when the device is absent.
	Open(ctx context.Context) (Stream, error)
	// Device names the device for status and logs.
	Device() string
	// Mode returns the configured (or best known) width, height and frame rate; zeros mean unknown.
	Mode() (width, height int, fps float64)
}

// Stream is an open source delivering frames.
type Stream interface {
	// Next blocks until the next frame (Seq is ignored and assigned by the Camera).
	// An error ends the stream; wrap ErrNoCamera when the device went away.
	Next(ctx context.Context) (Frame, error)
	// Close releases the device.
	Close() error
}

// Factory builds a Source from a parsed spec; opts carries injected dependencies.
type Factory func(u *url.URL, opts Options) (Source, error)

var factories = registry.New[Factory]("capture")

// Register makes a source available under scheme; it panics on a duplicate, like database/sql.
func Register(scheme string, f Factory) { factories.Register(scheme, f) }

// Schemes lists the registered source schemes, sorted.
func Schemes() []string { return factories.Schemes() }

func init() {
	Register("synthetic", newSynthetic)
	Register("folder", newFolder)
	Register("v4l2", newV4L2)
}

// parseSpec splits a spec into scheme and URL and finds its factory.
func parseSpec(spec string) (*url.URL, Factory, error) {
	if len(spec) > 4096 {
		return nil, nil, fmt.Errorf("%w: spec longer than 4096 bytes", ErrBadSpec)
	}
	u, err := url.Parse(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %q: %v", ErrBadSpec, spec, err)
	}
	f, ok := factories.Get(u.Scheme)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %q: unknown scheme %q (want one of %v)", ErrBadSpec, spec, u.Scheme, Schemes())
	}
	return u, f, nil
}

// specPath returns the path part of "scheme:/abs", "scheme:rel" or "scheme:///abs".
func specPath(u *url.URL) string {
	if u.Opaque != "" {
		return u.Opaque
	}
	return u.Path
}

// query reads typed, bounded query parameters and rejects unknown ones.
type query struct {
	v    url.Values
	used map[string]bool
	err  error
}

func newQuery(u *url.URL) *query { return &query{v: u.Query(), used: map[string]bool{}} }

func (q *query) fail(format string, a ...any) {
	if q.err == nil {
		q.err = fmt.Errorf("%w: "+format, append([]any{ErrBadSpec}, a...)...)
	}
}

func (q *query) str(key, def string) string {
	q.used[key] = true
	if s := q.v.Get(key); s != "" {
		return s
	}
	return def
}

func (q *query) int(key string, def, lo, hi int) int {
	s := q.str(key, "")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		q.fail("%s=%q not an integer in %d..%d", key, s, lo, hi)
		return def
	}
	return n
}

func (q *query) float(key string, def, lo, hi float64) float64 {
	s := q.str(key, "")
	if s == "" {
		return def
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= lo && f <= hi) {
		q.fail("%s=%q not a number in %g..%g", key, s, lo, hi)
		return def
	}
	return f
}

// done reports the first bad value or an unknown parameter.
func (q *query) done() error {
	if q.err != nil {
		return q.err
	}
	keys := make([]string, 0, len(q.v))
	for k := range q.v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !q.used[k] {
			return fmt.Errorf("%w: unknown parameter %q", ErrBadSpec, k)
		}
	}
	return nil
}

// pacer paces a stream at a fixed frame rate, skipping ticks when the consumer falls behind.
type pacer struct {
	period time.Duration
	next   time.Time
}

func newPacer(fps float64) *pacer {
	return &pacer{period: time.Duration(float64(time.Second) / fps)}
}

// wait blocks until the next frame is due. It checks ctx first: a source
// slower than its frame rate never waits, and must still stop when asked.
func (p *pacer) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	if p.next.IsZero() {
		p.next = now
	}
	if d := p.next.Sub(now); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	} else if -d > p.period {
		p.next = now // fell behind by more than a frame: skip, don't burst
	}
	p.next = p.next.Add(p.period)
	return nil
}
