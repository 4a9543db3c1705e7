package api

import (
	"context"
	"encoding/json"
	"time"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Final state after a bus gap. Progress events are best effort (the
// conductor logs a failed publish and goes on; a bus outage loses the
// events published during it), so a WebSocket client could wait forever
// for an end it was never sent. The store is the record: Run checks every
// execution that has subscribers here, has not ended as far as the hub
// knows, and has been quiet for resyncQuiet, and when the store says it
// ended, sends its subscribers the final record as a "state" message (the
// same message a subscribe starts with; a gRPC watcher gets the terminal
// execution event). Later events of that execution
// are kept for replay but not delivered: they are older than the state.
const (
	resyncEvery = time.Second     // how often Run looks for quiet executions
	resyncQuiet = 3 * time.Second // quiet this long (no event, no check) before the store is read
	resyncBatch = 100             // store reads per round at most
	resyncRead  = 2 * time.Second // bound of one store read
)

// quietSubscribed returns up to max executions that have subscribers,
// have not ended as far as the hub knows, and have had neither an event
// nor a check for quiet; it marks them checked now.
func (h *hub) quietSubscribed(quiet time.Duration, max int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	var ids []string
	for id := range h.subs {
		if len(ids) == max {
			break
		}
		hs := h.hist[id]
		if hs == nil {
			// Subscribed, nothing seen yet: start counting the quiet now.
			if len(h.hist) >= h.max {
				h.evictOldestLocked()
			}
			h.hist[id] = &history{lastSeen: now, checked: now}
			continue
		}
		if !hs.endedAt.IsZero() || hs.resolved || now.Sub(hs.lastSeen) < quiet || now.Sub(hs.checked) < quiet {
			continue
		}
		hs.checked = now
		ids = append(ids, id)
	}
	return ids
}

// resolve delivers the final state to id's subscribers (WebSocket clients
// get state, the WebSocket "state" message; gRPC watchers get ev, the
// execution-level terminal event, which ends their stream) and marks the
// execution ended, so later events are no longer delivered.
func (h *hub) resolve(id string, ev *ifcv1.ProgressEvent, state []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.isClosed {
		return
	}
	hs := h.hist[id]
	if hs == nil {
		hs = &history{}
		h.hist[id] = hs
	}
	if !hs.endedAt.IsZero() || hs.resolved {
		return // the terminal event came meanwhile
	}
	hs.resolved = true
	hs.lastSeen = h.now()
	hs.endedAt = hs.lastSeen
	he := &hubEvent{ev: ev, enc: state}
	for s := range h.subs[id] {
		if !s.deliver(he) {
			h.dropLocked(s)
		}
	}
}

// resync reads quiet executions from the store and resolves those that
// ended (see resyncQuiet).
func (s *Server) resync(ctx context.Context) {
	for _, id := range s.hub.quietSubscribed(resyncQuiet, resyncBatch) {
		rctx, cancel := context.WithTimeout(ctx, resyncRead)
		ex, err := s.deps.Store.GetExecution(rctx, id)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Debug("resync execution state", "execution_id", id, "err", err)
			}
			continue
		}
		if !isTerminal(ex.GetStatus()) {
			continue
		}
		state, err := json.Marshal(wsStateMsg{Type: "state", ExecutionID: id, Execution: executionToJSON(ex)})
		if err != nil {
			continue
		}
		s.log.Info("execution ended without its final event reaching this replica; sent the stored state",
			"execution_id", id, "status", statusWord(ex.GetStatus()))
		snap := snapshotEvents(ex, s.now())
		s.hub.resolve(id, snap[len(snap)-1], state)
	}
}
