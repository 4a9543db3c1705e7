package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/conductor"
	"github.com/imageflowcanvas/ifc/cloud/events/natsbus"
	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/metadata/sqlitestore"
	"github.com/imageflowcanvas/ifc/cloud/objectstore"
	"github.com/imageflowcanvas/ifc/cloud/objectstore/fsstore"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

var cheapHash = auth.HashParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// testCatalog is the default catalogue plus "boxes", a part whose only
// output is detections, so edge type mismatches can be built.
type testCatalog struct{ *catalog.Catalog }

var boxesPart = &ifcv1.PartDescriptor{Id: "boxes", Service: "detect", Title: "Boxes only",
	Inputs: []ifcv1.PortType{ifcv1.PortType_PORT_TYPE_IMAGE}, Outputs: []ifcv1.PortType{ifcv1.PortType_PORT_TYPE_DETECTIONS}, ParamsSchemaJson: `{"type":"object"}`}

func (c testCatalog) Get(id string) (*ifcv1.PartDescriptor, bool) {
	if id == "boxes" {
		return boxesPart, true
	}
	return c.Catalog.Get(id)
}

func (c testCatalog) ValidateParams(part string, p map[string]any) (map[string]any, error) {
	if part == "boxes" {
		return p, nil
	}
	return c.Catalog.ValidateParams(part, p)
}

type testClock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.d) }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.d += d; c.mu.Unlock() }

// env is an API served on real loopback listeners (HTTP and gRPC) over
// the real SQLite metadata store, filesystem object store and files
// service; the conductor is a fake driven by the test, or (withConductor)
// the real conductor over pure-Go part services, with the embedded NATS bus.
type env struct {
	t      *testing.T
	srv    *Server
	http   *httptest.Server
	meta   *sqlitestore.Store
	objDir string
	cond   *fakeConductor
	real   *conductor.Conductor
	bus    *memBus
	auth   *auth.Authenticator
	clock  *testClock
	tokens map[auth.Role]string
	key    []byte
	grpc   *grpc.ClientConn
	stop   func()
}

type envOptions struct {
	cfg           Config
	realConductor bool
	gate          chan struct{}
	objects       objectstore.Store // nil: fsstore in the test's directory
	deps          func(*Deps)       // adjusts the API's deps before New
}

// withConductor runs the real conductor and NATS instead of the fakes.
func withConductor(o *envOptions) { o.realConductor = true }

func withConfig(f func(*Config)) func(*envOptions) { return func(o *envOptions) { f(&o.cfg) } }

func newEnv(t *testing.T, opts ...func(*envOptions)) *env {
	t.Helper()
	o := envOptions{cfg: Config{WaitTimeout: 5 * time.Second}}
	for _, f := range opts {
		f(&o)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	meta, err := sqlitestore.New(context.Background(), filepath.Join(dir, "meta.db"), sqlitestore.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = meta.Close() })
	objDir := filepath.Join(dir, "objects")
	var objects objectstore.Store = o.objects
	if objects == nil {
		if objects, err = fsstore.New(objDir); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := files.New(objects, meta, quiet, files.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, meta: meta, objDir: objDir, clock: &testClock{}}
	cat := testCatalog{catalog.Default()}
	var cond Conductor
	var bus Bus
	var runConductor func(context.Context) error
	if o.realConductor {
		ns, err := natsbus.StartEmbedded(context.Background(), natsbus.EmbeddedOptions{}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ns.Close() })
		nb, err := ns.Connect(quiet)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nb.Close() })
		pc := &pureParts{gate: o.gate}
		e.real, err = conductor.New(conductor.Config{MaxConcurrent: 4}, conductor.Deps{
			Store: meta, Files: fs, Events: nb, Catalog: cat, Logger: quiet,
			Parts: map[string]ifcv1.PartServiceClient{"resize": pc, "filter": pc, "detect": pc},
		})
		if err != nil {
			t.Fatal(err)
		}
		cond, bus, runConductor = e.real, nb, e.real.Run
	} else {
		e.bus = &memBus{}
		e.cond = &fakeConductor{store: meta, bus: e.bus}
		cond, bus = e.cond, e.bus
	}
	key, _ := auth.GenerateKey()
	e.key = key
	toks, err := auth.NewTokens(auth.TokenConfig{Key: key, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.auth, err = auth.NewAuthenticator(meta, toks, auth.WithHashParams(cheapHash), auth.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	e.tokens = map[auth.Role]string{}
	ctx := context.Background()
	for _, r := range auth.Roles {
		if err := e.auth.CreateUser(ctx, string(r)+"-user", "password-"+string(r), r); err != nil {
			t.Fatal(err)
		}
		tok, err := e.auth.Login(ctx, string(r)+"-user", "password-"+string(r))
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[r] = tok
	}
	deps := Deps{
		Store: meta, Catalog: cat, Conductor: cond, Files: fs, Bus: bus, Auth: e.auth, Logger: quiet,
		ReadyChecks: []ReadyCheck{{Name: "objects", Check: func(ctx context.Context) error {
			if _, err := objects.Stat(ctx, "readyz/probe"); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
				return err
			}
			return nil
		}}},
	}
	if o.deps != nil {
		o.deps(&deps)
	}
	e.srv, err = New(o.cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- e.srv.Run(runCtx) }()
	if runConductor != nil {
		go func() { done <- runConductor(runCtx) }()
	}
	waitFor(t, "bus subscription", func() bool { return e.srv.subscribed.Load() })

	e.http = httptest.NewServer(e.srv.Handler())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := e.srv.NewGRPCServer()
	go func() { _ = gs.Serve(lis) }()
	e.grpc, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			_ = e.grpc.Close()
			gs.Stop()
			e.http.CloseClientConnections()
			e.http.Close()
			cancel()
			n := 1
			if runConductor != nil {
				n = 2
			}
			for i := 0; i < n; i++ {
				if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("Run: %v", err)
				}
			}
		})
	}
	t.Cleanup(e.stop)
	return e
}

