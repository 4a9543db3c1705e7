package sender

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/device"
)

var (
	ok = ifcv1.VerdictResult_VERDICT_RESULT_OK
	ng = ifcv1.VerdictResult_VERDICT_RESULT_NG
	t0 = time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
)

func TestNGFirstThenOldest(t *testing.T) {
	e := newEnv(t)
	e.q.add("ok-old", ok, t0, randBytes(1, 3000))
	e.q.add("ng-new", ng, t0.Add(3*time.Minute), randBytes(2, 5000))
	e.q.add("ok-new", ok, t0.Add(2*time.Minute), randBytes(3, 100))
	e.q.add("ng-old", ng, t0.Add(time.Minute), randBytes(4, 40000), randBytes(5, 7))
	e.q.overrides = []*ifcv1.VerdictOverride{{OverrideId: "ov-1", RecordId: "ok-old", Actor: "qa", Reason: "scratch"}}
	var changes atomic.Int64
	s := e.sender(t, func(o *Options) { o.AgentVersion = "1.2.3"; o.OnChange = func() { changes.Add(1) } })
	if st := s.State(); st.Queued != 0 || !st.Enrolled {
		t.Fatalf("state before Run: %+v", st)
	}
	run(t, s)
	waitFor(t, "all records synced", func() bool { return s.State().SentRecords == 4 && !s.State().LastSuccess.IsZero() })
	if changes.Load() == 0 {
		t.Error("OnChange was never called")
	}
	e.q.mu.Lock()
	if !e.q.ovSynced["ov-1"] {
		t.Error("override not marked synced")
	}
	e.q.mu.Unlock()

	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	if !slices.Equal(e.srv.overrides, []string{"ov-1"}) {
		t.Errorf("overrides in the cloud %v", e.srv.overrides)
	}
	if len(e.srv.beats) != 1 || e.srv.beats[0].GetAgentVersion() != "1.2.3" || e.srv.beats[0].GetQueued() != 0 {
		t.Errorf("heartbeats %v", e.srv.beats)
	}
	if want := []string{"ng-old", "ng-new", "ok-old", "ok-new"}; !slices.Equal(e.srv.committed, want) {
		t.Errorf("commit order %v, want %v", e.srv.committed, want)
	}
	for sum, b := range e.q.images {
		if !bytes.Equal(e.srv.held[sum], b) || !e.srv.complete[sum] {
			t.Errorf("image %s not byte-identical in the cloud", sum)
		}
	}
	st := s.State()
	if st.Queued != 0 || st.QueuedBytes != 0 || !st.Oldest.IsZero() || st.LastSuccess.IsZero() || st.LastError != "" || !st.Connected {
		t.Errorf("state after drain: %+v", st)
	}
	if st.SentBytes != 48107 || st.ResentBytes != 0 {
		t.Errorf("sent %d bytes, resent %d; want 48107 and 0", st.SentBytes, st.ResentBytes)
	}
}

func TestUploadResumesAfterCuts(t *testing.T) {
	const chunk = 32 << 10
	// The server's HTTP/2 windows fixed at 64 KiB bound the bytes in flight
	// (BDP estimation would otherwise grow them).
	const inflight = chunk + 128<<10
	e := newEnv(t, grpc.InitialWindowSize(64<<10), grpc.InitialConnWindowSize(64<<10))
	img1, img2 := randBytes(10, 30*chunk), randBytes(11, 10*chunk+7)
	e.q.add("r1", ng, t0, img1, img2)
	// Cut the first image twice, the second once (the server drops the stream).
	e.srv.cuts = []int64{5*chunk + 1, 13 * chunk, 2 * chunk}
	s := e.sender(t, func(o *Options) { o.ChunkBytes = chunk })
	run(t, s)
	e.drive(t, "record synced after cuts", func() bool { return e.q.isSynced("r1") })

	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	if !bytes.Equal(e.srv.held[sha(img1)], img1) || !bytes.Equal(e.srv.held[sha(img2)], img2) {
		t.Fatal("cloud images are not byte-identical")
	}
	if len(e.srv.cuts) != 0 || e.srv.streams != 5 || e.srv.badOffsets != 0 {
		t.Fatalf("cuts left %v, %d streams (want 5), %d wrong offsets", e.srv.cuts, e.srv.streams, e.srv.badOffsets)
	}
	st := s.State()
	if got, want := st.SentBytes-st.ResentBytes, int64(len(img1)+len(img2)); got != want {
		t.Errorf("sent %d new bytes, want every byte once: %d", got, want)
	}
	t.Logf("sent %d bytes, resent %d over 3 cuts (chunk %d)", st.SentBytes, st.ResentBytes, chunk)
	if st.ResentBytes > 3*inflight {
		t.Errorf("resent %d bytes over 3 cuts, want at most what can be in flight (%d) per cut", st.ResentBytes, inflight)
	}
}

