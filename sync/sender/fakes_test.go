package sender

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/device"
)

// This file holds unit-test aids: a fake SyncServiceServer served over real
// gRPC on 127.0.0.1:0, an in-memory Queue and a manual Clock. The real
// end-to-end test against sync/receiver lives with the receiver.

var testCreds = device.Credentials{DeviceID: "edge-1", Line: "line-a", Secret: "s3cret"}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// fakeServer is a SyncServiceServer keeping everything in memory.
type fakeServer struct {
	ifcv1.UnimplementedSyncServiceServer

	mu         sync.Mutex
	down       bool                  // every call answers Unavailable
	revoked    bool                  // every call answers PermissionDenied "device revoked"
	refuse     map[string]codes.Code // record id -> CommitRecord refusal
	refusals   map[string]int        // record id -> CommitRecord calls refused
	held       map[string][]byte     // image sha -> bytes held
	complete   map[string]bool       // image sha -> verified
	cuts       []int64               // drop the upload stream once an image holds this many bytes
	records    map[string]*ifcv1.InspectionRecord
	committed  []string                     // record ids in commit order (created only)
	overrides  []string                     // override ids
	streams    int                          // UploadImage streams opened
	calls      int                          // calls that passed authentication
	pages      []*ifcv1.PullMastersResponse // by cursor index: page i answers cursor pageCursor(i)
	cursors    []int64                      // cursors PullMasters was asked for
	bundle     []*ifcv1.ModelChunk
	beats      []*ifcv1.HeartbeatRequest
	lose       map[string]int // image sha -> times to lose it once complete (the cloud answers DataLoss)
	pullCode   codes.Code     // PullMasters answers this when set
	badOffsets int            // chunks at an offset other than the bytes held
	discard    bool           // benchmark: count bytes, keep nothing, never complete
}

func newFakeServer() *fakeServer {
	return &fakeServer{refuse: map[string]codes.Code{}, refusals: map[string]int{}, held: map[string][]byte{}, complete: map[string]bool{}, records: map[string]*ifcv1.InspectionRecord{}}
}

func (f *fakeServer) auth(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(device.MetadataKey); len(v) != 1 || v[0] != device.Header(testCreds.DeviceID, testCreds.Secret) {
		return status.Error(codes.Unauthenticated, "bad device credential")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.down:
		return status.Error(codes.Unavailable, "cloud is down")
	case f.revoked:
		return status.Error(codes.PermissionDenied, "device edge-1 was revoked at 2026-01-01T00:00:00Z; enroll again with a new token")
	}
	f.calls++
	return nil
}

func (f *fakeServer) set(fn func(f *fakeServer)) { f.mu.Lock(); fn(f); f.mu.Unlock() }

func (f *fakeServer) Enroll(_ context.Context, r *ifcv1.EnrollRequest) (*ifcv1.EnrollResponse, error) {
	if r.GetToken() != "ifcenr_good" {
		return nil, status.Error(codes.Unauthenticated, "enrollment token is unknown, used or expired")
	}
	return &ifcv1.EnrollResponse{Credentials: &ifcv1.DeviceCredentials{DeviceId: testCreds.DeviceID, Line: testCreds.Line, Secret: testCreds.Secret}}, nil
}

