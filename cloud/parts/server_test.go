package parts_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"gocv.io/x/gocv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts"
	"github.com/imageflowcanvas/ifc/cloud/parts/detect"
	"github.com/imageflowcanvas/ifc/cloud/parts/filter"
	"github.com/imageflowcanvas/ifc/cloud/parts/imageio"
	"github.com/imageflowcanvas/ifc/cloud/parts/internal/testimg"
	"github.com/imageflowcanvas/ifc/cloud/parts/resize"
	"github.com/imageflowcanvas/ifc/models/infer"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs srv on a real gRPC listener on 127.0.0.1:0 and returns a connected client;
// the server is stopped and its goroutine waited for at cleanup.
func serve(t testing.TB, srv ifcv1.PartServiceServer) ifcv1.PartServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(parts.ServerOptions()...)
	ifcv1.RegisterPartServiceServer(gs, srv)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := gs.Serve(lis); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	conn, err := grpc.NewClient(lis.Addr().String(),
		append(parts.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		gs.GracefulStop()
		wg.Wait()
	})
	return ifcv1.NewPartServiceClient(conn)
}

type fakeDetector struct{ dets []infer.Detection }

func (f fakeDetector) Detect(gocv.Mat) ([]infer.Detection, error) { return f.dets, nil }

