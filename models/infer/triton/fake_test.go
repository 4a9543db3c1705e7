package triton_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"
	"google.golang.org/grpc"

	"github.com/imageflowcanvas/ifc/models/infer/triton"
	"github.com/imageflowcanvas/ifc/proto/kserve"
)

// fakeServer is a KServe v2 server on a real loopback listener whose answers each test
// bends, for the failures a real Triton does not produce on demand.
type fakeServer struct {
	kserve.UnimplementedGRPCInferenceServiceServer
	notReady bool
	meta     func(*kserve.ModelMetadataResponse)
	infer    func(ctx context.Context, resp *kserve.ModelInferResponse) error
}

func (f *fakeServer) ServerReady(context.Context, *kserve.ServerReadyRequest) (*kserve.ServerReadyResponse, error) {
	return &kserve.ServerReadyResponse{Ready: !f.notReady}, nil
}

func (f *fakeServer) ModelReady(context.Context, *kserve.ModelReadyRequest) (*kserve.ModelReadyResponse, error) {
	return &kserve.ModelReadyResponse{Ready: true}, nil
}

func tensor(name string, shape ...int64) *kserve.ModelMetadataResponse_TensorMetadata {
	return &kserve.ModelMetadataResponse_TensorMetadata{Name: name, Datatype: "FP32", Shape: shape}
}

func (f *fakeServer) ModelMetadata(_ context.Context, r *kserve.ModelMetadataRequest) (*kserve.ModelMetadataResponse, error) {
	md := &kserve.ModelMetadataResponse{
		Name:    r.GetName(),
		Inputs:  []*kserve.ModelMetadataResponse_TensorMetadata{tensor("images", 1, 3, 320, 320)},
		Outputs: []*kserve.ModelMetadataResponse_TensorMetadata{tensor("heatmap", 1, 5, 80, 80), tensor("wh", 1, 2, 80, 80), tensor("offset", 1, 2, 80, 80)},
	}
	if f.meta != nil {
		f.meta(md)
	}
	return md, nil
}

func (f *fakeServer) ModelInfer(ctx context.Context, r *kserve.ModelInferRequest) (*kserve.ModelInferResponse, error) {
	resp := &kserve.ModelInferResponse{ModelName: r.GetModelName()}
	for _, o := range []struct {
		name  string
		shape []int64
	}{{"heatmap", []int64{1, 5, 80, 80}}, {"wh", []int64{1, 2, 80, 80}}, {"offset", []int64{1, 2, 80, 80}}} {
		n := 4
		for _, s := range o.shape {
			n *= int(s)
		}
		resp.Outputs = append(resp.Outputs, &kserve.ModelInferResponse_InferOutputTensor{Name: o.name, Datatype: "FP32", Shape: o.shape})
		resp.RawOutputContents = append(resp.RawOutputContents, make([]byte, n))
	}
	if f.infer != nil {
		if err := f.infer(ctx, resp); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

func (f *fakeServer) start(t *testing.T) string {
	t.Helper()
	return "triton://" + f.serve(t, "127.0.0.1:0") + "/detector"
}

// serve serves f on addr until the returned stop func or the test's end; it returns the address.
func (f *fakeServer) serve(t *testing.T, addr string) string {
	t.Helper()
	stop := f.serveStoppable(t, addr)
	t.Cleanup(stop.stop)
	return stop.addr
}

type served struct {
	addr string
	stop func()
}

func (f *fakeServer) serveStoppable(t *testing.T, addr string) served {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	kserve.RegisterGRPCInferenceServiceServer(s, f)
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ln) }()
	var once sync.Once
	return served{addr: ln.Addr().String(), stop: func() { once.Do(func() { s.Stop(); <-done }) }}
}

func dialFake(t *testing.T, f *fakeServer, opt triton.Options) (*triton.Detector, error) {
	t.Helper()
	opt.SkipGoldenCheck = true
	d, err := triton.Dial(context.Background(), f.start(t), detectorBundle(t), opt)
	if err == nil {
		t.Cleanup(func() { d.Close() })
	}
	return d, err
}

