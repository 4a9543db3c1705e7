package conductor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// The unit tests of the fallback path use an in-memory queue and a part
// client that answers Unavailable for chosen nodes; cloud/topology runs
// the same path against real processes, Kafka and a SIGKILLed worker.

// memQueue is an in-memory FallbackQueue shared by several conductors:
// each job goes to one consumer; a job whose handler fails is queued
// again after a short pause.
type memQueue struct {
	jobs      chan []byte
	enqueued  atomic.Int32
	handled   atomic.Int32
	failEnq   atomic.Bool
	lastJobMu sync.Mutex
	lastJob   []byte
}

func newMemQueue() *memQueue { return &memQueue{jobs: make(chan []byte, 100)} }

func (q *memQueue) EnqueueFallback(_ context.Context, key string, job []byte) error {
	if q.failEnq.Load() {
		return errors.New("queue down")
	}
	q.lastJobMu.Lock()
	q.lastJob = job
	q.lastJobMu.Unlock()
	q.enqueued.Add(1)
	q.jobs <- job
	return nil
}

func (q *memQueue) ConsumeFallback(ctx context.Context, limit int, h func(context.Context, []byte) error) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, limit)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case job := <-q.jobs:
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := h(ctx, job); err != nil {
					if ctx.Err() == nil {
						time.Sleep(10 * time.Millisecond)
					}
					q.jobs <- job // delivered again (to whoever consumes next)
					return
				}
				q.handled.Add(1)
			}()
		}
	}
}

// producerOnly enqueues into q but consumes nothing: a replica that hands
// executions off and never takes a job.
type producerOnly struct{ q *memQueue }

func (p producerOnly) EnqueueFallback(ctx context.Context, key string, job []byte) error {
	return p.q.EnqueueFallback(ctx, key, job)
}

func (producerOnly) ConsumeFallback(ctx context.Context, _ int, _ func(context.Context, []byte) error) error {
	<-ctx.Done()
	return ctx.Err()
}

// switchable answers Unavailable, as gRPC does for a refused connection,
// for the nodes named in down while down is set.
type switchable struct {
	ifcv1.PartServiceClient
	down  atomic.Bool
	node  string
	calls atomic.Int32 // refused calls
}

func (s *switchable) Process(ctx context.Context, req *ifcv1.ProcessRequest, opts ...grpc.CallOption) (*ifcv1.ProcessResponse, error) {
	if s.down.Load() && req.GetNodeId() == s.node {
		s.calls.Add(1)
		return nil, status.Error(codes.Unavailable, "connection error: dial tcp 127.0.0.1:1: connect: connection refused")
	}
	return s.PartServiceClient.Process(ctx, req, opts...)
}

// downAt wraps the harness's part client so that node is unreachable.
func downAt(node string, sw **switchable) func(*Deps) {
	return func(d *Deps) {
		s := &switchable{PartServiceClient: d.Parts["test"], node: node}
		s.down.Store(true)
		d.Parts = map[string]ifcv1.PartServiceClient{"test": s}
		*sw = s
	}
}

// replica starts a second conductor over h's store, files and bus.
func (h *harness) replica(tb testing.TB, cfg Config, deps Deps) *Conductor {
	tb.Helper()
	deps.Store, deps.Files, deps.Events, deps.Catalog = h.store, h.files, h.bus, catalogForTests
	deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		deps.Logger = slog.Default().With("replica", "B")
	}
	c, err := New(cfg, deps)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- c.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
	return c
}

// checkSeqs requires one gap-free sequence 1..n of an execution's events,
// whichever conductor published them.
func checkSeqs(t *testing.T, evs []*ifcv1.ProgressEvent) {
	t.Helper()
	for i, ev := range evs {
		if ev.GetSeq() != uint64(i+1) {
			t.Fatalf("event %d has seq %d: want 1..n across the hand-off", i, ev.GetSeq())
		}
	}
}

func TestUnreachableServiceIsWaitedForWithinNodeDeadline(t *testing.T) {
	var sw *switchable
	q := newMemQueue()
	h := newHarness(t, Config{NodeTimeout: 5 * time.Second, MaxAttempts: 2, BackoffBase: time.Millisecond, BackoffCap: 20 * time.Millisecond},
		downAt("b", &sw), func(d *Deps) { d.Fallback = q })
	id := h.addPipeline(t, "p", []string{"a:invert", "b:invert", "c:invert"}, "a>b", "b>c")
	go func() {
		// Far more refused calls than MaxAttempts, then the worker is back.
		for sw.calls.Load() < 5 {
			time.Sleep(time.Millisecond)
		}
		sw.down.Store(false)
	}()
	ex := h.run(t, id)
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("status %v: %s", ex.GetStatus(), ex.GetError())
	}
	if got := nodeStatus(ex, "b").GetAttempts(); got < 6 {
		t.Errorf("node b attempts %d, want the refused calls plus the one that succeeded", got)
	}
	if n := q.enqueued.Load(); n != 0 {
		t.Errorf("%d fallback jobs for a service back within the node deadline", n)
	}
	checkEvents(t, h.bus.events(ex.GetExecutionId()), ex)
}

