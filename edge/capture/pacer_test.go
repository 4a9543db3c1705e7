package capture

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A source slower than its frame rate never has to wait; it must still
// stop when its context ends (a 1280x720 synthetic stream at 60 fps under
// the race detector once kept rendering for 20 minutes after cancel).
func TestPacerStopsWhenBehind(t *testing.T) {
	p := newPacer(1e9) // a 1 ns period: every call is already late
	ctx, cancel := context.WithCancel(context.Background())
	for range 3 {
		if err := p.wait(ctx); err != nil {
			t.Fatalf("wait before cancel: %v", err)
		}
	}
	cancel()
	if err := p.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait after cancel = %v, want context.Canceled", err)
	}
}

func TestPacerWaitsForNextFrame(t *testing.T) {
	p := newPacer(1) // one frame per second
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.wait(ctx); err != nil {
		t.Fatalf("first frame: %v", err)
	}
	if err := p.wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second frame within 50 ms of the first: %v, want to wait (DeadlineExceeded)", err)
	}
}
