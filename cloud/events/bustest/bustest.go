// Package bustest is the contract test suite every events.Bus
// implementation runs (NATS now, Kafka later).
package bustest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/events"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Run runs the contract suite. Every call of newBus must return a new,
// independent client (its own connection) of one broker shared by the
// whole run, as separate API instances and conductors would be; newBus
// registers the client's Close with t.Cleanup. The suite tolerates events
// left over from other tests on the same broker.
func Run(t *testing.T, newBus func(t *testing.T) events.Bus) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, func(*testing.T) events.Bus)
	}{
		{"RoundTrip", testRoundTrip},
		{"OrderPerExecution", testOrder},
		{"EverySubscriberGetsEveryEvent", testFanOut},
		{"CancelStopsDelivery", testCancel},
		{"ContextStopsDelivery", testContextCancel},
		{"CancelFromHandler", testCancelFromHandler},
		{"CloseIdempotent", testClose},
		{"InvalidEvents", testInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBus) })
	}
}

// Timeout bounds every wait in the suite.
var Timeout = 20 * time.Second

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func event(exec string, seq uint64) *ifcv1.ProgressEvent {
	return &ifcv1.ProgressEvent{
		ExecutionId: exec,
		NodeId:      fmt.Sprintf("node-%d", seq%3),
		State:       ifcv1.NodeState_NODE_STATE_RUNNING,
		Progress:    float32(seq%100) / 100,
		Seq:         seq,
		Ts:          timestamppb.New(time.Unix(1700000000, int64(seq))),
	}
}

// collector records events of the executions it was told about.
type collector struct {
	mu     sync.Mutex
	want   map[string]bool
	events map[string][]*ifcv1.ProgressEvent
	count  atomic.Int64
}

func newCollector(execs ...string) *collector {
	c := &collector{want: map[string]bool{}, events: map[string][]*ifcv1.ProgressEvent{}}
	for _, e := range execs {
		c.want[e] = true
	}
	return c
}

func (c *collector) handle(ev *ifcv1.ProgressEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.want[ev.ExecutionId] {
		return
	}
	c.events[ev.ExecutionId] = append(c.events[ev.ExecutionId], ev)
	c.count.Add(1)
}

func (c *collector) of(exec string) []*ifcv1.ProgressEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*ifcv1.ProgressEvent(nil), c.events[exec]...)
}

// waitFor polls cond until it holds or Timeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func subscribe(t *testing.T, b events.Bus, h events.Handler) func() {
	t.Helper()
	cancel, err := b.Subscribe(context.Background(), h)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(cancel)
	return cancel
}