func TestDataLossRetriedOnce(t *testing.T) {
	e := newEnv(t)
	img1, img2 := randBytes(80, 50_000), randBytes(81, 20_000)
	e.q.add("lost-once", ng, t0, img1)
	e.q.add("lost-twice", ng, t0.Add(time.Second), img2)
	e.q.add("fine", ok, t0, randBytes(82, 100))
	e.srv.lose = map[string]int{sha(img1): 1, sha(img2): 2}
	s := e.sender(t, nil)
	run(t, s)
	waitFor(t, "round finished", func() bool { return !s.State().LastSuccess.IsZero() })
	if !e.q.isSynced("lost-once") || !e.q.isSynced("fine") || e.q.isSynced("lost-twice") {
		t.Fatalf("synced: lost-once %v fine %v lost-twice %v; want true true false",
			e.q.isSynced("lost-once"), e.q.isSynced("fine"), e.q.isSynced("lost-twice"))
	}
	if st := s.State(); !strings.Contains(st.LastError, "lost-twice") || !strings.Contains(st.LastError, "DataLoss") {
		t.Errorf("LastError %q", st.LastError)
	}
	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	if !bytes.Equal(e.srv.held[sha(img1)], img1) {
		t.Error("image resent after DataLoss is not byte-identical")
	}
}

func TestBrokenDownlinkDoesNotBlockUplink(t *testing.T) {
	e := newEnv(t)
	e.q.add("r1", ng, t0, randBytes(90, 100))
	e.srv.pullCode = codes.Internal
	s := e.sender(t, nil)
	run(t, s)
	waitFor(t, "record synced", func() bool { return e.q.isSynced("r1") })
	waitFor(t, "round finished", func() bool { return !s.State().LastSuccess.IsZero() })
	if st := s.State(); !strings.Contains(st.LastError, "pull broken") {
		t.Errorf("LastError %q, want the downlink failure", st.LastError)
	}
}

func TestDuplicateMarksSynced(t *testing.T) {
	e := newEnv(t)
	img := randBytes(20, 1000)
	rec := e.q.add("dup", ok, t0, img)
	e.srv.held[sha(img)], e.srv.complete[sha(img)] = img, true
	e.srv.records["dup"] = rec
	s := e.sender(t, nil)
	run(t, s)
	waitFor(t, "duplicate marked synced", func() bool { return e.q.isSynced("dup") })
	if st := s.State(); st.SentRecords != 1 || st.SentBytes != 0 {
		t.Errorf("SentRecords %d SentBytes %d, want 1 and 0 (image already complete)", st.SentRecords, st.SentBytes)
	}
}

func TestRefusedRecordIsHeldOthersSync(t *testing.T) {
	e := newEnv(t)
	e.q.add("bad", ng, t0, randBytes(30, 100))
	corrupt := e.q.add("corrupt", ng, t0.Add(time.Second), randBytes(31, 100))
	e.q.images[corrupt.Images[0].Sha256][0] ^= 0xff // local corruption
	e.q.add("good", ok, t0.Add(2*time.Second), randBytes(32, 100))
	e.srv.refuse["bad"] = codes.FailedPrecondition
	s := e.sender(t, nil)
	run(t, s)
	waitFor(t, "good record synced", func() bool { return e.q.isSynced("good") })
	waitFor(t, "round finished", func() bool { return !s.State().LastSuccess.IsZero() })

	if e.q.isSynced("bad") || e.q.isSynced("corrupt") {
		t.Error("a refused or corrupt record was marked synced")
	}
	e.srv.mu.Lock()
	_, sent := e.srv.held[corrupt.Images[0].Sha256]
	e.srv.mu.Unlock()
	if sent {
		t.Error("corrupt image bytes were sent")
	}
	if st := s.State(); !strings.Contains(st.LastError, "record corrupt") || !strings.Contains(st.LastError, "corrupt") {
		t.Errorf("LastError %q does not name the held record", st.LastError)
	}
	// The next round tries the held records again.
	e.srv.set(func(f *fakeServer) { delete(f.refuse, "bad") })
	e.drive(t, "held record synced on a later round", func() bool { return e.q.isSynced("bad") })
}

