package conductor

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span names and attribute keys of the conductor's traces. An execution
// span ("conductor.execution") is a child of the request that submitted
// it (REST or gRPC) even though the execution outlives the request; each
// node gets a "conductor.node" span under it and each call of the node's
// part service a "conductor.attempt" span, under which otelgrpc's client
// span and the part service's server span follow.
const (
	spanExecution = "conductor.execution"
	spanFrame     = "conductor.frame"
	spanNode      = "conductor.node"
	spanAttempt   = "conductor.attempt"

	attrExecutionID = attribute.Key("execution_id")
	attrPipelineID  = attribute.Key("pipeline_id")
	attrVersion     = attribute.Key("pipeline_version")
	attrNodeID      = attribute.Key("node_id")
	attrPart        = attribute.Key("part")
	attrAttempt     = attribute.Key("attempt")
	attrAttempts    = attribute.Key("attempts")
)

// tracerName identifies the conductor's instrumentation scope.
const tracerName = "github.com/imageflowcanvas/ifc/cloud/conductor"

// endSpan records err (if any) on span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