func TestDialRefusesBadServers(t *testing.T) {
	cases := []struct {
		name string
		f    *fakeServer
		is   error
		msg  string
	}{
		{"server not ready", &fakeServer{notReady: true}, triton.ErrNotReady, "not ready"},
		{"output is FP16", &fakeServer{meta: func(m *kserve.ModelMetadataResponse) { m.Outputs[1].Datatype = "FP16" }},
			triton.ErrModelMismatch, `output "wh" is FP16, want FP32`},
		{"output missing", &fakeServer{meta: func(m *kserve.ModelMetadataResponse) { m.Outputs = m.Outputs[:2] }},
			triton.ErrModelMismatch, `no output "offset"`},
		{"two inputs", &fakeServer{meta: func(m *kserve.ModelMetadataResponse) { m.Inputs = append(m.Inputs, tensor("extra", 1)) }},
			triton.ErrModelMismatch, "2 inputs"},
		{"input renamed", &fakeServer{meta: func(m *kserve.ModelMetadataResponse) { m.Inputs[0].Name = "input" }},
			triton.ErrModelMismatch, `input is "input", bundle's is "images"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := dialFake(t, c.f, triton.Options{})
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Dial: %v, want %v mentioning %q", err, c.is, c.msg)
			}
		})
	}
}

func TestDetectRefusesBadAnswers(t *testing.T) {
	cases := []struct {
		name  string
		infer func(context.Context, *kserve.ModelInferResponse) error
		msg   string
	}{
		{"typed contents instead of raw", func(_ context.Context, r *kserve.ModelInferResponse) error {
			r.RawOutputContents = nil
			return nil
		}, "0 raw output contents"},
		{"short tensor", func(_ context.Context, r *kserve.ModelInferResponse) error {
			r.RawOutputContents[0] = r.RawOutputContents[0][:100]
			return nil
		}, `output "heatmap" has 100 bytes`},
		{"wrong shape", func(_ context.Context, r *kserve.ModelInferResponse) error {
			r.Outputs[2].Shape = []int64{1, 2, 40, 40}
			return nil
		}, `output "offset" has shape [1 2 40 40]`},
	}
	img := gocv.NewMatWithSize(480, 640, gocv.MatTypeCV8UC3)
	defer img.Close()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := dialFake(t, &fakeServer{infer: c.infer}, triton.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Detect(img); err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Detect: %v, want an error mentioning %q", err, c.msg)
			}
		})
	}
	t.Run("all zero outputs give no detections", func(t *testing.T) {
		d, err := dialFake(t, &fakeServer{}, triton.Options{})
		if err != nil {
			t.Fatal(err)
		}
		dets, err := d.Detect(img)
		if err != nil || len(dets) != 0 {
			t.Fatalf("Detect = %v, %v; want no detections", dets, err)
		}
	})
}

// TestDetectDeadlineAndCancel: a server that never answers costs at most Options.Timeout,
// and a cancelled caller stops waiting at once.
func TestDetectDeadlineAndCancel(t *testing.T) {
	hang := func(ctx context.Context, _ *kserve.ModelInferResponse) error { <-ctx.Done(); return ctx.Err() }
	d, err := dialFake(t, &fakeServer{infer: hang}, triton.Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	img := gocv.NewMatWithSize(480, 640, gocv.MatTypeCV8UC3)
	defer img.Close()
	start := time.Now()
	if _, err := d.Detect(img); !errors.Is(err, triton.ErrUnreachable) {
		t.Fatalf("Detect on a hung server: %v, want ErrUnreachable", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Detect took %v with a 300ms timeout", el)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.DetectContext(ctx, img); !errors.Is(err, context.Canceled) {
		t.Fatalf("DetectContext with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestDetectResumesAfterRestart: while the server is down Detect fails with ErrUnreachable
// within its timeout; once a server is back on the same address, the next Detect succeeds
// without a new Dial.
func TestDetectResumesAfterRestart(t *testing.T) {
	f := &fakeServer{}
	first := f.serveStoppable(t, "127.0.0.1:0")
	d, err := triton.Dial(context.Background(), "triton://"+first.addr+"/detector", detectorBundle(t),
		triton.Options{SkipGoldenCheck: true, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	img := gocv.NewMatWithSize(480, 640, gocv.MatTypeCV8UC3)
	defer img.Close()
	if _, err := d.Detect(img); err != nil {
		t.Fatal(err)
	}
	first.stop()
	if _, err := d.Detect(img); !errors.Is(err, triton.ErrUnreachable) {
		t.Fatalf("Detect while the server is down: %v, want ErrUnreachable", err)
	}
	f.serve(t, first.addr)
	var lastErr error
	for range 20 { // each attempt waits up to the 500ms timeout for the reconnect
		if _, lastErr = d.Detect(img); lastErr == nil {
			return
		}
	}
	t.Fatalf("Detect never recovered after the server came back: %v", lastErr)
}
