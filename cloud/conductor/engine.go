package conductor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/cloud/pipeline"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// graphRun describes one run of a plan through the engine.
type graphRun struct {
	plan        *pipeline.Plan
	input       *ifcv1.Image
	executionID string
	pipelineID  string
	createdBy   string
	// encode says whether node i must return a JPEG; persist whether that
	// JPEG is stored through Files.
	encode  func(i int) bool
	persist func(i int) bool
	// observe is called by the coordinator on every node state change.
	observe func(i int, r *nodeResult)
	// unreachable says what a node does when its part service is
	// unreachable (codes.Unavailable); reachUntil bounds unreachUntil.
	unreachable unreachablePolicy
	reachUntil  time.Time
	// preset holds results carried over from an earlier run of the same
	// execution (fallback resumption): SUCCEEDED nodes whose outputs are
	// stored (image loaded for the children that re-run), FAILED and SKIPPED
	// nodes. nil entries, or a nil slice, run.
	preset []*nodeResult
}

// unreachablePolicy is how a node treats codes.Unavailable, which gRPC
// answers when the part service cannot be reached (connection refused or
// reset, no route) or dropped the call's connection.
type unreachablePolicy int

const (
	// unreachRetry counts Unavailable like any retryable code (frames:
	// real-time callers want a fast answer).
	unreachRetry unreachablePolicy = iota
	// unreachDefer retries Unavailable with backoff, without counting it
	// against MaxAttempts, until NodeTimeout after the node started; a
	// service still unreachable then defers the node to the fallback queue
	// (or fails it when there is none).
	unreachDefer
	// unreachUntil retries Unavailable until graphRun.reachUntil (the
	// execution's deadline, on a fallback resumption), then fails.
	unreachUntil
)

// nodeResult is the state and outputs of one node.
type nodeResult struct {
	state      ifcv1.NodeState
	started    time.Time
	finished   time.Time
	attempts   int32
	image      *ifcv1.Image // raw output for children; dropped once they started
	encoded    *ifcv1.Image
	detections []*ifcv1.Detection
	fileID     string
	err        error
	// deferred marks a node whose part service stayed unreachable for its
	// whole deadline (unreachDefer): its state is QUEUED again, err says
	// why, and the execution is handed to the fallback queue.
	deferred bool
	// persist, when set, stores the node's encoded output; the coordinator
	// runs it beside the node's children (see runGraph).
	persist func() (fileID string, err error)
}

type finished struct {
	i int
	r nodeResult
}

