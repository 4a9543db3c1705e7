package api

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

type chanSink struct {
	mu     sync.Mutex
	got    []uint64
	cap    int
	reason dropReason
}

func (s *chanSink) deliver(ev *hubEvent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) >= s.cap {
		return false
	}
	s.got = append(s.got, ev.ev.GetSeq())
	return true
}

func (s *chanSink) dropped(r dropReason) { s.mu.Lock(); s.reason = r; s.mu.Unlock() }

func newTestHub(t *testing.T, cfg Config, now func() time.Time) *hub {
	t.Helper()
	cfg.setDefaults()
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return newHub(cfg, now, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func ev(id string, seq uint64, status ifcv1.ExecutionStatus) *ifcv1.ProgressEvent {
	return &ifcv1.ProgressEvent{ExecutionId: id, Seq: seq, ExecutionStatus: status}
}

func TestHubReplayBoundedAndDeduplicated(t *testing.T) {
	h := newTestHub(t, Config{ReplayEvents: 3}, time.Now)
	for seq := uint64(1); seq <= 5; seq++ {
		h.publish(ev("a", seq, 0))
	}
	h.publish(ev("a", 4, 0)) // redelivery: ignored
	s := &chanSink{cap: 100}
	var replay []uint64
	h.subscribe("a", s, func(evs []*hubEvent) bool {
		for _, e := range evs {
			replay = append(replay, e.ev.GetSeq())
		}
		return true
	})
	if len(replay) != 3 || replay[0] != 3 || replay[2] != 5 {
		t.Fatalf("replay %v, want the last 3", replay)
	}
	h.publish(ev("a", 6, 0))
	h.publish(ev("b", 1, 0))
	if len(s.got) != 1 || s.got[0] != 6 {
		t.Fatalf("live %v", s.got)
	}
}

func TestHubDropsSlowSinkOnly(t *testing.T) {
	h := newTestHub(t, Config{}, time.Now)
	slow, fast := &chanSink{cap: 2}, &chanSink{cap: 100}
	for _, s := range []*chanSink{slow, fast} {
		h.subscribe("a", s, func([]*hubEvent) bool { return true })
	}
	for seq := uint64(1); seq <= 10; seq++ {
		h.publish(ev("a", seq, 0))
	}
	if slow.reason != dropSlow || len(slow.got) != 2 {
		t.Fatalf("slow sink: reason %v, got %v", slow.reason, slow.got)
	}
	if len(fast.got) != 10 || fast.reason != 0 {
		t.Fatalf("fast sink: %v %v", fast.got, fast.reason)
	}
	h.closeAll()
	if fast.reason != dropShutdown {
		t.Fatalf("shutdown reason %v", fast.reason)
	}
	if h.subscribe("a", &chanSink{cap: 1}, func([]*hubEvent) bool { return true }) {
		t.Fatal("subscribe after closeAll succeeded")
	}
}

func TestHubForgetsEndedExecutions(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newTestHub(t, Config{ReplayTTL: time.Minute, MaxTracked: 3}, clock)
	h.publish(ev("done", 1, ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED))
	h.publish(ev("running", 1, ifcv1.ExecutionStatus_EXECUTION_STATUS_RUNNING))
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	h.gc()
	if h.tracked() != 1 {
		t.Fatalf("tracked %d after gc, want 1 (the running one)", h.tracked())
	}
	for _, id := range []string{"x", "y", "z"} {
		h.publish(ev(id, 1, 0))
	}
	if h.tracked() != 3 {
		t.Fatalf("tracked %d, want bounded at 3", h.tracked())
	}
}

func TestMetricsShareRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if _, err := newMetrics(reg); err != nil {
		t.Fatalf("registry with Go and process collectors: %v", err)
	}
	if _, err := newMetrics(reg); err == nil {
		t.Fatal("second API on one registry: want a duplicate registration error")
	}
}
