package conductor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/pipeline"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

const (
	queued    = ifcv1.NodeState_NODE_STATE_QUEUED
	running   = ifcv1.NodeState_NODE_STATE_RUNNING
	succeeded = ifcv1.NodeState_NODE_STATE_SUCCEEDED
	failed    = ifcv1.NodeState_NODE_STATE_FAILED
	skipped   = ifcv1.NodeState_NODE_STATE_SKIPPED
	cancelled = ifcv1.NodeState_NODE_STATE_CANCELLED
)

// checkEvents verifies that the events of one execution are numbered 1..n,
// that every node went through a legal sequence of states ending in its
// recorded state, and that the last event is the execution's end.
func checkEvents(t *testing.T, evs []*ifcv1.ProgressEvent, final *ifcv1.Execution) {
	t.Helper()
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	perNode := map[string][]ifcv1.NodeState{}
	var lastProgress float32
	for i, ev := range evs {
		if ev.GetSeq() != uint64(i+1) {
			t.Fatalf("event %d has seq %d: seqs must be 1..n in publish order", i, ev.GetSeq())
		}
		if ev.GetProgress() < lastProgress {
			t.Errorf("progress went back from %v to %v at seq %d", lastProgress, ev.GetProgress(), ev.GetSeq())
		}
		lastProgress = ev.GetProgress()
		if ev.GetNodeId() != "" {
			perNode[ev.GetNodeId()] = append(perNode[ev.GetNodeId()], ev.GetState())
		}
	}
	if first := evs[0]; first.GetNodeId() != "" || first.GetExecutionStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_QUEUED {
		t.Errorf("first event = %v, want the execution QUEUED", first)
	}
	last := evs[len(evs)-1]
	if last.GetNodeId() != "" || last.GetExecutionStatus() != final.GetStatus() || last.GetProgress() != 1 {
		t.Errorf("last event = %v, want the execution %v with progress 1", last, final.GetStatus())
	}
	if last.GetError() != final.GetError() {
		t.Errorf("last event error %q, record error %q", last.GetError(), final.GetError())
	}
	legal := [][]ifcv1.NodeState{
		{queued, running, succeeded}, {queued, running, failed}, {queued, running, cancelled},
		{queued, skipped}, {queued, cancelled},
	}
	for _, ns := range final.GetNodes() {
		got := perNode[ns.GetNodeId()]
		if !slices.ContainsFunc(legal, func(l []ifcv1.NodeState) bool { return slices.Equal(l, got) }) {
			t.Errorf("node %s went through %v", ns.GetNodeId(), got)
		}
		if len(got) > 0 && got[len(got)-1] != ns.GetState() {
			t.Errorf("node %s: last event %v, record %v", ns.GetNodeId(), got[len(got)-1], ns.GetState())
		}
	}
	if len(perNode) != len(final.GetNodes()) {
		t.Errorf("events for %d nodes, record has %d", len(perNode), len(final.GetNodes()))
	}
}

func TestLinearPipelineSucceeds(t *testing.T) {
	h := newHarness(t, Config{})
	id := h.addPipeline(t, "linear", []string{"a:invert", "b:detect", "c:draw"}, "a>b", "b>c")
	ex := h.run(t, id)
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("status %v, error %q", ex.GetStatus(), ex.GetError())
	}
	for _, ns := range ex.GetNodes() {
		if ns.GetState() != succeeded || ns.GetOutputs().GetFileId() == "" || ns.GetAttempts() != 1 {
			t.Errorf("node %v: want SUCCEEDED with a persisted file after 1 attempt", ns)
		}
		if ns.GetStartedAt() == nil || ns.GetFinishedAt() == nil {
			t.Errorf("node %s lacks timings", ns.GetNodeId())
		}
	}
	if d := nodeStatus(ex, "b").GetOutputs().GetDetections(); len(d) != 1 || d[0].GetLabel() != "b" {
		t.Errorf("detections of b = %v", d)
	}
	// The first node got the stored JPEG; later nodes got raw images.
	if img := h.parts.spans("a")[0].req.GetImages()[0]; img.GetFormat() != ifcv1.ImageFormat_IMAGE_FORMAT_JPEG || img.GetWidth() != 8 {
		t.Errorf("root input = %v %dx%d, want the stored JPEG", img.GetFormat(), img.GetWidth(), img.GetHeight())
	}
	if img := h.parts.spans("b")[0].req.GetImages()[0]; img.GetFormat() != ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8 {
		t.Errorf("b input format = %v, want raw", img.GetFormat())
	}
	if n := len(h.parts.spans("c")[0].req.GetDetections()); n != 1 {
		t.Errorf("c received %d detections, want 1", n)
	}
	stored, err := h.store.GetExecution(context.Background(), ex.GetExecutionId())
	if err != nil || stored.GetStatus() != ex.GetStatus() || len(stored.GetNodes()) != 3 {
		t.Errorf("stored record %v (%v) differs from Wait's", stored, err)
	}
	checkEvents(t, h.bus.events(ex.GetExecutionId()), ex)
}