// runGraph runs every node of the plan, parents before children, and
// returns the results indexed like plan.Nodes. It returns only after every
// node goroutine it started has ended.
func (c *Conductor) runGraph(ctx context.Context, g *graphRun) []*nodeResult {
	nodes := g.plan.Nodes
	res := make([]*nodeResult, len(nodes))
	pending := make([]int, len(nodes))      // parents not yet succeeded
	childrenLeft := make([]int, len(nodes)) // children not yet started
	for i, n := range nodes {
		res[i] = &nodeResult{state: ifcv1.NodeState_NODE_STATE_QUEUED}
		pending[i] = len(n.Parents)
		childrenLeft[i] = len(n.Children)
	}
	for i, p := range g.preset {
		if p == nil {
			continue
		}
		r := *p
		res[i] = &r
		if r.state == ifcv1.NodeState_NODE_STATE_SUCCEEDED {
			for _, ch := range nodes[i].Children {
				pending[ch]--
			}
		}
	}
	done := make(chan finished, len(nodes))
	running := 0

	// start marks node i RUNNING and returns its inputs.
	start := func(i int) (*ifcv1.Image, []*ifcv1.Detection) {
		n := nodes[i]
		var img *ifcv1.Image
		switch n.ImageFrom {
		case pipeline.FromInput:
			img = g.input
		case pipeline.FromNone:
		default:
			img = res[n.ImageFrom].image
		}
		var dets []*ifcv1.Detection
		if n.DetectionsFrom >= 0 {
			dets = res[n.DetectionsFrom].detections
		}
		for _, p := range n.Parents {
			if childrenLeft[p]--; childrenLeft[p] == 0 {
				res[p].image = nil // nobody needs the raw image any more
			}
		}
		r := res[i]
		r.state = ifcv1.NodeState_NODE_STATE_RUNNING
		r.started = c.now()
		g.observe(i, r)
		return img, dets
	}
	launch := func(i int) {
		img, dets := start(i)
		started := res[i].started
		running++
		go func() {
			out := c.runNode(ctx, g, i, img, dets)
			out.started = started
			done <- finished{i, out}
		}()
	}
	// settle marks queued nodes (descendants of a failed node, or everything
	// left after cancellation) with a final state.
	settle := func(i int, st ifcv1.NodeState, err error) {
		if res[i].state != ifcv1.NodeState_NODE_STATE_QUEUED {
			return
		}
		res[i].state, res[i].finished, res[i].err = st, c.now(), err
		g.observe(i, res[i])
	}
	var skip func(from, i int)
	skip = func(from, i int) {
		for _, ch := range nodes[i].Children {
			if res[ch].state == ifcv1.NodeState_NODE_STATE_QUEUED {
				settle(ch, ifcv1.NodeState_NODE_STATE_SKIPPED, fmt.Errorf("upstream node %s failed", nodes[from].ID))
				skip(from, ch)
			}
		}
	}

	var ready []int
	released := make([]bool, len(nodes))
	for i := range nodes {
		if pending[i] == 0 && res[i].state == ifcv1.NodeState_NODE_STATE_QUEUED {
			ready = append(ready, i)
		}
		if res[i].state == ifcv1.NodeState_NODE_STATE_SUCCEEDED {
			released[i] = true // a preset: its children were counted above
		}
	}
	deferred := false
	// release queues the children a node's outputs unblocked, once.
	release := func(i int) {
		if released[i] {
			return
		}
		released[i] = true
		for _, ch := range nodes[i].Children {
			if pending[ch]--; pending[ch] == 0 && res[ch].state == ifcv1.NodeState_NODE_STATE_QUEUED {
				ready = append(ready, ch)
			}
		}
	}
	// handle records a finished node and queues the children it unblocked.
	// A node whose output still has to be persisted releases its children
	// at once and stays RUNNING until the store has it: the fsyncs of
	// intermediates overlap the next nodes instead of lengthening the
	// chain. A persistence failure then fails the node (and the execution);
	// children already started keep their own states.
	handle := func(f finished) {
		r := res[f.i]
		if persist := f.r.persist; persist != nil {
			f.r.persist = nil
			*r = f.r
			r.state = ifcv1.NodeState_NODE_STATE_RUNNING
			release(f.i)
			out := f.r
			out.image = nil
			running++
			go func(i int) {
				id, err := persist()
				if err != nil {
					out.state, out.err = ifcv1.NodeState_NODE_STATE_FAILED, err
					if ctx.Err() != nil {
						out.state, out.err = ifcv1.NodeState_NODE_STATE_CANCELLED, context.Cause(ctx)
					}
				}
				out.fileID = id
				out.finished = c.now()
				done <- finished{i, out}
			}(f.i)
			return
		}
		image := r.image
		*r = f.r
		if released[f.i] {
			r.image = image // children took it already, or will drop it
		}
		if r.finished.IsZero() {
			r.finished = c.now()
		}
		if len(nodes[f.i].Children) == 0 {
			r.image = nil
		}
		g.observe(f.i, r)
		switch {
		case r.state == ifcv1.NodeState_NODE_STATE_SUCCEEDED:
			release(f.i)
		case r.state == ifcv1.NodeState_NODE_STATE_FAILED:
			skip(f.i, f.i)
		case r.deferred:
			// Its descendants stay QUEUED for the fallback resumption;
			// independent branches run on.
			deferred = true
		}
	}
	for {
		if ctx.Err() != nil {
			ready = ready[:0]
		}
		if len(ready) == 1 && running == 0 {
			// The only runnable node: run it on this goroutine, saving a
			// goroutine start (and its stack growth) per node of a chain.
			i := ready[0]
			ready = ready[:0]
			img, dets := start(i)
			out := c.runNode(ctx, g, i, img, dets)
			out.started = res[i].started
			handle(finished{i, out})
			continue
		}
		for _, i := range ready {
			launch(i)
		}
		ready = ready[:0]
		if running == 0 {
			break
		}
		f := <-done
		running--
		handle(f)
	}
	if deferred && ctx.Err() == nil {
		return res // the QUEUED nodes wait for the fallback resumption
	}
	for i := range nodes {
		settle(i, ifcv1.NodeState_NODE_STATE_CANCELLED, context.Cause(ctx))
	}
	return res
}