// A record the cloud refuses waits out its own backoff on the injected
// clock instead of being re-sent every round, while others go on; SyncNow
// retries it at once. (Rounds are driven by hand: Run is not started.)
func TestRefusedRecordBacksOff(t *testing.T) {
	e := newEnv(t)
	e.q.add("bad", ng, t0, randBytes(40, 100))
	e.srv.refuse["bad"] = codes.FailedPrecondition
	s := e.sender(t, nil)
	ctx := context.Background()
	refusals := func() int {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return e.srv.refusals["bad"]
	}
	round := func(want int, what string) {
		t.Helper()
		if err := s.round(ctx); err != nil {
			t.Fatalf("%s: round: %v", what, err)
		}
		if got := refusals(); got != want {
			t.Fatalf("%s: the refused record was sent %d times, want %d", what, got, want)
		}
	}
	round(1, "first round")
	e.q.add("good", ok, t0.Add(time.Hour), randBytes(41, 10))
	round(1, "next round inside the backoff")
	if !e.q.isSynced("good") {
		t.Fatal("a held record blocked the one behind it")
	}
	e.clk.Advance(time.Minute) // BackoffMax
	round(2, "after the backoff")
	s.SyncNow()
	round(3, "after SyncNow")
}

func TestManyHeldRecordsDoNotHideOthers(t *testing.T) {
	e := newEnv(t)
	for i := range 2*pendingPage + 5 {
		id := fmt.Sprintf("bad-%03d", i)
		e.q.add(id, ng, t0.Add(time.Duration(i)*time.Second), randBytes(uint64(1000+i), 10))
		e.srv.refuse[id] = codes.InvalidArgument
	}
	e.q.add("good", ok, t0.Add(time.Hour), randBytes(999, 10))
	s := e.sender(t, nil)
	run(t, s)
	waitFor(t, "the record behind 205 held ones synced", func() bool { return e.q.isSynced("good") })
}

func TestRevokedStopsSending(t *testing.T) {
	e := newEnv(t)
	e.q.add("r1", ng, t0, randBytes(40, 100))
	e.srv.revoked = true
	s := e.sender(t, nil)
	stop := run(t, s)
	waitFor(t, "revoked", func() bool { return s.State().Revoked })
	e.srv.set(func(f *fakeServer) { f.revoked = false })
	s.SyncNow()
	e.clk.Advance(24 * time.Hour)
	stop()
	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	if e.srv.calls != 0 || e.q.isSynced("r1") {
		t.Errorf("a revoked sender kept calling: %d calls", e.srv.calls)
	}
	if st := s.State(); !strings.Contains(st.LastError, "revoked") {
		t.Errorf("LastError %q", st.LastError)
	}
}

func TestBackoffSequence(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999999} {
		b := NewBackoff(100*time.Millisecond, time.Second, func() float64 { return r })
		var prev time.Duration
		for i, step := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
			step *= time.Millisecond
			d := b.Next()
			if d < step/2 || d > step || d > time.Second {
				t.Fatalf("rand %v: wait %d = %v, want in [%v, %v]", r, i, d, step/2, step)
			}
			if d < prev {
				t.Fatalf("rand %v: wait %d = %v shrank from %v", r, i, d, prev)
			}
			prev = d
		}
		b.Reset()
		if d := b.Next(); d < 50*time.Millisecond || d > 100*time.Millisecond {
			t.Fatalf("after Reset: %v", d)
		}
	}
	if d := NewBackoff(time.Second, time.Hour, func() float64 { return 0.5 }).Next(); d != 750*time.Millisecond {
		t.Errorf("equal jitter with rand 0.5: %v, want 750ms", d)
	}
}

func TestLoopBacksOffOnClock(t *testing.T) {
	e := newEnv(t)
	e.q.add("r1", ng, t0, randBytes(50, 100))
	e.srv.down = true
	s := e.sender(t, func(o *Options) { o.BackoffMin, o.BackoffMax = time.Second, 8*time.Second; o.Conn = nil })
	run(t, s)

	for _, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		d := e.clk.nextWait(t)
		if d != want {
			t.Fatalf("backoff wait %v, want %v", d, want)
		}
		waitFor(t, "NextAttempt", func() bool { return s.State().NextAttempt.Equal(e.clk.Now().Add(d)) })
		if st := s.State(); st.Connected || !strings.Contains(st.LastError, "Unavailable") {
			t.Fatalf("state while down: %+v", st)
		}
		e.clk.Advance(d)
	}
	// SyncNow cuts a backoff short: no clock advance needed.
	if d := e.clk.nextWait(t); d != 4*time.Second {
		t.Fatalf("backoff wait %v, want the cap 4s", d)
	}
	e.srv.set(func(f *fakeServer) { f.down = false })
	s.SyncNow()
	if d := e.clk.nextWait(t); d != time.Hour {
		t.Fatalf("after SyncNow the loop waits %v, want the idle interval", d)
	}
	st := s.State()
	if !e.q.isSynced("r1") || st.LastSuccess.IsZero() || st.LastError != "" || !st.NextAttempt.IsZero() || !st.Connected {
		t.Fatalf("state after recovery: %+v", st)
	}
	// A success resets the backoff.
	e.srv.set(func(f *fakeServer) { f.down = true })
	e.q.add("r2", ng, t0, randBytes(51, 100))
	s.SyncNow()
	if d := e.clk.nextWait(t); d != 500*time.Millisecond {
		t.Fatalf("first backoff after a success %v, want 500ms", d)
	}
}