func TestSubmitReturnsQueuedRecord(t *testing.T) {
	h := newHarness(t, Config{})
	id := h.addPipeline(t, "p", []string{"a:invert:sleep_ms=50"})
	ex, err := h.c.Submit(context.Background(), Request{PipelineID: id, Inputs: []string{"input"}, CorrelationID: "corr", ClientID: "cli", CreatedBy: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_QUEUED || ex.GetNodes()[0].GetState() != queued {
		t.Errorf("Submit returned %v, want QUEUED", ex)
	}
	if ex.GetCorrelationId() != "corr" || ex.GetClientId() != "cli" || ex.GetCreatedBy() != "me" || ex.GetPipelineVersion() != 1 {
		t.Errorf("request fields not recorded: %v", ex)
	}
	if len(ex.GetExecutionId()) != 36 || ex.GetExecutionId()[14] != '7' {
		t.Errorf("execution id %q is not a UUIDv7", ex.GetExecutionId())
	}
	if _, err := h.c.Wait(context.Background(), ex.GetExecutionId()); err != nil {
		t.Fatal(err)
	}
}

func TestParallelBranchesOverlap(t *testing.T) {
	h := newHarness(t, Config{})
	id := h.addPipeline(t, "fan", []string{"root:invert", "left:invert:sleep_ms=300", "right:invert:sleep_ms=300", "join:invert"},
		"root>left", "root>right", "left>join")
	ex := h.run(t, id)
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("status %v: %s", ex.GetStatus(), ex.GetError())
	}
	l, r := h.parts.spans("left")[0], h.parts.spans("right")[0]
	if !(l.start.Before(r.end) && r.start.Before(l.end)) {
		t.Fatalf("branches did not overlap: left %v..%v, right %v..%v", l.start, l.end, r.start, r.end)
	}
	checkEvents(t, h.bus.events(ex.GetExecutionId()), ex)
}

func TestRetryUnavailableThenSucceed(t *testing.T) {
	h := newHarness(t, Config{MaxAttempts: 3, BackoffBase: time.Millisecond, BackoffCap: 5 * time.Millisecond})
	id := h.addPipeline(t, "flaky", []string{fmt.Sprintf("a:invert:fail_code=%d,fail_times=2", codes.Unavailable), "b:invert"}, "a>b")
	ex := h.run(t, id)
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("status %v: %s", ex.GetStatus(), ex.GetError())
	}
	if got := nodeStatus(ex, "a").GetAttempts(); got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
	if n := len(h.parts.spans("a")); n != 3 {
		t.Errorf("server saw %d calls, want 3", n)
	}
	checkEvents(t, h.bus.events(ex.GetExecutionId()), ex)
}

func TestRetriesAreBounded(t *testing.T) {
	h := newHarness(t, Config{MaxAttempts: 2, BackoffBase: time.Millisecond, BackoffCap: time.Millisecond})
	id := h.addPipeline(t, "down", []string{fmt.Sprintf("a:invert:fail_code=%d,fail_times=-1", codes.ResourceExhausted)})
	ex := h.run(t, id)
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED || len(h.parts.spans("a")) != 2 {
		t.Fatalf("status %v after %d calls, want FAILED after 2", ex.GetStatus(), len(h.parts.spans("a")))
	}
	if !strings.Contains(ex.GetError(), "after 2 attempts") {
		t.Errorf("error %q does not count the attempts", ex.GetError())
	}
}

