package faulttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/imageflowcanvas/ifc/sync/faultproxy"
)

const (
	productCode   = "P-100"
	adminPassword = "fault-harness-admin-pw"
	deviceID      = "edge-fault-1"
)

// mastersYAML seeds the edge's master cache so inspections start before the
// first pull. It is version 1; the harness saves the cloud's master twice so
// the cloud's version (2) replaces the seed instead of conflicting with it
// (the same version with other content, e.g. updated_at, is a conflict).
const mastersYAML = `masters:
  - product: {code: P-100, name: Bracket}
    version: 1
    items:
      - {id: surface, name: Surface, description: No scratches or dents on the visible face.}
    defect_types:
      - {code: scratch, name: Scratch}
      - {code: dent, name: Dent}
    prefilter: {model_name: prefilter, model_version: 1.0.0, threshold: 0.28408}
`

// cloudMaster is the same master for PUT /api/v1/masters/P-100 (protojson, proto field names).
func cloudMaster(name string) map[string]any {
	return map[string]any{
		"product":                 map[string]string{"code": productCode, "name": name},
		"items":                   []map[string]string{{"id": "surface", "name": "Surface", "description": "No scratches or dents on the visible face."}},
		"defect_types":            []map[string]string{{"code": "scratch", "name": "Scratch"}, {"code": "dent", "name": "Dent"}},
		"prefilter_model_name":    "prefilter",
		"prefilter_model_version": "1.0.0",
		"prefilter_threshold":     0.28408,
	}
}

// harness owns one run: the run directory, the topology and the three processes.
type harness struct {
	t      *testing.T
	start  time.Time
	dir    string // run directory: logs, data, summary
	logDir string
	top    *topology

	cloud, edge, proxy *proc
	cloudAPI           *cloudAPI
	edgeAPI            *edgeAPI
	proxyAPI           *proxyAPI

	mu       sync.Mutex
	acked    map[string]int64   // acknowledged record id → image bytes
	lastStat map[int]edgeStatus // last status seen per edge incarnation
	driveErr int                // driver requests that failed (expected while killed)
	events   map[string]int     // chaos actions done, by kind
}

// harnessOptions tune the edge agent.
type harnessOptions struct {
	camera     string // camera spec
	chunkBytes int
}

