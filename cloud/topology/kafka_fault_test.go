package topology

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/imageflowcanvas/ifc/cloud/events/kafkabus/kafkatest"
)

// faultPublishTimeout is the events_url publish_timeout of the fault
// test: how long the conductor's first publish waits while the broker is
// away before the bus's breaker opens and later publishes fail at once.
const faultPublishTimeout = 2 * time.Second

// TestTopologyKafkaOutage stops the Kafka broker under the topology (a
// private broker, so the shared one other tests use is untouched):
// executions submitted while it is down all end, a WebSocket client on
// replica B, subscribed to them, ends up with every one's final state
// (the terminal progress event, or the stored state the API sends when
// the event never came), and once the broker is back progress flows to
// B again without the client or the replicas reconnecting anything.
func TestTopologyKafkaOutage(t *testing.T) {
	be := requireBackends(t)
	broker := kafkatest.Start(t) // stopped at the end, after the processes (cleanups run in reverse)
	eventsURL := fmt.Sprintf("%s?topic=ifc.fault.%s&publish_timeout=%s", broker.URL(), runID, faultPublishTimeout)
	tp := startTopology(t, be, options{eventsURL: eventsURL})
	img, _ := partImage(t, 0)
	fileID := tp.a.upload(img)
	pipelineID := tp.a.createStandardPipeline()

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ws := newFaultWS(ctx, t, tp.b)

	// Before: B sees every event of a run on A.
	before := tp.a.submit(pipelineID, fileID)
	ws.subscribe(ctx, before)
	if got := ws.waitFinal(ctx, before); got.how != "event" || got.status != "succeeded" {
		t.Fatalf("before the outage: %+v, want the succeeded event", got)
	}
	ws.checkSeqs(before)

	// Outage. Runs on A (?wait=true) while the broker is down: the first
	// publish waits publish_timeout and opens the conductor's breaker
	// (kafkabus), so the first run takes about publish_timeout longer and
	// the later ones their usual time, not publish_timeout per event.
	broker.Stop()
	stopped := time.Now()
	t.Logf("broker stopped")
	for i := range 3 {
		t0 := time.Now()
		ex, err := tp.a.runWait(pipelineID, fileID)
		took := time.Since(t0)
		if err != nil || ex.Status != "succeeded" {
			t.Fatalf("run %d with the broker down: %v %s (%s)", i, err, ex.Status, ex.Error)
		}
		t.Logf("run %d with the broker down: succeeded in %v", i, took.Round(time.Millisecond))
		if i > 0 && took >= faultPublishTimeout {
			t.Errorf("run %d with the broker down took %v: publishes still wait publish_timeout (%v) with the breaker open",
				i, took.Round(time.Millisecond), faultPublishTimeout)
		}
	}
	// Then executions submitted on A, each subscribed on B as soon as its
	// id is known, while the broker restarts. They end during the outage
	// (their terminal events are refused), so B's client gets each one's
	// stored final state from the resync, or, for one still running when
	// the broker is back, its terminal event.
	const during = 3
	ids := make([]string, during)
	errs := make([]error, during)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			code, data, err := tp.a.call("POST", "/api/v1/executions", "application/json",
				[]byte(fmt.Sprintf(`{"pipeline_id":%q,"inputs":[%q]}`, pipelineID, fileID)))
			var ex executionJSON
			if err == nil && code != http.StatusAccepted {
				err = fmt.Errorf("status %d: %s", code, data)
			}
			if err == nil {
				err = json.Unmarshal(data, &ex)
			}
			if err == nil {
				err = wsjson.Write(ctx, ws.conn, map[string]string{"type": "subscribe", "execution_id": ex.ExecutionID})
			}
			ids[i], errs[i] = ex.ExecutionID, err
		})
	}
	broker.Restart()
	back := time.Now()
	t.Logf("broker back after %v", back.Sub(stopped).Round(time.Millisecond))
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("submit with the broker down: %v", err)
		}
	}

	// Every execution ends, and B's client has its final state.
	for _, id := range ids {
		got := ws.waitFinal(ctx, id)
		var ex executionJSON
		tp.b.do("GET", "/api/v1/executions/"+id, "", nil, http.StatusOK, &ex)
		if ex.Status != "succeeded" || got.status != ex.Status {
			t.Errorf("execution %s: stored %s (%s), WebSocket on B ended with %+v", id, ex.Status, ex.Error, got)
		}
		t.Logf("execution %s %s; B's client got the final %s %v after the stop (broker back after %v), seqs %v",
			id, ex.Status, got.how, got.at.Sub(stopped).Round(time.Millisecond), back.Sub(stopped).Round(time.Millisecond), ws.seqsOf(id))
	}

	// After: progress flows to B again, every event, on the same subscription.
	deadline := time.Now().Add(time.Minute)
	for {
		after := tp.a.submit(pipelineID, fileID)
		ws.subscribe(ctx, after)
		got := ws.waitFinal(ctx, after)
		if got.how == "event" && ws.contiguous(after) {
			t.Logf("after the restart: execution %s, seqs %v on B", after, ws.seqsOf(after))
			break
		}
		// The first runs may still lose events while the producer's
		// metadata refreshes; their final state still arrives.
		t.Logf("after the restart: execution %s ended by %s, seqs %v; again", after, got.how, ws.seqsOf(after))
		if time.Now().After(deadline) {
			t.Fatal("progress never flowed to B again after the broker restarted")
		}
	}
}

