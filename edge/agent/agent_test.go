package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/edge/agent"
	"github.com/imageflowcanvas/ifc/edge/inspect"
	"github.com/imageflowcanvas/ifc/edge/queue"
	"github.com/imageflowcanvas/ifc/models/bundle"
	embedded "github.com/imageflowcanvas/ifc/models/prefilter"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testConfig is a loopback agent on port 0 with a small synthetic camera.
func testConfig(t *testing.T) agent.Config {
	cfg := agent.DefaultConfig()
	cfg.DeviceID = "edge-test-01"
	cfg.Line = "line-1"
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Camera = "synthetic:?width=640&height=480&fps=10"
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// client talks to an agent over HTTP.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func newClient(t testing.TB, addr string) *client {
	return &client{t: t, base: "http://" + addr, hc: &http.Client{Timeout: 20 * time.Second}}
}

func (c *client) do(method, path, ctype string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

func (c *client) must(method, path string, body any, want int, out any) {
	c.t.Helper()
	var b []byte
	ctype := ""
	if body != nil {
		b, _ = json.Marshal(body)
		ctype = "application/json"
	}
	code, resp, err := c.do(method, path, ctype, b)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, resp)
	}
	if out != nil {
		if err := json.Unmarshal(resp, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, resp, err)
		}
	}
}

