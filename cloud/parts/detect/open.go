package detect

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/detector"
	"github.com/imageflowcanvas/ifc/models/infer"
	"github.com/imageflowcanvas/ifc/models/infer/triton"
)

// DefaultBackend is the detection backend used when none is configured: the embedded
// detector on ONNX Runtime in process.
const DefaultBackend = "onnx:"

// Open returns a detect handler on the inference backend named by backend:
//
//	"" or onnx:                        embedded detector, ONNX Runtime in process (default)
//	onnx:///path/to/bundle             a bundle directory, ONNX Runtime in process
//	triton://host:port/model[/version] the embedded detector's pre/post-processing in
//	                                   process, its network on Triton (KServe v2 gRPC)
//
// Both kinds run the bundle's golden check before the handler is returned; Triton's model
// must also have the bundle's tensors. Close releases the backend. ctx bounds the
// connection and checks (not later calls).
//
// The two backends are a switch, not a scheme registry as for stores and buses: both live
// in this repository, the detect part imports both, and there is nothing to plug in.
func Open(ctx context.Context, backend string, opt infer.Options) (*Handler, error) {
	if backend == "" {
		backend = DefaultBackend
	}
	u, err := url.Parse(backend)
	if err != nil {
		return nil, fmt.Errorf("detect backend %q: %w", backend, err)
	}
	switch u.Scheme {
	case "onnx":
		if u.Host != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return nil, fmt.Errorf("detect backend %q: want onnx: or onnx:///path/to/bundle", backend)
		}
		if u.Path == "" {
			return NewEmbedded(opt)
		}
		b, err := bundle.LoadDir(u.Path)
		if err != nil {
			return nil, fmt.Errorf("detect backend %q: %w", backend, err)
		}
		return NewFromBundle(b, opt)
	case triton.Scheme:
		b, err := bundle.LoadFS(detector.FS)
		if err != nil {
			return nil, fmt.Errorf("load embedded detector bundle: %w", err)
		}
		return NewTriton(ctx, backend, b, triton.Options{Logger: opt.Logger, SkipGoldenCheck: opt.SkipGoldenCheck})
	default:
		return nil, fmt.Errorf("detect backend %q: unknown scheme %q (want onnx: or triton://host:port/model)", backend, u.Scheme)
	}
}

// NewTriton returns a handler whose network runs on the Triton model at rawURL
// (triton://host:port/model[/version]), with b's preprocessing, decoding and threshold.
// Close releases the connection.
func NewTriton(ctx context.Context, rawURL string, b *bundle.Bundle, opt triton.Options) (*Handler, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	det, err := triton.Dial(ctx, rawURL, b, opt)
	if err != nil {
		return nil, fmt.Errorf("open triton detector: %w", err)
	}
	m := det.Manifest()
	return owning(det, m.Threshold, m.Name+"@"+m.Version+" on "+det.Target().String())
}
