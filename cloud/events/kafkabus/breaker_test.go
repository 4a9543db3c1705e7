package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestUnreachable(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now())
	defer cancel2()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		err    error
		waited time.Duration
		want   bool
	}{
		{"publish_timeout", live, fmt.Errorf("not acknowledged: %w", context.DeadlineExceeded), 2 * time.Second, true},
		{"connection refused", live, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, 0, true},
		{"broker went away", live, io.ErrUnexpectedEOF, 0, true},
		{"retriable code", live, kafka.LeaderNotAvailable, 0, true},
		{"retriable code in WriteErrors", live, kafka.WriteErrors{kafka.NotLeaderForPartition}, 0, true},
		{"broker refused the message", live, kafka.MessageSizeTooLarge, 0, false},
		{"refusal in WriteErrors", live, fmt.Errorf("w: %w", kafka.WriteErrors{kafka.MessageSizeTooLarge}), 0, false},
		{"caller cancelled", cancelled, context.Canceled, 0, false},
		{"caller cancelled after a long wait", cancelled, context.Canceled, 5 * time.Second, false},
		{"caller's deadline after 5s (the conductor's)", expired, context.DeadlineExceeded, 5 * time.Second, true},
		{"caller's short deadline", expired, context.DeadlineExceeded, 10 * time.Millisecond, false},
		{"writer closed", live, io.ErrClosedPipe, 0, false},
		{"no error", live, nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unreachable(tc.ctx, tc.err, tc.waited); got != tc.want {
				t.Errorf("unreachable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestBreakerStates(t *testing.T) {
	var br breaker
	t0 := time.Unix(1000, 0)
	if err := br.allow(t0); err != nil {
		t.Fatalf("new breaker: %v", err)
	}
	cause := errors.New("dial tcp: connection refused")
	if opened, probe := br.trip(cause, t0); !opened || !probe {
		t.Fatalf("first trip = %v, %v; want opened, start a probe", opened, probe)
	}
	if opened, probe := br.trip(cause, t0); opened || probe {
		t.Fatalf("second trip = %v, %v; want neither", opened, probe)
	}
	err := br.allow(t0.Add(1500 * time.Millisecond))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("allow while open = %v, want ErrUnavailable", err)
	}
	for _, want := range []string{"1.5s", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	br.allow(t0)
	if br.probeDone() {
		t.Fatal("probe may stop while the breaker is open")
	}
	open, since, rejected := br.reset()
	if !open || !since.Equal(t0) || rejected != 2 {
		t.Fatalf("reset = %v, %v, %d; want true, %v, 2", open, since, rejected, t0)
	}
	if err := br.allow(t0); err != nil {
		t.Fatalf("allow after reset: %v", err)
	}
	// Tripped again before the running probe noticed the reset: no second
	// probe, and the running one must go on.
	if _, probe := br.trip(cause, t0); probe {
		t.Fatal("trip started a second probe while one runs")
	}
	if br.probeDone() {
		t.Fatal("probe stopped while the breaker is open again")
	}
	br.reset()
	if !br.probeDone() {
		t.Fatal("probe may not stop on a closed breaker")
	}
	if _, probe := br.trip(cause, t0); !probe {
		t.Fatal("trip after the probe stopped did not start one")
	}
}