func TestUnreachableWithoutFallbackFailsAfterNodeDeadline(t *testing.T) {
	var sw *switchable
	h := newHarness(t, Config{NodeTimeout: 200 * time.Millisecond, BackoffBase: time.Millisecond}, downAt("a", &sw))
	id := h.addPipeline(t, "p", []string{"a:invert", "b:invert"}, "a>b")
	start := time.Now()
	ex := h.run(t, id)
	if el := time.Since(start); el < 200*time.Millisecond || el > 5*time.Second {
		t.Errorf("failed after %v, want about the node deadline (200ms)", el)
	}
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED || !strings.Contains(ex.GetError(), ErrUnreachable.Error()) {
		t.Fatalf("status %v error %q: want FAILED naming the unreachable service", ex.GetStatus(), ex.GetError())
	}
	checkEvents(t, h.bus.events(ex.GetExecutionId()), ex)
}

// TestFallbackResumesOnAnotherReplica: replica A's service for node b is
// unreachable past the node deadline, so A hands the execution to the
// queue; replica B (which alone consumes) resumes it from the store once
// the service is back: a is not run again, b and c run, one gap-free
// event sequence spans both replicas.
func TestFallbackResumesOnAnotherReplica(t *testing.T) {
	var sw *switchable
	q := newMemQueue()
	cfg := Config{NodeTimeout: 150 * time.Millisecond, BackoffBase: time.Millisecond, BackoffCap: 10 * time.Millisecond}
	h := newHarness(t, cfg, downAt("b", &sw), func(d *Deps) { d.Fallback = producerOnly{q} })
	id := h.addPipeline(t, "p", []string{"a:invert", "b:invert", "c:invert"}, "a>b", "b>c")

	ex, err := h.c.Submit(context.Background(), Request{PipelineID: id, Inputs: []string{"input"}, CreatedBy: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hand-off", func() bool { return q.enqueued.Load() == 1 })
	waitFor(t, "A to let go", func() bool { return h.c.InFlight() == 0 })
	rec, err := h.store.GetExecution(context.Background(), ex.GetExecutionId())
	if err != nil {
		t.Fatal(err)
	}
	if rec.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_RUNNING {
		t.Fatalf("record %v after the hand-off, want RUNNING", rec.GetStatus())
	}
	if b := nodeStatus(rec, "b"); b.GetState() != queued || !strings.HasPrefix(b.GetError(), "waiting: queued for retry") {
		t.Fatalf("node b after the hand-off: %v", b)
	}
	if a := nodeStatus(rec, "a"); a.GetState() != succeeded || a.GetOutputs().GetFileId() == "" {
		t.Fatalf("node a after the hand-off: %v", a)
	}
	var job fallbackJob
	q.lastJobMu.Lock()
	if err := json.Unmarshal(q.lastJob, &job); err != nil {
		t.Fatal(err)
	}
	q.lastJobMu.Unlock()
	if job.ExecutionID != ex.GetExecutionId() || len(job.Nodes) != 1 || job.Nodes[0] != "b" ||
		job.Inputs["b"] != nodeStatus(rec, "a").GetOutputs().GetFileId() || job.Attempts["b"] < 1 || job.Seq == 0 {
		t.Fatalf("job %+v: want node b, its input by reference, its attempts and the last seq", job)
	}

	// The service comes back; B, sharing store, files and bus, resumes.
	sw.down.Store(false)
	b := h.replica(t, cfg, Deps{Parts: map[string]ifcv1.PartServiceClient{"test": sw}, Fallback: q})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	final, err := b.Wait(ctx, ex.GetExecutionId())
	if err != nil {
		t.Fatal(err)
	}
	if final.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("status %v: %s", final.GetStatus(), final.GetError())
	}
	for _, n := range []string{"a", "b", "c"} {
		if ns := nodeStatus(final, n); ns.GetState() != succeeded || ns.GetOutputs().GetFileId() == "" || ns.GetError() != "" {
			t.Errorf("node %s: %v", n, ns)
		}
	}
	if n := len(h.parts.spans("a")); n != 1 {
		t.Errorf("node a ran %d times, want once: its stored output is reused", n)
	}
	if sp := h.parts.spans("b"); len(sp) != 1 || sp[0].req.GetImages()[0].GetFormat() != ifcv1.ImageFormat_IMAGE_FORMAT_JPEG {
		t.Errorf("node b calls %d: want one, with a's stored JPEG as input", len(sp))
	}
	// A answers Wait too (from the store), as a replica that handed off.
	if got, err := h.c.Wait(ctx, ex.GetExecutionId()); err != nil || got.GetStatus() != final.GetStatus() {
		t.Errorf("Wait on A: %v, %v", got.GetStatus(), err)
	}
	evs := h.bus.events(ex.GetExecutionId())
	checkSeqs(t, evs)
	var bStates []ifcv1.NodeState
	for _, ev := range evs {
		if ev.GetNodeId() == "b" {
			bStates = append(bStates, ev.GetState())
		}
	}
	want := []ifcv1.NodeState{queued, running, queued, running, succeeded}
	if len(bStates) != len(want) {
		t.Fatalf("node b went through %v, want %v", bStates, want)
	}
	for i := range want {
		if bStates[i] != want[i] {
			t.Fatalf("node b went through %v, want %v", bStates, want)
		}
	}
	if last := evs[len(evs)-1]; last.GetExecutionStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED || last.GetProgress() != 1 {
		t.Errorf("last event %v", last)
	}

	// Delivered again (at least once): the execution is done, nothing runs.
	q.jobs <- q.lastJob
	waitFor(t, "the duplicate to be handled", func() bool { return q.handled.Load() == 2 })
	if n := len(h.parts.spans("b")); n != 1 {
		t.Errorf("a duplicate job ran node b again (%d calls)", n)
	}
}

func TestFallbackFailsAtExecutionDeadline(t *testing.T) {
	var sw *switchable
	q := newMemQueue()
	h := newHarness(t, Config{NodeTimeout: 100 * time.Millisecond, ExecutionTimeout: 600 * time.Millisecond, BackoffBase: time.Millisecond},
		downAt("b", &sw), func(d *Deps) { d.Fallback = q })
	id := h.addPipeline(t, "p", []string{"a:invert", "b:invert", "c:invert"}, "a>b", "b>c")
	start := time.Now()
	ex := h.run(t, id) // Wait follows the hand-off through the store
	if el := time.Since(start); el < 600*time.Millisecond {
		t.Errorf("ended after %v, before the execution deadline", el)
	}
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED ||
		!strings.Contains(ex.GetError(), "node b (invert) failed") || !strings.Contains(ex.GetError(), "deadline") {
		t.Fatalf("status %v error %q: want FAILED naming node b and the deadline", ex.GetStatus(), ex.GetError())
	}
	if c := nodeStatus(ex, "c"); c.GetState() != skipped {
		t.Errorf("node c: %v", c)
	}
	if q.enqueued.Load() != 1 {
		t.Errorf("%d jobs enqueued, want 1", q.enqueued.Load())
	}
	waitFor(t, "the job to be acknowledged", func() bool { return q.handled.Load() == 1 })
	checkSeqs(t, h.bus.events(ex.GetExecutionId()))
}

func TestFallbackQueueDownFailsTheNode(t *testing.T) {
	var sw *switchable
	q := newMemQueue()
	q.failEnq.Store(true)
	h := newHarness(t, Config{NodeTimeout: 100 * time.Millisecond, BackoffBase: time.Millisecond},
		downAt("a", &sw), func(d *Deps) { d.Fallback = q })
	id := h.addPipeline(t, "p", []string{"a:invert", "b:invert"}, "a>b")
	ex := h.run(t, id)
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED || !strings.Contains(ex.GetError(), "queue down") {
		t.Fatalf("status %v error %q: want FAILED naming the queue", ex.GetStatus(), ex.GetError())
	}
	if b := nodeStatus(ex, "b"); b.GetState() != skipped {
		t.Errorf("node b: %v", b)
	}
	checkSeqs(t, h.bus.events(ex.GetExecutionId()))
}

// TestFallbackShutdownLeavesJob: a resumption interrupted by shutdown
// records no outcome; the job is delivered again and another conductor
// completes it.
func TestFallbackShutdownLeavesJob(t *testing.T) {
	var sw *switchable
	q := newMemQueue()
	cfg := Config{NodeTimeout: 100 * time.Millisecond, BackoffBase: time.Millisecond, BackoffCap: 10 * time.Millisecond}
	h := newHarness(t, cfg, downAt("b", &sw), func(d *Deps) { d.Fallback = q })
	id := h.addPipeline(t, "p", []string{"a:invert", "b:invert"}, "a>b")
	ex, err := h.c.Submit(context.Background(), Request{PipelineID: id, Inputs: []string{"input"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resumption to wait for the service", func() bool { return q.enqueued.Load() == 1 && sw.calls.Load() > 20 })
	h.stop()
	rec, _ := h.store.GetExecution(context.Background(), ex.GetExecutionId())
	if rec.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_RUNNING {
		t.Fatalf("after shutdown: %v %s, want RUNNING (left to the queue)", rec.GetStatus(), rec.GetError())
	}
	sw.down.Store(false)
	b := h.replica(t, cfg, Deps{Parts: map[string]ifcv1.PartServiceClient{"test": sw}, Fallback: q})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	final, err := b.Wait(ctx, ex.GetExecutionId())
	if err != nil || final.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("after redelivery: %v %s (%v)", final.GetStatus(), final.GetError(), err)
	}
}