func (f *fakeServer) UploadOffset(ctx context.Context, r *ifcv1.UploadOffsetRequest) (*ifcv1.UploadOffsetResponse, error) {
	if err := f.auth(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return &ifcv1.UploadOffsetResponse{Offset: int64(len(f.held[r.GetSha256()])), Complete: f.complete[r.GetSha256()]}, nil
}

func (f *fakeServer) UploadImage(st grpc.ClientStreamingServer[ifcv1.UploadImageRequest, ifcv1.UploadImageResponse]) error {
	if err := f.auth(st.Context()); err != nil {
		return err
	}
	f.mu.Lock()
	f.streams++
	f.mu.Unlock()
	var ref *ifcv1.ImageRef
	var n int64 // discard mode
	for {
		m, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if ref == nil {
			if ref = m.GetImage(); ref == nil {
				return status.Error(codes.InvalidArgument, "first message must carry the image")
			}
		}
		if sha(m.GetData()) != m.GetDataSha256() {
			return status.Error(codes.InvalidArgument, "chunk sha256 mismatch")
		}
		f.mu.Lock()
		if f.discard {
			n += int64(len(m.GetData()))
			f.mu.Unlock()
			continue
		}
		h := f.held[ref.GetSha256()]
		if m.GetOffset() != int64(len(h)) {
			f.badOffsets++
			f.mu.Unlock()
			return status.Errorf(codes.InvalidArgument, "offset %d, want %d", m.GetOffset(), len(h))
		}
		h = append(h, m.GetData()...)
		f.held[ref.GetSha256()] = h
		if len(f.cuts) > 0 && int64(len(h)) >= f.cuts[0] {
			f.cuts = f.cuts[1:]
			f.mu.Unlock()
			return status.Error(codes.Unavailable, "link cut")
		}
		f.mu.Unlock()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.discard {
		return st.SendAndClose(&ifcv1.UploadImageResponse{Offset: n, Complete: true})
	}
	h := f.held[ref.GetSha256()]
	if int64(len(h)) == ref.GetSize() {
		if f.lose[ref.GetSha256()] > 0 {
			f.lose[ref.GetSha256()]--
			h[0] ^= 0xff
		}
		if sha(h) != ref.GetSha256() {
			delete(f.held, ref.GetSha256())
			return status.Error(codes.DataLoss, "image sha256 mismatch; discarded, resend from offset 0")
		}
		f.complete[ref.GetSha256()] = true
	}
	return st.SendAndClose(&ifcv1.UploadImageResponse{Offset: int64(len(h)), Complete: f.complete[ref.GetSha256()]})
}

func (f *fakeServer) CommitRecord(ctx context.Context, r *ifcv1.CommitRecordRequest) (*ifcv1.CommitRecordResponse, error) {
	if err := f.auth(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := r.GetRecord()
	if c, ok := f.refuse[rec.GetRecordId()]; ok {
		f.refusals[rec.GetRecordId()]++
		return nil, status.Errorf(c, "record %s refused", rec.GetRecordId())
	}
	for _, img := range rec.GetImages() {
		if !f.complete[img.GetSha256()] {
			return nil, status.Errorf(codes.FailedPrecondition, "image %s not uploaded", img.GetSha256())
		}
	}
	if old, ok := f.records[rec.GetRecordId()]; ok {
		if !proto.Equal(old, rec) {
			return nil, status.Error(codes.AlreadyExists, "different record under this id")
		}
		return &ifcv1.CommitRecordResponse{Outcome: ifcv1.CommitOutcome_COMMIT_OUTCOME_DUPLICATE}, nil
	}
	f.records[rec.GetRecordId()] = rec
	f.committed = append(f.committed, rec.GetRecordId())
	return &ifcv1.CommitRecordResponse{Outcome: ifcv1.CommitOutcome_COMMIT_OUTCOME_CREATED, CommittedAt: timestamppb.Now()}, nil
}

func (f *fakeServer) CommitOverride(ctx context.Context, r *ifcv1.CommitOverrideRequest) (*ifcv1.CommitOverrideResponse, error) {
	if err := f.auth(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.overrides = append(f.overrides, r.GetOverride().GetOverrideId())
	return &ifcv1.CommitOverrideResponse{Outcome: ifcv1.CommitOutcome_COMMIT_OUTCOME_CREATED}, nil
}

func (f *fakeServer) Heartbeat(ctx context.Context, r *ifcv1.HeartbeatRequest) (*ifcv1.HeartbeatResponse, error) {
	if err := f.auth(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beats = append(f.beats, r)
	return &ifcv1.HeartbeatResponse{ServerTime: timestamppb.Now()}, nil
}

func (f *fakeServer) PullMasters(ctx context.Context, r *ifcv1.PullMastersRequest) (*ifcv1.PullMastersResponse, error) {
	if err := f.auth(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pullCode != codes.OK {
		return nil, status.Error(f.pullCode, "pull broken")
	}
	f.cursors = append(f.cursors, r.GetCursor())
	for _, p := range f.pages { // pages are sorted by the cursor they answer (NextCursor of the one before)
		if p.GetNextCursor() > r.GetCursor() {
			return p, nil
		}
	}
	return &ifcv1.PullMastersResponse{NextCursor: r.GetCursor()}, nil
}

func (f *fakeServer) DownloadModel(r *ifcv1.DownloadModelRequest, st grpc.ServerStreamingServer[ifcv1.ModelChunk]) error {
	if err := f.auth(st.Context()); err != nil {
		return err
	}
	f.mu.Lock()
	chunks := f.bundle
	f.mu.Unlock()
	for _, c := range chunks {
		if err := st.Send(c); err != nil {
			return err
		}
	}
	return nil
}

// memQueue is an in-memory Queue.
type memQueue struct {
	mu        sync.Mutex
	recs      map[string]*ifcv1.InspectionRecord
	images    map[string][]byte
	synced    map[string]time.Time
	overrides []*ifcv1.VerdictOverride
	ovSynced  map[string]bool
	masters   map[string]*ifcv1.InspectionMaster
	cursors   map[string]cursorVal
}

type cursorVal struct {
	v int64
	b []byte
}

func newMemQueue() *memQueue {
	return &memQueue{recs: map[string]*ifcv1.InspectionRecord{}, images: map[string][]byte{}, synced: map[string]time.Time{},
		ovSynced: map[string]bool{}, masters: map[string]*ifcv1.InspectionMaster{}, cursors: map[string]cursorVal{}}
}

// add stores a record with the given images.
func (q *memQueue) add(id string, r ifcv1.VerdictResult, at time.Time, images ...[]byte) *ifcv1.InspectionRecord {
	rec := &ifcv1.InspectionRecord{RecordId: id, DeviceId: testCreds.DeviceID, Line: testCreds.Line, ProductCode: "P1",
		CapturedAt: timestamppb.New(at), Verdict: &ifcv1.Verdict{Result: r}}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, b := range images {
		rec.Images = append(rec.Images, &ifcv1.ImageRef{Sha256: sha(b), Size: int64(len(b)), ContentType: "image/jpeg"})
		q.images[sha(b)] = b
	}
	q.recs[id] = rec
	return rec
}

func (q *memQueue) isSynced(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.synced[id]
	return ok
}

func (q *memQueue) Pending(_ context.Context, limit int) ([]Pending, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Pending
	for id, r := range q.recs {
		if _, ok := q.synced[id]; !ok {
			out = append(out, Pending{RecordID: id, Result: r.GetVerdict().GetResult(), CapturedAt: r.GetCapturedAt().AsTime()})
		}
	}
	slices.SortFunc(out, func(a, b Pending) int {
		an, bn := a.Result == ifcv1.VerdictResult_VERDICT_RESULT_NG, b.Result == ifcv1.VerdictResult_VERDICT_RESULT_NG
		if an != bn {
			if an {
				return -1
			}
			return 1
		}
		return a.CapturedAt.Compare(b.CapturedAt)
	})
	return out[:min(limit, len(out))], nil
}

func (q *memQueue) Get(_ context.Context, id string) (*ifcv1.InspectionRecord, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r, ok := q.recs[id]
	if !ok {
		return nil, fmt.Errorf("record %s not found", id)
	}
	return proto.Clone(r).(*ifcv1.InspectionRecord), nil
}

func (q *memQueue) Image(_ context.Context, s string) ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	b, ok := q.images[s]
	if !ok {
		return nil, fmt.Errorf("image %s not found", s)
	}
	return bytes.Clone(b), nil
}

func (q *memQueue) MarkSynced(_ context.Context, id string, at time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.synced[id] = at
	return nil
}

func (q *memQueue) PendingOverrides(_ context.Context, limit int) ([]*ifcv1.VerdictOverride, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*ifcv1.VerdictOverride
	for _, o := range q.overrides {
		if !q.ovSynced[o.GetOverrideId()] && len(out) < limit {
			out = append(out, o)
		}
	}
	return out, nil
}

func (q *memQueue) MarkOverrideSynced(_ context.Context, id string, _ time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ovSynced[id] = true
	return nil
}

func (q *memQueue) Backlog(context.Context) (Backlog, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var b Backlog
	for id, r := range q.recs {
		if _, ok := q.synced[id]; ok {
			continue
		}
		b.Queued++
		for _, img := range r.GetImages() {
			b.QueuedBytes += img.GetSize()
		}
		if at := r.GetCapturedAt().AsTime(); b.Oldest.IsZero() || at.Before(b.Oldest) {
			b.Oldest = at
		}
	}
	return b, nil
}

func (q *memQueue) PutMaster(_ context.Context, m *ifcv1.InspectionMaster) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if old, ok := q.masters[m.GetProduct().GetCode()]; ok && old.GetVersion() >= m.GetVersion() {
		return nil
	}
	q.masters[m.GetProduct().GetCode()] = m
	return nil
}

func (q *memQueue) Cursor(_ context.Context, name string) (int64, []byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := q.cursors[name]
	return c.v, c.b, nil
}

func (q *memQueue) PutCursor(_ context.Context, name string, v int64, b []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cursors[name] = cursorVal{v, bytes.Clone(b)}
	return nil
}

// manualClock moves only when the test advances it; every After call is
// reported on calls so the test knows what the loop waits for.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []clockWaiter
	calls   chan time.Duration
}

type clockWaiter struct {
	at time.Time
	ch chan time.Time
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), calls: make(chan time.Duration, 1000)}
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.waiters = append(c.waiters, clockWaiter{c.now.Add(d), ch})
	c.mu.Unlock()
	c.calls <- d
	return ch
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			keep = append(keep, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = keep
}

// nextWait returns the duration of the loop's next wait on the clock.
func (c *manualClock) nextWait(t testing.TB) time.Duration {
	t.Helper()
	select {
	case d := <-c.calls:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("sender never waited on the clock")
		return 0
	}
}

// env is a fake cloud on a real gRPC listener plus the edge's queue and clock.
type env struct {
	gs   *grpc.Server
	srv  *fakeServer
	q    *memQueue
	clk  *manualClock
	conn *grpc.ClientConn
	addr string
}

func newEnv(t testing.TB, serverOpts ...grpc.ServerOption) *env {
	t.Helper()
	e := &env{srv: newFakeServer(), q: newMemQueue(), clk: newManualClock(), addr: "127.0.0.1:0"}
	e.startServer(t, serverOpts...)
	conn, err := Dial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	e.conn = conn
	t.Cleanup(func() { conn.Close() })
	return e
}

// startServer serves e.srv on e.addr (a new port the first time).
func (e *env) startServer(t testing.TB, opts ...grpc.ServerOption) {
	t.Helper()
	lis, err := net.Listen("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	e.addr = lis.Addr().String()
	e.gs = grpc.NewServer(opts...)
	ifcv1.RegisterSyncServiceServer(e.gs, e.srv)
	go e.gs.Serve(lis)
	t.Cleanup(e.gs.Stop)
}

// stopServer stops serving and closes the listener; clients see the cloud gone.
func (e *env) stopServer() { e.gs.Stop() }

// sender returns a Sender on e with test defaults; mod adjusts the options.
func (e *env) sender(t testing.TB, mod func(*Options)) *Sender {
	t.Helper()
	o := Options{
		Client: ifcv1.NewSyncServiceClient(e.conn), Conn: e.conn, Credentials: testCreds, Queue: e.q,
		ChunkBytes: 16 << 10, Clock: e.clk, Rand: func() float64 { return 0 },
		IdleInterval: time.Hour, PullInterval: 24 * time.Hour, HeartbeatInterval: 24 * time.Hour,
		BackoffMin: time.Second, BackoffMax: time.Minute, CallTimeout: 10 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run starts s.Run and stops it (checking its nil result) at cleanup.
func run(t testing.TB, s *Sender) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// drive polls cond, advancing the clock through every wait of the loop, until cond holds.
func (e *env) drive(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case d := <-e.clk.calls:
			e.clk.Advance(d)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitFor polls cond without moving the clock.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// randBytes returns n deterministic pseudo-random bytes.
func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
