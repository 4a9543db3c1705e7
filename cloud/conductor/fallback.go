package conductor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/pipeline"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// The fallback queue: executions whose part service stayed unreachable.
//
// Guarantees and their limits (docs/topology.md, "Fallback queue"):
//
//   - A node whose service is unreachable for its whole deadline
//     (NodeTimeout) is not lost: the execution's record is written (RUNNING,
//     the node QUEUED with an error saying it waits) and then a job naming
//     it is enqueued; only when the queue acknowledged the job does this
//     conductor let go of the execution. A job that cannot be enqueued fails
//     the node as before, so nothing is left RUNNING without a job.
//   - A job is delivered at least once, to one consumer at a time (a Kafka
//     consumer group; a JetStream work queue), and resumed by whichever
//     replica takes it, from the store alone: succeeded nodes whose outputs
//     are stored are kept, their images read back from the object store
//     for the nodes that still have to run; everything else runs again.
//   - Resumption is idempotent per execution: a job for an execution that
//     is already terminal is acknowledged and dropped, and one process
//     resumes an execution at most once at a time. The job's key
//     (execution, node, attempt) names it in logs.
//   - The resumption waits for the service until the execution's deadline
//     (created_at + ExecutionTimeout, carried in the job) and then fails the
//     execution with an error naming the node and the deadline: nothing
//     stays RUNNING forever. Other errors are handled as on the first run.
//   - A resumption whose job is taken away (shutdown, Kafka rebalance)
//     stops without recording an outcome or publishing more events; the
//     job is delivered again and resumed from the last stored record.
//   - Progress continues on the bus with the seq after the job's, so a
//     subscriber sees one gap-free sequence across the hand-off. After an
//     interrupted resumption the next one restarts from the job's seq, and
//     an API replica that saw the interrupted one's events ignores the
//     repeated numbers until they pass it (the record stays right).

// FallbackQueue is the durable queue of executions waiting for an
// unreachable part service, shared by every replica; an event bus that
// offers one (kafkabus, natsbus with JetStream) implements it.
type FallbackQueue interface {
	// EnqueueFallback stores job under key (the execution id) and returns
	// once the queue has acknowledged it durably.
	EnqueueFallback(ctx context.Context, key string, job []byte) error
	// ConsumeFallback calls h with jobs, at most limit at once, until ctx
	// ends. Each job goes to one consumer at a time. h's context ends when
	// the job is taken away from this consumer; a job is done when h returns
	// nil and is delivered again later when h returns an error.
	ConsumeFallback(ctx context.Context, limit int, h func(ctx context.Context, job []byte) error) error
}

// fallbackJob is one hand-off: an execution with nodes waiting for an
// unreachable service. Inputs are references to stored objects, never
// image bytes.
type fallbackJob struct {
	ExecutionID string `json:"execution_id"`
	// Nodes are the waiting nodes; Attempts their calls so far.
	Nodes    []string         `json:"nodes"`
	Attempts map[string]int32 `json:"attempts"`
	// Inputs maps each waiting node to the file id of its image input (the
	// execution's input file or a parent's stored output; "" when the
	// parent's output was not persisted and the parent runs again).
	Inputs map[string]string `json:"inputs"`
	// Seq is the last progress seq published for the execution.
	Seq uint64 `json:"seq"`
	// Deadline is when the resumption gives up and fails the execution.
	Deadline time.Time `json:"deadline"`
	Reason   string    `json:"reason"`
}

// key is the job's idempotency key: execution, first waiting node, attempt.
func (j *fallbackJob) key() string {
	if len(j.Nodes) == 0 {
		return j.ExecutionID
	}
	return fmt.Sprintf("%s/%s/%d", j.ExecutionID, j.Nodes[0], j.Attempts[j.Nodes[0]])
}

// resumeState is what a resumed run starts from.
type resumeState struct {
	preset   []*nodeResult
	input    *ifcv1.Image // nil when no root node runs again
	deadline time.Time
}

// errResumeAborted is returned to the queue for a resumption that stopped
// without an outcome, so the job is delivered again.
var errResumeAborted = errors.New("fallback resumption interrupted")

// waitingMessage is the error text of a node waiting in the fallback queue.
func waitingMessage(err error) string {
	return fmt.Sprintf("waiting: queued for retry by the fallback queue (%v)", err)
}

func anyDeferred(res []*nodeResult) bool {
	for _, r := range res {
		if r.deferred {
			return true
		}
	}
	return false
}

