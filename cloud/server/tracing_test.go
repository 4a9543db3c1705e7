package server

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/imageflowcanvas/ifc/cloud/tracing"
)

// installMemoryTracing makes an in-memory exporter the global destination
// of spans for the test, and restores a no-op provider afterwards.
func installMemoryTracing(t *testing.T) *tracetest.InMemoryExporter {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tracing.Install(tp)
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		tracing.Install(noop.NewTracerProvider())
	})
	return exp
}

func smallJPEG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := 0; y < 240; y++ {
		for x := 0; x < 320; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func attrOf(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// TestTracingAcrossServices runs the standard pipeline over REST and checks
// one trace spans the API request, the conductor's execution and node
// spans, and each part service's gRPC server span.
func TestTracingAcrossServices(t *testing.T) {
	exp := installMemoryTracing(t)
	h := startAllInOne(t)
	fileID := h.upload("small.jpg", smallJPEG(t))
	pipelineID := h.createStandardPipeline()
	var ex executionJSON
	h.do("POST", "/api/v1/executions?wait=true", "application/json",
		fmt.Sprintf(`{"pipeline_id":%q,"inputs":[%q]}`, pipelineID, fileID), http.StatusOK, &ex)
	if ex.Status != "succeeded" {
		t.Fatalf("execution %s ended %s: %s", ex.ExecutionID, ex.Status, ex.Error)
	}
	// Stopping waits for every handler and execution, so every span has ended.
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}

	spans := exp.GetSpans()
	byID := map[trace.SpanID]tracetest.SpanStub{}
	var execSpan *tracetest.SpanStub
	for i, s := range spans {
		byID[s.SpanContext.SpanID()] = s
		if s.Name == "conductor.execution" && attrOf(s, "execution_id") == ex.ExecutionID {
			execSpan = &spans[i]
		}
	}
	if execSpan == nil {
		t.Fatalf("no conductor.execution span with execution_id %s among %d spans", ex.ExecutionID, len(spans))
	}
	traceID := execSpan.SpanContext.TraceID()
	if got := attrOf(*execSpan, "pipeline_id"); got != pipelineID {
		t.Errorf("execution span pipeline_id = %q, want %q", got, pipelineID)
	}
	// ancestors names the spans above s, nearest first.
	ancestor := func(s tracetest.SpanStub, name string) (tracetest.SpanStub, bool) {
		for s.Parent.IsValid() {
			p, ok := byID[s.Parent.SpanID()]
			if !ok {
				return tracetest.SpanStub{}, false
			}
			if p.Name == name || strings.HasPrefix(p.Name, name) {
				return p, true
			}
			s = p
		}
		return tracetest.SpanStub{}, false
	}
	if api, ok := ancestor(*execSpan, "POST /api/v1/executions"); !ok || api.SpanKind != trace.SpanKindServer {
		t.Errorf("execution span is not under the API's POST /api/v1/executions server span")
	}

	nodes := map[string]bool{}
	servedParts := map[string]bool{}
	for _, s := range spans {
		if s.SpanContext.TraceID() != traceID {
			continue
		}
		switch {
		case s.Name == "conductor.node":
			if got := attrOf(s, "execution_id"); got != ex.ExecutionID {
				t.Errorf("node %s span execution_id = %q, want %q", attrOf(s, "node_id"), got, ex.ExecutionID)
			}
			nodes[attrOf(s, "node_id")+"/"+attrOf(s, "part")] = true
		case s.Name == "ifc.v1.PartService/Process" && s.SpanKind == trace.SpanKindServer:
			att, ok := ancestor(s, "conductor.attempt")
			if !ok {
				t.Errorf("part server span %s has no conductor.attempt ancestor", s.SpanContext.SpanID())
				continue
			}
			if got := attrOf(att, "execution_id"); got != ex.ExecutionID {
				t.Errorf("attempt span execution_id = %q, want %q", got, ex.ExecutionID)
			}
			servedParts[attrOf(att, "part")] = true
		}
	}
	for _, want := range []string{"resize/resize", "blur/gaussian_blur", "detect/detect"} {
		if !nodes[want] {
			t.Errorf("no node span %s in the execution's trace (have %v)", want, nodes)
		}
	}
	for _, want := range []string{"resize", "gaussian_blur", "detect"} {
		if !servedParts[want] {
			t.Errorf("no part service server span for %s in the execution's trace (have %v)", want, servedParts)
		}
	}
}

// TestTracingOffRecordsNothing runs the standard pipeline with no tracing
// endpoint in a process whose global provider is OpenTelemetry's default:
// the server neither installs a provider nor records spans, and the
// execution works as without tracing.
func TestTracingOffRecordsNothing(t *testing.T) {
	tracing.Install(noop.NewTracerProvider()) // what a process that never set up tracing has
	h := startAllInOne(t)
	if _, ok := otel.GetTracerProvider().(noop.TracerProvider); !ok {
		t.Fatalf("server with tracing off installed provider %T", otel.GetTracerProvider())
	}
	fileID := h.upload("small.jpg", smallJPEG(t))
	pipelineID := h.createStandardPipeline()
	var ex executionJSON
	h.do("POST", "/api/v1/executions?wait=true", "application/json",
		fmt.Sprintf(`{"pipeline_id":%q,"inputs":[%q]}`, pipelineID, fileID), http.StatusOK, &ex)
	if ex.Status != "succeeded" {
		t.Fatalf("execution ended %s: %s", ex.Status, ex.Error)
	}
	_, span := otel.Tracer("test").Start(context.Background(), "probe")
	if span.IsRecording() {
		t.Error("a span started with tracing off records")
	}
	span.End()
}

// TestTracingBadEndpoint rejects a malformed tracing_endpoint by name.
func TestTracingBadEndpoint(t *testing.T) {
	for _, ep := range []string{"collector", "collector:otlp", "http://collector:4317", ":4317", "collector:70000"} {
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.HTTPAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
		cfg.TracingEndpoint = ep
		cfg.Resolve()
		_, err := New(cfg, ModeAllInOne, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "tracing_endpoint") {
			t.Errorf("endpoint %q: err = %v, want a tracing_endpoint error", ep, err)
		}
		if _, err := tracing.Setup(context.Background(), tracing.Config{Endpoint: ep, ServiceName: "x"}); err == nil || !strings.Contains(err.Error(), "tracing_endpoint") {
			t.Errorf("Setup(%q): err = %v, want a tracing_endpoint error", ep, err)
		}
	}
}
