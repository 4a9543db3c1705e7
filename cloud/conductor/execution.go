package conductor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/pipeline"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Request asks for one execution of a pipeline version.
type Request struct {
	PipelineID    string
	Version       int32    // 0 = latest
	Inputs        []string // file ids; exactly one today
	CorrelationID string
	ClientID      string
	CreatedBy     string
}

const (
	publishTimeout = 5 * time.Second
	storeTimeout   = 10 * time.Second
	finalAttempts  = 3
)

// execution is one run in flight. rec and seq belong to Submit until the
// run's goroutine starts, then to that goroutine alone.
type execution struct {
	id     string
	plan   *pipeline.Plan
	input  metadata.File
	rec    *ifcv1.Execution
	seq    uint64
	ctx    context.Context
	cancel context.CancelCauseFunc
	log    *slog.Logger
	span   trace.Span // the execution's span, ended by finish
	done   chan struct{}
	final  *ifcv1.Execution // set before done is closed; nil when detached
	// resume is set for a run resumed from the fallback queue.
	resume *resumeState
}

// aborted reports whether e's run is ending without an outcome: a resumed
// run whose job was taken away (shutdown, Kafka rebalance) leaves the
// execution to the job's next delivery instead of cancelling it.
func (e *execution) aborted() bool {
	return e.resume != nil && e.ctx.Err() != nil && !errors.Is(context.Cause(e.ctx), errCancelled)
}

// Submit validates and records an execution and starts it; it returns the
// QUEUED record at once. Errors wrap metadata.ErrNotFound (pipeline or
// input), pipeline.ErrInvalid, ErrInvalidRequest, ErrNoService,
// ErrOverloaded or ErrClosed.
func (c *Conductor) Submit(ctx context.Context, req Request) (*ifcv1.Execution, error) {
	if req.PipelineID == "" {
		return nil, fmt.Errorf("%w: pipeline id is required", ErrInvalidRequest)
	}
	if len(req.Inputs) != 1 || req.Inputs[0] == "" {
		return nil, fmt.Errorf("%w: exactly one input file is required, got %d", ErrInvalidRequest, len(req.Inputs))
	}
	if c.isClosed() {
		return nil, ErrClosed
	}
	if err := c.acquire(); err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			c.release()
		}
	}()

	p, err := c.deps.Store.GetPipeline(ctx, req.PipelineID, req.Version)
	if err != nil {
		return nil, fmt.Errorf("load pipeline %s@%d: %w", req.PipelineID, req.Version, err)
	}
	plan, err := c.planFor(p)
	if err != nil {
		return nil, err
	}
	f, err := c.deps.Store.GetFile(ctx, req.Inputs[0])
	if err != nil {
		return nil, fmt.Errorf("input file %s: %w", req.Inputs[0], err)
	}
	if formatOf(nil, f.ContentType) == ifcv1.ImageFormat_IMAGE_FORMAT_UNSPECIFIED {
		return nil, fmt.Errorf("%w: input file %s is %q, not a JPEG or PNG image", ErrInvalidRequest, f.FileID, f.ContentType)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new execution id: %w", err)
	}
	rec := &ifcv1.Execution{
		ExecutionId:     id.String(),
		PipelineId:      p.GetId(),
		PipelineVersion: p.GetVersion(),
		Inputs:          []string{f.FileID},
		CorrelationId:   req.CorrelationID,
		ClientId:        req.ClientID,
		Status:          ifcv1.ExecutionStatus_EXECUTION_STATUS_QUEUED,
		CreatedAt:       timestamppb.New(c.now()),
		CreatedBy:       req.CreatedBy,
	}
	for _, n := range plan.Nodes {
		rec.Nodes = append(rec.Nodes, &ifcv1.NodeStatus{NodeId: n.ID, State: ifcv1.NodeState_NODE_STATE_QUEUED})
	}
	if err := c.deps.Store.CreateExecution(ctx, rec); err != nil {
		return nil, fmt.Errorf("record execution: %w", err)
	}
	e := &execution{
		id:    rec.ExecutionId,
		plan:  plan,
		input: f,
		rec:   rec,
		log:   c.log.With("execution_id", rec.ExecutionId, "pipeline_id", p.GetId(), "version", p.GetVersion()),
		done:  make(chan struct{}),
	}
	_, e.span = c.tracer.Start(ctx, spanExecution, trace.WithAttributes(
		attrExecutionID.String(e.id), attrPipelineID.String(p.GetId()), attrVersion.Int(int(p.GetVersion()))))
	e.ctx, e.cancel = context.WithCancelCause(trace.ContextWithSpan(c.baseCtx, e.span))

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		e.cancel(errShutdown)
		started = true // finish releases the slot
		c.finish(e, ifcv1.ExecutionStatus_EXECUTION_STATUS_CANCELLED, errShutdown)
		return nil, ErrClosed
	}
	c.active[e.id] = e
	c.wg.Add(1)
	c.mu.Unlock()

	c.publishExecution(e, 0)
	for _, ns := range rec.Nodes {
		c.publishNode(e, ns.NodeId, ns.State, "", nil, 0)
	}
	queued := proto.CloneOf(rec)
	started = true
	e.log.Info("execution queued", "correlation_id", req.CorrelationID, "nodes", len(plan.Nodes))
	go c.execute(e)
	return queued, nil
}