// handoff records e as waiting and enqueues its fallback job. The record
// is written first, so whoever takes the job finds it.
func (c *Conductor) handoff(e *execution, res []*nodeResult) error {
	job := fallbackJob{
		ExecutionID: e.id,
		Attempts:    map[string]int32{},
		Inputs:      map[string]string{},
		Seq:         e.seq,
		Deadline:    e.rec.GetCreatedAt().AsTime().Add(c.cfg.ExecutionTimeout),
	}
	for i, r := range res {
		if !r.deferred {
			continue
		}
		n := e.plan.Nodes[i]
		job.Nodes = append(job.Nodes, n.ID)
		job.Attempts[n.ID] = r.attempts
		switch n.ImageFrom {
		case pipeline.FromInput:
			job.Inputs[n.ID] = e.input.FileID
		case pipeline.FromNone:
		default:
			job.Inputs[n.ID] = res[n.ImageFrom].fileID
		}
		if job.Reason == "" {
			job.Reason = r.err.Error()
		}
	}
	data, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode fallback job: %w", err)
	}
	if err := c.storeUpdate(e, e.rec); err != nil {
		return fmt.Errorf("record waiting execution: %w", err)
	}
	// The enqueue is what keeps the work: a shutdown that begins now must
	// not cancel it (the replica's graceful stop waits for this execution).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.ctx), storeTimeout)
	defer cancel()
	if err := c.deps.Fallback.EnqueueFallback(ctx, e.id, data); err != nil {
		return fmt.Errorf("enqueue fallback job: %w", err)
	}
	e.log.Warn("part service unreachable: execution handed to the fallback queue",
		"job", job.key(), "nodes", job.Nodes, "deadline", job.Deadline, "reason", job.Reason)
	return nil
}

// failDeferred fails the deferred nodes of e (their job could not be
// enqueued) and skips the nodes waiting behind them, publishing each.
func (c *Conductor) failDeferred(e *execution, res []*nodeResult, total float32, cause error) {
	e.log.Error("fallback queue unavailable: failing the waiting nodes", "err", cause)
	done := 0
	for _, r := range res {
		if terminal(r.state) {
			done++
		}
	}
	mark := func(i int, st ifcv1.NodeState, err error) {
		r := res[i]
		r.state, r.err, r.finished, r.deferred = st, err, c.now(), false
		done++
		ns := e.rec.Nodes[i]
		ns.State, ns.Error, ns.FinishedAt = st, err.Error(), timestamppb.New(r.finished)
		c.publishNode(e, ns.NodeId, st, ns.Error, nil, float32(done)/total)
	}
	var skip func(from, i int)
	skip = func(from, i int) {
		for _, ch := range e.plan.Nodes[i].Children {
			if res[ch].state == ifcv1.NodeState_NODE_STATE_QUEUED && !res[ch].deferred {
				mark(ch, ifcv1.NodeState_NODE_STATE_SKIPPED, fmt.Errorf("upstream node %s failed", e.plan.Nodes[from].ID))
				skip(from, ch)
			}
		}
	}
	for i, r := range res {
		if r.deferred {
			mark(i, ifcv1.NodeState_NODE_STATE_FAILED, fmt.Errorf("%w; %w", r.err, cause))
			skip(i, i)
		}
	}
}

// detach lets go of e without an outcome: handed to the fallback queue, or
// a resumption interrupted. Waiters here then poll the store.
func (c *Conductor) detach(e *execution, why string) {
	c.mu.Lock()
	delete(c.active, e.id)
	c.mu.Unlock()
	e.span.SetAttributes(attribute.String("status", "detached"), attribute.String("detached", why))
	endSpan(e.span, nil)
	c.release()
	close(e.done)
	e.log.Info("execution detached", "why", why)
}

// consumeFallback runs the fallback consumer until ctx ends, restarting it
// after errors.
func (c *Conductor) consumeFallback(ctx context.Context) {
	log := c.log.With("component", "conductor.fallback")
	for {
		err := c.deps.Fallback.ConsumeFallback(ctx, c.cfg.FallbackConcurrency, c.handleFallback)
		if ctx.Err() != nil {
			return
		}
		log.Error("fallback consumer stopped; restarting", "err", err)
		if sleep(ctx, time.Second) != nil {
			return
		}
	}
}

