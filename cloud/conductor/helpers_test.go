package conductor

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/pipeline"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	portImage = ifcv1.PortType_PORT_TYPE_IMAGE
	portDets  = ifcv1.PortType_PORT_TYPE_DETECTIONS
)

// testCatalog is a unit-test catalogue of the parts served by testParts.
type testCatalog map[string]*ifcv1.PartDescriptor

func (c testCatalog) Get(id string) (*ifcv1.PartDescriptor, bool) { d, ok := c[id]; return d, ok }

func (c testCatalog) ValidateParams(_ string, p map[string]any) (map[string]any, error) {
	return p, nil
}

var catalogForTests = testCatalog{
	"invert": {Id: "invert", Service: "test", Inputs: []ifcv1.PortType{portImage}, Outputs: []ifcv1.PortType{portImage}},
	"detect": {Id: "detect", Service: "test", Inputs: []ifcv1.PortType{portImage}, Outputs: []ifcv1.PortType{portImage, portDets}},
	"draw":   {Id: "draw", Service: "test", Inputs: []ifcv1.PortType{portImage, portDets}, Outputs: []ifcv1.PortType{portImage}},
	"boxes":  {Id: "boxes", Service: "test", Inputs: []ifcv1.PortType{portImage}, Outputs: []ifcv1.PortType{portDets}},
	"remote": {Id: "remote", Service: "elsewhere", Inputs: []ifcv1.PortType{portImage}, Outputs: []ifcv1.PortType{portImage}},
}

// tinyJPEG is an 8x8 grey JPEG used as input and as encoded output.
var tinyJPEG = func() []byte {
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 4)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		panic(err)
	}
	return b.Bytes()
}()

// span is one call seen by the test part service.
type span struct {
	start, end time.Time
	req        *ifcv1.ProcessRequest
	cancelled  bool
}

// testParts is a PartService whose behaviour each node picks with params:
// sleep_ms (honouring cancellation), fail_code + fail_times (fail the first
// n attempts, all when negative) and no_encode (return only the raw image).
type testParts struct {
	ifcv1.UnimplementedPartServiceServer
	mu        sync.Mutex
	calls     map[string][]*span // by node id
	cur, peak int
	started   chan string
	cancelled chan string
}

func newTestParts() *testParts {
	return &testParts{calls: map[string][]*span{}, started: make(chan string, 1000), cancelled: make(chan string, 1000)}
}

func num(p *structpb.Struct, k string) int { return int(p.GetFields()[k].GetNumberValue()) }

func (s *testParts) Process(ctx context.Context, req *ifcv1.ProcessRequest) (*ifcv1.ProcessResponse, error) {
	sp := &span{start: time.Now(), req: req}
	s.mu.Lock()
	s.calls[req.GetNodeId()] = append(s.calls[req.GetNodeId()], sp)
	attempt := len(s.calls[req.GetNodeId()])
	s.cur++
	s.peak = max(s.peak, s.cur)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cur--
		sp.end = time.Now()
		s.mu.Unlock()
	}()
	select {
	case s.started <- req.GetNodeId():
	default:
	}
	p := req.GetParams()
	if d := num(p, "sleep_ms"); d > 0 {
		t := time.NewTimer(time.Duration(d) * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			s.mu.Lock()
			sp.cancelled = true
			s.mu.Unlock()
			select {
			case s.cancelled <- req.GetNodeId():
			default:
			}
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if code := num(p, "fail_code"); code != 0 {
		if n := num(p, "fail_times"); n < 0 || attempt <= n {
			return nil, status.Errorf(codes.Code(code), "injected failure %d", attempt)
		}
	}
	if len(req.GetImages()) != 1 {
		return nil, status.Errorf(codes.InvalidArgument, "want one image, got %d", len(req.GetImages()))
	}
	resp := &ifcv1.ProcessResponse{}
	switch req.GetPart() {
	case "detect", "boxes":
		resp.Detections = []*ifcv1.Detection{{Label: req.GetNodeId(), Score: 0.9, Box: &ifcv1.Box{X: 1, Y: 1, W: 2, H: 2}}}
	case "draw":
		if len(req.GetDetections()) == 0 {
			return nil, status.Error(codes.InvalidArgument, "draw needs detections")
		}
	}
	if req.GetPart() != "boxes" {
		pix := bytes.Repeat([]byte{byte(len(req.GetNodeId()))}, 64)
		resp.Image = &ifcv1.Image{Data: pix, Format: ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8, Width: 8, Height: 8}
		if req.GetEncodeOutput() && num(p, "no_encode") == 0 {
			resp.Encoded = &ifcv1.Image{Data: tinyJPEG, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG, Width: 8, Height: 8}
		}
	}
	return resp, nil
}

func (s *testParts) spans(node string) []*span {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*span, len(s.calls[node]))
	for i, sp := range s.calls[node] {
		c := *sp
		out[i] = &c
	}
	return out
}

