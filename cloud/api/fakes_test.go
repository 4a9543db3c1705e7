package api

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/events"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// memBus delivers published events synchronously to every subscriber.
type memBus struct {
	mu   sync.Mutex
	subs map[int]events.Handler
	n    int
}

func (b *memBus) Subscribe(ctx context.Context, h events.Handler) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = map[int]events.Handler{}
	}
	b.n++
	id := b.n
	b.subs[id] = h
	return func() { b.mu.Lock(); delete(b.subs, id); b.mu.Unlock() }, nil
}

func (b *memBus) Publish(_ context.Context, ev *ifcv1.ProgressEvent) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, h := range b.subs {
		h(ev)
	}
	return nil
}

func (b *memBus) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// fakeConductor records executions in the store and finishes them when
// told to (or at once with autoFinish), publishing progress on the bus.
type fakeConductor struct {
	store      metadata.Store
	bus        *memBus
	mu         sync.Mutex
	overloaded bool
	autoFinish bool
	n          int
	seq        map[string]uint64
	frames     int
}

func (c *fakeConductor) Submit(ctx context.Context, req SubmitRequest) (*ifcv1.Execution, error) {
	c.mu.Lock()
	over := c.overloaded
	c.n++
	n := c.n
	c.mu.Unlock()
	if over {
		return nil, fmt.Errorf("admission: %w", errOverloaded)
	}
	p, err := c.store.GetPipeline(ctx, req.PipelineID, req.Version)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", req.PipelineID, err)
	}
	for _, in := range req.Inputs {
		if _, err := c.store.GetFile(ctx, in); err != nil {
			return nil, fmt.Errorf("input %s: %w", in, err)
		}
	}
	e := &ifcv1.Execution{ExecutionId: fmt.Sprintf("ex-%04d", n), PipelineId: p.Id, PipelineVersion: p.Version, Inputs: req.Inputs,
		CorrelationId: req.CorrelationID, ClientId: req.ClientID, CreatedBy: req.CreatedBy, Status: ifcv1.ExecutionStatus_EXECUTION_STATUS_QUEUED,
		CreatedAt: timestamppb.New(time.Now().Add(time.Duration(n) * time.Millisecond))}
	for _, node := range p.Definition.Nodes {
		e.Nodes = append(e.Nodes, &ifcv1.NodeStatus{NodeId: node.Id, State: ifcv1.NodeState_NODE_STATE_QUEUED})
	}
	if err := c.store.CreateExecution(ctx, e); err != nil {
		return nil, err
	}
	c.publish(e.ExecutionId, "", 0, ifcv1.ExecutionStatus_EXECUTION_STATUS_QUEUED)
	if c.autoFinish {
		go c.finish(e.ExecutionId)
	}
	return e, nil
}

func (c *fakeConductor) publish(id, node string, st ifcv1.NodeState, es ifcv1.ExecutionStatus) {
	c.mu.Lock()
	if c.seq == nil {
		c.seq = map[string]uint64{}
	}
	c.seq[id]++
	seq := c.seq[id]
	c.mu.Unlock()
	_ = c.bus.Publish(context.Background(), &ifcv1.ProgressEvent{ExecutionId: id, NodeId: node, State: st, ExecutionStatus: es, Seq: seq, Ts: timestamppb.Now()})
}

// step runs node i of an execution: running then succeeded events.
func (c *fakeConductor) step(id string, i int) {
	e, _ := c.store.GetExecution(context.Background(), id)
	n := e.Nodes[i]
	n.State = ifcv1.NodeState_NODE_STATE_RUNNING
	e.Status = ifcv1.ExecutionStatus_EXECUTION_STATUS_RUNNING
	c.put(e)
	c.publish(id, n.NodeId, n.State, e.Status)
	n.State = ifcv1.NodeState_NODE_STATE_SUCCEEDED
	n.Outputs = &ifcv1.NodeOutputs{Detections: []*ifcv1.Detection{{Label: "scratch", Score: 0.9, Box: &ifcv1.Box{X: 1, Y: 2, W: 3, H: 4}}}}
	c.put(e)
	c.publish(id, n.NodeId, n.State, e.Status)
}

// finish runs every node and ends the execution as succeeded.
func (c *fakeConductor) finish(id string) {
	e, _ := c.store.GetExecution(context.Background(), id)
	for i, n := range e.Nodes {
		if n.State != ifcv1.NodeState_NODE_STATE_SUCCEEDED {
			c.step(id, i)
		}
	}
	e, _ = c.store.GetExecution(context.Background(), id)
	e.Status = ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED
	e.FinishedAt = timestamppb.Now()
	c.put(e)
	c.publish(id, "", 0, e.Status)
}

func (c *fakeConductor) Wait(ctx context.Context, id string) (*ifcv1.Execution, error) {
	for {
		e, err := c.store.GetExecution(ctx, id)
		if err != nil {
			return nil, err
		}
		if isTerminal(e.Status) {
			return e, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (c *fakeConductor) Cancel(ctx context.Context, id string) error {
	e, err := c.store.GetExecution(ctx, id)
	if err != nil {
		return err
	}
	if isTerminal(e.Status) {
		return nil
	}
	e.Status = ifcv1.ExecutionStatus_EXECUTION_STATUS_CANCELLED
	c.put(e)
	c.publish(id, "", 0, e.Status)
	return nil
}

func (c *fakeConductor) ProcessFrame(ctx context.Context, p *ifcv1.Pipeline, img *ifcv1.Image) (*ifcv1.ProcessedFrame, error) {
	c.mu.Lock()
	over := c.overloaded
	c.frames++
	c.mu.Unlock()
	if over {
		return nil, errOverloaded
	}
	return &ifcv1.ProcessedFrame{Image: &ifcv1.Image{Data: img.Data, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG, Width: img.Width, Height: img.Height},
		Detections: []*ifcv1.Detection{{Label: p.Id, Score: 0.5, Box: &ifcv1.Box{W: float32(img.Width), H: float32(img.Height)}}}, ProcessingUs: 42}, nil
}

func (c *fakeConductor) put(e *ifcv1.Execution) {
	if err := c.store.UpdateExecution(context.Background(), e); err != nil {
		panic(err)
	}
}
