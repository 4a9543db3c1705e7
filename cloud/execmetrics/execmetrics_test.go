package execmetrics

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

type fakeBus struct {
	mu     sync.Mutex
	events []*ifcv1.ProgressEvent
}

func (b *fakeBus) Publish(_ context.Context, ev *ifcv1.ProgressEvent) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, ev)
	return errors.New("bus down") // the Tap passes errors through
}

type fakeOut struct {
	mu    sync.Mutex
	fails int
	recs  map[string][]byte
}

func (o *fakeOut) PublishRecord(_ context.Context, key, typ string, value []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fails > 0 {
		o.fails--
		return errors.New("broker away")
	}
	if typ != Type {
		return errors.New("wrong type " + typ)
	}
	o.recs[key] = value
	return nil
}

type fakeStore map[string]*ifcv1.Execution

func (s fakeStore) GetExecution(_ context.Context, id string) (*ifcv1.Execution, error) {
	if e, ok := s[id]; ok {
		return e, nil
	}
	return nil, errors.New("not found")
}

// TestTap: events pass through unchanged (errors too); a terminal
// execution event leads to one record built from the stored execution,
// published despite a transient failure; other events publish nothing.
func TestTap(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	ts := func(ms int) *timestamppb.Timestamp {
		return timestamppb.New(t0.Add(time.Duration(ms) * time.Millisecond))
	}
	store := fakeStore{"e1": {
		ExecutionId: "e1", PipelineId: "p", PipelineVersion: 2, Status: ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED,
		CreatedAt: ts(0), StartedAt: ts(5), FinishedAt: ts(105),
		Nodes: []*ifcv1.NodeStatus{
			{NodeId: "resize", State: ifcv1.NodeState_NODE_STATE_SUCCEEDED, StartedAt: ts(5), FinishedAt: ts(25), Attempts: 1},
			{NodeId: "detect", State: ifcv1.NodeState_NODE_STATE_SUCCEEDED, StartedAt: ts(25), FinishedAt: ts(105), Attempts: 2},
			{NodeId: "skipped", State: ifcv1.NodeState_NODE_STATE_SKIPPED},
		},
	}}
	bus, out := &fakeBus{}, &fakeOut{fails: 1, recs: map[string][]byte{}}
	tap := New(bus, out, store, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tap.Run(ctx) }()

	for _, ev := range []*ifcv1.ProgressEvent{
		{ExecutionId: "e1", Seq: 1, ExecutionStatus: ifcv1.ExecutionStatus_EXECUTION_STATUS_RUNNING},
		{ExecutionId: "e1", Seq: 2, NodeId: "resize", ExecutionStatus: ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED},
		{ExecutionId: "e1", Seq: 3, ExecutionStatus: ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED},
	} {
		if err := tap.Publish(context.Background(), ev); err == nil || err.Error() != "bus down" {
			t.Fatalf("Publish returned %v, want the bus's error", err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out.mu.Lock()
		n := len(out.recs)
		out.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no metrics record published")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(bus.events) != 3 {
		t.Fatalf("bus got %d events, want 3", len(bus.events))
	}
	if len(out.recs) != 1 {
		t.Fatalf("records %v, want one for e1", out.recs)
	}
	var r Record
	if err := json.Unmarshal(out.recs["e1"], &r); err != nil {
		t.Fatal(err)
	}
	if r.PipelineID != "p" || r.PipelineVersion != 2 || r.Status != "succeeded" || r.Nodes[2].State != "skipped" ||
		r.QueueMS != 5 || r.DurationMS != 100 || len(r.Nodes) != 3 ||
		r.Nodes[0].DurationMS != 20 || r.Nodes[1].DurationMS != 80 || r.Nodes[1].Attempts != 2 || r.Nodes[2].DurationMS != 0 {
		t.Fatalf("record %+v", r)
	}
}