// compile validates a stored pipeline version and checks its services.
func (c *Conductor) compile(p *ifcv1.Pipeline) (*pipeline.Plan, error) {
	plan, err := pipeline.Compile(p.GetDefinition(), c.deps.Catalog)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s@%d: %w", p.GetId(), p.GetVersion(), err)
	}
	for _, n := range plan.Nodes {
		if c.deps.Parts[n.Part.GetService()] == nil {
			return nil, fmt.Errorf("pipeline %s@%d node %s: %w: %q", p.GetId(), p.GetVersion(), n.ID, ErrNoService, n.Part.GetService())
		}
	}
	return plan, nil
}

func (c *Conductor) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// execute runs e to its end (or, for a node whose service stayed
// unreachable, to its hand-off to the fallback queue); it owns e.rec from
// here on.
func (c *Conductor) execute(e *execution) {
	defer c.wg.Done()
	defer e.cancel(nil)
	start := c.now()
	e.rec.Status = ifcv1.ExecutionStatus_EXECUTION_STATUS_RUNNING
	if e.resume == nil || e.rec.StartedAt == nil {
		e.rec.StartedAt = timestamppb.New(start)
	}
	// The RUNNING record is written by the writer goroutine, beside the
	// first node rather than before it; later writes queue behind it.
	w := newRecordWriter(c, e, proto.CloneOf(e.rec))
	if e.resume == nil {
		c.publishExecution(e, 0)
	}

	var input *ifcv1.Image
	var err error
	if e.resume != nil {
		input = e.resume.input
	} else {
		input, err = c.loadInput(e)
	}
	if err != nil {
		w.close()
		nodeState, status, why := ifcv1.NodeState_NODE_STATE_SKIPPED, ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED, "input unavailable"
		if e.ctx.Err() != nil {
			err = context.Cause(e.ctx)
			nodeState, status, why = ifcv1.NodeState_NODE_STATE_CANCELLED, ifcv1.ExecutionStatus_EXECUTION_STATUS_CANCELLED, err.Error()
		}
		for i, ns := range e.rec.Nodes {
			ns.State, ns.FinishedAt, ns.Error = nodeState, timestamppb.New(c.now()), why
			c.publishNode(e, ns.NodeId, ns.State, ns.Error, nil, float32(i+1)/float32(len(e.rec.Nodes)))
		}
		c.finish(e, status, err)
		return
	}

	total := float32(len(e.plan.Nodes))
	done := 0
	persistAll := *c.cfg.PersistIntermediates
	policy, reachUntil := unreachRetry, time.Time{}
	var preset []*nodeResult
	switch {
	case e.resume != nil:
		policy, reachUntil, preset = unreachUntil, e.resume.deadline, e.resume.preset
		for _, p := range preset {
			if p != nil && terminal(p.state) {
				done++
			}
		}
	default:
		policy = unreachDefer
	}
	g := &graphRun{
		unreachable: policy,
		reachUntil:  reachUntil,
		preset:      preset,
		plan:        e.plan,
		input:       input,
		executionID: e.id,
		pipelineID:  e.rec.PipelineId,
		createdBy:   e.rec.CreatedBy,
		encode:      func(i int) bool { return persistAll || len(e.plan.Nodes[i].Children) == 0 },
		persist:     func(int) bool { return true },
		observe: func(i int, r *nodeResult) {
			if e.aborted() {
				return // the job's next delivery resumes from the stored record
			}
			ns := e.rec.Nodes[i]
			ns.State = r.state
			ns.Attempts = r.attempts
			if !r.started.IsZero() {
				ns.StartedAt = timestamppb.New(r.started)
			}
			var outputs *ifcv1.NodeOutputs
			errText := ""
			if terminal(r.state) {
				done++
				ns.FinishedAt = timestamppb.New(r.finished)
				if r.err != nil {
					errText = r.err.Error()
				}
				ns.Error = errText
				if r.state == ifcv1.NodeState_NODE_STATE_SUCCEEDED && (r.fileID != "" || len(r.detections) > 0) {
					outputs = &ifcv1.NodeOutputs{FileId: r.fileID, Detections: r.detections}
					ns.Outputs = outputs
				}
			} else if r.deferred {
				errText = waitingMessage(r.err)
				ns.Error = errText
			} else {
				ns.Error = ""
			}
			c.publishNode(e, ns.NodeId, r.state, errText, outputs, float32(done)/total)
			w.post()
		},
	}
	res := c.runGraph(e.ctx, g)
	w.close()
	if e.aborted() {
		c.detach(e, "aborted: left to the fallback job's next delivery")
		return
	}
	if anyDeferred(res) && e.ctx.Err() == nil {
		if err := c.handoff(e, res); err == nil {
			c.detach(e, "handed to the fallback queue")
			return
		} else {
			c.failDeferred(e, res, total, err)
		}
	}

	status, runErr := ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED, firstFailure(e.plan, res)
	switch {
	case runErr != nil:
		status = ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED
	case e.ctx.Err() != nil && anyState(res, ifcv1.NodeState_NODE_STATE_CANCELLED):
		status, runErr = ifcv1.ExecutionStatus_EXECUTION_STATUS_CANCELLED, context.Cause(e.ctx)
	}
	c.finish(e, status, runErr)
}

