package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/models/prefilter"
)

// TestAllInOneSyncsItsEdge runs `ifc all-in-one` as a user does and walks
// the whole edge-to-cloud path over real HTTP and gRPC: the local edge
// enrolls itself, inspections made at the edge reach the cloud with
// byte-identical images, the standard pipeline runs on them, overrides
// from both tiers are reconciled by the documented rule with both kept in
// the history, and a revoked device is told so.
func TestAllInOneSyncsItsEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	t.Setenv("IFC_ADMIN_PASSWORD", "sync-e2e-password")
	t.Setenv("IFC_EDGE_CAMERA", "synthetic:?width=640&height=480&fps=5")
	t.Setenv("IFC_EDGE_SYNC_IDLE_INTERVAL", "100ms")
	t.Setenv("IFC_EDGE_SYNC_BACKOFF_MAX", "1s")
	t.Setenv("IFC_EDGE_SYNC_PULL_INTERVAL", "1s")
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuilder
	done := make(chan error, 1)
	go func() {
		done <- runCloud(ctx, "all-in-one", []string{"--data-dir", dataDir, "--http-addr", "127.0.0.1:0",
			"--grpc-addr", "127.0.0.1:0", "--edge-http-addr", "127.0.0.1:0"}, &out, &errOut)
	}()
	ready := regexp.MustCompile(`API (http://\S+) .* edge agent (http://\S+)`)
	var cloudURL, edgeURL string
	eventually(t, "the all-in-one to start", 60*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("all-in-one exited: %v\n%s", err, errOut.String())
		default:
		}
		m := ready.FindStringSubmatch(out.String())
		if m != nil {
			cloudURL, edgeURL = m[1], m[2]
		}
		return m != nil
	})
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", errOut.String())
		}
	}()
	edge := &client{t: t, base: edgeURL}
	cloud := &client{t: t, base: cloudURL}
	// The cloud UI links the all-in-one's own edge agent.
	var uiCfg struct {
		Mode    string `json:"mode"`
		EdgeURL string `json:"edge_url"`
	}
	cloud.do("GET", "/ui-config.json", nil, 200, &uiCfg)
	if uiCfg.Mode != "cloud" || uiCfg.EdgeURL != edgeURL {
		t.Errorf("cloud ui-config %+v, want edge_url %s", uiCfg, edgeURL)
	}
	var login struct{ Token string }
	cloud.do("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": "sync-e2e-password"}, 200, &login)
	cloud.token = login.Token

	// Two inspections at the edge: one NG, one OK.
	var sess struct {
		SessionID string `json:"session_id"`
	}
	edge.do("POST", "/api/v1/sessions", map[string]string{"product_code": "DEMO-PART", "lot": "LOT-7", "serial": "S-1", "inspector": "alice"}, 201, &sess)
	inspect := func(result, defect string) string {
		var capture struct {
			CaptureID string `json:"capture_id"`
		}
		edge.do("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", map[string]any{}, 201, &capture)
		var saved struct {
			Record struct {
				RecordID string `json:"record_id"`
			} `json:"record"`
		}
		edge.do("POST", "/api/v1/captures/"+capture.CaptureID+"/verdict", map[string]string{"result": result, "defect_type": defect}, 201, &saved)
		return saved.Record.RecordID
	}
	ngID, okID := inspect("NG", "scratch"), inspect("OK", "")

	// Both reach the cloud once, with their images intact, and the standard pipeline runs.
	type cloudRecord struct {
		RecordID string `json:"record_id"`
		DeviceID string `json:"device_id"`
		Images   []struct {
			SHA256 string `json:"sha256"`
			URL    string `json:"url"`
		} `json:"images"`
		Effective struct{ Result string } `json:"effective_verdict"`
		Overrides []struct{ Origin, Reason string }
		Cloud     struct {
			PipelineState string `json:"pipeline_state"`
			Execution     struct{ Status string }
		}
	}
	var list struct{ Records []cloudRecord }
	eventually(t, "both records in the cloud", 30*time.Second, func() bool {
		cloud.do("GET", "/api/v1/records?lot=LOT-7", nil, 200, &list)
		return len(list.Records) == 2
	})
	var deviceID string
	for _, id := range []string{ngID, okID} {
		var rec cloudRecord
		eventually(t, "the cloud pipeline on "+id, 30*time.Second, func() bool {
			cloud.do("GET", "/api/v1/records/"+id, nil, 200, &rec)
			return rec.Cloud.Execution.Status == "succeeded"
		})
		deviceID = rec.DeviceID
		edgeImage := edge.bytes("/api/v1/records/" + id + "/image")
		cloudImage := cloud.bytes(rec.Images[0].URL)
		if !bytes.Equal(edgeImage, cloudImage) || fmt.Sprintf("%x", sha256.Sum256(cloudImage)) != rec.Images[0].SHA256 {
			t.Fatalf("record %s: cloud image (%d bytes) differs from the edge's (%d bytes)", id, len(cloudImage), len(edgeImage))
		}
	}

	// Overrides: the inspector corrects the OK at the edge, a QA manager
	// reviews in the cloud, then a later edge correction arrives. The
	// cloud's review stays in force; all three stay in the history.
	overrideAtEdge := func(result, defect, reason string) {
		edge.do("POST", "/api/v1/records/"+okID+"/overrides", map[string]string{"result": result, "defect_type": defect, "reason": reason, "inspector": "alice"}, 201, nil)
	}
	var rec cloudRecord
	overrideAtEdge("NG", "dent", "dent seen under the lamp")
	eventually(t, "the edge override in the cloud", 30*time.Second, func() bool {
		cloud.do("GET", "/api/v1/records/"+okID, nil, 200, &rec)
		return len(rec.Overrides) == 1
	})
	if rec.Effective.Result != "ng" {
		t.Fatalf("after the edge override the verdict in force is %q, want ng", rec.Effective.Result)
	}
	cloud.do("POST", "/api/v1/records/"+okID+"/overrides", map[string]string{"result": "ok", "reason": "reflection, not a dent"}, 201, nil)
	overrideAtEdge("NG", "dent", "still think it is a dent")
	eventually(t, "both edge overrides in the cloud", 30*time.Second, func() bool {
		cloud.do("GET", "/api/v1/records/"+okID, nil, 200, &rec)
		return len(rec.Overrides) == 3
	})
	if rec.Effective.Result != "ok" {
		t.Fatalf("the cloud review was undone by a later edge override: verdict in force %q; history %+v", rec.Effective.Result, rec.Overrides)
	}

	// Model rollout: the cloud serves a new pre-filter version and marks it
	// for this line; the edge pulls, verifies and swaps it in, and new
	// records carry it. A corrupt bundle is refused and the model in use stays.
	publishModel(t, dataDir, "1.0.1", false)
	publishModel(t, dataDir, "1.0.2", true)
	var status struct {
		Line  string                   `json:"line"`
		Model struct{ Version string } `json:"model"`
		Sync  struct {
			Revoked   bool   `json:"revoked"`
			LastError string `json:"last_error"`
		} `json:"sync"`
	}
	edge.do("GET", "/api/v1/status", nil, 200, &status)
	rollout := func(version string) {
		cloud.do("PUT", "/api/v1/lines/"+status.Line+"/rollouts/DEMO-PART", map[string]any{"model_name": "prefilter", "model_version": version, "threshold": 0.3}, 200, nil)
	}
	rollout("1.0.2")
	eventually(t, "the edge to refuse the corrupt model", 30*time.Second, func() bool {
		edge.do("GET", "/api/v1/status", nil, 200, &status)
		return strings.Contains(status.Sync.LastError, "1.0.2")
	})
	if status.Model.Version != "1.0.0" {
		t.Fatalf("after a corrupt bundle the edge runs model %q, want 1.0.0 kept", status.Model.Version)
	}
	rollout("1.0.1")
	eventually(t, "the edge to swap in model 1.0.1", 30*time.Second, func() bool {
		edge.do("GET", "/api/v1/status", nil, 200, &status)
		return status.Model.Version == "1.0.1"
	})

	// Revocation: the device learns it at its next call and stops.
	cloud.do("POST", "/api/v1/devices/"+deviceID+"/revoke", nil, 200, nil)
	edge.do("POST", "/api/v1/sync/now", nil, 202, nil)
	eventually(t, "the edge to see its revocation", 30*time.Second, func() bool {
		inspect("OK", "") // something to send
		edge.do("GET", "/api/v1/status", nil, 200, &status)
		return status.Sync.Revoked
	})
	if !strings.Contains(status.Sync.LastError, "revoked") {
		t.Errorf("status last_error %q does not say revoked", status.Sync.LastError)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("all-in-one: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("all-in-one did not stop")
	}
}

// publishModel copies the embedded pre-filter bundle into the cloud's model
// directory as version; corrupt flips one byte of the ONNX file so its
// sha256 no longer matches the manifest.
func publishModel(t *testing.T, dataDir, version string, corrupt bool) {
	t.Helper()
	dir := filepath.Join(dataDir, "models", "prefilter", version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(prefilter.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := fs.ReadFile(prefilter.FS, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case e.Name() == "manifest.json":
			data = bytes.Replace(data, []byte(`"version": "1.0.0"`), []byte(`"version": "`+version+`"`), 1)
		case corrupt && e.Name() == "model.onnx":
			data[len(data)/2] ^= 0xff
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// client calls one JSON API.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c *client) request(method, path string, body any) *http.Response {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// do sends body as JSON, checks the status and decodes the answer into out (when not nil).
func (c *client) do(method, path string, body any, want int, out any) {
	c.t.Helper()
	resp := c.request(method, path, body)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

func (c *client) bytes(path string) []byte {
	c.t.Helper()
	resp := c.request("GET", path, nil)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		c.t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	return data
}

// eventually polls cond until it holds, failing the test after timeout.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
