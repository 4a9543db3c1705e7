// Package execmetrics publishes one metrics record per finished execution
// (pipeline, status, durations of the execution and of each node) to a
// metrics topic, for the archive and any other consumer.
//
// Decisions:
//
//   - It sits between the conductor and the event bus (Tap wraps the
//     conductor's Publisher), so the conductor is unchanged: a terminal
//     execution-level progress event triggers the record.
//   - The record is built from the stored execution, which the conductor
//     writes before it publishes the terminal event, so it has every
//     node's timestamps, not only those whose events were seen.
//   - Off the conductor's path: Tap only queues the execution id
//     (non-blocking; a full queue drops the record with a warning); Run
//     reads the store and publishes, retrying a failed publish a few times.
//     Metrics are best effort: the execution record stays the truth.
package execmetrics

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Type is the type header value of metrics records.
const Type = "ifc.ExecutionMetrics"

const (
	queueSize      = 1024
	publishRetries = 3
	storeTimeout   = 10 * time.Second
)

// Publisher is the conductor's side of the event bus (conductor.Publisher).
type Publisher interface {
	Publish(ctx context.Context, ev *ifcv1.ProgressEvent) error
}

// RecordPublisher sends one record (kafkabus.Bus.PublishRecord).
type RecordPublisher interface {
	PublishRecord(ctx context.Context, key, typ string, value []byte) error
}

// Store reads execution records.
type Store interface {
	GetExecution(ctx context.Context, id string) (*ifcv1.Execution, error)
}

// Record is the published JSON: one finished execution.
type Record struct {
	ExecutionID     string       `json:"execution_id"`
	PipelineID      string       `json:"pipeline_id"`
	PipelineVersion int32        `json:"pipeline_version"`
	Status          string       `json:"status"` // succeeded, failed, cancelled
	Error           string       `json:"error,omitempty"`
	CreatedAt       time.Time    `json:"created_at"`
	StartedAt       *time.Time   `json:"started_at,omitempty"`
	FinishedAt      *time.Time   `json:"finished_at,omitempty"`
	QueueMS         float64      `json:"queue_ms"`    // created → started
	DurationMS      float64      `json:"duration_ms"` // started → finished
	Nodes           []NodeRecord `json:"nodes"`
}

// NodeRecord is one node of a Record.
type NodeRecord struct {
	NodeID     string  `json:"node_id"`
	State      string  `json:"state"`
	Attempts   int32   `json:"attempts,omitempty"`
	DurationMS float64 `json:"duration_ms"` // 0 when the node never ran
}

// FromExecution builds the record of a finished execution.
func FromExecution(e *ifcv1.Execution) Record {
	r := Record{
		ExecutionID: e.GetExecutionId(), PipelineID: e.GetPipelineId(), PipelineVersion: e.GetPipelineVersion(),
		Status: word(e.GetStatus().String(), "EXECUTION_STATUS_"), Error: e.GetError(), CreatedAt: e.GetCreatedAt().AsTime().UTC(),
		Nodes: make([]NodeRecord, 0, len(e.GetNodes())),
	}
	if e.StartedAt != nil {
		t := e.StartedAt.AsTime().UTC()
		r.StartedAt = &t
		r.QueueMS = ms(t.Sub(r.CreatedAt))
	}
	if e.FinishedAt != nil {
		t := e.FinishedAt.AsTime().UTC()
		r.FinishedAt = &t
		if r.StartedAt != nil {
			r.DurationMS = ms(t.Sub(*r.StartedAt))
		}
	}
	for _, n := range e.GetNodes() {
		nr := NodeRecord{NodeID: n.GetNodeId(), State: word(n.GetState().String(), "NODE_STATE_"), Attempts: n.GetAttempts()}
		if n.StartedAt != nil && n.FinishedAt != nil {
			nr.DurationMS = ms(n.FinishedAt.AsTime().Sub(n.StartedAt.AsTime()))
		}
		r.Nodes = append(r.Nodes, nr)
	}
	return r
}

// word turns an enum name into the API's word: EXECUTION_STATUS_SUCCEEDED → succeeded.
func word(name, prefix string) string { return strings.ToLower(strings.TrimPrefix(name, prefix)) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Tap forwards progress events and publishes a Record for each execution
// that ends. Build it with New, hand it to the conductor as its
// Publisher, and run Run.
type Tap struct {
	next  Publisher
	out   RecordPublisher
	store Store
	log   *slog.Logger
	queue chan string
}

// New wraps next.
func New(next Publisher, out RecordPublisher, store Store, logger *slog.Logger) *Tap {
	if logger == nil {
		logger = slog.Default()
	}
	return &Tap{next: next, out: out, store: store, log: logger.With("component", "execmetrics"), queue: make(chan string, queueSize)}
}

// Publish forwards ev and, for an execution's terminal event, queues its
// metrics record without blocking.
func (t *Tap) Publish(ctx context.Context, ev *ifcv1.ProgressEvent) error {
	err := t.next.Publish(ctx, ev)
	if ev.GetNodeId() == "" && terminal(ev.GetExecutionStatus()) {
		select {
		case t.queue <- ev.GetExecutionId():
		default:
			t.log.Warn("metrics queue full; dropping record", "execution_id", ev.GetExecutionId())
		}
	}
	return err
}

func terminal(s ifcv1.ExecutionStatus) bool {
	switch s {
	case ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED, ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED,
		ifcv1.ExecutionStatus_EXECUTION_STATUS_CANCELLED:
		return true
	}
	return false
}

// Run publishes queued records until ctx is done; what is still queued
// then is published first (bounded by a few seconds), so an execution
// cancelled by the shutdown still gets its record.
func (t *Tap) Run(ctx context.Context) error {
	for {
		select {
		case id := <-t.queue:
			t.publish(ctx, id)
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for {
				select {
				case id := <-t.queue:
					t.publish(dctx, id)
				default:
					return nil
				}
			}
		}
	}
}

func (t *Tap) publish(ctx context.Context, id string) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	e, err := t.store.GetExecution(sctx, id)
	cancel()
	if err != nil {
		t.log.Warn("read execution for metrics", "execution_id", id, "err", err)
		return
	}
	data, err := json.Marshal(FromExecution(e))
	if err != nil {
		t.log.Error("encode metrics record", "execution_id", id, "err", err)
		return
	}
	for attempt := 1; ; attempt++ {
		err := t.out.PublishRecord(context.WithoutCancel(ctx), id, Type, data)
		if err == nil {
			return
		}
		if attempt == publishRetries || ctx.Err() != nil {
			t.log.Warn("publish execution metrics", "execution_id", id, "err", fmt.Errorf("after %d attempts: %w", attempt, err))
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
		}
	}
}
