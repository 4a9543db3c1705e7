package inspect_test

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"sync"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/edge/inspect"
	"github.com/imageflowcanvas/ifc/edge/queue"
)

// fakeLive is a live preview whose newest frame the test sets.
type fakeLive struct {
	mu  sync.Mutex
	img image.Image
	seq uint64
	err error
}

func (l *fakeLive) LatestFrame() (inspect.Frame, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return inspect.Frame{}, 0, l.err
	}
	return inspect.Frame{Image: l.img, CapturedAt: time.Now()}, l.seq, nil
}

func (l *fakeLive) next(img image.Image) {
	l.mu.Lock()
	l.img, l.seq = img, l.seq+1
	l.mu.Unlock()
}

// TestPreviewFrameScalesAndTakesNoStill: a wide frame is scaled to 1280
// wide with its aspect ratio; serving it never asks the camera for a still;
// a missing camera or no live preview at all is a 503 no-camera problem.
func TestPreviewFrameScalesAndTakesNoStill(t *testing.T) {
	live := &fakeLive{}
	e := newEnv(t, func(o *inspect.Options, _ *queue.Options) { o.Live = live })
	live.next(image.NewRGBA(image.Rect(0, 0, 1920, 1080)))
	for i, want := range []struct{ w, h int }{{1280, 720}, {640, 480}} {
		if i == 1 {
			live.next(image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420))
		}
		r := e.do("GET", "/api/v1/preview/frame", "", nil)
		if r.code != 200 {
			t.Fatalf("frame %d: %d %s", i, r.code, r.body)
		}
		if got := r.hdr.Get("X-Frame-Seq"); got != fmt.Sprint(i+1) {
			t.Errorf("frame %d: X-Frame-Seq %q", i, got)
		}
		img, err := jpeg.Decode(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if b := img.Bounds(); b.Dx() != want.w || b.Dy() != want.h {
			t.Errorf("frame %d: %dx%d, want %dx%d", i, b.Dx(), b.Dy(), want.w, want.h)
		}
	}
	e.cam.mu.Lock()
	calls := e.cam.calls
	e.cam.mu.Unlock()
	if calls != 0 {
		t.Errorf("the camera was asked for %d stills", calls)
	}

	live.mu.Lock()
	live.err = fmt.Errorf("live: %w", inspect.ErrNoCamera)
	live.mu.Unlock()
	r := e.do("GET", "/api/v1/preview/frame", "", nil)
	if p := r.problem(t); r.code != 503 || p.Type != inspect.ProblemNoCamera {
		t.Errorf("camera gone: %d %+v", r.code, p)
	}

	bare := newEnv(t)
	r = bare.do("GET", "/api/v1/preview/frame", "", nil)
	if p := r.problem(t); r.code != 503 || p.Type != inspect.ProblemNoCamera {
		t.Errorf("no live preview: %d %+v", r.code, p)
	}
}