// serveParts starts a real gRPC server on 127.0.0.1:0 and returns a client.
func serveParts(tb testing.TB, srv ifcv1.PartServiceServer) ifcv1.PartServiceClient {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gs := grpc.NewServer()
	ifcv1.RegisterPartServiceServer(gs, srv)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn.Close()
		gs.Stop()
		<-served
	})
	return ifcv1.NewPartServiceClient(conn)
}

// memStore is an in-memory Store for unit tests.
type memStore struct {
	mu         sync.Mutex
	pipelines  map[string]*ifcv1.Pipeline
	files      map[string]metadata.File
	executions map[string]*ifcv1.Execution
	updates    int
}

func newMemStore() *memStore {
	return &memStore{pipelines: map[string]*ifcv1.Pipeline{}, files: map[string]metadata.File{}, executions: map[string]*ifcv1.Execution{}}
}

func (s *memStore) GetPipeline(_ context.Context, id string, version int32) (*ifcv1.Pipeline, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pipelines[id]
	if !ok || (version != 0 && version != p.GetVersion()) {
		return nil, fmt.Errorf("pipeline %s: %w", id, metadata.ErrNotFound)
	}
	return proto.CloneOf(p), nil
}

func (s *memStore) GetFile(_ context.Context, id string) (metadata.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok {
		return f, fmt.Errorf("file %s: %w", id, metadata.ErrNotFound)
	}
	return f, nil
}

func (s *memStore) CreateExecution(_ context.Context, e *ifcv1.Execution) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.executions[e.GetExecutionId()]; dup {
		return metadata.ErrConflict
	}
	s.executions[e.GetExecutionId()] = proto.CloneOf(e)
	return nil
}

func (s *memStore) UpdateExecution(_ context.Context, e *ifcv1.Execution) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.executions[e.GetExecutionId()]; !ok {
		return metadata.ErrNotFound
	}
	s.executions[e.GetExecutionId()] = proto.CloneOf(e)
	s.updates++
	return nil
}

func (s *memStore) GetExecution(_ context.Context, id string) (*ifcv1.Execution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.executions[id]
	if !ok {
		return nil, fmt.Errorf("execution %s: %w", id, metadata.ErrNotFound)
	}
	return proto.CloneOf(e), nil
}

// memFiles is an in-memory Files for unit tests.
type memFiles struct {
	mu    sync.Mutex
	store *memStore
	data  map[string][]byte
	n     int
	// beforePut, when set, runs before the n-th (1-based) PutDerived stores
	// anything; an error fails that put.
	beforePut func(n int) error
}

func (f *memFiles) add(id string, data []byte, ct string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data[id] = data
	f.store.mu.Lock()
	f.store.files[id] = metadata.File{FileID: id, ContentType: ct, Size: int64(len(data)), Width: 8, Height: 8}
	f.store.mu.Unlock()
}

func (f *memFiles) Open(ctx context.Context, id string) (io.ReadCloser, metadata.File, error) {
	meta, err := f.store.GetFile(ctx, id)
	if err != nil {
		return nil, meta, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return io.NopCloser(bytes.NewReader(f.data[id])), meta, nil
}

func (f *memFiles) PutDerived(_ context.Context, data []byte, ct string, w, h int, by string) (metadata.File, error) {
	f.mu.Lock()
	f.n++
	n, hook := f.n, f.beforePut
	f.mu.Unlock()
	if hook != nil {
		if err := hook(n); err != nil {
			return metadata.File{}, err
		}
	}
	f.mu.Lock()
	id := fmt.Sprintf("derived-%d", n)
	f.data[id] = data
	f.mu.Unlock()
	meta := metadata.File{FileID: id, ContentType: ct, Size: int64(len(data)), Width: w, Height: h, CreatedBy: by}
	f.store.mu.Lock()
	f.store.files[id] = meta
	f.store.mu.Unlock()
	return meta, nil
}

func (f *memFiles) derived() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// memBus records published events.
type memBus struct {
	mu  sync.Mutex
	evs []*ifcv1.ProgressEvent
}

func (b *memBus) Publish(_ context.Context, ev *ifcv1.ProgressEvent) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.evs = append(b.evs, proto.CloneOf(ev))
	return nil
}

