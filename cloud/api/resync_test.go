package api

import (
	"slices"
	"sync"
	"testing"
	"time"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// encSink records what a WebSocket client would be sent.
type encSink struct {
	mu  sync.Mutex
	got []string
}

func (s *encSink) deliver(ev *hubEvent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, string(ev.wsJSON()))
	return true
}

func (s *encSink) dropped(dropReason) {}

// TestHubResolveAfterBusGap: an execution whose final event never came is
// found quiet, resolved with the stored state, and events arriving after
// that are not delivered; an execution that ended normally, one quiet for
// less than resyncQuiet and one that keeps sending are left alone.
func TestHubResolveAfterBusGap(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	h := newTestHub(t, Config{}, clock)
	running := ifcv1.ExecutionStatus_EXECUTION_STATUS_RUNNING
	succeeded := ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED

	sinks := map[string]*encSink{}
	for _, id := range []string{"gap", "ended", "busy", "fresh", "none"} {
		sinks[id] = &encSink{}
		h.subscribe(id, sinks[id], func([]*hubEvent) bool { return true })
	}
	h.publish(ev("gap", 1, running))
	h.publish(ev("ended", 1, running))
	h.publish(ev("ended", 2, succeeded))
	h.publish(ev("busy", 1, running))
	if ids := h.quietSubscribed(resyncQuiet, 100); len(ids) != 0 {
		t.Fatalf("quiet at once: %v", ids)
	}
	advance(resyncQuiet)
	h.publish(ev("busy", 2, running))
	h.publish(ev("fresh", 1, running))
	// "none" has had no event at all: its quiet counts from the first round.
	ids := h.quietSubscribed(resyncQuiet, 100)
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"gap", "none"}) {
		t.Fatalf("quiet %v, want [gap none]", ids)
	}
	if again := h.quietSubscribed(resyncQuiet, 100); len(again) != 0 {
		t.Fatalf("checked again at once: %v", again)
	}
	advance(resyncQuiet)
	if ids := h.quietSubscribed(resyncQuiet, 100); len(ids) != 4 {
		t.Fatalf("quiet after a second interval %v, want gap, busy, fresh, none", ids)
	}

	h.resolve("gap", ev("gap", 0, succeeded), []byte(`{"type":"state","execution_id":"gap"}`))
	h.resolve("gap", ev("gap", 0, succeeded), []byte(`{"type":"state","execution_id":"gap","again":true}`))
	h.resolve("ended", ev("ended", 0, succeeded), []byte(`{"type":"state","execution_id":"ended"}`))
	h.publish(ev("gap", 2, running)) // late, older than the state
	gap := sinks["gap"]
	if len(gap.got) != 2 || gap.got[1] != `{"type":"state","execution_id":"gap"}` {
		t.Fatalf("gap subscriber got %q, want the running event then the state once", gap.got)
	}
	if got := sinks["ended"].got; len(got) != 2 {
		t.Fatalf("ended subscriber got %q, want its two events and no state", got)
	}
	advance(resyncQuiet)
	for _, id := range h.quietSubscribed(resyncQuiet, 100) {
		if id == "gap" || id == "ended" {
			t.Fatalf("%s still checked after it ended", id)
		}
	}
}
