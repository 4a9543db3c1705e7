package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/events"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// memStore is an in-memory metadata store for tests.
type memStore struct {
	mu        sync.Mutex
	pipelines map[string][]*ifcv1.Pipeline
	deleted   map[string]bool
	files     map[string]metadata.File
	execs     map[string]*ifcv1.Execution
	order     []string // execution ids, creation order
	users     map[string]metadata.User
	nextID    int
	failing   error
}

func newMemStore() *memStore {
	return &memStore{pipelines: map[string][]*ifcv1.Pipeline{}, deleted: map[string]bool{}, files: map[string]metadata.File{},
		execs: map[string]*ifcv1.Execution{}, users: map[string]metadata.User{}}
}

func (m *memStore) CreatePipelineVersion(_ context.Context, id string, def *ifcv1.PipelineDefinition, by string) (*ifcv1.Pipeline, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id == "" {
		m.nextID++
		id = fmt.Sprintf("pl-%d", m.nextID)
	} else if len(m.pipelines[id]) == 0 || m.deleted[id] {
		return nil, metadata.ErrNotFound
	}
	p := &ifcv1.Pipeline{Id: id, Version: int32(len(m.pipelines[id]) + 1), Definition: proto.Clone(def).(*ifcv1.PipelineDefinition), CreatedBy: by, CreatedAt: timestamppb.Now()}
	m.pipelines[id] = append(m.pipelines[id], p)
	return p, nil
}

func (m *memStore) GetPipeline(_ context.Context, id string, v int32) (*ifcv1.Pipeline, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	vs := m.pipelines[id]
	if len(vs) == 0 || (m.deleted[id] && v == 0) {
		return nil, metadata.ErrNotFound
	}
	if v == 0 {
		return vs[len(vs)-1], nil
	}
	if int(v) > len(vs) {
		return nil, metadata.ErrNotFound
	}
	return vs[v-1], nil
}

func (m *memStore) ListPipelines(context.Context) ([]*ifcv1.Pipeline, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*ifcv1.Pipeline
	for id, vs := range m.pipelines {
		if !m.deleted[id] {
			out = append(out, vs[len(vs)-1])
		}
	}
	slices.SortFunc(out, func(a, b *ifcv1.Pipeline) int { return compareStr(a.Id, b.Id) })
	return out, nil
}

func compareStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *memStore) ListPipelineVersions(_ context.Context, id string) ([]*ifcv1.Pipeline, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pipelines[id]) == 0 || m.deleted[id] {
		return nil, metadata.ErrNotFound
	}
	return slices.Clone(m.pipelines[id]), nil
}

func (m *memStore) DeletePipeline(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pipelines[id]) == 0 || m.deleted[id] {
		return metadata.ErrNotFound
	}
	m.deleted[id] = true
	return nil
}

func (m *memStore) PutFile(_ context.Context, f metadata.File) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[f.FileID] = f
	return nil
}

func (m *memStore) GetFile(_ context.Context, id string) (metadata.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing != nil {
		return metadata.File{}, m.failing
	}
	f, ok := m.files[id]
	if !ok {
		return metadata.File{}, metadata.ErrNotFound
	}
	return f, nil
}

func (m *memStore) putExecution(e *ifcv1.Execution) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.execs[e.ExecutionId]; !ok {
		m.order = append(m.order, e.ExecutionId)
	}
	m.execs[e.ExecutionId] = proto.Clone(e).(*ifcv1.Execution)
}

func (m *memStore) GetExecution(_ context.Context, id string) (*ifcv1.Execution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.execs[id]
	if !ok {
		return nil, metadata.ErrNotFound
	}
	return proto.Clone(e).(*ifcv1.Execution), nil
}

func (m *memStore) ListExecutions(_ context.Context, f metadata.ExecutionFilter) ([]*ifcv1.Execution, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []*ifcv1.Execution
	for i := len(m.order) - 1; i >= 0; i-- {
		e := m.execs[m.order[i]]
		ct := e.CreatedAt.AsTime()
		if (f.PipelineID != "" && e.PipelineId != f.PipelineID) || (f.Status != 0 && e.Status != f.Status) ||
			(!f.Since.IsZero() && ct.Before(f.Since)) || (!f.Until.IsZero() && !ct.Before(f.Until)) {
			continue
		}
		all = append(all, e)
	}
	start := 0
	if f.PageToken != "" {
		n, err := strconv.Atoi(f.PageToken)
		if err != nil {
			return nil, "", fmt.Errorf("bad page token")
		}
		start = n
	}
	if start > len(all) {
		start = len(all)
	}
	end := min(len(all), start+f.Limit)
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[start:end], next, nil
}

