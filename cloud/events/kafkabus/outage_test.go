package kafkabus_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/imageflowcanvas/ifc/cloud/events/bustest"
	"github.com/imageflowcanvas/ifc/cloud/events/kafkabus/kafkatest"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// TestBrokerOutage stops a private broker under a live bus: Publish fails
// within publish_timeout instead of hanging, and once the broker is back
// the same bus publishes again and the same subscription, without being
// renewed, receives what follows, in order.
func TestBrokerOutage(t *testing.T) {
	brokerURL(t) // same skip/fail rule as every real-broker test
	broker := kafkatest.Start(t)
	const timeout = 2 * time.Second
	u := withOptions(broker.URL(), "topic="+testTopic(), "publish_timeout="+timeout.String())
	pub, sub := open(t, u), open(t, u)
	exec := uuid.Must(uuid.NewV7()).String()
	var (
		mu   sync.Mutex
		seqs []uint64
	)
	cancel, err := sub.Subscribe(context.Background(), func(ev *ifcv1.ProgressEvent) {
		if ev.ExecutionId == exec {
			mu.Lock()
			seqs = append(seqs, ev.Seq)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	received := func(seq uint64) bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seqs) > 0 && seqs[len(seqs)-1] >= seq
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(bustest.Timeout)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	ev := func(seq uint64) *ifcv1.ProgressEvent {
		return &ifcv1.ProgressEvent{ExecutionId: exec, NodeId: "detect", State: ifcv1.NodeState_NODE_STATE_RUNNING, Seq: seq}
	}
	if err := pub.Publish(context.Background(), ev(1)); err != nil {
		t.Fatal(err)
	}
	waitFor("event 1", func() bool { return received(1) })

	broker.Stop()
	start := time.Now()
	err = pub.Publish(context.Background(), ev(2))
	took := time.Since(start)
	if err == nil {
		t.Fatal("Publish with the broker down succeeded")
	}
	if !strings.Contains(err.Error(), exec) {
		t.Errorf("error %q does not name the execution", err)
	}
	if took > timeout+2*time.Second {
		t.Errorf("Publish with the broker down took %v, want about publish_timeout (%v)", took, timeout)
	}
	t.Logf("publish with the broker down failed after %v: %v", took.Round(time.Millisecond), err)

	broker.Restart()
	// The writer reconnects on its own; the first publishes may still see
	// the outage while metadata refreshes.
	seq := uint64(3)
	deadline := time.Now().Add(bustest.Timeout)
	for {
		err := pub.Publish(context.Background(), ev(seq))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Publish still failing after the broker restarted: %v", err)
		}
		seq++
	}
	for n := seq + 1; n <= seq+10; n++ {
		if err := pub.Publish(context.Background(), ev(n)); err != nil {
			t.Fatalf("Publish %d after restart: %v", n, err)
		}
	}
	waitFor("events after the restart", func() bool { return received(seq + 10) })
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("events out of order or duplicated across the outage: %v", seqs)
		}
	}
	if seqs[0] != 1 {
		t.Fatalf("first event %d, want 1", seqs[0])
	}
	last := seqs[len(seqs)-11:]
	for i, s := range last {
		if s != seq+uint64(i) {
			t.Fatalf("after the restart got %v, want %d..%d", last, seq, seq+10)
		}
	}
}