// handleFallback takes one job: nil when it is done (resumed to an
// outcome, stale or undecodable), an error to have it delivered again.
func (c *Conductor) handleFallback(ctx context.Context, data []byte) error {
	var job fallbackJob
	if err := json.Unmarshal(data, &job); err != nil || job.ExecutionID == "" {
		c.log.Error("dropping undecodable fallback job", "err", err, "bytes", len(data))
		return nil
	}
	log := c.log.With("execution_id", job.ExecutionID, "job", job.key())
	release, err := c.claimResume(ctx, job.ExecutionID)
	if err != nil {
		return err
	}
	defer release()
	rec, err := c.deps.Store.GetExecution(ctx, job.ExecutionID)
	if errors.Is(err, metadata.ErrNotFound) {
		log.Error("dropping fallback job of an unknown execution")
		return nil
	}
	if err != nil {
		return fmt.Errorf("fallback job %s: %w", job.key(), err)
	}
	if terminalExecution(rec.GetStatus()) {
		log.Info("fallback job already done", "status", rec.GetStatus().String())
		return nil
	}
	log.Info("resuming execution from the fallback queue", "nodes", job.Nodes, "deadline", job.Deadline)
	return c.resume(ctx, &job, rec, log)
}

// claimResume makes this process the only one here resuming id until the
// returned release is called; a second job for id waits for the first.
func (c *Conductor) claimResume(ctx context.Context, id string) (func(), error) {
	for {
		c.resumeMu.Lock()
		ch, busy := c.resuming[id]
		if !busy {
			ch = make(chan struct{})
			c.resuming[id] = ch
			c.resumeMu.Unlock()
			return func() {
				c.resumeMu.Lock()
				delete(c.resuming, id)
				c.resumeMu.Unlock()
				close(ch)
			}, nil
		}
		c.resumeMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// resume runs the rest of rec on this conductor: the job's context bounds
// it, Cancel reaches it here, and the outcome is recorded as usual.
func (c *Conductor) resume(ctx context.Context, job *fallbackJob, rec *ifcv1.Execution, log *slog.Logger) error {
	p, err := c.deps.Store.GetPipeline(ctx, rec.GetPipelineId(), rec.GetPipelineVersion())
	if err != nil {
		return fmt.Errorf("resume %s: load pipeline: %w", job.ExecutionID, err)
	}
	e := &execution{
		id:   rec.GetExecutionId(),
		rec:  rec,
		seq:  job.Seq,
		log:  log.With("pipeline_id", p.GetId(), "version", p.GetVersion()),
		done: make(chan struct{}),
	}
	_, e.span = c.tracer.Start(ctx, spanExecution, trace.WithAttributes(attrExecutionID.String(e.id),
		attrPipelineID.String(p.GetId()), attrVersion.Int(int(p.GetVersion())), attribute.Bool("resumed", true)))
	var cancel context.CancelCauseFunc
	e.ctx, cancel = context.WithCancelCause(trace.ContextWithSpan(ctx, e.span))
	stop := context.AfterFunc(c.baseCtx, func() { cancel(errShutdown) })
	e.cancel = func(cause error) { stop(); cancel(cause) }
	deadline := job.Deadline
	if deadline.IsZero() {
		deadline = rec.GetCreatedAt().AsTime().Add(c.cfg.ExecutionTimeout)
	}
	e.resume = &resumeState{deadline: deadline}

	// A pipeline version that no longer compiles, or an input that is gone,
	// will not get better: the execution fails (as Submit would have).
	c.inflight.Add(1) // a resumption is admitted already; never refused
	abandon := func() {
		e.cancel(nil)
		c.release()
		endSpan(e.span, nil)
	}
	fail := func(err error) error {
		if !c.register(e) {
			abandon()
			return errResumeAborted
		}
		defer c.wg.Done()
		defer e.cancel(nil)
		c.finish(e, ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED, err)
		return nil
	}
	if e.plan, err = c.planFor(p); err != nil {
		return fail(err)
	}
	if len(rec.GetInputs()) != 1 {
		return fail(fmt.Errorf("%w: execution has %d inputs", ErrInvalidRequest, len(rec.GetInputs())))
	}
	if e.input, err = c.deps.Store.GetFile(ctx, rec.GetInputs()[0]); err != nil {
		if errors.Is(err, metadata.ErrNotFound) {
			return fail(fmt.Errorf("input file %s: %w", rec.GetInputs()[0], err))
		}
		abandon()
		return fmt.Errorf("resume %s: %w", e.id, err)
	}
	if err := c.presetFromRecord(e); err != nil {
		abandon()
		return fmt.Errorf("resume %s: %w", e.id, err)
	}
	if !c.register(e) {
		abandon()
		return errResumeAborted
	}
	c.execute(e)
	if e.final == nil {
		return errResumeAborted
	}
	return nil
}

// register makes e active (Cancel and Wait find it) once an earlier run of
// the same execution here has let go of it; false when shutting down.
func (c *Conductor) register(e *execution) bool {
	for {
		c.mu.Lock()
		if c.closed || e.ctx.Err() != nil {
			c.mu.Unlock()
			return false
		}
		old := c.active[e.id]
		if old == nil {
			c.active[e.id] = e
			c.wg.Add(1)
			c.mu.Unlock()
			return true
		}
		c.mu.Unlock()
		select {
		case <-old.done:
		case <-e.ctx.Done():
		}
	}
}

// presetFromRecord rebuilds e's node results from its stored record: a
// SUCCEEDED node is kept when its outputs are stored (its image is read
// back when a node that runs again takes it as input), FAILED and SKIPPED
// nodes are kept, everything else runs again. It also loads the input
// when a root node runs again.
func (c *Conductor) presetFromRecord(e *execution) error {
	nodes := e.plan.Nodes
	byID := make(map[string]*ifcv1.NodeStatus, len(e.rec.GetNodes()))
	for _, ns := range e.rec.GetNodes() {
		byID[ns.GetNodeId()] = ns
	}
	preset := make([]*nodeResult, len(nodes))
	statuses := make([]*ifcv1.NodeStatus, len(nodes))
	for i, n := range nodes {
		ns := byID[n.ID]
		if ns == nil {
			ns = &ifcv1.NodeStatus{NodeId: n.ID, State: ifcv1.NodeState_NODE_STATE_QUEUED}
		}
		statuses[i] = ns
		r := &nodeResult{state: ns.GetState(), attempts: ns.GetAttempts()}
		if ns.GetStartedAt() != nil {
			r.started = ns.GetStartedAt().AsTime()
		}
		if ns.GetFinishedAt() != nil {
			r.finished = ns.GetFinishedAt().AsTime()
		}
		switch ns.GetState() {
		case ifcv1.NodeState_NODE_STATE_SUCCEEDED:
			if !n.OutputsImage || ns.GetOutputs().GetFileId() != "" {
				r.fileID, r.detections = ns.GetOutputs().GetFileId(), ns.GetOutputs().GetDetections()
				preset[i] = r
				continue
			}
		case ifcv1.NodeState_NODE_STATE_FAILED, ifcv1.NodeState_NODE_STATE_SKIPPED:
			r.err = errors.New(ns.GetError())
			preset[i] = r
			continue
		}
		// Runs again; the waiting message stays until it starts.
		ns.State, ns.Outputs, ns.FinishedAt = ifcv1.NodeState_NODE_STATE_QUEUED, nil, nil
	}
	e.rec.Nodes = statuses
	for i, n := range nodes {
		if preset[i] != nil {
			continue
		}
		switch {
		case n.ImageFrom == pipeline.FromInput && e.resume.input == nil:
			img, err := c.loadInput(e)
			if err != nil {
				return err
			}
			e.resume.input = img
		case n.ImageFrom >= 0 && preset[n.ImageFrom] != nil && preset[n.ImageFrom].image == nil:
			p := preset[n.ImageFrom]
			img, err := c.loadStored(e.ctx, p.fileID)
			if err != nil {
				return fmt.Errorf("output of node %s: %w", nodes[n.ImageFrom].ID, err)
			}
			p.image = img
		}
	}
	e.resume.preset = preset
	return nil
}

// loadStored reads a stored node output back as an encoded image.
func (c *Conductor) loadStored(ctx context.Context, fileID string) (*ifcv1.Image, error) {
	rc, f, err := c.deps.Files.Open(ctx, fileID)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", fileID, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, c.cfg.MaxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", fileID, err)
	}
	format := formatOf(data, f.ContentType)
	if format == ifcv1.ImageFormat_IMAGE_FORMAT_UNSPECIFIED || int64(len(data)) > c.cfg.MaxInputBytes {
		return nil, fmt.Errorf("%s is not a JPEG or PNG image within %d bytes", fileID, c.cfg.MaxInputBytes)
	}
	return &ifcv1.Image{Data: data, Format: format, Width: int32(f.Width), Height: int32(f.Height)}, nil
}