// pureParts is a part service without OpenCV: image parts pass the image
// through, detect adds one detection.
type pureParts struct {
	gate chan struct{} // when set, every Process waits for a token
}

func (pureParts) ListParts(context.Context, *ifcv1.ListPartsRequest, ...grpc.CallOption) (*ifcv1.ListPartsResponse, error) {
	return &ifcv1.ListPartsResponse{}, nil
}

func (p *pureParts) Process(ctx context.Context, req *ifcv1.ProcessRequest, _ ...grpc.CallOption) (*ifcv1.ProcessResponse, error) {
	if p.gate != nil {
		select {
		case <-p.gate:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if len(req.GetImages()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "no image")
	}
	img := req.GetImages()[0]
	res := &ifcv1.ProcessResponse{Image: img}
	if req.GetPart() == "detect" {
		res.Detections = []*ifcv1.Detection{{Label: "scratch", Score: 0.8, Box: &ifcv1.Box{X: 1, Y: 1, W: 5, H: 5}}}
	}
	return res, nil
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type resp struct {
	code   int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %v: %s", r.code, err, r.body)
	}
	return m
}

// do sends a request as role ("" = no token).
func (e *env) do(method, path string, role auth.Role, contentType string, body []byte, hdr ...string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{code: res.StatusCode, header: res.Header, body: b}
}

func (e *env) doJSON(method, path string, role auth.Role, v any) resp {
	e.t.Helper()
	var b []byte
	if v != nil {
		var err error
		if b, err = json.Marshal(v); err != nil {
			e.t.Fatal(err)
		}
	}
	return e.do(method, path, role, "application/json", b)
}

// expectProblem checks a problem response with the given status.
func expectProblem(t *testing.T, r resp, status int) map[string]any {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d, want %d: %s", r.code, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json", ct)
	}
	p := r.json(t)
	if int(p["status"].(float64)) != status {
		t.Fatalf("problem status %v", p["status"])
	}
	return p
}

func (e *env) grpcCtx(role auth.Role) context.Context {
	if role == "" {
		return context.Background()
	}
	return grpcmd.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+e.tokens[role])
}

const standardYAML = `name: standard inspection
nodes:
  - id: resize
    part: resize
    params: {width: 320, height: 240}
  - id: blur
    part: gaussian_blur
    params: {ksize: 5}
  - id: detect
    part: detect
edges:
  - {from: resize, to: blur}
  - {from: blur, to: detect}
`

const standardJSON = `{"name":"two","nodes":[{"id":"resize","part":"resize","params":{"width":100,"height":100}},{"id":"gray","part":"grayscale"}],"edges":[{"from":"resize","to":"gray"}]}`

// createPipeline stores the standard pipeline and returns its id.
func (e *env) createPipeline() string {
	e.t.Helper()
	r := e.do("POST", "/api/v1/pipelines", auth.RoleQAManager, "application/yaml", []byte(standardYAML))
	if r.code != http.StatusCreated {
		e.t.Fatalf("create pipeline: %d %s", r.code, r.body)
	}
	return r.json(e.t)["id"].(string)
}

func testJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngBomb is a tiny PNG whose header claims width×height pixels.
func pngBomb(t *testing.T, width, height uint32) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	p := b.Bytes()
	binary.BigEndian.PutUint32(p[16:], width)
	binary.BigEndian.PutUint32(p[20:], height)
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

// multipartBody builds a multipart body with one file field.
func multipartBody(t *testing.T, field, filename string, data []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

// upload stores data and returns the file id.
func (e *env) upload(data []byte) string {
	e.t.Helper()
	ct, body := multipartBody(e.t, "file", "part.jpg", data)
	r := e.do("POST", "/api/v1/files", auth.RoleInspector, ct, body)
	if r.code != http.StatusCreated {
		e.t.Fatalf("upload: %d %s", r.code, r.body)
	}
	return r.json(e.t)["file_id"].(string)
}

var _ = strings.Contains
