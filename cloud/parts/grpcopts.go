package parts

import (
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// window is the HTTP/2 flow-control window for image-carrying connections. gRPC's 64 KiB
// default makes a multi-megabyte RAW image wait for many window updates; a window the size
// of a large image lets it stream at memory speed on a LAN.
const window = 16 << 20

// ServerOptions are the gRPC server options a part service needs to carry images:
// message limits of MaxMessageSize, large flow-control windows and the OpenTelemetry
// stats handler, which continues the caller's trace (a no-op while tracing is off).
// Add credentials and interceptors beside them.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.InitialWindowSize(window),
		grpc.InitialConnWindowSize(window),
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
	}
}

// DialOptions are the matching client options for callers of part services (the
// conductor), with the OpenTelemetry stats handler that sends the caller's trace
// context along. Add transport credentials beside them.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
		grpc.WithInitialWindowSize(window),
		grpc.WithInitialConnWindowSize(window),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
		// Reconnect to a lost part service at most ~1s apart (gRPC's default
		// backoff grows to 120s): the conductor waits out an unreachable
		// service within the node deadline, and a restarted worker should
		// be found within about a second, not minutes later.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
}
