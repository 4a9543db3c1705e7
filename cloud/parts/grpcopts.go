package parts

import "google.golang.org/grpc"

// window is the HTTP/2 flow-control window for image-carrying connections. gRPC's 64 KiB
// default makes a multi-megabyte RAW image wait for many window updates; a window the size
// of a large image lets it stream at memory speed on a LAN.
const window = 16 << 20

// ServerOptions are the gRPC server options a part service needs to carry images:
// message limits of MaxMessageSize and large flow-control windows. Add credentials and
// interceptors beside them.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.InitialWindowSize(window),
		grpc.InitialConnWindowSize(window),
	}
}

// DialOptions are the matching client options for callers of part services (the
// conductor). Add transport credentials beside them.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
		grpc.WithInitialWindowSize(window),
		grpc.WithInitialConnWindowSize(window),
	}
}