// unreachablePoll bounds the wait between calls to an unreachable part
// service: such a call fails at once on the client (the channel is in
// reconnect backoff, capped at about 1s by parts.DialOptions), so polling
// costs nothing and a restarted worker is found within about a second.
const unreachablePoll = time.Second

// retryable reports whether a failed attempt may be repeated.
func retryable(code codes.Code) bool {
	switch code {
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted, codes.DeadlineExceeded:
		return true
	}
	return false
}

// backoff returns the sleep after the given failed attempt (1-based):
// base·2^(attempt-1) capped, half of it fixed and half random.
func (c *Conductor) backoff(attempt int) time.Duration {
	d := c.cfg.BackoffBase
	for i := 1; i < attempt && d < c.cfg.BackoffCap; i++ {
		d *= 2
	}
	d = min(d, c.cfg.BackoffCap)
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// runNode calls the node's part service with retries and persists its image.
func (c *Conductor) runNode(ctx context.Context, g *graphRun, i int, img *ifcv1.Image, dets []*ifcv1.Detection) (r nodeResult) {
	n := g.plan.Nodes[i]
	// Attributes are built only for recording spans: with tracing off a
	// node costs two non-recording spans and no allocations for them.
	ctx, span := c.tracer.Start(ctx, spanNode)
	if span.IsRecording() {
		span.SetAttributes(attrExecutionID.String(g.executionID), attrPipelineID.String(g.pipelineID),
			attrNodeID.String(n.ID), attrPart.String(n.Part.GetId()))
		defer func() {
			span.SetAttributes(attrAttempts.Int(int(r.attempts)), attribute.String("state", r.state.String()))
			endSpan(span, r.err)
		}()
	}
	fail := func(err error) nodeResult {
		r.err = err
		r.state = ifcv1.NodeState_NODE_STATE_FAILED
		if ctx.Err() != nil {
			r.state = ifcv1.NodeState_NODE_STATE_CANCELLED
			r.err = context.Cause(ctx)
		}
		r.finished = c.now()
		return r
	}
	client := c.deps.Parts[n.Part.GetService()]
	if client == nil {
		return fail(fmt.Errorf("%w: %q", ErrNoService, n.Part.GetService()))
	}
	// An intermediate output that is only persisted is encoded by the
	// conductor beside the next nodes (deferEncode), not by the service on
	// the chain's critical path; a node nobody reads from returns only its
	// JPEG (OmitRaw), saving the raw copy and transfer.
	wantJPEG := n.OutputsImage && g.encode(i)
	deferEncode := wantJPEG && g.persist(i) && len(n.Children) > 0
	req := &ifcv1.ProcessRequest{
		Part:         n.Part.GetId(),
		Params:       n.Params,
		Detections:   dets,
		EncodeOutput: wantJPEG && !deferEncode,
		OmitRaw:      wantJPEG && len(n.Children) == 0,
		ExecutionId:  g.executionID,
		NodeId:       n.ID,
	}
	if img != nil {
		req.Images = []*ifcv1.Image{img}
	}
	// Unavailable (the service unreachable) is waited out rather than
	// counted: see unreachablePolicy. counted are the other failed attempts.
	reachUntil := g.reachUntil
	if g.unreachable == unreachDefer {
		reachUntil = c.now().Add(c.cfg.NodeTimeout)
	}
	counted, unreachable := 0, 0
	var resp *ifcv1.ProcessResponse
	for attempt := 1; ; attempt++ {
		r.attempts = int32(attempt)
		actx, cancel := context.WithTimeout(ctx, c.cfg.NodeTimeout)
		actx, aspan := c.tracer.Start(actx, spanAttempt)
		if aspan.IsRecording() {
			aspan.SetAttributes(attrExecutionID.String(g.executionID), attrNodeID.String(n.ID),
				attrPart.String(n.Part.GetId()), attrAttempt.Int(attempt))
		}
		var err error
		resp, err = client.Process(actx, req)
		endSpan(aspan, err)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fail(err)
		}
		code := status.Code(err)
		if code == codes.Unavailable && g.unreachable != unreachRetry {
			unreachable++
			left := reachUntil.Sub(c.now())
			if left <= 0 {
				err = fmt.Errorf("%s: %w (%d attempts): %w", n.Part.GetId(), ErrUnreachable, attempt, err)
				if g.unreachable == unreachDefer && c.deps.Fallback != nil {
					r.deferred = true
					r.err = err
					r.state = ifcv1.NodeState_NODE_STATE_QUEUED
					r.finished = c.now()
					return r
				}
				if g.unreachable == unreachUntil {
					return fail(fmt.Errorf("%w; the execution's deadline %s has passed", err, reachUntil.UTC().Format(time.RFC3339)))
				}
				return fail(err)
			}
			wait := min(c.backoff(min(attempt, 8)), unreachablePoll, left)
			if unreachable == 1 {
				c.log.Warn("part service unreachable, waiting for it", "execution_id", g.executionID, "node_id", n.ID,
					"part", n.Part.GetId(), "attempt", attempt, "until", reachUntil, "err", err)
			}
			if err := sleep(ctx, wait); err != nil {
				return fail(err)
			}
			continue
		}
		counted++
		if !retryable(code) || counted >= c.cfg.MaxAttempts {
			if retryable(code) {
				return fail(fmt.Errorf("%s after %d attempts: %w", n.Part.GetId(), attempt, err))
			}
			return fail(fmt.Errorf("%s: %w", n.Part.GetId(), err))
		}
		wait := c.backoff(counted)
		c.log.Warn("part call failed, retrying", "execution_id", g.executionID, "node_id", n.ID,
			"part", n.Part.GetId(), "attempt", attempt, "code", code.String(), "backoff", wait, "err", err)
		if err := sleep(ctx, wait); err != nil {
			return fail(err)
		}
	}
	if n.OutputsImage && resp.GetImage() == nil && resp.GetEncoded() == nil {
		return fail(fmt.Errorf("%s returned no image", n.Part.GetId()))
	}
	r.image = resp.GetImage()
	if r.image == nil {
		r.image = resp.GetEncoded()
	}
	r.detections = resp.GetDetections()
	if deferEncode {
		raw := r.image
		r.persist = func() (string, error) {
			enc, err := c.encodeImage(raw)
			if err != nil {
				return "", fmt.Errorf("encode output of %s: %w", n.ID, err)
			}
			return c.persistImage(ctx, g, n.ID, enc)
		}
	} else if wantJPEG {
		enc, err := encodedOf(resp)
		if err != nil {
			return fail(fmt.Errorf("%s output: %w", n.Part.GetId(), err))
		}
		if enc.GetWidth() == 0 && r.image != nil {
			enc = &ifcv1.Image{Data: enc.GetData(), Format: enc.GetFormat(), Width: r.image.GetWidth(), Height: r.image.GetHeight()}
		}
		r.encoded = enc
		if g.persist(i) {
			r.persist = func() (string, error) { return c.persistImage(ctx, g, n.ID, enc) }
		}
	}
	r.state = ifcv1.NodeState_NODE_STATE_SUCCEEDED
	r.finished = c.now()
	return r
}