func TestReconnectCutsBackoffShort(t *testing.T) {
	e := newEnv(t)
	e.q.add("r1", ng, t0, randBytes(60, 100))
	e.stopServer()
	s := e.sender(t, nil)
	run(t, s)
	if d := e.clk.nextWait(t); d == time.Hour || e.q.isSynced("r1") {
		t.Fatalf("want a backoff while the cloud is gone, got wait %v", d)
	}
	if st := s.State(); st.Connected || st.NextAttempt.IsZero() {
		t.Fatalf("state while the cloud is gone: %+v", st)
	}
	e.startServer(t)
	waitFor(t, "sync after reconnect without advancing the clock", func() bool { return e.q.isSynced("r1") })
}

func TestDownlinkCursorAcrossPages(t *testing.T) {
	e := newEnv(t)
	m := func(code string, v int64) *ifcv1.InspectionMaster {
		return &ifcv1.InspectionMaster{Product: &ifcv1.Product{Code: code}, Version: v, PipelineId: "pl-" + code, PipelineVersion: 1}
	}
	e.srv.pages = []*ifcv1.PullMastersResponse{
		{Masters: []*ifcv1.InspectionMaster{m("A", 3), m("B", 5)}, Pipelines: []*ifcv1.Pipeline{{Id: "pl-A", Version: 1}}, NextCursor: 5, More: true},
		{Masters: []*ifcv1.InspectionMaster{m("C", 7)}, Pipelines: []*ifcv1.Pipeline{{Id: "pl-C", Version: 2}}, NextCursor: 7},
	}
	s := e.sender(t, func(o *Options) { o.PullInterval = time.Minute })
	run(t, s)
	waitFor(t, "first pull", func() bool { c, _, _ := e.q.Cursor(context.Background(), "masters"); return c == 7 })
	if len(e.q.masters) != 3 {
		t.Fatalf("cached %d masters, want 3", len(e.q.masters))
	}
	if v, b, _ := e.q.Cursor(context.Background(), "pipeline/pl-C"); v != 2 || len(b) == 0 {
		t.Fatalf("pipeline pl-C cached as version %d (%d bytes)", v, len(b))
	}
	// A later pull and a restarted sender both continue from the stored cursor.
	e.srv.set(func(f *fakeServer) {
		f.pages = append(f.pages, &ifcv1.PullMastersResponse{Masters: []*ifcv1.InspectionMaster{m("A", 9)}, NextCursor: 9})
	})
	e.drive(t, "second pull", func() bool { c, _, _ := e.q.Cursor(context.Background(), "masters"); return c == 9 })
	e.q.mu.Lock()
	if v := e.q.masters["A"].GetVersion(); v != 9 {
		t.Errorf("master A version %d, want 9", v)
	}
	e.q.mu.Unlock()
	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	if want := []int64{0, 5, 7}; !slices.Equal(e.srv.cursors, want) {
		t.Errorf("pulled with cursors %v, want %v", e.srv.cursors, want)
	}
}

// fakeModels records Install calls.
type fakeModels struct {
	name, version string
	installs      []string
}

func (m *fakeModels) Current() (string, string) { return m.name, m.version }
func (m *fakeModels) Install(dir string) error {
	m.installs = append(m.installs, dir)
	m.version = filepath.Base(dir)
	return nil
}

func bundleChunks(files map[string][]byte, corrupt string) []*ifcv1.ModelChunk {
	var out []*ifcv1.ModelChunk
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	}) {
		b := files[name]
		sum := sha(b)
		if name == corrupt {
			sum = sha(append([]byte("x"), b...))
		}
		for off := 0; off < len(b) || off == 0; off += 1000 {
			out = append(out, &ifcv1.ModelChunk{File: name, Offset: int64(off), FileSize: int64(len(b)), FileSha256: sum, Data: b[off:min(off+1000, len(b))]})
			if len(b) == 0 {
				break
			}
		}
	}
	return out
}