func newServer(t *testing.T, handlers ...parts.Handler) *parts.Server {
	t.Helper()
	srv, err := parts.NewServer(slog.New(slog.DiscardHandler), catalog.Default(), handlers...)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func allHandlers(t *testing.T) []parts.Handler {
	d, err := detect.New(fakeDetector{dets: []infer.Detection{{Label: "scratch", Score: 0.9, Box: infer.Box{X: 1, Y: 2, W: 10, H: 5}}}}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	return []parts.Handler{resize.New(), filter.New(), d}
}

func params(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sceneJPEG(w, h int) []byte {
	m := testimg.Scene(w, h, 4, 1)
	defer m.Close()
	return testimg.JPEG(m)
}

// TestPipelineOverGRPC runs JPEG -> resize (letterbox) -> gaussian_blur -> grayscale ->
// detect through real gRPC, passing RAW images between nodes as the conductor does.
func TestPipelineOverGRPC(t *testing.T) {
	client := serve(t, newServer(t, allHandlers(t)...))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	r, err := client.Process(ctx, &ifcv1.ProcessRequest{
		Part:         "resize",
		Params:       params(t, map[string]any{"width": 160, "height": 160, "letterbox": true}),
		Images:       []*ifcv1.Image{{Data: sceneJPEG(320, 180), Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}},
		EncodeOutput: true,
		ExecutionId:  "exec-1", NodeId: "resize",
	})
	if err != nil {
		t.Fatal(err)
	}
	img := r.GetImage()
	if img.GetFormat() != ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8 || img.GetWidth() != 160 || img.GetHeight() != 160 || len(img.GetData()) != 160*160*3 {
		t.Fatalf("resize output %v %dx%d %d bytes", img.GetFormat(), img.GetWidth(), img.GetHeight(), len(img.GetData()))
	}
	enc := r.GetEncoded()
	if enc.GetFormat() != ifcv1.ImageFormat_IMAGE_FORMAT_JPEG || !bytes.HasPrefix(enc.GetData(), []byte{0xFF, 0xD8}) {
		t.Fatalf("encoded output %v", enc.GetFormat())
	}
	if h, err := imageio.ReadHeader(enc.GetData()); err != nil || h.Width != 160 || h.Height != 160 {
		t.Fatalf("encoded JPEG header %+v, %v", h, err)
	}

	r, err = client.Process(ctx, &ifcv1.ProcessRequest{Part: "gaussian_blur", Images: []*ifcv1.Image{img}})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetEncoded() != nil {
		t.Error("encoded output without encode_output")
	}
	r, err = client.Process(ctx, &ifcv1.ProcessRequest{Part: "grayscale", Images: []*ifcv1.Image{r.GetImage()}})
	if err != nil {
		t.Fatal(err)
	}
	if g := r.GetImage(); g.GetFormat() != ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8 || len(g.GetData()) != 160*160 {
		t.Fatalf("grayscale output %v, %d bytes", g.GetFormat(), len(g.GetData()))
	}
	r, err = client.Process(ctx, &ifcv1.ProcessRequest{Part: "detect", Images: []*ifcv1.Image{r.GetImage()}, EncodeOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.GetDetections()) != 1 || r.GetDetections()[0].GetLabel() != "scratch" {
		t.Fatalf("detections %v", r.GetDetections())
	}
	if r.GetImage().GetFormat() != ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8 || r.GetEncoded() == nil {
		t.Errorf("annotated output %v, encoded %v", r.GetImage().GetFormat(), r.GetEncoded() != nil)
	}
}

func TestListParts(t *testing.T) {
	client := serve(t, newServer(t, resize.New(), filter.New()))
	resp, err := client.ListParts(context.Background(), &ifcv1.ListPartsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetParts()); n != 10 {
		t.Errorf("resize+filter serve %d parts, want 10", n)
	}
	for _, p := range resp.GetParts() {
		if p.GetService() == "detect" || p.GetParamsSchemaJson() == "" {
			t.Errorf("listed %s (%s)", p.GetId(), p.GetService())
		}
	}
}

func TestProcessErrorsOverGRPC(t *testing.T) {
	client := serve(t, newServer(t, resize.New(), filter.New()))
	good := sceneJPEG(64, 48)
	jpeg := func(data []byte) []*ifcv1.Image {
		return []*ifcv1.Image{{Data: data, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}}
	}
	corrupt := append([]byte(nil), good...)
	sof := bytes.Index(corrupt, []byte{0xFF, 0xC0})
	corrupt[sof+4] = 9 // invalid sample precision
	bomb := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(bomb[sof+5:], 20000)
	binary.BigEndian.PutUint16(bomb[sof+7:], 20000)

	tests := []struct {
		name string
		req  *ifcv1.ProcessRequest
		code codes.Code
		msg  string
	}{
		{"corrupt jpeg", &ifcv1.ProcessRequest{Part: "grayscale", Images: jpeg(corrupt)}, codes.InvalidArgument, "corrupt"},
		{"truncated jpeg", &ifcv1.ProcessRequest{Part: "grayscale", Images: jpeg(good[:len(good)/2])}, codes.InvalidArgument, "truncated"},
		{"20000x20000 bomb", &ifcv1.ProcessRequest{Part: "grayscale", Images: jpeg(bomb)}, codes.InvalidArgument, "20000x20000"},
		{"non-image bytes", &ifcv1.ProcessRequest{Part: "grayscale", Images: []*ifcv1.Image{{Data: []byte("hello, world")}}}, codes.InvalidArgument, "not a JPEG or PNG"},
		{"out-of-range param", &ifcv1.ProcessRequest{Part: "resize", Params: params(t, map[string]any{"width": 9000}), Images: jpeg(good)}, codes.InvalidArgument, "width: must be <= 8192"},
		{"even kernel", &ifcv1.ProcessRequest{Part: "median_blur", Params: params(t, map[string]any{"ksize": 4}), Images: jpeg(good)}, codes.InvalidArgument, "ksize: must be odd"},
		{"unknown param", &ifcv1.ProcessRequest{Part: "canny", Params: params(t, map[string]any{"sigma": 1}), Images: jpeg(good)}, codes.InvalidArgument, "unknown parameter"},
		{"crop outside image", &ifcv1.ProcessRequest{Part: "crop", Params: params(t, map[string]any{"x": 60, "width": 10, "height": 10}), Images: jpeg(good)}, codes.InvalidArgument, "x+width must be <= image width 64"},
		{"no image", &ifcv1.ProcessRequest{Part: "grayscale"}, codes.InvalidArgument, "takes 1 image(s), got 0"},
		{"two images", &ifcv1.ProcessRequest{Part: "grayscale", Images: append(jpeg(good), jpeg(good)...)}, codes.InvalidArgument, "got 2"},
		{"unknown part", &ifcv1.ProcessRequest{Part: "sharpen", Images: jpeg(good)}, codes.NotFound, "sharpen"},
		{"part of another service", &ifcv1.ProcessRequest{Part: "detect", Images: jpeg(good)}, codes.Unimplemented, "runs on the detect service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.Process(context.Background(), tt.req)
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("code %v (%v), want %v", st.Code(), err, tt.code)
			}
			if !bytes.Contains([]byte(st.Message()), []byte(tt.msg)) {
				t.Errorf("message %q, want it to contain %q", st.Message(), tt.msg)
			}
		})
	}
}

// slowHandler claims the detect part and takes its time, or fails.
type slowHandler struct {
	delay time.Duration
	err   error
}

func (slowHandler) Service() string { return "detect" }
func (slowHandler) Parts() []string { return []string{"detect"} }
func (h slowHandler) Process(ctx context.Context, req *parts.Request) (*parts.Result, error) {
	time.Sleep(h.delay)
	if h.err != nil {
		return nil, h.err
	}
	return &parts.Result{Image: req.Images[0].Clone()}, nil
}

func TestProcessContextAndInternal(t *testing.T) {
	raw := &ifcv1.Image{Data: make([]byte, 8*8*3), Format: ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8, Width: 8, Height: 8}
	req := &ifcv1.ProcessRequest{Part: "detect", Images: []*ifcv1.Image{raw}}

	srv := newServer(t, slowHandler{delay: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := srv.Process(ctx, req); status.Code(err) != codes.Canceled {
		t.Errorf("cancelled: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := srv.Process(ctx, req); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("deadline: %v", err)
	}

	srv = newServer(t, slowHandler{err: errors.New("onnx session exploded")})
	if _, err := srv.Process(context.Background(), req); status.Code(err) != codes.Internal {
		t.Errorf("handler failure: %v", err)
	}
}

func TestNewServerRejectsBadHandlers(t *testing.T) {
	cat := catalog.Default()
	for name, hs := range map[string][]parts.Handler{
		"duplicate":     {filter.New(), filter.New()},
		"wrong service": {wrongService{}},
		"unknown part":  {unknownPart{}},
		"nil":           {nil},
	} {
		if _, err := parts.NewServer(nil, cat, hs...); err == nil {
			t.Errorf("%s: NewServer accepted it", name)
		}
	}
	if _, err := parts.NewServer(nil, nil); err == nil {
		t.Error("NewServer accepted a nil catalogue")
	}
}

type wrongService struct{ slowHandler }

func (wrongService) Service() string { return "filter" }

type unknownPart struct{ slowHandler }

func (unknownPart) Parts() []string { return []string{"sharpen"} }

func TestRawPassthroughIsNotCopied(t *testing.T) {
	d, _ := detect.New(fakeDetector{}, 0.5)
	srv := newServer(t, d)
	raw := &ifcv1.Image{Data: make([]byte, 8*8*3), Format: ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8, Width: 8, Height: 8}
	resp, err := srv.Process(context.Background(), &ifcv1.ProcessRequest{
		Part: "detect", Params: params(t, map[string]any{"annotate": false}), Images: []*ifcv1.Image{raw},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetImage() != raw {
		t.Error("unchanged raw input was copied")
	}
}

// blockingHandler holds each call until release is closed.
type blockingHandler struct {
	started chan struct{}
	release chan struct{}
}

func (blockingHandler) Service() string { return "detect" }
func (blockingHandler) Parts() []string { return []string{"detect"} }
func (h blockingHandler) Process(ctx context.Context, req *parts.Request) (*parts.Result, error) {
	h.started <- struct{}{}
	<-h.release
	return &parts.Result{}, nil
}

func TestAdmissionControl(t *testing.T) {
	h := blockingHandler{started: make(chan struct{}, 2), release: make(chan struct{})}
	srv := newServer(t, h)
	srv.SetMaxInFlight(2)
	srv.SetMaxWaiting(0)
	client := serve(t, srv)
	raw := &ifcv1.Image{Data: make([]byte, 4), Format: ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8, Width: 2, Height: 2}
	req := &ifcv1.ProcessRequest{Part: "detect", Images: []*ifcv1.Image{raw}}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := client.Process(context.Background(), req)
			errs <- err
		}()
	}
	<-h.started
	<-h.started
	_, err := client.Process(context.Background(), req)
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("third call: %v, want ResourceExhausted", err)
	}
	close(h.release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("admitted call: %v", err)
		}
	}
	if _, err := client.Process(context.Background(), req); err != nil {
		t.Errorf("after release: %v", err)
	}
}

// TestBusyCallsWait checks that a call beyond the running limit waits for a
// turn and succeeds, while a call beyond the waiting bound is refused.
func TestBusyCallsWait(t *testing.T) {
	h := blockingHandler{started: make(chan struct{}, 3), release: make(chan struct{})}
	srv := newServer(t, h)
	srv.SetMaxInFlight(1)
	srv.SetMaxWaiting(1)
	client := serve(t, srv)
	raw := &ifcv1.Image{Data: make([]byte, 4), Format: ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8, Width: 2, Height: 2}
	req := &ifcv1.ProcessRequest{Part: "detect", Images: []*ifcv1.Image{raw}}
	errs := make(chan error, 2)
	go func() { _, err := client.Process(context.Background(), req); errs <- err }()
	<-h.started
	go func() { _, err := client.Process(context.Background(), req); errs <- err }()
	// Wait until the second call is queued, then a third is over the bound.
	for srv.Waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := client.Process(context.Background(), req); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("call beyond the waiting bound: %v, want ResourceExhausted", err)
	}
	close(h.release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("running or waiting call: %v", err)
		}
	}
}

func TestParseServices(t *testing.T) {
	cat := catalog.Default()
	got, err := parts.ParseServices(" resize, filter,resize", cat)
	if err != nil || len(got) != 2 || got[0] != "resize" || got[1] != "filter" {
		t.Errorf("got %v, %v", got, err)
	}
	if all, _ := parts.ParseServices("", cat); len(all) != 3 {
		t.Errorf("empty list gave %v", all)
	}
	if _, err := parts.ParseServices("resize,sharpen", cat); err == nil {
		t.Error("accepted an unknown service")
	}
}

func benchRequest(b *testing.B) *ifcv1.ProcessRequest {
	m := testimg.Scene(1920, 1080, 8, 1)
	defer m.Close()
	raw, err := imageio.ToRaw(m)
	if err != nil {
		b.Fatal(err)
	}
	p, _ := structpb.NewStruct(map[string]any{"width": 640, "height": 640, "letterbox": true})
	return &ifcv1.ProcessRequest{Part: "resize", Params: p, Images: []*ifcv1.Image{raw}}
}

// BenchmarkProcessResizeRaw1080p is one resize node in process: validate, wrap the raw
// 1080p input, letterbox to 640, copy the raw output.
func BenchmarkProcessResizeRaw1080p(b *testing.B) {
	srv, _ := parts.NewServer(nil, catalog.Default(), resize.New())
	req := benchRequest(b)
	for b.Loop() {
		if _, err := srv.Process(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProcessResizeRaw1080pGRPC is the same node through gRPC on loopback (6.2 MB in).
func BenchmarkProcessResizeRaw1080pGRPC(b *testing.B) {
	srv, _ := parts.NewServer(nil, catalog.Default(), resize.New())
	client := serve(b, srv)
	req := benchRequest(b)
	for b.Loop() {
		if _, err := client.Process(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentProcess runs many calls at once through one server (run with -race).
func TestConcurrentProcess(t *testing.T) {
	srv := newServer(t, allHandlers(t)...)
	srv.SetMaxInFlight(64)
	src := testimg.Scene(64, 48, 10, 1)
	raw, err := imageio.ToRaw(src)
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	jpg := sceneJPEG(64, 48)
	partsToRun := []string{"grayscale", "gaussian_blur", "canny", "resize", "detect", "clahe"}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(partsToRun))
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, part := range partsToRun {
				in := raw
				if (g+i)%2 == 0 {
					in = &ifcv1.Image{Data: jpg, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}
				}
				resp, err := srv.Process(context.Background(), &ifcv1.ProcessRequest{Part: part, Images: []*ifcv1.Image{in}, EncodeOutput: g%2 == 0})
				if err != nil {
					errs <- err
					return
				}
				if resp.GetImage() == nil {
					errs <- errors.New(part + ": no image")
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