// waitReady polls /readyz until the camera is live.
func (c *client) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		code, body, err := c.do("GET", "/readyz", "", nil)
		if err == nil && code == 200 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("not ready: " + string(body))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startAgent(t *testing.T, cfg agent.Config) (*agent.Agent, *client, func() error) {
	t.Helper()
	a, err := agent.New(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	c := newClient(t, a.HTTPAddr())
	if err := c.waitReady(15 * time.Second); err != nil {
		cancel()
		<-done
		t.Fatal(err)
	}
	var once bool
	stop := func() error {
		if once {
			return nil
		}
		once = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return errors.New("Run did not return after cancel")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return a, c, stop
}

func TestAgentEndToEnd(t *testing.T) {
	cfg := testConfig(t)
	cfg.LivePrefilterFPS = 5
	a, c, stop := startAgent(t, cfg)

	code, body, err := c.do("GET", "/healthz", "", nil)
	if err != nil || code != 200 || string(body) != "ok\n" {
		t.Fatalf("healthz: %d %q %v", code, body, err)
	}
	// A browser on the box gets the bare live-preview page at /preview,
	// which plays /whep, and the web UI (or, not built, a 503 page) at /.
	code, body, err = c.do("GET", "/preview", "", nil)
	if err != nil || code != 200 || !strings.Contains(string(body), "/whep") {
		t.Fatalf("preview page: %d %v (%d bytes)", code, err, len(body))
	}
	code, body, err = c.do("GET", "/ui-config.json", "", nil)
	if err != nil || code != 200 || strings.TrimSpace(string(body)) != `{"mode":"edge","edge_url":""}` {
		t.Fatalf("ui-config: %d %s %v", code, body, err)
	}
	for _, p := range []string{"/", "/inspect/session"} {
		if code, _, err = c.do("GET", p, "", nil); err != nil || (code != 200 && code != 503) {
			t.Fatalf("GET %s: %d %v; want the UI", p, code, err)
		}
	}
	if code, _, err = c.do("GET", "/api/v1/nope", "", nil); err != nil || code != 404 {
		t.Fatalf("unknown API path: %d %v; want 404", code, err)
	}
	var products inspect.ProductListJSON
	c.must("GET", "/api/v1/products", nil, 200, &products)
	if len(products.Products) != 1 || products.Products[0].Code != "DEMO-PART" {
		t.Fatalf("built-in demo master not seeded: %+v", products)
	}
	var sess inspect.SessionJSON
	c.must("POST", "/api/v1/sessions", inspect.SessionRequest{ProductCode: "DEMO-PART", Lot: "L7", Inspector: "bob"}, 201, &sess)
	var capt inspect.CaptureJSON
	c.must("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", nil, 201, &capt)
	if capt.Width != 640 || capt.Height != 480 || capt.Prefilter.ModelName != "prefilter" {
		t.Fatalf("capture %+v", capt)
	}
	var saved inspect.SavedJSON
	c.must("POST", "/api/v1/captures/"+capt.CaptureID+"/verdict", inspect.VerdictRequest{Result: "NG", DefectType: "dent"}, 201, &saved)
	if saved.Record.DeviceID != "edge-test-01" || saved.Record.Line != "line-1" || saved.Record.MasterVersion != 1 {
		t.Fatalf("saved %+v", saved.Record)
	}

	// Metrics after a capture, a verdict and some live pre-filter runs.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body, err = c.do("GET", "/metrics", "", nil)
		if err != nil || code != 200 {
			t.Fatalf("metrics: %d %v", code, err)
		}
		if strings.Contains(string(body), `ifc_edge_prefilter_duration_seconds_count{source="live"}`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{
		`ifc_edge_captures_total{outcome="ok"} 1`,
		`ifc_edge_verdicts_total{outcome="saved",result="NG"} 1`,
		`ifc_edge_queue_depth 1`,
		`ifc_edge_prefilter_duration_seconds_count{source="still"} 1`,
		`ifc_edge_prefilter_duration_seconds_count{source="live"}`,
		`ifc_edge_camera_state{state="live"} 1`,
		`ifc_edge_info{device_id="edge-test-01",line="line-1"} 1`,
		`ifc_whep_`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// WHEP is mounted (an empty offer is refused by the WHEP handler, not 404).
	if code, _, _ := c.do("POST", "/whep", "application/sdp", nil); code == 404 || code == 200 {
		t.Errorf("whep: %d", code)
	}
	// Only loopback Host names are answered.
	req, _ := http.NewRequest("GET", c.base+"/api/v1/status", nil)
	req.Host = "evil.example:8081"
	if res, err := c.hc.Do(req); err != nil || res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	// Graceful shutdown: Run returns nil, the queue is closed cleanly and holds the record.
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, _, err := c.do("GET", "/healthz", "", nil); err == nil {
		t.Error("still serving after shutdown")
	}
	q, err := queue.Open(cfg.QueuePath(), queue.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Get(context.Background(), capt.CaptureID); err != nil {
		t.Fatalf("record lost across shutdown: %v", err)
	}
	_ = a
}

// copyBundle writes the embedded pre-filter bundle into a new directory.
func copyBundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, embedded.FS); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTamperedBundle: a tampered bundle is refused at start and at reload;
// on reload the previous model keeps serving and the queue is unchanged.
func TestTamperedBundle(t *testing.T) {
	tampered := copyBundle(t)
	p := filepath.Join(tampered, "model.onnx")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x01
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(t)
	cfg.PrefilterDir = tampered
	if _, err := agent.New(cfg, quiet()); !errors.Is(err, bundle.ErrChecksum) {
		t.Fatalf("New with a tampered bundle: %v", err)
	}

	cfg = testConfig(t)
	a, c, stop := startAgent(t, cfg)
	var sess inspect.SessionJSON
	c.must("POST", "/api/v1/sessions", inspect.SessionRequest{ProductCode: "DEMO-PART", Inspector: "bob"}, 201, &sess)
	var capt inspect.CaptureJSON
	c.must("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", nil, 201, &capt)
	c.must("POST", "/api/v1/captures/"+capt.CaptureID+"/verdict", inspect.VerdictRequest{Result: "OK"}, 201, nil)
	var before bytes.Buffer
	if _, err := a.Queue().WriteTo(&before); err != nil {
		t.Fatal(err)
	}
	m0 := a.Model()
	if _, err := a.ReloadModel(tampered); !errors.Is(err, bundle.ErrChecksum) {
		t.Fatalf("reload of a tampered bundle: %v", err)
	}
	if a.Model() != m0 {
		t.Fatalf("model changed to %+v", a.Model())
	}
	var status inspect.StatusJSON
	c.must("GET", "/api/v1/status", nil, 200, &status)
	if status.Model.SHA256 != m0.SHA256 || status.Model.Source != "embedded" {
		t.Fatalf("status model %+v", status.Model)
	}
	var after bytes.Buffer
	if _, err := a.Queue().WriteTo(&after); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before.Bytes(), after.Bytes()) {
		t.Fatal("a refused bundle changed the queue")
	}
	// The previous model still serves captures.
	var capt2 inspect.CaptureJSON
	c.must("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", nil, 201, &capt2)
	if capt2.Prefilter.ModelVersion != m0.Version {
		t.Fatalf("capture after refused reload %+v", capt2.Prefilter)
	}
	// A good bundle directory swaps in.
	good := copyBundle(t)
	if m, err := a.ReloadModel(good); err != nil || m.Source != good {
		t.Fatalf("good reload: %+v %v", m, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestMissingCamera: a camera that is not there is reported by /readyz and
// a capture is refused with 503 and a clear message; the queue is unchanged.
func TestMissingCamera(t *testing.T) {
	cfg := testConfig(t)
	cfg.Camera = "v4l2:/dev/video-does-not-exist"
	cfg.StillTimeout = 500 * time.Millisecond
	a, err := agent.New(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	c := newClient(t, a.HTTPAddr())
	if err := c.waitReady(time.Second); err == nil {
		t.Fatal("ready without a camera")
	} else if !strings.Contains(err.Error(), "camera") {
		t.Errorf("readyz does not say what is wrong: %v", err)
	}
	var sess inspect.SessionJSON
	c.must("POST", "/api/v1/sessions", inspect.SessionRequest{ProductCode: "DEMO-PART", Inspector: "bob"}, 201, &sess)
	var before bytes.Buffer
	if _, err := a.Queue().WriteTo(&before); err != nil {
		t.Fatal(err)
	}
	code, body, err := c.do("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", "", nil)
	if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(string(body), "no camera") {
		t.Fatalf("capture without camera: %d %s %v", code, body, err)
	}
	t.Logf("refusal: %s", body)
	var after bytes.Buffer
	if _, err := a.Queue().WriteTo(&after); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before.Bytes(), after.Bytes()) {
		t.Fatal("a refused capture changed the queue")
	}
}

// TestMastersFileSeeds: a masters.yaml in the data dir seeds the cache; a
// later start with an older version keeps the newer one.
func TestMastersFileSeeds(t *testing.T) {
	cfg := testConfig(t)
	yaml := `masters:
  - product: {code: GEAR-9, name: Gear}
    version: 4
    defect_types: [{code: burr, name: Burr}]
`
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "masters.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ms, err := a.Queue().Masters(context.Background())
	if err != nil || len(ms) != 1 || ms[0].GetProduct().GetCode() != "GEAR-9" || ms[0].GetVersion() != 4 {
		t.Fatalf("masters %v %v", ms, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	older := strings.Replace(yaml, "version: 4", "version: 2", 1)
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "masters.yaml"), []byte(older), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err = agent.New(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if m, err := a.Queue().Master(context.Background(), "GEAR-9"); err != nil || m.GetVersion() != 4 {
		t.Fatalf("older file replaced a newer master: %v %v", m, err)
	}
	bad := strings.Replace(yaml, "version: 4", "versoin: 4", 1)
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "masters.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := agent.New(cfg, quiet()); err == nil || !strings.Contains(err.Error(), "versoin") {
		t.Fatalf("typo in masters.yaml: %v", err)
	}
}