// encodeImage JPEG-encodes a raw node output with Deps.EncodeJPEG, or in
// pure Go when none was given.
func (c *Conductor) encodeImage(img *ifcv1.Image) (*ifcv1.Image, error) {
	if isEncoded(img) {
		return img, nil
	}
	if c.deps.EncodeJPEG != nil {
		return c.deps.EncodeJPEG(img)
	}
	return encodeRaw(img)
}

// persistImage stores a node's encoded output and returns its file id.
func (c *Conductor) persistImage(ctx context.Context, g *graphRun, nodeID string, enc *ifcv1.Image) (string, error) {
	f, err := c.deps.Files.PutDerived(ctx, enc.GetData(), contentTypeOf(enc.GetFormat()),
		int(enc.GetWidth()), int(enc.GetHeight()), g.createdBy)
	if err != nil {
		return "", fmt.Errorf("persist output of %s: %w", nodeID, err)
	}
	return f.FileID, nil
}

// firstFailure names the earliest failed node of a run.
func firstFailure(plan *pipeline.Plan, res []*nodeResult) error {
	var first error
	var at time.Time
	failed := 0
	for i, r := range res {
		if r.state != ifcv1.NodeState_NODE_STATE_FAILED {
			continue
		}
		failed++
		if first == nil || r.finished.Before(at) {
			first, at = fmt.Errorf("node %s (%s) failed: %w", plan.Nodes[i].ID, plan.Nodes[i].Part.GetId(), r.err), r.finished
		}
	}
	if failed > 1 {
		return fmt.Errorf("%w (and %d more nodes failed)", first, failed-1)
	}
	return first
}

var errNoEncoded = errors.New("no encoded image")
