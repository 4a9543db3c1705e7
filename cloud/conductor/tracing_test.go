package conductor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	grpccodes "google.golang.org/grpc/codes"
)

func spanAttr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// TestTracingSpans checks the execution, node and attempt spans: they
// continue the submitter's trace, carry execution_id, pipeline_id,
// node_id, part and attempt, and record the errors of failed attempts and
// nodes.
func TestTracingSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := newHarness(t, Config{BackoffBase: time.Millisecond, BackoffCap: time.Millisecond}, func(d *Deps) { d.Tracer = tp })
	id := h.addPipeline(t, "traced", []string{
		fmt.Sprintf("a:invert:fail_code=%d,fail_times=1", grpccodes.Unavailable),
		fmt.Sprintf("b:invert:fail_code=%d,fail_times=-1", grpccodes.InvalidArgument),
	}, "a>b")

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	ex, err := h.c.Submit(ctx, Request{PipelineID: id, Inputs: []string{"input"}})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	final, err := h.c.Wait(wctx, ex.GetExecutionId())
	if err != nil {
		t.Fatal(err)
	}
	if final.GetStatus().String() != "EXECUTION_STATUS_FAILED" {
		t.Fatalf("status %v, want failed", final.GetStatus())
	}

	var exec tracetest.SpanStub
	nodes := map[string]tracetest.SpanStub{}
	attempts := map[string][]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		switch s.Name {
		case spanExecution:
			exec = s
		case spanNode:
			nodes[spanAttr(s, "node_id")] = s
		case spanAttempt:
			attempts[spanAttr(s, "node_id")] = append(attempts[spanAttr(s, "node_id")], s)
		}
	}
	if exec.Parent.SpanID() != parent.SpanContext().SpanID() || exec.SpanContext.TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("execution span is not a child of the submitting request's span")
	}
	if got := spanAttr(exec, "execution_id"); got != ex.GetExecutionId() {
		t.Errorf("execution span execution_id = %q, want %q", got, ex.GetExecutionId())
	}
	if got := spanAttr(exec, "pipeline_id"); got != id {
		t.Errorf("execution span pipeline_id = %q, want %q", got, id)
	}
	if exec.Status.Code != codes.Error {
		t.Errorf("failed execution's span status = %v, want Error", exec.Status)
	}
	for _, n := range []string{"a", "b"} {
		s, ok := nodes[n]
		if !ok {
			t.Fatalf("no span for node %s", n)
		}
		if s.Parent.SpanID() != exec.SpanContext.SpanID() {
			t.Errorf("node %s span is not a child of the execution span", n)
		}
		if spanAttr(s, "execution_id") != ex.GetExecutionId() || spanAttr(s, "pipeline_id") != id || spanAttr(s, "part") != "invert" {
			t.Errorf("node %s span attributes %v", n, s.Attributes)
		}
		for _, a := range attempts[n] {
			if a.Parent.SpanID() != s.SpanContext.SpanID() || spanAttr(a, "execution_id") != ex.GetExecutionId() {
				t.Errorf("attempt of %s: parent/attributes wrong: %v", n, a.Attributes)
			}
		}
	}
	// a: first attempt Unavailable (error recorded), second succeeded.
	if a := attempts["a"]; len(a) != 2 || a[0].Status.Code != codes.Error || spanAttr(a[0], "attempt") != "1" ||
		a[1].Status.Code == codes.Error || spanAttr(a[1], "attempt") != "2" {
		t.Errorf("node a attempts = %+v, want a failed attempt 1 then a good attempt 2", a)
	}
	if s := nodes["a"]; s.Status.Code == codes.Error || spanAttr(s, "attempts") != "2" {
		t.Errorf("node a span status %v attempts %s, want ok after 2", s.Status, spanAttr(s, "attempts"))
	}
	// b: terminal InvalidArgument, one attempt, error recorded as an event.
	b := nodes["b"]
	if b.Status.Code != codes.Error || len(attempts["b"]) != 1 || len(b.Events) == 0 || b.Events[0].Name != "exception" {
		t.Errorf("node b span status %v events %v attempts %d, want an error with an exception event after 1 attempt",
			b.Status, b.Events, len(attempts["b"]))
	}
}