func (b *memBus) events(id string) []*ifcv1.ProgressEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*ifcv1.ProgressEvent
	for _, ev := range b.evs {
		if ev.GetExecutionId() == id {
			out = append(out, ev)
		}
	}
	return out
}

// harness is a running conductor over a real gRPC part service and
// in-memory store, files and bus.
type harness struct {
	c     *Conductor
	parts *testParts
	store *memStore
	files *memFiles
	bus   *memBus
	stop  func()
}

func newHarness(tb testing.TB, cfg Config, modify ...func(*Deps)) *harness {
	tb.Helper()
	h := &harness{parts: newTestParts(), store: newMemStore(), bus: &memBus{}}
	h.files = &memFiles{store: h.store, data: map[string][]byte{}}
	h.files.add("input", tinyJPEG, "image/jpeg")
	deps := Deps{
		Store:   h.store,
		Files:   h.files,
		Events:  h.bus,
		Catalog: catalogForTests,
		Parts:   map[string]ifcv1.PartServiceClient{"test": serveParts(tb, h.parts)},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if testing.Verbose() {
		deps.Logger = slog.Default()
	}
	for _, m := range modify {
		m(&deps)
	}
	c, err := New(cfg, deps)
	if err != nil {
		tb.Fatal(err)
	}
	h.c = c
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- c.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-ran; err != nil {
				tb.Errorf("Run: %v", err)
			}
		})
	}
	tb.Cleanup(h.stop)
	return h
}

// addPipeline stores a definition written as "id:part[:k=v,k=v]" nodes and
// "from>to" edges, and returns its id.
func (h *harness) addPipeline(tb testing.TB, id string, nodes []string, edges ...string) string {
	tb.Helper()
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	h.store.pipelines[id] = &ifcv1.Pipeline{Id: id, Version: 1, Definition: buildDef(tb, nodes, edges)}
	return id
}

func buildDef(tb testing.TB, nodes, edges []string) *ifcv1.PipelineDefinition {
	tb.Helper()
	def := &ifcv1.PipelineDefinition{Name: "test"}
	for _, n := range nodes {
		fields := strings.SplitN(n, ":", 3)
		node := &ifcv1.Node{Id: fields[0], Part: fields[1]}
		if len(fields) == 3 {
			m := map[string]any{}
			for _, kv := range strings.Split(fields[2], ",") {
				k, v, _ := strings.Cut(kv, "=")
				var f float64
				fmt.Sscan(v, &f)
				m[k] = f
			}
			s, err := structpb.NewStruct(m)
			if err != nil {
				tb.Fatal(err)
			}
			node.Params = s
		}
		def.Nodes = append(def.Nodes, node)
	}
	for _, e := range edges {
		from, to, _ := strings.Cut(e, ">")
		def.Edges = append(def.Edges, &ifcv1.Edge{From: from, To: to})
	}
	return def
}

func (h *harness) run(tb testing.TB, pipelineID string) *ifcv1.Execution {
	tb.Helper()
	ex, err := h.c.Submit(context.Background(), Request{PipelineID: pipelineID, Inputs: []string{"input"}, CreatedBy: "tester"})
	if err != nil {
		tb.Fatalf("Submit: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	final, err := h.c.Wait(ctx, ex.GetExecutionId())
	if err != nil {
		tb.Fatalf("Wait: %v", err)
	}
	return final
}

func nodeStatus(ex *ifcv1.Execution, id string) *ifcv1.NodeStatus {
	for _, n := range ex.GetNodes() {
		if n.GetNodeId() == id {
			return n
		}
	}
	return nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func pipelineParse(yaml string) (*ifcv1.PipelineDefinition, error) {
	return pipeline.Parse([]byte(yaml), pipeline.FormatYAML)
}