func TestModelDownload(t *testing.T) {
	e := newEnv(t)
	files := map[string][]byte{"model.onnx": randBytes(70, 5500), "manifest.json": []byte(`{"name":"pf"}`)}
	e.srv.pages = []*ifcv1.PullMastersResponse{{Masters: []*ifcv1.InspectionMaster{
		{Product: &ifcv1.Product{Code: "A"}, Version: 4, PrefilterModelName: "pf", PrefilterModelVersion: "v2"},
		{Product: &ifcv1.Product{Code: "B"}, Version: 2, PrefilterModelName: "pf", PrefilterModelVersion: "v1"},
	}, NextCursor: 4}}
	e.srv.bundle = bundleChunks(files, "model.onnx")
	models := &fakeModels{name: "pf", version: "v1"}
	dir := t.TempDir()
	s := e.sender(t, func(o *Options) { o.Models, o.ModelDir, o.PullInterval = models, dir, time.Minute })
	run(t, s)

	// Bad sha256: nothing installed, previous kept, error reported, nothing left on disk.
	waitFor(t, "model error reported", func() bool { return strings.Contains(s.State().LastError, "sha256") })
	if st := s.State(); len(models.installs) != 0 || st.ModelVersion != "v1" {
		t.Fatalf("after a bad bundle: installs %v, model %q", models.installs, st.ModelVersion)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "pf")); len(ents) != 0 {
		t.Fatalf("a bad bundle left %v behind", ents)
	}

	// The cloud fixes the bundle; the next pull installs it.
	e.srv.set(func(f *fakeServer) { f.bundle = bundleChunks(files, "") })
	e.drive(t, "model installed", func() bool { return s.State().ModelVersion == "v2" })
	final := filepath.Join(dir, "pf", "v2")
	if !slices.Equal(models.installs, []string{final}) {
		t.Fatalf("Install calls %v, want [%s]", models.installs, final)
	}
	for name, want := range files {
		if got, err := os.ReadFile(filepath.Join(final, name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s in the installed bundle: %v", name, err)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	e := newEnv(t)
	for name, mod := range map[string]func(*Options){
		"no client":     func(o *Options) { o.Client = nil },
		"no queue":      func(o *Options) { o.Queue = nil },
		"no secret":     func(o *Options) { o.Credentials.Secret = "" },
		"tiny chunk":    func(o *Options) { o.ChunkBytes = 100 },
		"huge chunk":    func(o *Options) { o.ChunkBytes = 5 << 20 },
		"models no dir": func(o *Options) { o.Models = &fakeModels{} },
		"min over max":  func(o *Options) { o.BackoffMin, o.BackoffMax = time.Minute, time.Second },
	} {
		o := Options{Client: ifcv1.NewSyncServiceClient(e.conn), Credentials: testCreds, Queue: e.q}
		mod(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestEnroll(t *testing.T) {
	e := newEnv(t)
	c := ifcv1.NewSyncServiceClient(e.conn)
	ctx := context.Background()
	creds, err := Enroll(ctx, c, "ifcenr_good", "edge-1", "Line A camera", "1.0", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	if creds != (device.Credentials{DeviceID: "edge-1", Line: "line-a", Secret: "s3cret", CloudURL: e.addr}) {
		t.Errorf("credentials %+v", creds)
	}
	if _, err := Enroll(ctx, c, "ifcenr_used", "edge-1", "", "1.0", e.addr); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a refused token: %v, want Unauthenticated", err)
	}
	if _, err := Enroll(ctx, c, "ifcenr_good", "other-id", "", "1.0", e.addr); err == nil {
		t.Error("credentials for another device id were accepted")
	}
	if _, err := Enroll(ctx, c, "", "", "", "", e.addr); err == nil {
		t.Error("an empty token was sent")
	}
}

func BenchmarkUpload(b *testing.B) {
	e := newEnv(b)
	e.srv.discard = true
	img := randBytes(99, 4<<20)
	e.q.add("bench", ok, t0, img)
	s := e.sender(b, func(o *Options) { o.ChunkBytes = 256 << 10 })
	ref := e.q.recs["bench"].Images[0]
	ctx := context.Background()
	b.SetBytes(int64(len(img)))
	b.ResetTimer()
	for b.Loop() {
		if err := s.uploadImage(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
}
