package api

import (
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// sink receives the events of the executions it subscribed to. deliver must
// not block: it returns false when the sink cannot keep up, and the hub
// then drops it (calling dropped once).
type sink interface {
	deliver(ev *hubEvent) bool
	dropped(reason dropReason)
}

// dropReason says why the hub let go of a sink.
type dropReason int

const (
	dropSlow     dropReason = iota + 1 // could not keep up
	dropShutdown                       // the API is stopping
)

// hubEvent is an event on its way to sinks, with its WebSocket encoding
// computed once for all of them (under the hub lock).
type hubEvent struct {
	ev  *ifcv1.ProgressEvent
	enc []byte
}

func (e *hubEvent) wsJSON() []byte {
	if e.enc == nil {
		e.enc, _ = json.Marshal(progressToJSON(e.ev))
	}
	return e.enc
}

// history is the recent events of one execution, kept for late subscribers.
type history struct {
	events   []*ifcv1.ProgressEvent
	lastSeen time.Time
	endedAt  time.Time // zero while running
	checked  time.Time // last store read by resync (resync.go)
	resolved bool      // resync sent the stored final state; later events are stale
}

// hub fans progress events from the bus out to local subscribers. Every
// change happens under one lock, so a subscriber registered with a replay
// sees the replay and then every later event, in order, with no gap and no
// duplicate.
type hub struct {
	mu       sync.Mutex
	subs     map[string]map[sink]struct{}
	hist     map[string]*history
	replay   int
	ttl      time.Duration
	idleTTL  time.Duration
	max      int
	now      func() time.Time
	metrics  *metrics
	log      *slog.Logger
	isClosed bool
}

func newHub(cfg Config, now func() time.Time, m *metrics, log *slog.Logger) *hub {
	return &hub{
		subs: map[string]map[sink]struct{}{}, hist: map[string]*history{},
		replay: cfg.ReplayEvents, ttl: cfg.ReplayTTL, idleTTL: 30 * time.Minute, max: cfg.MaxTracked,
		now: now, metrics: m, log: log,
	}
}

// publish records ev and delivers it to the execution's subscribers; it is
// the bus handler and never blocks on a subscriber.
func (h *hub) publish(ev *ifcv1.ProgressEvent) {
	if ev == nil || ev.GetExecutionId() == "" {
		return
	}
	h.metrics.events.Inc()
	if ev.GetNodeId() == "" && ev.GetExecutionStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_UNSPECIFIED {
		h.metrics.executions.WithLabelValues(statusWord(ev.GetExecutionStatus())).Inc()
	}
	id := ev.GetExecutionId()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.isClosed {
		return
	}
	hs := h.hist[id]
	if hs == nil {
		if len(h.hist) >= h.max {
			h.evictOldestLocked()
		}
		hs = &history{}
		h.hist[id] = hs
	}
	if n := len(hs.events); n > 0 && ev.GetSeq() != 0 && ev.GetSeq() <= hs.events[n-1].GetSeq() {
		return // duplicate or stale redelivery
	}
	if len(hs.events) >= h.replay {
		copy(hs.events, hs.events[1:])
		hs.events = hs.events[:len(hs.events)-1]
	}
	hs.events = append(hs.events, ev)
	hs.lastSeen = h.now()
	if ev.GetNodeId() == "" && isTerminal(ev.GetExecutionStatus()) {
		hs.endedAt = hs.lastSeen
	}
	if hs.resolved {
		return // subscribers already have the final state (resync.go)
	}
	he := &hubEvent{ev: ev}
	for s := range h.subs[id] {
		if !s.deliver(he) {
			h.dropLocked(s)
		}
	}
}

// subscribe registers s for execution id and, under the same lock, hands
// the kept history to replay (which must not block); so nothing between the
// replay and the live events is missed.
func (h *hub) subscribe(id string, s sink, replay func(events []*hubEvent) bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.isClosed {
		return false
	}
	var evs []*hubEvent
	if hs := h.hist[id]; hs != nil {
		evs = make([]*hubEvent, len(hs.events))
		for i, ev := range hs.events {
			evs[i] = &hubEvent{ev: ev}
		}
	}
	if !replay(evs) {
		h.dropLocked(s)
		return false
	}
	m := h.subs[id]
	if m == nil {
		m = map[sink]struct{}{}
		h.subs[id] = m
	}
	m[s] = struct{}{}
	return true
}

// unsubscribe removes s from id's subscribers ("" = every execution).
func (h *hub) unsubscribe(id string, s sink) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id != "" {
		h.removeLocked(id, s)
		return
	}
	for id := range h.subs {
		h.removeLocked(id, s)
	}
}

func (h *hub) removeLocked(id string, s sink) {
	if m := h.subs[id]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(h.subs, id)
		}
	}
}

func (h *hub) dropLocked(s sink) {
	for id := range h.subs {
		h.removeLocked(id, s)
	}
	h.metrics.wsDropped.Inc()
	s.dropped(dropSlow)
}

func (h *hub) evictOldestLocked() {
	var oldest string
	var t time.Time
	for id, hs := range h.hist {
		if oldest == "" || hs.lastSeen.Before(t) {
			oldest, t = id, hs.lastSeen
		}
	}
	delete(h.hist, oldest)
}

// gc forgets the history of executions that ended ttl ago or went quiet.
func (h *hub) gc() {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	for id, hs := range h.hist {
		if (!hs.endedAt.IsZero() && now.Sub(hs.endedAt) > h.ttl) || now.Sub(hs.lastSeen) > h.idleTTL {
			delete(h.hist, id)
		}
	}
}

// closeAll drops every subscriber (used at shutdown); later subscribes fail.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.isClosed = true
	seen := map[sink]bool{}
	for _, m := range h.subs {
		for s := range m {
			if !seen[s] {
				seen[s] = true
				s.dropped(dropShutdown)
			}
		}
	}
	h.subs = map[string]map[sink]struct{}{}
}

// tracked reports how many executions have kept history (for tests).
func (h *hub) tracked() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.hist)
}