func (m *memStore) GetUser(_ context.Context, name string) (metadata.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return metadata.User{}, metadata.ErrNotFound
	}
	return u, nil
}

func (m *memStore) CreateUser(_ context.Context, u metadata.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[u.Username]; ok {
		return metadata.ErrConflict
	}
	m.users[u.Username] = u
	return nil
}

// memBus delivers published events synchronously to every subscriber.
type memBus struct {
	mu   sync.Mutex
	subs map[int]events.Handler
	n    int
}

func (b *memBus) Subscribe(ctx context.Context, h events.Handler) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = map[int]events.Handler{}
	}
	b.n++
	id := b.n
	b.subs[id] = h
	return func() { b.mu.Lock(); delete(b.subs, id); b.mu.Unlock() }, nil
}

func (b *memBus) Publish(_ context.Context, ev *ifcv1.ProgressEvent) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, h := range b.subs {
		h(ev)
	}
	return nil
}

func (b *memBus) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// fakeConductor records executions in the store and finishes them when
// told to (or at once with autoFinish), publishing progress on the bus.
type fakeConductor struct {
	store      *memStore
	bus        *memBus
	mu         sync.Mutex
	overloaded bool
	autoFinish bool
	n          int
	seq        map[string]uint64
	frames     int
}

func (c *fakeConductor) Submit(ctx context.Context, req SubmitRequest) (*ifcv1.Execution, error) {
	c.mu.Lock()
	over := c.overloaded
	c.n++
	n := c.n
	c.mu.Unlock()
	if over {
		return nil, fmt.Errorf("admission: %w", errOverloaded)
	}
	p, err := c.store.GetPipeline(ctx, req.PipelineID, req.Version)
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", req.PipelineID, err)
	}
	for _, in := range req.Inputs {
		if _, err := c.store.GetFile(ctx, in); err != nil {
			return nil, fmt.Errorf("input %s: %w", in, err)
		}
	}
	e := &ifcv1.Execution{ExecutionId: fmt.Sprintf("ex-%04d", n), PipelineId: p.Id, PipelineVersion: p.Version, Inputs: req.Inputs,
		CorrelationId: req.CorrelationID, ClientId: req.ClientID, CreatedBy: req.CreatedBy, Status: ifcv1.ExecutionStatus_EXECUTION_STATUS_QUEUED,
		CreatedAt: timestamppb.New(time.Now().Add(time.Duration(n) * time.Millisecond))}
	for _, node := range p.Definition.Nodes {
		e.Nodes = append(e.Nodes, &ifcv1.NodeStatus{NodeId: node.Id, State: ifcv1.NodeState_NODE_STATE_QUEUED})
	}
	c.store.putExecution(e)
	c.publish(e.ExecutionId, "", 0, ifcv1.ExecutionStatus_EXECUTION_STATUS_QUEUED)
	if c.autoFinish {
		go c.finish(e.ExecutionId)
	}
	return e, nil
}

func (c *fakeConductor) publish(id, node string, st ifcv1.NodeState, es ifcv1.ExecutionStatus) {
	c.mu.Lock()
	if c.seq == nil {
		c.seq = map[string]uint64{}
	}
	c.seq[id]++
	seq := c.seq[id]
	c.mu.Unlock()
	_ = c.bus.Publish(context.Background(), &ifcv1.ProgressEvent{ExecutionId: id, NodeId: node, State: st, ExecutionStatus: es, Seq: seq, Ts: timestamppb.Now()})
}

// step runs node i of an execution: running then succeeded events.
func (c *fakeConductor) step(id string, i int) {
	e, _ := c.store.GetExecution(context.Background(), id)
	n := e.Nodes[i]
	n.State = ifcv1.NodeState_NODE_STATE_RUNNING
	e.Status = ifcv1.ExecutionStatus_EXECUTION_STATUS_RUNNING
	c.store.putExecution(e)
	c.publish(id, n.NodeId, n.State, e.Status)
	n.State = ifcv1.NodeState_NODE_STATE_SUCCEEDED
	n.Outputs = &ifcv1.NodeOutputs{Detections: []*ifcv1.Detection{{Label: "scratch", Score: 0.9, Box: &ifcv1.Box{X: 1, Y: 2, W: 3, H: 4}}}}
	c.store.putExecution(e)
	c.publish(id, n.NodeId, n.State, e.Status)
}