func anyState(res []*nodeResult, st ifcv1.NodeState) bool {
	for _, r := range res {
		if r.state == st {
			return true
		}
	}
	return false
}

func terminal(st ifcv1.NodeState) bool {
	switch st {
	case ifcv1.NodeState_NODE_STATE_SUCCEEDED, ifcv1.NodeState_NODE_STATE_FAILED,
		ifcv1.NodeState_NODE_STATE_SKIPPED, ifcv1.NodeState_NODE_STATE_CANCELLED:
		return true
	}
	return false
}

func terminalExecution(st ifcv1.ExecutionStatus) bool {
	switch st {
	case ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED, ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED,
		ifcv1.ExecutionStatus_EXECUTION_STATUS_CANCELLED:
		return true
	}
	return false
}

// loadInput reads the input file once; its bytes go to every root node.
func (c *Conductor) loadInput(e *execution) (*ifcv1.Image, error) {
	rc, f, err := c.deps.Files.Open(e.ctx, e.input.FileID)
	if err != nil {
		return nil, fmt.Errorf("open input %s: %w", e.input.FileID, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, c.cfg.MaxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read input %s: %w", e.input.FileID, err)
	}
	if int64(len(data)) > c.cfg.MaxInputBytes {
		return nil, fmt.Errorf("%w: input %s exceeds %d bytes", ErrInvalidRequest, e.input.FileID, c.cfg.MaxInputBytes)
	}
	format := formatOf(data, "") // the bytes decide, not the label
	if format == ifcv1.ImageFormat_IMAGE_FORMAT_UNSPECIFIED {
		return nil, fmt.Errorf("%w: input %s is not a JPEG or PNG image", ErrInvalidRequest, e.input.FileID)
	}
	return &ifcv1.Image{Data: data, Format: format, Width: int32(f.Width), Height: int32(f.Height)}, nil
}

// finish records the terminal state, publishes it, frees the admission
// slot and releases waiters.
func (c *Conductor) finish(e *execution, status ifcv1.ExecutionStatus, runErr error) {
	end := c.now()
	e.rec.Status = status
	e.rec.FinishedAt = timestamppb.New(end)
	if runErr != nil {
		e.rec.Error = runErr.Error()
	}
	for attempt := 1; ; attempt++ {
		err := c.storeUpdate(e, e.rec)
		if err == nil || attempt == finalAttempts {
			break
		}
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
	c.publishExecution(e, 1)
	final := proto.CloneOf(e.rec)
	c.mu.Lock()
	delete(c.active, e.id)
	c.recent[e.id] = final
	c.order = append(c.order, e.id)
	if len(c.order) > recentKept {
		delete(c.recent, c.order[0])
		c.order = c.order[1:]
	}
	e.final = final
	c.mu.Unlock()
	e.span.SetAttributes(attribute.String("status", status.String()))
	endSpan(e.span, runErr)
	c.release() // before waiters wake: a Cancel or Wait returning frees capacity
	close(e.done)
	var dur time.Duration
	if e.rec.StartedAt != nil {
		dur = end.Sub(e.rec.StartedAt.AsTime())
	}
	e.log.Info("execution finished", "status", status.String(), "duration", dur, "err", runErr)
}

// storeUpdate writes rec with a context that outlives cancellation.
func (c *Conductor) storeUpdate(e *execution, rec *ifcv1.Execution) error {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := c.deps.Store.UpdateExecution(ctx, rec); err != nil {
		e.log.Error("update execution record", "err", err)
		return err
	}
	return nil
}

// publishExecution sends an execution-level progress event.
func (c *Conductor) publishExecution(e *execution, progress float32) {
	c.send(e, &ifcv1.ProgressEvent{Progress: progress, Error: e.rec.Error})
}

// publishNode sends a node progress event.
func (c *Conductor) publishNode(e *execution, nodeID string, st ifcv1.NodeState, errText string, outputs *ifcv1.NodeOutputs, progress float32) {
	c.send(e, &ifcv1.ProgressEvent{NodeId: nodeID, State: st, Error: errText, Outputs: outputs, Progress: progress})
}

// send numbers and publishes ev. Only the execution's owner calls it, so
// seq order is publish order.
func (c *Conductor) send(e *execution, ev *ifcv1.ProgressEvent) {
	e.seq++
	ev.ExecutionId = e.id
	ev.Seq = e.seq
	ev.Ts = timestamppb.New(c.now())
	ev.ExecutionStatus = e.rec.Status
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := c.deps.Events.Publish(ctx, ev); err != nil {
		e.log.Warn("publish progress event", "seq", ev.Seq, "node_id", ev.NodeId, "err", err)
	}
}

// Wait blocks until the execution is terminal and returns its record.
// It works for executions finished long ago (read from the store) and for
// executions run by another instance (the store is polled).
func (c *Conductor) Wait(ctx context.Context, executionID string) (*ifcv1.Execution, error) {
	c.mu.Lock()
	e := c.active[executionID]
	final := c.recent[executionID]
	c.mu.Unlock()
	if final != nil {
		return proto.CloneOf(final), nil
	}
	if e != nil {
		select {
		case <-e.done:
			if e.final != nil {
				return proto.CloneOf(e.final), nil
			}
			// Handed to the fallback queue: whichever replica resumes it
			// records the end in the store.
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for execution %s: %w", executionID, ctx.Err())
		}
	}
	t := time.NewTicker(c.cfg.WaitPollInterval)
	defer t.Stop()
	for {
		ex, err := c.deps.Store.GetExecution(ctx, executionID)
		if err != nil {
			return nil, fmt.Errorf("wait for execution %s: %w", executionID, err)
		}
		if terminalExecution(ex.GetStatus()) {
			return ex, nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for execution %s: %w", executionID, ctx.Err())
		}
	}
}

// Cancel cancels a running execution and waits (bounded by ctx) until it
// is recorded CANCELLED. It fails with ErrFinished for a terminal
// execution, ErrNotLocal for one run elsewhere, and wraps
// metadata.ErrNotFound for an unknown id.
func (c *Conductor) Cancel(ctx context.Context, executionID string) error {
	c.mu.Lock()
	e := c.active[executionID]
	_, recent := c.recent[executionID]
	c.mu.Unlock()
	if e != nil {
		e.log.Info("execution cancel requested")
		e.cancel(errCancelled)
		select {
		case <-e.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("cancel execution %s: %w", executionID, ctx.Err())
		}
	}
	if recent {
		return fmt.Errorf("cancel execution %s: %w", executionID, ErrFinished)
	}
	ex, err := c.deps.Store.GetExecution(ctx, executionID)
	if err != nil {
		return fmt.Errorf("cancel execution %s: %w", executionID, err)
	}
	if terminalExecution(ex.GetStatus()) {
		return fmt.Errorf("cancel execution %s: %w", executionID, ErrFinished)
	}
	return fmt.Errorf("cancel execution %s: %w", executionID, ErrNotLocal)
}

// recordWriter writes node changes of one execution to the store without
// blocking the coordinator: post replaces the pending snapshot, and the
// writer goroutine stores the latest one NodeUpdateInterval after the
// first change it has not written yet.
type recordWriter struct {
	c        *Conductor
	e        *execution
	interval time.Duration
	mu       sync.Mutex
	latest   *ifcv1.Execution
	signal   chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

func newRecordWriter(c *Conductor, e *execution, initial *ifcv1.Execution) *recordWriter {
	w := &recordWriter{c: c, e: e, interval: c.cfg.NodeUpdateInterval,
		signal: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop(initial)
	return w
}

// post queues a snapshot of the record; called by the coordinator only.
func (w *recordWriter) post() {
	if w.interval < 0 {
		return
	}
	snap := proto.CloneOf(w.e.rec)
	w.mu.Lock()
	w.latest = snap
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

func (w *recordWriter) loop(initial *ifcv1.Execution) {
	defer close(w.done)
	_ = w.c.storeUpdate(w.e, initial)
	for {
		select {
		case <-w.stop:
			return
		case <-w.signal:
		}
		if w.interval > 0 {
			// Batch: the changes of the next interval ride along. An
			// execution ending meanwhile writes its final record instead.
			t := time.NewTimer(w.interval)
			select {
			case <-w.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
		w.mu.Lock()
		snap := w.latest
		w.latest = nil
		w.mu.Unlock()
		if snap != nil {
			_ = w.c.storeUpdate(w.e, snap)
		}
	}
}

// close stops the writer once its start write is done; pending snapshots
// are dropped because the final record is written next.
func (w *recordWriter) close() {
	close(w.stop)
	<-w.done
}