func TestNoRetryOnInvalidArgument(t *testing.T) {
	h := newHarness(t, Config{MaxAttempts: 5, BackoffBase: time.Millisecond})
	id := h.addPipeline(t, "bad", []string{fmt.Sprintf("a:invert:fail_code=%d,fail_times=-1", codes.InvalidArgument)})
	ex := h.run(t, id)
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED {
		t.Fatalf("status %v", ex.GetStatus())
	}
	if n := len(h.parts.spans("a")); n != 1 {
		t.Errorf("server saw %d calls, want 1 (InvalidArgument is terminal)", n)
	}
	if ns := nodeStatus(ex, "a"); ns.GetState() != failed || ns.GetAttempts() != 1 || !strings.Contains(ns.GetError(), "InvalidArgument") {
		t.Errorf("node a = %v", ns)
	}
	if !strings.Contains(ex.GetError(), "node a (invert) failed") {
		t.Errorf("execution error %q does not name the node", ex.GetError())
	}
	checkEvents(t, h.bus.events(ex.GetExecutionId()), ex)
}

func TestNodeDeadlineExceeded(t *testing.T) {
	// 300 ms leaves each attempt time to reach the server on a loaded
	// machine (with 50 ms an attempt could expire before the call arrived,
	// and the server then saw fewer than two); the part sleeps 5 s.
	h := newHarness(t, Config{NodeTimeout: 300 * time.Millisecond, MaxAttempts: 2, BackoffBase: time.Millisecond})
	id := h.addPipeline(t, "slow", []string{"a:invert:sleep_ms=5000"})
	start := time.Now()
	ex := h.run(t, id)
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %v: the per-node deadline was not applied", el)
	}
	ns := nodeStatus(ex, "a")
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED || ns.GetAttempts() != 2 || !strings.Contains(ns.GetError(), "DeadlineExceeded") {
		t.Fatalf("execution %v, node %v: want FAILED after 2 attempts with DeadlineExceeded", ex.GetStatus(), ns)
	}
	waitFor(t, "the server to see both attempts' deadlines", func() bool {
		sps := h.parts.spans("a")
		return len(sps) == 2 && sps[0].cancelled && sps[1].cancelled
	})
}

