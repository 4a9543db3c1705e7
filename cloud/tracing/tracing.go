// Package tracing sets up OpenTelemetry tracing for a cloud-tier process.
//
// Decisions:
//   - Tracing is off unless tracing_endpoint names an OTLP/gRPC collector
//     (host:port, plaintext: the collector is expected beside the process or
//     inside the cluster network, like the part services). Off means Setup
//     installs nothing: OpenTelemetry's global provider stays the built-in
//     no-op, so instrumented code creates non-recording spans and nothing
//     is buffered or exported.
//   - When on, Setup installs the provider and the W3C trace-context (and
//     baggage) propagator globally. Instrumentation (otelgrpc stats handlers,
//     the conductor, the API's HTTP middleware) uses the global provider, so
//     it needs no wiring of its own and tests can install an in-memory
//     provider with Install.
//   - Spans are batched; Shutdown flushes what is buffered and stops the
//     exporter, so the last executions before a stop are not lost.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config selects where spans go.
type Config struct {
	// Endpoint is the OTLP/gRPC collector as host:port; empty turns tracing off.
	Endpoint string
	// ServiceName is the service.name resource attribute of every span.
	ServiceName string
}

// Tracing is the tracing set up for one process.
type Tracing struct {
	provider trace.TracerProvider
	shutdown func(context.Context) error
}

// ValidateEndpoint checks a tracing endpoint: empty, or host:port with a
// numeric port in 1..65535.
func ValidateEndpoint(endpoint string) error {
	if endpoint == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return fmt.Errorf("%q: want host:port of an OTLP/gRPC collector: %w", endpoint, err)
	}
	if host == "" {
		return fmt.Errorf("%q: want host:port of an OTLP/gRPC collector: missing host", endpoint)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number in 1..65535", endpoint, port)
	}
	return nil
}

// Setup validates cfg and, when an endpoint is set, installs a batching
// OTLP/gRPC tracer provider and the W3C propagator globally. With no
// endpoint it installs nothing and returns a Tracing whose provider is a
// no-op.
func Setup(ctx context.Context, cfg Config) (*Tracing, error) {
	if err := ValidateEndpoint(cfg.Endpoint); err != nil {
		return nil, fmt.Errorf("tracing_endpoint: %w", err)
	}
	if cfg.Endpoint == "" {
		return &Tracing{provider: noop.NewTracerProvider(), shutdown: func(context.Context) error { return nil }}, nil
	}
	if cfg.ServiceName == "" {
		return nil, errors.New("tracing: service name is required")
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(cfg.Endpoint), otlptracegrpc.WithInsecure())
	if err != nil {
		return nil, fmt.Errorf("tracing: create OTLP exporter for %s: %w", cfg.Endpoint, err)
	}
	res, err := resource.Merge(resource.Default(),
		resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName)))
	if err != nil {
		return nil, fmt.Errorf("tracing: build resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	Install(tp)
	return &Tracing{provider: tp, shutdown: tp.Shutdown}, nil
}

// Install makes tp the global tracer provider and W3C trace context plus
// baggage the global propagator.
func Install(tp trace.TracerProvider) {
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
}

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool {
	_, off := t.provider.(noop.TracerProvider)
	return !off
}

// Provider is the tracer provider Setup built (a no-op when tracing is off).
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }

// Shutdown flushes buffered spans and stops the exporter, bounded by ctx.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if err := t.shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}
