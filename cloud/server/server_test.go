package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/models/synth"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

const adminPassword = "correct horse battery staple"

// harness is an all-in-one server on loopback ports with a logged-in admin.
type harness struct {
	t     testing.TB
	srv   *Server
	base  string
	token string
	stop  func() error
}

func startAllInOne(t testing.TB, mutate ...func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.AdminPassword = adminPassword
	cfg.LogLevel = "warn"
	for _, m := range mutate {
		m(&cfg)
	}
	cfg.Resolve()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := New(cfg, ModeAllInOne, logger, io.Discard)
	if err != nil {
		t.Fatalf("new all-in-one: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var stopped bool
	var stopErr error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = fmt.Errorf("server did not stop within 30s")
			}
		}
		return stopErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	h := &harness{t: t, srv: srv, base: "http://" + srv.HTTPAddr(), stop: stop}
	h.waitReady()
	h.token = h.login("admin", adminPassword)
	return h
}

// waitReady polls /readyz instead of sleeping.
func (h *harness) waitReady() {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(h.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatal("server never became ready")
}

func (h *harness) login(user, pass string) string {
	var out struct {
		Token string `json:"token"`
	}
	h.do("POST", "/api/v1/auth/login", "application/json", fmt.Sprintf(`{"username":%q,"password":%q}`, user, pass), http.StatusOK, &out)
	if out.Token == "" {
		h.t.Fatal("login returned no token")
	}
	return out.Token
}

// do sends a request with the admin token and decodes a JSON answer into out.
func (h *harness) do(method, path, contentType string, body any, wantStatus int, out any) []byte {
	h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.base+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return data
}

// upload posts data as multipart field "file" and returns the file id.
func (h *harness) upload(name string, data []byte) string {
	h.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	var out struct {
		FileID string `json:"file_id"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
	}
	h.do("POST", "/api/v1/files", mw.FormDataContentType(), body.Bytes(), http.StatusCreated, &out)
	if out.FileID == "" {
		h.t.Fatal("upload returned no file_id")
	}
	return out.FileID
}

func (h *harness) createStandardPipeline() string {
	h.t.Helper()
	def, err := os.ReadFile(filepath.Join("..", "..", "docs", "examples", "standard.yaml"))
	if err != nil {
		h.t.Fatal(err)
	}
	var p struct {
		ID      string `json:"id"`
		Version int32  `json:"version"`
	}
	h.do("POST", "/api/v1/pipelines", "application/yaml", def, http.StatusCreated, &p)
	if p.ID == "" || p.Version != 1 {
		h.t.Fatalf("create pipeline: got %+v", p)
	}
	return p.ID
}

// partImage renders a 1920×1080 JPEG of a defective part and returns it
// with the true defect boxes.
func partImage(t testing.TB, index int) ([]byte, []synth.Defect) {
	t.Helper()
	for i := index; ; i++ {
		s, err := synth.Generate(4242, i, synth.Options{Width: 1920, Height: 1080, DefectRate: 1, MaxDefects: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Defects) == 0 {
			continue
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, s.Image, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), s.Defects
	}
}

type nodeJSON struct {
	NodeID  string `json:"node_id"`
	Status  string `json:"status"`
	Error   string `json:"error"`
	Outputs *struct {
		FileID     string `json:"file_id"`
		Detections []struct {
			Label string  `json:"label"`
			Score float32 `json:"score"`
			Box   struct{ X, Y, W, H float32 }
		} `json:"detections"`
	} `json:"outputs"`
}

type executionJSON struct {
	ExecutionID string     `json:"execution_id"`
	Status      string     `json:"status"`
	Nodes       []nodeJSON `json:"nodes"`
	Error       string     `json:"error"`
}

func (e executionJSON) node(id string) nodeJSON {
	for _, n := range e.Nodes {
		if n.NodeID == id {
			return n
		}
	}
	return nodeJSON{}
}

type progressJSON struct {
	Type            string `json:"type"`
	ExecutionID     string `json:"execution_id"`
	NodeID          string `json:"node_id"`
	State           string `json:"state"`
	ExecutionStatus string `json:"execution_status"`
	Seq             uint64 `json:"seq"`
}

// TestAllInOneStandardPipeline is the user story: upload a 1080p
// JPEG, create resize → blur → detect, run it, watch every node's progress
// over the WebSocket, and download the annotated result with detections.
func TestAllInOneStandardPipeline(t *testing.T) {
	h := startAllInOne(t)
	img, defects := partImage(t, 0)
	fileID := h.upload("part.jpg", img)
	pipelineID := h.createStandardPipeline()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.base, "http")+"/api/v1/ws?token="+h.token, nil)
	if err != nil {
		t.Fatalf("dial websocket: %v", err)
	}
	defer ws.CloseNow()

	var queued executionJSON
	h.do("POST", "/api/v1/executions", "application/json",
		fmt.Sprintf(`{"pipeline_id":%q,"inputs":[%q]}`, pipelineID, fileID), http.StatusAccepted, &queued)
	if queued.ExecutionID == "" {
		t.Fatal("no execution_id")
	}
	if err := wsjson.Write(ctx, ws, map[string]string{"type": "subscribe", "execution_id": queued.ExecutionID}); err != nil {
		t.Fatal(err)
	}

	// Progress arrives in order and ends with the execution's terminal state.
	states := map[string][]string{}
	var lastSeq uint64
	for {
		var ev progressJSON
		if err := wsjson.Read(ctx, ws, &ev); err != nil {
			t.Fatalf("read progress: %v (states so far %v)", err, states)
		}
		if ev.Type != "progress" {
			continue
		}
		if ev.Seq <= lastSeq {
			t.Fatalf("seq went from %d to %d", lastSeq, ev.Seq)
		}
		lastSeq = ev.Seq
		if ev.NodeID != "" {
			states[ev.NodeID] = append(states[ev.NodeID], ev.State)
		}
		if ev.NodeID == "" && ev.ExecutionStatus != "" && ev.ExecutionStatus != "queued" && ev.ExecutionStatus != "running" {
			if ev.ExecutionStatus != "succeeded" {
				t.Fatalf("execution ended %s", ev.ExecutionStatus)
			}
			break
		}
	}
	for _, n := range []string{"resize", "blur", "detect"} {
		got := strings.Join(states[n], ",")
		if !strings.HasSuffix(got, "running,succeeded") {
			t.Errorf("node %s states %q, want ... running,succeeded", n, got)
		}
	}

	var done executionJSON
	h.do("GET", "/api/v1/executions/"+queued.ExecutionID, "", nil, http.StatusOK, &done)
	if done.Status != "succeeded" {
		t.Fatalf("execution status %s (%s)", done.Status, done.Error)
	}
	det := done.node("detect")
	if det.Outputs == nil || det.Outputs.FileID == "" {
		t.Fatalf("detect produced no annotated image: %+v", det)
	}

	// The annotated result is a 640×640 JPEG (letterboxed).
	annotated := h.do("GET", "/api/v1/files/"+det.Outputs.FileID+"/content", "", nil, http.StatusOK, nil)
	cfg, format, err := image.DecodeConfig(bytes.NewReader(annotated))
	if err != nil || format != "jpeg" || cfg.Width != 640 || cfg.Height != 640 {
		t.Fatalf("annotated image: %s %dx%d err %v", format, cfg.Width, cfg.Height, err)
	}

	// The trained detector finds the real defects: every detection is
	// checked against the generator's ground truth mapped into the
	// 640×640 letterboxed frame (scale 1/3, 140 px top padding).
	if len(det.Outputs.Detections) == 0 {
		t.Fatalf("no detections on a part with %d defects", len(defects))
	}
	matched := 0
	for _, d := range defects {
		truth := image.Rect(d.Box.Min.X/3, d.Box.Min.Y/3+140, d.Box.Max.X/3, d.Box.Max.Y/3+140)
		for _, got := range det.Outputs.Detections {
			r := image.Rect(int(got.Box.X), int(got.Box.Y), int(got.Box.X+got.Box.W), int(got.Box.Y+got.Box.H))
			if r.Overlaps(truth) && got.Label == d.Class {
				matched++
				break
			}
		}
	}
	if matched == 0 {
		t.Fatalf("no detection matches a true defect: truth %v, detections %+v", defects, det.Outputs.Detections)
	}
}

func grpcConn(t testing.TB, h *harness) (ifcv1.PipelineServiceClient, context.Context) {
	t.Helper()
	cc, err := grpc.NewClient(h.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(32<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ifcv1.NewPipelineServiceClient(cc), metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+h.token)
}

// TestAllInOneGRPC runs the same pipeline over gRPC: Execute with image
// bytes, WatchExecution replaying a finished execution, and ExecuteStream
// answering every frame in order.
func TestAllInOneGRPC(t *testing.T) {
	h := startAllInOne(t)
	pipelineID := h.createStandardPipeline()
	client, ctx := grpcConn(t, h)
	img, _ := partImage(t, 0)

	resp, err := client.Execute(ctx, &ifcv1.ExecuteRequest{PipelineId: pipelineID, Input: &ifcv1.ExecuteRequest_Image{Image: img}})
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	ex := resp.GetExecution()
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED || len(ex.GetNodes()) != 3 {
		t.Fatalf("Execute: status %v nodes %d err %q", ex.GetStatus(), len(ex.GetNodes()), ex.GetError())
	}

	watch, err := client.WatchExecution(ctx, &ifcv1.WatchExecutionRequest{ExecutionId: ex.GetExecutionId()})
	if err != nil {
		t.Fatal(err)
	}
	var last *ifcv1.ProgressEvent
	for {
		ev, err := watch.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		last = ev
	}
	if last == nil || last.GetExecutionStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("watch ended with %v", last)
	}

	stream, err := client.ExecuteStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&ifcv1.ExecuteStreamRequest{Msg: &ifcv1.ExecuteStreamRequest_Config{Config: &ifcv1.StreamConfig{PipelineId: pipelineID}}}); err != nil {
		t.Fatal(err)
	}
	const frames = 3
	for i := 1; i <= frames; i++ {
		frame, _ := partImage(t, i)
		if err := stream.Send(&ifcv1.ExecuteStreamRequest{Msg: &ifcv1.ExecuteStreamRequest_Frame{Frame: &ifcv1.VideoFrame{
			Seq: uint64(i), Image: &ifcv1.Image{Data: frame, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}}}}); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseSend()
	for i := 1; i <= frames; i++ {
		pf, err := stream.Recv()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if pf.GetSeq() != uint64(i) || pf.GetError() != "" || len(pf.GetImage().GetData()) == 0 {
			t.Fatalf("frame %d: seq %d err %q image %d bytes", i, pf.GetSeq(), pf.GetError(), len(pf.GetImage().GetData()))
		}
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Fatalf("stream end: %v", err)
	}
}

// TestAllInOneRejectsBadInputs checks a few bad inputs end to end (the API
// package has one test per case); nothing is half-written.
func TestAllInOneRejectsBadInputs(t *testing.T) {
	h := startAllInOne(t)
	img, _ := partImage(t, 0)
	h.do("POST", "/api/v1/pipelines", "application/json",
		`{"name":"loop","nodes":[{"id":"a","part":"grayscale"},{"id":"b","part":"grayscale"}],"edges":[{"from":"a","to":"b"},{"from":"b","to":"a"}]}`,
		http.StatusUnprocessableEntity, nil)
	var list struct {
		Pipelines []json.RawMessage `json:"pipelines"`
	}
	h.do("GET", "/api/v1/pipelines", "", nil, http.StatusOK, &list)
	if len(list.Pipelines) != 0 {
		t.Fatalf("a refused pipeline was stored: %s", list.Pipelines)
	}

	client, ctx := grpcConn(t, h)
	_, err := client.Execute(ctx, &ifcv1.ExecuteRequest{PipelineId: "no-such-pipeline", Input: &ifcv1.ExecuteRequest_Image{Image: img}})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("unknown pipeline: %v, want NotFound", err)
	}
	_, err = client.Execute(ctx, &ifcv1.ExecuteRequest{PipelineId: h.createStandardPipeline(), Input: &ifcv1.ExecuteRequest_Image{Image: img[:len(img)/2]}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("truncated JPEG: %v, want InvalidArgument", err)
	}
	noAuth, err := grpc.NewClient(h.srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer noAuth.Close()
	_, err = ifcv1.NewPipelineServiceClient(noAuth).Execute(context.Background(), &ifcv1.ExecuteRequest{PipelineId: "x"})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v, want Unauthenticated", err)
	}
}

// TestAllInOneShutdown stops the server and checks it releases its ports.
func TestAllInOneShutdown(t *testing.T) {
	h := startAllInOne(t)
	addr := h.srv.HTTPAddr()
	if err := h.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("HTTP still served after shutdown")
	}
}

// TestAPIWithRemoteWorkers runs the split shapes in one test: two worker
// processes' worth of part services (resize+filter, detect) on their own
// gRPC listeners, and an API that reaches them through part_endpoints.
func TestAPIWithRemoteWorkers(t *testing.T) {
	startWorker := func(parts ...string) string {
		cfg := DefaultConfig()
		cfg.GRPCAddr = "127.0.0.1:0"
		cfg.Parts = parts
		w, err := New(cfg, ModeWorker, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
		if err != nil {
			t.Fatalf("worker %v: %v", parts, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker %v: %v", parts, err)
			}
		})
		return w.GRPCAddr()
	}
	imageOps := startWorker("resize", "filter")
	detector := startWorker("detect")
	// Workers answer the standard gRPC health check (Kubernetes probes use it).
	for _, addr := range []string{imageOps, detector} {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		cc.Close()
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("worker %s health = %v, %v; want SERVING", addr, resp.GetStatus(), err)
		}
	}

	h := startAllInOne(t, func(c *Config) {
		c.PartEndpoints = []string{"resize=" + imageOps, "filter=" + imageOps, "detect=" + detector}
	})
	// startAllInOne built an all-in-one; rebuild the same data dir as an API.
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	cfg := h.srv.cfg
	api, err := New(cfg, ModeAPI, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatalf("api: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	h2 := &harness{t: t, srv: api, base: "http://" + api.HTTPAddr()}
	h2.waitReady()
	h2.token = h2.login("admin", adminPassword)

	img, _ := partImage(t, 3)
	fileID := h2.upload("part.jpg", img)
	var ex executionJSON
	h2.do("POST", "/api/v1/executions?wait=true", "application/json",
		fmt.Sprintf(`{"pipeline_id":%q,"inputs":[%q]}`, h2.createStandardPipeline(), fileID), http.StatusOK, &ex)
	if ex.Status != "succeeded" || ex.node("detect").Outputs == nil {
		t.Fatalf("execution through remote workers: %+v", ex)
	}
}