// faultWS is a WebSocket client on one replica that records, per
// execution, the progress seqs and how the execution's end arrived.
type faultWS struct {
	t    *testing.T
	conn *websocket.Conn
	mu   sync.Mutex
	seqs map[string][]uint64
	end  map[string]finalState
	err  error
}

// finalState is how an execution's end reached the client.
type finalState struct {
	how    string // "event": the terminal progress event; "state": the stored state
	status string
	at     time.Time
}

func newFaultWS(ctx context.Context, t *testing.T, c *client) *faultWS {
	w := &faultWS{t: t, conn: c.dialWS(ctx), seqs: map[string][]uint64{}, end: map[string]finalState{}}
	go w.read(ctx)
	return w
}

func (w *faultWS) read(ctx context.Context) {
	for {
		var m struct {
			wsMessage
			Execution *struct {
				Status string `json:"status"`
			} `json:"execution"`
		}
		_, data, err := w.conn.Read(ctx)
		if err == nil {
			err = json.Unmarshal(data, &m)
		}
		w.mu.Lock()
		if err != nil {
			w.err = err
			w.mu.Unlock()
			return
		}
		id := m.ExecutionID
		switch {
		case m.Type == "progress":
			w.seqs[id] = append(w.seqs[id], m.Seq)
			if _, done := w.end[id]; !done && m.terminal() {
				w.end[id] = finalState{how: "event", status: m.ExecutionStatus, at: time.Now()}
			}
		case m.Type == "state" && m.Execution != nil && isTerminal(m.Execution.Status):
			if _, done := w.end[id]; !done {
				w.end[id] = finalState{how: "state", status: m.Execution.Status, at: time.Now()}
			}
		case m.Type == "error":
			w.err = fmt.Errorf("websocket error for %s: %s", id, m.Message)
		}
		w.mu.Unlock()
	}
}

func (w *faultWS) subscribe(ctx context.Context, id string) {
	w.t.Helper()
	if err := wsjson.Write(ctx, w.conn, map[string]string{"type": "subscribe", "execution_id": id}); err != nil {
		w.t.Fatal(err)
	}
}

// waitFinal waits until the client has id's final state.
func (w *faultWS) waitFinal(ctx context.Context, id string) finalState {
	w.t.Helper()
	for {
		w.mu.Lock()
		got, ok := w.end[id]
		err := w.err
		w.mu.Unlock()
		if ok {
			return got
		}
		if err != nil {
			w.t.Fatalf("waiting for the end of %s: %v", id, err)
		}
		select {
		case <-ctx.Done():
			w.t.Fatalf("execution %s: no final state on the WebSocket (seqs %v)", id, w.seqsOf(id))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (w *faultWS) seqsOf(id string) []uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]uint64(nil), w.seqs[id]...)
}

// contiguous reports whether id's events arrived as 1..n without a gap
// (events replayed by the subscribe come first; duplicates are allowed).
func (w *faultWS) contiguous(id string) bool {
	var next uint64 = 1
	for _, s := range w.seqsOf(id) {
		switch {
		case s == next:
			next++
		case s < next:
		default:
			return false
		}
	}
	return next > 1
}

func (w *faultWS) checkSeqs(id string) {
	w.t.Helper()
	if !w.contiguous(id) {
		w.t.Fatalf("execution %s: seqs %v on B, want 1..n", id, w.seqsOf(id))
	}
}