// logf logs with the time since the start of the run.
func (h *harness) logf(format string, args ...any) {
	h.t.Helper()
	h.t.Logf("[%7.2fs] %s", time.Since(h.start).Seconds(), fmt.Sprintf(format, args...))
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// newHarness builds the binary and the topology and starts cloud, proxy and
// edge, with the cloud set up (master, enrollment token). Everything is
// torn down in t.Cleanup; on failure the process logs' tails are printed.
func newHarness(t *testing.T, opts harnessOptions) *harness {
	t.Helper()
	dir, err := os.MkdirTemp("", "ifc-faults-")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, start: time.Now(), dir: dir, logDir: filepath.Join(dir, "logs"),
		acked: map[string]int64{}, lastStat: map[int]edgeStatus{}, events: map[string]int{}}
	if err := os.MkdirAll(h.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.logf("run directory %s (process logs in %s)", dir, h.logDir)
	t.Cleanup(func() {
		if t.Failed() {
			printLogTails(t, h.logDir, 40)
			t.Logf("FAILED: everything of this run is kept in %s", dir)
			return
		}
		// Keep the logs and the summary; drop the data.
		_ = os.RemoveAll(filepath.Join(dir, "cloud-data"))
		_ = os.RemoveAll(filepath.Join(dir, "edge-data"))
		t.Logf("logs kept in %s", h.logDir)
	})

	bin := buildBinary(t, dir, h.logf)
	h.top = newTopology(t, h.logf)
	tp := h.top
	ctx := context.Background()

	// Cloud.
	h.cloud = &proc{name: "cloud", logDir: h.logDir, logf: h.logf,
		args: tp.inNS(tp.cloudNS, bin, "all-in-one", "--no-edge", "--data-dir", filepath.Join(dir, "cloud-data"),
			"--http-addr", tp.cloudHTTPListen, "--grpc-addr", tp.cloudGRPCListen),
		env: []string{"IFC_ADMIN_PASSWORD=" + adminPassword}}
	t.Cleanup(func() { h.cloud.stop(syscall.SIGTERM, 15*time.Second) })
	h.cloudAPI = &cloudAPI{base: "http://" + tp.cloudHTTP, password: adminPassword}
	if err := h.cloud.start(); err != nil {
		t.Fatal(err)
	}
	h.waitCloud()
	var saved struct {
		Version int64 `json:"version"`
	}
	for rev := range 2 {
		if err := h.cloudAPI.do(ctx, "PUT", "/api/v1/masters/"+productCode, cloudMaster(fmt.Sprintf("Bracket rev %d", rev+1)), &saved); err != nil {
			t.Fatalf("put master: %v", err)
		}
	}
	if saved.Version < 2 {
		t.Fatalf("the cloud master is at version %d after two edits; the edge's seed (version 1) would conflict with it", saved.Version)
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := h.cloudAPI.do(ctx, "POST", "/api/v1/enrollment-tokens", map[string]any{"line": "L1", "ttl_seconds": 3600}, &tok); err != nil {
		t.Fatalf("create enrollment token: %v", err)
	}
	h.logf("cloud set up: master %s, enrollment token for line L1", productCode)

	// Fault proxy: in the edge namespace, forwarding to the cloud's gRPC over the data link.
	h.proxyAPI = &proxyAPI{base: "http://" + tp.proxyControl}
	if tp.netns {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		h.proxy = &proc{name: "proxy", logDir: h.logDir, logf: h.logf,
			args: tp.inNS(tp.edgeNS, exe, "-test.run=^TestProxyHelperProcess$", "-test.v"),
			env:  []string{"IFC_FAULTPROXY_HELPER=1", "IFC_FAULTPROXY_LISTEN=" + tp.proxyListen, "IFC_FAULTPROXY_TARGET=" + tp.cloudGRPC, "IFC_FAULTPROXY_CONTROL=" + tp.proxyControlBind}}
		t.Cleanup(func() { h.proxy.stop(syscall.SIGTERM, 5*time.Second) })
		if err := h.proxy.start(); err != nil {
			t.Fatal(err)
		}
	} else {
		f, err := os.Create(filepath.Join(h.logDir, "proxy-inprocess.log"))
		if err != nil {
			t.Fatal(err)
		}
		stop := runProxyInProcess(t, tp.proxyListen, tp.cloudGRPC, tp.proxyControlBind, slog.New(slog.NewTextHandler(f, nil)))
		t.Cleanup(func() { stop(); f.Close() })
		h.logf("fault proxy runs in the test process: %s → %s, control %s", tp.proxyListen, tp.cloudGRPC, tp.proxyControl)
	}
	h.poll("proxy control API", 30*time.Second, func() bool { _, err := h.proxyAPI.stats(ctx); return err == nil })

	// Edge.
	edgeData := filepath.Join(dir, "edge-data")
	if err := os.MkdirAll(edgeData, 0o755); err != nil {
		t.Fatal(err)
	}
	masters := filepath.Join(dir, "masters.yaml")
	if err := os.WriteFile(masters, []byte(mastersYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if opts.chunkBytes == 0 {
		opts.chunkBytes = envInt("IFC_FAULTS_CHUNK_BYTES", 65536)
	}
	cfg := fmt.Sprintf(`device_id: %s
line: L1
http_addr: %q
allow_remote: true
data_dir: %q
camera: %q
cloud_addr: %q
enrollment_token: %q
sync_chunk_bytes: %d
sync_backoff_min: 200ms
sync_backoff_max: 2s
sync_idle_interval: 200ms
masters_file: %q
`, deviceID, tp.edgeHTTPListen, edgeData, opts.camera, tp.proxyListen, tok.Token, opts.chunkBytes, masters)
	cfgPath := filepath.Join(dir, "edge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	h.edge = &proc{name: "edge", logDir: h.logDir, logf: h.logf, args: tp.inNS(tp.edgeNS, bin, "edge", "--config", cfgPath)}
	t.Cleanup(func() { h.edge.stop(syscall.SIGTERM, 15*time.Second) })
	h.edgeAPI = &edgeAPI{base: "http://" + tp.edgeHTTP}
	if err := h.edge.start(); err != nil {
		t.Fatal(err)
	}
	h.waitEdge()
	return h
}

// runProxyInProcess runs the fault proxy and its control API in the test
// process (loopback mode); the returned func stops both.
func runProxyInProcess(t *testing.T, listen, target, control string, log *slog.Logger) func() {
	t.Helper()
	p, err := faultproxy.New(listen, target, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Addr: control, Handler: p.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return p.Run(ctx) })
	g.Go(func() error {
		if err := srv.ListenAndServe(); err != http.ErrServerClosed {
			return err
		}
		return nil
	})
	return func() {
		cancel()
		_ = srv.Close()
		if err := g.Wait(); err != nil {
			t.Errorf("in-process proxy: %v", err)
		}
	}
}

// poll waits for cond with a deadline, failing the test (with what it waited for) when it passes.
func (h *harness) poll(what string, timeout time.Duration, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (h *harness) waitCloud() {
	h.t.Helper()
	start := time.Now()
	h.poll("the cloud to answer /healthz", 90*time.Second, func() bool {
		if !h.cloud.running() {
			h.t.Fatalf("the cloud exited during start-up: %v", h.cloud.unexpected())
		}
		return h.cloudAPI.healthy(context.Background())
	})
	h.logf("cloud #%d ready in %s", h.cloud.incarnation(), time.Since(start).Round(time.Millisecond))
}

func (h *harness) waitEdge() {
	h.t.Helper()
	start := time.Now()
	h.poll("the edge to answer /api/v1/status", 90*time.Second, func() bool {
		if !h.edge.running() {
			h.t.Fatalf("the edge exited during start-up: %v", h.edge.unexpected())
		}
		_, err := h.edgeAPI.status(context.Background())
		return err == nil
	})
	h.logf("edge #%d ready in %s", h.edge.incarnation(), time.Since(start).Round(time.Millisecond))
}

// sampleStatus polls the edge status every 200 ms until ctx ends and keeps
// the last one per edge incarnation (the sync counters restart with each).
func (h *harness) sampleStatus(ctx context.Context) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		h.sampleOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (h *harness) sampleOnce(ctx context.Context) {
	n := h.edge.incarnation()
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := h.edgeAPI.status(c)
	if err != nil || h.edge.incarnation() != n {
		return
	}
	h.mu.Lock()
	h.lastStat[n] = st
	h.mu.Unlock()
}

// syncTotals sums the sender counters over every edge incarnation.
func (h *harness) syncTotals() (sent, resent, records int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, st := range h.lastStat {
		sent += st.SentBytes
		resent += st.ResentBytes
		records += st.SentRecords
	}
	return sent, resent, records
}

// ack remembers an acknowledged record.
func (h *harness) ack(id string, size int64) {
	h.mu.Lock()
	h.acked[id] = size
	h.mu.Unlock()
}

func (h *harness) count(kind string) {
	h.mu.Lock()
	h.events[kind]++
	h.mu.Unlock()
}

// drive runs inspections with camera stills until ctx ends; errors are
// expected while the edge is down and only counted.
func (h *harness) drive(ctx context.Context, pace time.Duration) {
	session := ""
	for seq := 1; ctx.Err() == nil; seq++ {
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		id, size, err := h.edgeAPI.inspect(c, &session, productCode, "LOT-A", seq, nil)
		cancel()
		wait := pace
		if err != nil {
			h.mu.Lock()
			h.driveErr++
			n := h.driveErr
			h.mu.Unlock()
			if n%20 == 1 && ctx.Err() == nil {
				h.logf("driver: %v (errors so far: %d; expected while the edge restarts)", err, n)
			}
			wait = 300 * time.Millisecond
		} else {
			h.ack(id, size)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// cutLink takes the data link down (netns) or blackholes the proxy (loopback).
func (h *harness) cutLink(ctx context.Context) {
	h.t.Helper()
	var err error
	if h.top.netns {
		err = h.top.setLink(false)
	} else {
		err = h.proxyAPI.blackhole(ctx, true)
	}
	if err != nil {
		h.t.Fatalf("cut link: %v", err)
	}
}

// restoreLink undoes cutLink.
func (h *harness) restoreLink(ctx context.Context) {
	h.t.Helper()
	var err error
	if h.top.netns {
		err = h.top.setLink(true)
	} else {
		err = h.proxyAPI.blackhole(ctx, false)
	}
	if err != nil {
		h.t.Fatalf("restore link: %v", err)
	}
}

// killEdge SIGKILLs the edge and starts it again on the same data directory.
func (h *harness) killEdge() {
	h.t.Helper()
	h.sampleOnce(context.Background())
	h.edge.stop(syscall.SIGKILL, 10*time.Second)
	if err := h.edge.start(); err != nil {
		h.t.Fatal(err)
	}
	h.waitEdge()
}

// restartCloud stops the cloud (SIGTERM, or SIGKILL when hard) and starts it on the same data.
func (h *harness) restartCloud(hard bool) {
	h.t.Helper()
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	h.cloud.stop(sig, 20*time.Second)
	if err := h.cloud.start(); err != nil {
		h.t.Fatal(err)
	}
	h.waitCloud()
}

// waitDrained polls until the edge reports nothing queued.
func (h *harness) waitDrained(timeout time.Duration) time.Duration {
	h.t.Helper()
	start := time.Now()
	var last edgeStatus
	deadline := start.Add(timeout)
	lastLog := start
	for {
		st, err := h.edgeAPI.status(context.Background())
		if err == nil {
			last = st
			if st.Queued == 0 {
				h.sampleOnce(context.Background())
				return time.Since(start)
			}
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(last.Raw)
			h.t.Fatalf("the edge still has %d records (%d bytes) queued after %s; last status %s", last.Queued, last.QueuedBytes, timeout, b)
		}
		if time.Since(lastLog) > 10*time.Second {
			h.logf("draining: %d records (%d bytes) queued, connected=%v, last error %q", st.Queued, st.QueuedBytes, st.Connected, st.LastError)
			lastLog = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// verification is what verify found.
type verification struct {
	Acked      int   `json:"acked"`
	Records    int   `json:"records"`
	ImageBytes int64 `json:"image_bytes"`
}

// verify checks (a) every acknowledged record is in the edge history, (b)
// the cloud holds exactly the edge's records for the device, each once, and
// (c) every cloud image is byte-identical to the edge's.
func (h *harness) verify() verification {
	t := h.t
	t.Helper()
	ctx := context.Background()
	h.mu.Lock()
	acked := make(map[string]int64, len(h.acked))
	for k, v := range h.acked {
		acked[k] = v
	}
	h.mu.Unlock()

	edge, err := h.edgeAPI.history(ctx)
	if err != nil {
		t.Fatalf("edge history: %v", err)
	}
	var missing []string
	for id := range acked {
		if _, ok := edge[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("(a) %d of %d acknowledged records are missing from the edge history, e.g. %v", len(missing), len(acked), first(missing))
	}

	cloud, err := h.cloudAPI.records(ctx, deviceID)
	if err != nil {
		t.Fatalf("cloud records: %v", err)
	}
	byID := map[string]cloudRecord{}
	var dups, extra, absent []string
	for _, r := range cloud {
		if _, dup := byID[r.RecordID]; dup {
			dups = append(dups, r.RecordID)
		}
		byID[r.RecordID] = r
		if _, ok := edge[r.RecordID]; !ok {
			extra = append(extra, r.RecordID)
		}
	}
	for id := range edge {
		if _, ok := byID[id]; !ok {
			absent = append(absent, id)
		}
	}
	if len(dups)+len(extra)+len(absent) > 0 {
		t.Fatalf("(b) cloud vs edge for %s: %d edge records, %d cloud listings; duplicated %d %v, in the cloud only %d %v, missing from the cloud %d %v",
			deviceID, len(edge), len(cloud), len(dups), first(dups), len(extra), first(extra), len(absent), first(absent))
	}

	// (c) images, a few at a time.
	ids := make([]string, 0, len(edge))
	for id := range edge {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var total int64
	var tmu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, id := range ids {
		g.Go(func() error {
			er, cr := edge[id], byID[id]
			if len(er.Images) == 0 || len(cr.Images) != len(er.Images) {
				return fmt.Errorf("record %s: %d images on the edge, %d in the cloud", id, len(er.Images), len(cr.Images))
			}
			if er.Evicted {
				return fmt.Errorf("record %s: image evicted on the edge; cannot compare (raise the disk budget)", id)
			}
			eb, err := h.edgeAPI.image(gctx, id)
			if err != nil {
				return fmt.Errorf("record %s: edge image: %w", id, err)
			}
			u := cr.Images[0].URL
			if u == "" {
				u = "/api/v1/files/" + cr.Images[0].FileID + "/content"
			}
			cb, err := h.cloudAPI.file(gctx, u)
			if err != nil {
				return fmt.Errorf("record %s: cloud image: %w", id, err)
			}
			sum := sha256.Sum256(cb)
			got := hex.EncodeToString(sum[:])
			if string(cb) != string(eb) || got != er.Images[0].SHA256 || got != cr.Images[0].SHA256 {
				return fmt.Errorf("record %s: cloud image (%d bytes, sha256 %s, listed %s) differs from the edge's (%d bytes, sha256 %s)",
					id, len(cb), got, cr.Images[0].SHA256, len(eb), er.Images[0].SHA256)
			}
			tmu.Lock()
			total += int64(len(cb))
			tmu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("(c) %v", err)
	}
	h.logf("verified: %d acknowledged records ⊆ %d edge records = %d cloud records, each once; %d image bytes identical", len(acked), len(edge), len(cloud), total)
	return verification{Acked: len(acked), Records: len(edge), ImageBytes: total}
}

func first(ids []string) []string {
	if len(ids) > 5 {
		return ids[:5]
	}
	return ids
}

// writeSummary writes the run's numbers as JSON into the run directory and logs its path.
func (h *harness) writeSummary(name string, v any) {
	h.t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		h.t.Fatal(err)
	}
	path := filepath.Join(h.dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		h.t.Fatal(err)
	}
	h.t.Logf("summary:\n%s", b)
	h.t.Logf("SUMMARY FILE: %s", path)
}
