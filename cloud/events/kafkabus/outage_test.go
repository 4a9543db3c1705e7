package kafkabus_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/imageflowcanvas/ifc/cloud/events/bustest"
	"github.com/imageflowcanvas/ifc/cloud/events/kafkabus"
	"github.com/imageflowcanvas/ifc/cloud/events/kafkabus/kafkatest"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// TestBrokerOutage stops a private broker under a live bus: Publish fails
// within publish_timeout instead of hanging, the publishes after it fail
// at once (the breaker is open) with an error wrapping ErrUnavailable,
// and once the broker is back the same bus publishes again within a few
// seconds and the same subscription, without being renewed, receives
// what follows, in order.
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

	// The breaker is open: the next publishes fail at once, saying why.
	start = time.Now()
	for i := range 20 {
		err := pub.Publish(context.Background(), ev(uint64(3+i)))
		if !errors.Is(err, kafkabus.ErrUnavailable) {
			t.Fatalf("publish %d after the timeout = %v, want ErrUnavailable", i, err)
		}
		if i == 0 {
			t.Logf("then: %v", err)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("20 publishes with the breaker open took %v, want < 1s", took)
	} else {
		t.Logf("20 publishes with the breaker open failed in %v", took)
	}

	broker.Restart()
	restarted := time.Now()
	// The probe closes the breaker within about a second; the writer
	// reconnects on its own, so a first publish may still see the outage.
	seq := uint64(23)
	for {
		err := pub.Publish(context.Background(), ev(seq))
		if err == nil {
			break
		}
		if time.Since(restarted) > bustest.Timeout {
			t.Fatalf("Publish still failing %v after the broker restarted: %v", bustest.Timeout, err)
		}
		seq++
		time.Sleep(20 * time.Millisecond)
	}
	back := time.Since(restarted)
	t.Logf("first publish succeeded %v after the broker was back (seq %d)", back.Round(time.Millisecond), seq)
	if back > 5*time.Second {
		t.Errorf("publishing resumed %v after the broker was back, want within a few seconds", back)
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
