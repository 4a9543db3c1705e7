package tracing

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// collector is an OTLP/gRPC trace collector on a loopback port that keeps
// the spans it receives with their service.name.
type collector struct {
	collectorpb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans map[string]string // span name -> service.name
}

func (c *collector) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans[s.GetName()] = service
			}
		}
	}
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{spans: map[string]string{}}
	gs := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(gs, c)
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(ln) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	return c, ln.Addr().String()
}

// TestSetupExportsOnShutdown checks spans reach the collector, tagged with
// the service name, by the time Shutdown returns (the batcher is flushed).
func TestSetupExportsOnShutdown(t *testing.T) {
	c, addr := startCollector(t)
	t.Cleanup(func() { Install(noop.NewTracerProvider()) })
	tr, err := Setup(context.Background(), Config{Endpoint: addr, ServiceName: "ifc-test"})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Enabled() {
		t.Fatal("tracing with an endpoint reports disabled")
	}
	_, span := otel.Tracer("test").Start(context.Background(), "work")
	if !span.IsRecording() {
		t.Fatal("global tracer does not record after Setup")
	}
	span.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if got, ok := c.spans["work"]; !ok || got != "ifc-test" {
		t.Fatalf("collector has %v, want span work from service ifc-test", c.spans)
	}
}

// TestSetupOff leaves the global provider alone and records nothing.
func TestSetupOff(t *testing.T) {
	before := otel.GetTracerProvider()
	tr, err := Setup(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() {
		t.Error("tracing with no endpoint reports enabled")
	}
	if otel.GetTracerProvider() != before {
		t.Error("Setup with no endpoint replaced the global provider")
	}
	_, span := tr.Provider().Tracer("x").Start(context.Background(), "y")
	if span.IsRecording() {
		t.Error("span of the off provider records")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestValidateEndpoint(t *testing.T) {
	for _, tc := range []struct {
		endpoint, wantErr string
	}{
		{"", ""},
		{"127.0.0.1:4317", ""},
		{"otel-collector.observability:4317", ""},
		{"[::1]:4317", ""},
		{"collector", "want host:port"},
		{"http://collector:4317", "want host:port"},
		{":4317", "missing host"},
		{"collector:otlp", "not a number"},
		{"collector:0", "not a number in 1..65535"},
		{"collector:70000", "not a number in 1..65535"},
	} {
		err := ValidateEndpoint(tc.endpoint)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: unexpected error %v", tc.endpoint, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: err = %v, want one containing %q", tc.endpoint, err, tc.wantErr)
		}
	}
	if _, err := Setup(context.Background(), Config{Endpoint: "collector"}); err == nil || !strings.HasPrefix(err.Error(), "tracing_endpoint: ") {
		t.Errorf("Setup with a malformed endpoint: err = %v, want one naming tracing_endpoint", err)
	}
}