// finish runs every node and ends the execution as succeeded.
func (c *fakeConductor) finish(id string) {
	e, _ := c.store.GetExecution(context.Background(), id)
	for i := range e.Nodes {
		c.step(id, i)
	}
	e, _ = c.store.GetExecution(context.Background(), id)
	e.Status = ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED
	e.FinishedAt = timestamppb.Now()
	c.store.putExecution(e)
	c.publish(id, "", 0, e.Status)
}

func (c *fakeConductor) Wait(ctx context.Context, id string) (*ifcv1.Execution, error) {
	for {
		e, err := c.store.GetExecution(ctx, id)
		if err != nil {
			return nil, err
		}
		if isTerminal(e.Status) {
			return e, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (c *fakeConductor) Cancel(ctx context.Context, id string) error {
	e, err := c.store.GetExecution(ctx, id)
	if err != nil {
		return err
	}
	if isTerminal(e.Status) {
		return nil
	}
	e.Status = ifcv1.ExecutionStatus_EXECUTION_STATUS_CANCELLED
	c.store.putExecution(e)
	c.publish(id, "", 0, e.Status)
	return nil
}

func (c *fakeConductor) ProcessFrame(ctx context.Context, p *ifcv1.Pipeline, img *ifcv1.Image) (*ifcv1.ProcessedFrame, error) {
	c.mu.Lock()
	over := c.overloaded
	c.frames++
	c.mu.Unlock()
	if over {
		return nil, errOverloaded
	}
	return &ifcv1.ProcessedFrame{Image: &ifcv1.Image{Data: img.Data, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG, Width: img.Width, Height: img.Height},
		Detections: []*ifcv1.Detection{{Label: p.Id, Score: 0.5, Box: &ifcv1.Box{W: float32(img.Width), H: float32(img.Height)}}}, ProcessingUs: 42}, nil
}

// memFiles sniffs and stores uploads in memory, like files.Service.
type memFiles struct {
	store *memStore
	mu    sync.Mutex
	data  map[string][]byte
	n     int
}

func (f *memFiles) Ingest(ctx context.Context, r io.Reader, o IngestOptions) (metadata.File, error) {
	b, err := io.ReadAll(io.LimitReader(r, o.MaxBytes+1))
	if err != nil {
		return metadata.File{}, err
	}
	if int64(len(b)) > o.MaxBytes {
		return metadata.File{}, errFileTooLarge
	}
	ct := http.DetectContentType(b)
	if ct != "image/jpeg" && ct != "image/png" {
		return metadata.File{}, fmt.Errorf("%w: %s", errUnsupportedType, ct)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return metadata.File{}, fmt.Errorf("%w: %v", errCorruptImage, err)
	}
	if cfg.Width*cfg.Height > 40_000_000 {
		return metadata.File{}, errTooManyPixels
	}
	if _, _, err := image.Decode(bytes.NewReader(b)); err != nil {
		return metadata.File{}, fmt.Errorf("%w: %v", errCorruptImage, err)
	}
	f.mu.Lock()
	f.n++
	id := fmt.Sprintf("file-%d", f.n)
	if f.data == nil {
		f.data = map[string][]byte{}
	}
	f.data[id] = b
	f.mu.Unlock()
	meta := metadata.File{FileID: id, Key: "files/" + id, SHA256: fmt.Sprintf("%064x", len(b)), Size: int64(len(b)), ContentType: ct, Width: cfg.Width, Height: cfg.Height, CreatedBy: o.CreatedBy, CreatedAt: time.Now()}
	return meta, f.store.PutFile(ctx, meta)
}

func (f *memFiles) Open(ctx context.Context, id string) (io.ReadCloser, metadata.File, error) {
	meta, err := f.store.GetFile(ctx, id)
	if err != nil {
		return nil, metadata.File{}, err
	}
	f.mu.Lock()
	b, ok := f.data[id]
	f.mu.Unlock()
	if !ok {
		return nil, metadata.File{}, errors.New("object missing")
	}
	return io.NopCloser(bytes.NewReader(b)), meta, nil
}
