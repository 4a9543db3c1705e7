package inspect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/imageflowcanvas/ifc/edge/inspect"
	"github.com/imageflowcanvas/ifc/edge/prefilter"
	"github.com/imageflowcanvas/ifc/edge/queue"
	"github.com/imageflowcanvas/ifc/models/synth"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

const testDevice = "edge-test-01"

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/yalue/onnxruntime_go.(*Environment).init"))
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var (
	filterOnce sync.Once
	filter     *prefilter.Filter
	filterErr  error
)

// sharedFilter loads the embedded pre-filter once per test binary.
func sharedFilter(t testing.TB) *prefilter.Filter {
	t.Helper()
	filterOnce.Do(func() { filter, filterErr = prefilter.Open("", prefilter.Options{Logger: quiet()}) })
	if filterErr != nil {
		t.Fatalf("pre-filter: %v", filterErr)
	}
	return filter
}

// fakeCamera returns synthetic parts, or err when set.
type fakeCamera struct {
	mu    sync.Mutex
	err   error
	w, h  int
	n     int
	calls int
}

func (c *fakeCamera) Still(ctx context.Context) (inspect.Frame, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.err != nil {
		return inspect.Frame{}, c.err
	}
	opt := synth.DefaultOptions()
	opt.Width, opt.Height = c.w, c.h
	s, err := synth.Generate(7, c.n, opt)
	if err != nil {
		return inspect.Frame{}, err
	}
	c.n++
	return inspect.Frame{Image: s.Image, CapturedAt: time.Now()}, nil
}

func (c *fakeCamera) set(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// env is a server over a real queue in a temp dir.
type env struct {
	t    testing.TB
	q    *queue.Queue
	cam  *fakeCamera
	srv  *inspect.Server
	http *httptest.Server
}

type envOpt func(*inspect.Options, *queue.Options)

func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	cam := &fakeCamera{w: 640, h: 480}
	e := newEnvWith(t, cam, opts...)
	e.cam = cam
	return e
}

func newBenchEnv(t testing.TB, cam inspect.Camera) *env {
	return newEnvWith(t, cam)
}

func newEnvWith(t testing.TB, cam inspect.Camera, opts ...envOpt) *env {
	t.Helper()
	qo := queue.Options{DeviceID: testDevice, RequireKnownProduct: true, Logger: quiet()}
	io := inspect.Options{Camera: cam, Prefilter: sharedFilter(t), DeviceID: testDevice, Line: "line-1",
		Logger: quiet(), StatusInterval: 20 * time.Millisecond}
	for _, o := range opts {
		o(&io, &qo)
	}
	q, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), qo)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.PutMaster(context.Background(), demoMaster()); err != nil {
		t.Fatal(err)
	}
	io.Store = q
	srv, err := inspect.New(io)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	hs := httptest.NewServer(srv.Handler())
	e := &env{t: t, q: q, srv: srv, http: hs}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		hs.Close()
		if err := q.Check(context.Background()); err != nil {
			t.Errorf("queue check: %v", err)
		}
		_ = q.Close()
	})
	return e
}

func demoMaster() *ifcv1.InspectionMaster {
	return &ifcv1.InspectionMaster{
		Product: &ifcv1.Product{Code: "DEMO-PART", Name: "Demo part"},
		Items:   []*ifcv1.InspectionItem{{Id: "surface", Name: "Surface"}},
		DefectTypes: []*ifcv1.DefectType{
			{Code: "scratch", Name: "Scratch"}, {Code: "dent", Name: "Dent"},
		},
		PrefilterModelName: "prefilter", PrefilterModelVersion: "1.0.0", PrefilterThreshold: 0.3,
		PipelineId: "standard", PipelineVersion: 1, Version: 3,
	}
}

type resp struct {
	code int
	hdr  http.Header
	body []byte
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r resp) problem(t testing.TB) inspect.Problem {
	t.Helper()
	if ct := r.hdr.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want problem+json; body %s", ct, r.body)
	}
	var p inspect.Problem
	r.decode(t, &p)
	return p
}

func (e *env) do(method, path, ctype string, body []byte) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{code: res.StatusCode, hdr: res.Header, body: b}
}

func (e *env) postJSON(path string, v any) resp {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do("POST", path, "application/json", b)
}

func (e *env) session() inspect.SessionJSON {
	e.t.Helper()
	r := e.postJSON("/api/v1/sessions", inspect.SessionRequest{ProductCode: "DEMO-PART", Lot: "L1", Serial: "S1", Inspector: "alice"})
	if r.code != http.StatusCreated {
		e.t.Fatalf("session: %d %s", r.code, r.body)
	}
	var s inspect.SessionJSON
	r.decode(e.t, &s)
	return s
}

func (e *env) capture(sessionID string) inspect.CaptureJSON {
	e.t.Helper()
	r := e.do("POST", "/api/v1/sessions/"+sessionID+"/captures", "", nil)
	if r.code != http.StatusCreated {
		e.t.Fatalf("capture: %d %s", r.code, r.body)
	}
	var c inspect.CaptureJSON
	r.decode(e.t, &c)
	return c
}

func (e *env) stats() queue.Stats {
	e.t.Helper()
	st, err := e.q.Stats(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// snapshot is the whole queue file's bytes, to prove a refusal changed nothing.
func (e *env) snapshot() []byte {
	e.t.Helper()
	var buf bytes.Buffer
	if _, err := e.q.WriteTo(&buf); err != nil {
		e.t.Fatal(err)
	}
	return buf.Bytes()
}

var errUnplugged = errors.New("device /dev/video0 disappeared")

func synthImage(t testing.TB, w, h int) image.Image {
	opt := synth.DefaultOptions()
	opt.Width, opt.Height = w, h
	s, err := synth.Generate(3, 0, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s.Image
}

func readFile(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