func TestCancelReachesRunningRPC(t *testing.T) {
	h := newHarness(t, Config{})
	id := h.addPipeline(t, "long", []string{"a:invert", "b:invert:sleep_ms=10000", "c:invert:sleep_ms=10000", "d:invert"},
		"a>b", "a>c", "b>d")
	ex, err := h.c.Submit(context.Background(), Request{PipelineID: id, Inputs: []string{"input"}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for !seen["b"] || !seen["c"] {
		select {
		case n := <-h.parts.started:
			seen[n] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("b and c never both started (saw %v)", seen)
		}
	}
	if err := h.c.Cancel(context.Background(), ex.GetExecutionId()); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	gotCancel := map[string]bool{}
	for len(gotCancel) < 2 {
		select {
		case n := <-h.parts.cancelled:
			gotCancel[n] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("the part service saw cancellation only on %v, want b and c", gotCancel)
		}
	}
	if !gotCancel["b"] || !gotCancel["c"] {
		t.Errorf("cancelled RPCs %v, want b and c", gotCancel)
	}
	final, err := h.c.Wait(context.Background(), ex.GetExecutionId())
	if err != nil {
		t.Fatal(err)
	}
	if final.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_CANCELLED || !strings.Contains(final.GetError(), "cancelled by request") {
		t.Fatalf("status %v error %q, want CANCELLED", final.GetStatus(), final.GetError())
	}
	for node, want := range map[string]ifcv1.NodeState{"a": succeeded, "b": cancelled, "c": cancelled, "d": cancelled} {
		if got := nodeStatus(final, node).GetState(); got != want {
			t.Errorf("node %s is %v, want %v", node, got, want)
		}
	}
	stored, _ := h.store.GetExecution(context.Background(), ex.GetExecutionId())
	if stored.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_CANCELLED {
		t.Errorf("stored status %v right after Cancel returned", stored.GetStatus())
	}
	checkEvents(t, h.bus.events(ex.GetExecutionId()), final)
	if err := h.c.Cancel(context.Background(), ex.GetExecutionId()); !errors.Is(err, ErrFinished) {
		t.Errorf("second Cancel: %v, want ErrFinished", err)
	}
	if err := h.c.Cancel(context.Background(), "nope"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("Cancel of unknown id: %v, want ErrNotFound", err)
	}
}

func TestAdmissionControl(t *testing.T) {
	h := newHarness(t, Config{MaxConcurrent: 2})
	id := h.addPipeline(t, "slow", []string{"a:invert:sleep_ms=10000"})
	var ids []string
	for range 2 {
		ex, err := h.c.Submit(context.Background(), Request{PipelineID: id, Inputs: []string{"input"}})
		if err != nil {
			t.Fatalf("Submit within capacity: %v", err)
		}
		ids = append(ids, ex.GetExecutionId())
	}
	start := time.Now()
	_, err := h.c.Submit(context.Background(), Request{PipelineID: id, Inputs: []string{"input"}})
	if !errors.Is(err, ErrOverloaded) {
		t.Fatalf("third Submit: %v, want ErrOverloaded", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("refusal took %v, want immediate", el)
	}
	p, _ := h.store.GetPipeline(context.Background(), id, 0)
	if _, err := h.c.ProcessFrame(context.Background(), p, &ifcv1.Image{Data: tinyJPEG, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}); !errors.Is(err, ErrOverloaded) {
		t.Errorf("ProcessFrame at capacity: %v, want ErrOverloaded", err)
	}
	for _, ex := range ids {
		if err := h.c.Cancel(context.Background(), ex); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.c.InFlight(); n != 0 {
		t.Fatalf("InFlight = %d after all ended", n)
	}
	fast := h.addPipeline(t, "fast", []string{"a:invert"})
	if ex := h.run(t, fast); ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("after capacity freed: %v", ex.GetStatus())
	}
}

func TestFailedNodeSkipsDescendants(t *testing.T) {
	h := newHarness(t, Config{})
	id := h.addPipeline(t, "partial", []string{
		"root:invert", fmt.Sprintf("bad:invert:fail_code=%d,fail_times=-1", codes.InvalidArgument),
		"child:invert", "grandchild:invert", "tail:invert", "other:invert:sleep_ms=100", "det:detect", "join:draw",
	}, "root>bad", "bad>child", "child>grandchild", "grandchild>tail", "root>other", "root>det", "other>join", "det>join")
	ex := h.run(t, id)
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED || !strings.Contains(ex.GetError(), "node bad") {
		t.Fatalf("status %v error %q, want FAILED naming node bad", ex.GetStatus(), ex.GetError())
	}
	want := map[string]ifcv1.NodeState{
		"root": succeeded, "bad": failed, "child": skipped, "grandchild": skipped, "tail": skipped,
		"other": succeeded, "det": succeeded, "join": succeeded,
	}
	for node, st := range want {
		if got := nodeStatus(ex, node).GetState(); got != st {
			t.Errorf("node %s = %v, want %v", node, got, st)
		}
	}
	if len(h.parts.spans("child")) != 0 {
		t.Errorf("a skipped node was called")
	}
	checkEvents(t, h.bus.events(ex.GetExecutionId()), ex)
}

// TestPersistenceOverlapsChildren checks that a node's children start while
// its output is still being stored, and that the node is SUCCEEDED (with
// its file id) only once the store has it.
func TestPersistenceOverlapsChildren(t *testing.T) {
	h := newHarness(t, Config{})
	h.files.beforePut = func(n int) error {
		if n != 1 {
			return nil
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(h.parts.spans("b")) == 0 {
			if time.Now().After(deadline) {
				return errors.New("child never started while the parent's output was being stored")
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	}
	id := h.addPipeline(t, "overlap", []string{"a:invert", "b:invert"}, "a>b")
	ex := h.run(t, id)
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("status %v: %s", ex.GetStatus(), ex.GetError())
	}
	for _, n := range []string{"a", "b"} {
		if nodeStatus(ex, n).GetOutputs().GetFileId() == "" {
			t.Errorf("node %s has no persisted output", n)
		}
	}
	checkEvents(t, h.bus.events(ex.GetExecutionId()), ex)
}

// TestPersistFailureFailsExecution checks that an output the store refused
// fails its node and the execution, even when children already ran.
func TestPersistFailureFailsExecution(t *testing.T) {
	h := newHarness(t, Config{})
	h.files.beforePut = func(n int) error {
		if n == 1 {
			return errors.New("disk full")
		}
		return nil
	}
	id := h.addPipeline(t, "persistfail", []string{"a:invert", "b:invert"}, "a>b")
	ex := h.run(t, id)
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED || !strings.Contains(ex.GetError(), "persist output of a") {
		t.Fatalf("status %v error %q, want FAILED naming the persistence of a", ex.GetStatus(), ex.GetError())
	}
	if got := nodeStatus(ex, "a").GetState(); got != failed {
		t.Errorf("node a = %v, want FAILED", got)
	}
	checkEvents(t, h.bus.events(ex.GetExecutionId()), ex)
}

func TestPersistOnlySinksWhenIntermediatesOff(t *testing.T) {
	off := false
	h := newHarness(t, Config{PersistIntermediates: &off})
	id := h.addPipeline(t, "p", []string{"a:invert", "b:invert:no_encode=1"}, "a>b")
	ex := h.run(t, id)
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("status %v: %s", ex.GetStatus(), ex.GetError())
	}
	if nodeStatus(ex, "a").GetOutputs().GetFileId() != "" || nodeStatus(ex, "b").GetOutputs().GetFileId() == "" {
		t.Errorf("want only the sink persisted: %v", ex.GetNodes())
	}
	if h.parts.spans("a")[0].req.GetEncodeOutput() {
		t.Errorf("intermediate node was asked to encode")
	}
	// b returned only a raw image: the conductor encoded it itself.
	if h.files.derived() != 1 {
		t.Errorf("%d files stored, want 1", h.files.derived())
	}
}

func TestShutdownCancelsRunningExecutions(t *testing.T) {
	h := newHarness(t, Config{})
	id := h.addPipeline(t, "long", []string{"a:invert:sleep_ms=10000"})
	ex, err := h.c.Submit(context.Background(), Request{PipelineID: id, Inputs: []string{"input"}})
	if err != nil {
		t.Fatal(err)
	}
	<-h.parts.started
	h.stop() // returns only once the execution is recorded
	stored, err := h.store.GetExecution(context.Background(), ex.GetExecutionId())
	if err != nil {
		t.Fatal(err)
	}
	if stored.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_CANCELLED || !strings.Contains(stored.GetError(), "shutting down") {
		t.Fatalf("stored %v %q, want CANCELLED by shutdown", stored.GetStatus(), stored.GetError())
	}
	if _, err := h.c.Submit(context.Background(), Request{PipelineID: id, Inputs: []string{"input"}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Run returned: %v, want ErrClosed", err)
	}
}

func TestWaitReadsFinishedExecutionsFromStore(t *testing.T) {
	h := newHarness(t, Config{})
	id := h.addPipeline(t, "p", []string{"a:invert"})
	ex := h.run(t, id)
	// A second conductor on the same store has never seen it.
	other, err := New(Config{}, h.c.deps)
	if err != nil {
		t.Fatal(err)
	}
	got, err := other.Wait(context.Background(), ex.GetExecutionId())
	if err != nil || got.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("Wait from store: %v %v", got.GetStatus(), err)
	}
	if _, err := other.Wait(context.Background(), "missing"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("Wait of unknown id: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	h.store.executions["stuck"] = &ifcv1.Execution{ExecutionId: "stuck", Status: ifcv1.ExecutionStatus_EXECUTION_STATUS_RUNNING}
	if _, err := other.Wait(ctx, "stuck"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait of a running execution elsewhere: %v, want deadline", err)
	}
	if err := other.Cancel(context.Background(), "stuck"); !errors.Is(err, ErrNotLocal) {
		t.Errorf("Cancel of an execution run elsewhere: %v", err)
	}
}

func TestSubmitErrors(t *testing.T) {
	h := newHarness(t, Config{})
	h.addPipeline(t, "ok", []string{"a:invert"})
	h.addPipeline(t, "cyclic", []string{"a:invert", "b:invert"}, "a>b", "b>a")
	h.addPipeline(t, "remote", []string{"a:remote"})
	h.files.add("text", []byte("hello"), "text/plain")
	tests := []struct {
		name string
		req  Request
		want error
	}{
		{"no pipeline", Request{Inputs: []string{"input"}}, ErrInvalidRequest},
		{"no input", Request{PipelineID: "ok"}, ErrInvalidRequest},
		{"two inputs", Request{PipelineID: "ok", Inputs: []string{"input", "input"}}, ErrInvalidRequest},
		{"unknown pipeline", Request{PipelineID: "nope", Inputs: []string{"input"}}, metadata.ErrNotFound},
		{"unknown version", Request{PipelineID: "ok", Version: 9, Inputs: []string{"input"}}, metadata.ErrNotFound},
		{"invalid pipeline", Request{PipelineID: "cyclic", Inputs: []string{"input"}}, pipeline.ErrInvalid},
		{"service missing", Request{PipelineID: "remote", Inputs: []string{"input"}}, ErrNoService},
		{"unknown input", Request{PipelineID: "ok", Inputs: []string{"nope"}}, metadata.ErrNotFound},
		{"input not an image", Request{PipelineID: "ok", Inputs: []string{"text"}}, ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h.c.Submit(context.Background(), tt.req); !errors.Is(err, tt.want) {
				t.Fatalf("Submit: %v, want %v", err, tt.want)
			}
		})
	}
	if n := h.c.InFlight(); n != 0 {
		t.Errorf("refused submissions leaked %d admission slots", n)
	}
	var ve *pipeline.ValidationError
	_, err := h.c.Submit(context.Background(), Request{PipelineID: "cyclic", Inputs: []string{"input"}})
	if !errors.As(err, &ve) || !strings.Contains(ve.Problems[0].Message, "cycle") {
		t.Errorf("invalid pipeline error %v does not carry the problems", err)
	}
}

func TestProcessFrame(t *testing.T) {
	h := newHarness(t, Config{})
	p := &ifcv1.Pipeline{Id: "rt", Version: 1, Definition: buildDef(t,
		[]string{"a:invert", "det:detect", "draw:draw:no_encode=1", "tail:boxes"}, []string{"a>det", "det>draw", "a>tail"})}
	for range 2 { // the second frame uses the cached plan
		frame, err := h.c.ProcessFrame(context.Background(), p, &ifcv1.Image{Data: tinyJPEG, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG})
		if err != nil {
			t.Fatal(err)
		}
		if frame.GetImage().GetFormat() != ifcv1.ImageFormat_IMAGE_FORMAT_JPEG || len(frame.GetImage().GetData()) == 0 {
			t.Errorf("frame image = %v, want the JPEG of draw", frame.GetImage().GetFormat())
		}
		if d := frame.GetDetections(); len(d) != 1 || d[0].GetLabel() != "tail" {
			t.Errorf("detections = %v, want tail's", d)
		}
		if frame.GetProcessingUs() <= 0 {
			t.Errorf("processing_us = %d", frame.GetProcessingUs())
		}
	}
	if got := h.parts.spans("a")[0].req.GetEncodeOutput(); got {
		t.Errorf("intermediate node asked to encode on the real-time path")
	}
	if h.files.derived() != 0 || len(h.bus.evs) != 0 || h.store.updates != 0 {
		t.Errorf("real-time path persisted or published something")
	}
	bad := &ifcv1.Pipeline{Definition: buildDef(t, []string{"x:invert:fail_code=3,fail_times=-1"}, nil)}
	if _, err := h.c.ProcessFrame(context.Background(), bad, &ifcv1.Image{Data: tinyJPEG, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}); err == nil || !strings.Contains(err.Error(), "node x") {
		t.Errorf("failing frame: %v, want an error naming node x", err)
	}
	invalid := &ifcv1.Pipeline{Definition: buildDef(t, []string{"x:nope"}, nil)}
	if _, err := h.c.ProcessFrame(context.Background(), invalid, &ifcv1.Image{Data: tinyJPEG}); !errors.Is(err, pipeline.ErrInvalid) {
		t.Errorf("invalid frame pipeline: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	slow := &ifcv1.Pipeline{Definition: buildDef(t, []string{"s:invert:sleep_ms=10000"}, nil)}
	go func() { <-h.parts.started; cancel() }()
	if _, err := h.c.ProcessFrame(ctx, slow, &ifcv1.Image{Data: tinyJPEG}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled frame: %v, want context.Canceled", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	deps := Deps{Store: newMemStore(), Files: &memFiles{}, Events: &memBus{}, Catalog: catalogForTests,
		Parts: map[string]ifcv1.PartServiceClient{"test": nil}}
	if _, err := New(Config{}, deps); err == nil {
		t.Error("nil part client accepted")
	}
	deps.Parts = nil
	if _, err := New(Config{}, deps); err == nil {
		t.Error("no part clients accepted")
	}
	for _, cfg := range []Config{{MaxConcurrent: -1}, {MaxAttempts: 11}, {BackoffBase: time.Second, BackoffCap: time.Millisecond}} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", cfg)
		}
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	c := &Conductor{cfg: Config{BackoffBase: 10 * time.Millisecond, BackoffCap: 80 * time.Millisecond}}
	for attempt, base := range map[int]time.Duration{1: 10, 2: 20, 3: 40, 4: 80, 5: 80, 30: 80} {
		base *= time.Millisecond
		for range 50 {
			if d := c.backoff(attempt); d < base/2 || d > base {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, base/2, base)
			}
		}
	}
	for _, code := range []codes.Code{codes.Unavailable, codes.ResourceExhausted, codes.Aborted, codes.DeadlineExceeded} {
		if !retryable(code) {
			t.Errorf("%v not retryable", code)
		}
	}
	for _, code := range []codes.Code{codes.InvalidArgument, codes.Internal, codes.NotFound, codes.Canceled, codes.Unknown} {
		if retryable(code) {
			t.Errorf("%v retryable", code)
		}
	}
}

func TestNodeUpdatesReachStore(t *testing.T) {
	h := newHarness(t, Config{NodeUpdateInterval: time.Nanosecond})
	id := h.addPipeline(t, "p", []string{"a:invert", "b:invert:sleep_ms=10000"}, "a>b")
	ex, err := h.c.Submit(context.Background(), Request{PipelineID: id, Inputs: []string{"input"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the store to show a SUCCEEDED and b RUNNING", func() bool {
		st, err := h.store.GetExecution(context.Background(), ex.GetExecutionId())
		return err == nil && nodeStatus(st, "a").GetState() == succeeded && nodeStatus(st, "b").GetState() == running &&
			st.GetStatus() == ifcv1.ExecutionStatus_EXECUTION_STATUS_RUNNING
	})
	if err := h.c.Cancel(context.Background(), ex.GetExecutionId()); err != nil {
		t.Fatal(err)
	}
}

func TestUnreadableInputFailsExecution(t *testing.T) {
	h := newHarness(t, Config{})
	h.files.add("garbage", []byte("not an image at all"), "image/jpeg")
	id := h.addPipeline(t, "p", []string{"a:invert", "b:invert"}, "a>b")
	ex, err := h.c.Submit(context.Background(), Request{PipelineID: id, Inputs: []string{"garbage"}})
	if err != nil {
		t.Fatal(err)
	}
	final, err := h.c.Wait(context.Background(), ex.GetExecutionId())
	if err != nil {
		t.Fatal(err)
	}
	if final.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED || !strings.Contains(final.GetError(), "not a JPEG or PNG") {
		t.Fatalf("status %v error %q", final.GetStatus(), final.GetError())
	}
	for _, ns := range final.GetNodes() {
		if ns.GetState() != skipped {
			t.Errorf("node %s is %v, want SKIPPED", ns.GetNodeId(), ns.GetState())
		}
	}
	if len(h.parts.spans("a")) != 0 {
		t.Error("a part was called without an input")
	}
	checkEvents(t, h.bus.events(ex.GetExecutionId()), final)
}

func TestHundredConcurrentExecutions(t *testing.T) {
	h := newHarness(t, Config{MaxConcurrent: 100})
	id := h.addPipeline(t, "diamond", []string{"a:invert", "b:detect", "c:invert:sleep_ms=20", "d:draw"}, "a>b", "a>c", "c>d", "b>d")
	ids := make([]string, 100)
	errs := make(chan error, 100)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ex, err := h.c.Submit(context.Background(), Request{PipelineID: id, Inputs: []string{"input"}})
			if err != nil {
				errs <- err
				return
			}
			ids[i] = ex.GetExecutionId()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Submit within capacity: %v", err)
	}
	for _, id := range ids {
		final, err := h.c.Wait(context.Background(), id)
		if err != nil || final.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
			t.Fatalf("execution %s: %v %v %s", id, final.GetStatus(), err, final.GetError())
		}
		checkEvents(t, h.bus.events(id), final)
	}
}

func TestInjectedClock(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	h := newHarness(t, Config{}, func(d *Deps) { d.Now = func() time.Time { return at } })
	ex := h.run(t, h.addPipeline(t, "p", []string{"a:invert"}))
	for name, ts := range map[string]time.Time{
		"created": ex.GetCreatedAt().AsTime(), "started": ex.GetStartedAt().AsTime(), "finished": ex.GetFinishedAt().AsTime(),
		"node started": ex.GetNodes()[0].GetStartedAt().AsTime(), "node finished": ex.GetNodes()[0].GetFinishedAt().AsTime(),
	} {
		if !ts.Equal(at) {
			t.Errorf("%s at %v, want the injected %v", name, ts, at)
		}
	}
	for _, ev := range h.bus.events(ex.GetExecutionId()) {
		if !ev.GetTs().AsTime().Equal(at) {
			t.Fatalf("event seq %d at %v", ev.GetSeq(), ev.GetTs().AsTime())
		}
	}
}

// failingBus refuses every event, as the Kafka bus does while its breaker
// is open.
type failingBus struct {
	mu sync.Mutex
	n  int
}

func (b *failingBus) Publish(context.Context, *ifcv1.ProgressEvent) error {
	b.mu.Lock()
	b.n++
	b.mu.Unlock()
	return errors.New("kafkabus: publish progress: kafka bus unavailable")
}

// TestPublishFailureIsNotFatal: progress is best effort; an execution
// whose every event is refused still runs and is recorded as usual.
func TestPublishFailureIsNotFatal(t *testing.T) {
	bus := &failingBus{}
	h := newHarness(t, Config{}, func(d *Deps) { d.Events = bus })
	id := h.addPipeline(t, "linear", []string{"a:invert", "b:detect", "c:draw"}, "a>b", "b>c")
	ex := h.run(t, id)
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("status %v, error %q; want SUCCEEDED with every publish failing", ex.GetStatus(), ex.GetError())
	}
	stored, err := h.store.GetExecution(context.Background(), ex.GetExecutionId())
	if err != nil || stored.GetStatus() != ex.GetStatus() {
		t.Errorf("stored record %v (%v), want SUCCEEDED", stored, err)
	}
	bus.mu.Lock()
	defer bus.mu.Unlock()
	if bus.n < 2+2*3 { // queued execution and nodes, running/succeeded per node, the end
		t.Errorf("%d publishes attempted, want every event tried", bus.n)
	}
}