func publish(t *testing.T, b events.Bus, ev *ifcv1.ProgressEvent) {
	t.Helper()
	if err := b.Publish(context.Background(), ev); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func testRoundTrip(t *testing.T, newBus func(*testing.T) events.Bus) {
	pub, sub := newBus(t), newBus(t)
	exec := newID()
	c := newCollector(exec)
	subscribe(t, sub, c.handle)
	ev := &ifcv1.ProgressEvent{
		ExecutionId:     exec,
		NodeId:          "detect",
		State:           ifcv1.NodeState_NODE_STATE_SUCCEEDED,
		Progress:        0.75,
		Seq:             42,
		Ts:              timestamppb.Now(),
		ExecutionStatus: ifcv1.ExecutionStatus_EXECUTION_STATUS_RUNNING,
		Error:           "",
		Outputs:         &ifcv1.NodeOutputs{FileId: newID(), Detections: []*ifcv1.Detection{{}}},
	}
	publish(t, pub, ev)
	waitFor(t, "the event", func() bool { return c.count.Load() == 1 })
	if got := c.of(exec)[0]; !proto.Equal(got, ev) {
		t.Fatalf("received %v, want %v", got, ev)
	}
}

// testOrder publishes 1000 events for each of several executions from
// concurrent goroutines, interleaved, and checks each subscriber sees
// every execution's events in publish order.
func testOrder(t *testing.T, newBus func(*testing.T) events.Bus) {
	const perExec = 1000
	execs := []string{newID(), newID(), newID(), newID()}
	pub := newBus(t)
	subs := []*collector{newCollector(execs...), newCollector(execs...)}
	for _, c := range subs {
		subscribe(t, newBus(t), c.handle)
	}
	var wg sync.WaitGroup
	for _, exec := range execs {
		wg.Go(func() {
			for seq := uint64(1); seq <= perExec; seq++ {
				if err := pub.Publish(context.Background(), event(exec, seq)); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, c := range subs {
		waitFor(t, fmt.Sprintf("subscriber %d to get %d events", i, perExec*len(execs)), func() bool {
			return c.count.Load() == int64(perExec*len(execs))
		})
		for _, exec := range execs {
			evs := c.of(exec)
			for j, ev := range evs {
				if ev.Seq != uint64(j+1) {
					t.Fatalf("subscriber %d, execution %s: event %d has seq %d (out of order)", i, exec, j, ev.Seq)
				}
			}
		}
	}
}

func testFanOut(t *testing.T, newBus func(*testing.T) events.Bus) {
	const n = 200
	exec := newID()
	pub := newBus(t)
	cs := []*collector{newCollector(exec), newCollector(exec), newCollector(exec), newCollector(exec)}
	// Two subscribers on their own clients, two sharing one client and one
	// on the publishing client itself.
	shared := newBus(t)
	subscribe(t, newBus(t), cs[0].handle)
	subscribe(t, shared, cs[1].handle)
	subscribe(t, shared, cs[2].handle)
	subscribe(t, pub, cs[3].handle)
	for seq := uint64(1); seq <= n; seq++ {
		publish(t, pub, event(exec, seq))
	}
	for i, c := range cs {
		waitFor(t, fmt.Sprintf("subscriber %d to get %d events", i, n), func() bool { return c.count.Load() >= n })
		if got := c.count.Load(); got != n {
			t.Fatalf("subscriber %d got %d events, want %d (duplicates?)", i, got, n)
		}
	}
}

// sentinel publishes a marker on a second execution and waits until a
// still-subscribed collector sees it: everything published before it on
// the same client has then been delivered wherever it was going to be.
func sentinel(t *testing.T, pub events.Bus, watcher *collector, exec string, seq uint64) {
	t.Helper()
	publish(t, pub, event(exec, seq))
	waitFor(t, "the sentinel event", func() bool {
		for _, ev := range watcher.of(exec) {
			if ev.Seq == seq {
				return true
			}
		}
		return false
	})
}

func testCancel(t *testing.T, newBus func(*testing.T) events.Bus) {
	exec, marker := newID(), newID()
	pub, sub := newBus(t), newBus(t)
	stopped := newCollector(exec)
	watcher := newCollector(exec, marker)
	cancel := subscribe(t, sub, stopped.handle)
	subscribe(t, sub, watcher.handle)
	for seq := uint64(1); seq <= 10; seq++ {
		publish(t, pub, event(exec, seq))
	}
	waitFor(t, "10 events", func() bool { return stopped.count.Load() == 10 })
	cancel()
	cancel() // idempotent
	for seq := uint64(11); seq <= 20; seq++ {
		publish(t, pub, event(exec, seq))
	}
	sentinel(t, pub, watcher, marker, 1)
	if got := stopped.count.Load(); got != 10 {
		t.Fatalf("cancelled subscriber got %d events, want 10", got)
	}
	if got := len(watcher.of(exec)); got != 20 {
		t.Fatalf("other subscriber on the same client got %d events, want 20", got)
	}
}

func testContextCancel(t *testing.T, newBus func(*testing.T) events.Bus) {
	exec, marker := newID(), newID()
	pub, sub := newBus(t), newBus(t)
	stopped := newCollector(exec)
	watcher := newCollector(exec, marker)
	ctx, cancelCtx := context.WithCancel(context.Background())
	cancel, err := sub.Subscribe(ctx, stopped.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	subscribe(t, sub, watcher.handle)
	publish(t, pub, event(exec, 1))
	waitFor(t, "first event", func() bool { return stopped.count.Load() == 1 })
	cancelCtx()
	// Delivery stops soon after the context ends; wait until a marker
	// published after an event shows the cancelled subscriber skipped it.
	deadline := time.Now().Add(Timeout)
	for seq := uint64(2); ; seq++ {
		before := stopped.count.Load()
		publish(t, pub, event(exec, seq))
		sentinel(t, pub, watcher, marker, seq)
		if stopped.count.Load() == before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("subscriber still receiving after its context ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// And stays stopped.
	n := stopped.count.Load()
	publish(t, pub, event(exec, 1000))
	sentinel(t, pub, watcher, marker, 1000)
	if stopped.count.Load() != n {
		t.Fatal("delivery resumed after the context ended")
	}
	if _, err := sub.Subscribe(ctx, stopped.handle); err == nil {
		t.Error("Subscribe with a cancelled context succeeded")
	}
}

func testCancelFromHandler(t *testing.T, newBus func(*testing.T) events.Bus) {
	exec := newID()
	pub, sub := newBus(t), newBus(t)
	var (
		calls  atomic.Int64
		cancel func()
		ready  = make(chan struct{})
		done   = make(chan struct{})
	)
	c, err := sub.Subscribe(context.Background(), func(ev *ifcv1.ProgressEvent) {
		if ev.ExecutionId != exec {
			return
		}
		<-ready
		if calls.Add(1) == 1 {
			cancel()
			close(done)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	cancel = c
	close(ready)
	for seq := uint64(1); seq <= 5; seq++ {
		publish(t, pub, event(exec, seq))
	}
	select {
	case <-done:
	case <-time.After(Timeout):
		t.Fatal("cancel called from the handler did not return")
	}
	time.Sleep(50 * time.Millisecond)
	if got := calls.Load(); got != 1 {
		t.Fatalf("handler ran %d times, want 1", got)
	}
}

func testClose(t *testing.T, newBus func(*testing.T) events.Bus) {
	b := newBus(t)
	cancel := subscribe(t, b, func(*ifcv1.ProgressEvent) {})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatalf("Close after Close: %v", err)
	}
	cancel() // cancelling after Close is harmless
	if err := b.Publish(context.Background(), event(newID(), 1)); !errors.Is(err, events.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe(context.Background(), func(*ifcv1.ProgressEvent) {}); !errors.Is(err, events.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

func testInvalid(t *testing.T, newBus func(*testing.T) events.Bus) {
	b := newBus(t)
	for _, ev := range []*ifcv1.ProgressEvent{
		nil,
		{},
		{ExecutionId: "a.b"},
		{ExecutionId: "a>"},
		{ExecutionId: "*"},
		{ExecutionId: "has space"},
		{ExecutionId: string(make([]byte, events.MaxExecutionIDLen+1))},
	} {
		if err := b.Publish(context.Background(), ev); !errors.Is(err, events.ErrInvalidEvent) {
			t.Errorf("Publish(%v) = %v, want ErrInvalidEvent", ev, err)
		}
	}
	if _, err := b.Subscribe(context.Background(), nil); err == nil {
		t.Error("Subscribe(nil handler) succeeded")
	}
}
