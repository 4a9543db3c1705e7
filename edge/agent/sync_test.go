package agent_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/edge/agent"
	"github.com/imageflowcanvas/ifc/edge/inspect"
	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/device"
)

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitStatus polls /api/v1/status until ok accepts it.
func (c *client) waitStatus(what string, ok func(inspect.StatusJSON) bool) inspect.StatusJSON {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var st inspect.StatusJSON
		c.must("GET", "/api/v1/status", nil, 200, &st)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("status never showed %s: %+v (sync %+v)", what, st, st.Sync)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// saveRecord runs one inspection through the local API and returns the record id.
func (c *client) saveRecord(result, defect string) string {
	c.t.Helper()
	var sess inspect.SessionJSON
	c.must("POST", "/api/v1/sessions", inspect.SessionRequest{ProductCode: "DEMO-PART", Inspector: "bob"}, 201, &sess)
	var capt inspect.CaptureJSON
	c.must("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", nil, 201, &capt)
	c.must("POST", "/api/v1/captures/"+capt.CaptureID+"/verdict", inspect.VerdictRequest{Result: result, DefectType: defect}, 201, nil)
	return capt.CaptureID
}

// TestAgentServesWithCloudUnreachable: with cloud_addr pointing at a closed
// port the agent starts, inspects and takes overrides offline, and its
// status says it is not enrolled and why.
func TestAgentServesWithCloudUnreachable(t *testing.T) {
	cfg := testConfig(t)
	cfg.CloudAddr = closedAddr(t)
	cfg.EnrollmentToken = device.TokenPrefix + "never-reaches-the-cloud"
	cfg.SyncBackoffMin, cfg.SyncBackoffMax = 20*time.Millisecond, 100*time.Millisecond
	_, c, stop := startAgent(t, cfg)

	st := c.waitStatus("a failed enrollment", func(st inspect.StatusJSON) bool {
		return st.Sync != nil && st.Sync.LastError != "" && st.Sync.LastErrorAt != nil
	})
	if st.Sync.Enrolled || st.Sync.Connected || st.Sync.CloudAddr != cfg.CloudAddr || !strings.Contains(st.Sync.LastError, "enroll") {
		t.Errorf("sync status %+v", st.Sync)
	}
	if !st.SyncRunning || st.LastError == "" {
		t.Errorf("status lacks the sync error: %+v", st)
	}

	// Inspection and overrides work with no cloud.
	id := c.saveRecord("OK", "")
	var o inspect.OverrideJSON
	c.must("POST", "/api/v1/records/"+id+"/overrides",
		inspect.OverrideRequest{Result: "NG", DefectType: "scratch", Reason: "found on re-check", Inspector: "qa-kim"}, 201, &o)
	if o.Origin != "EDGE" || o.DeviceID != cfg.DeviceID || o.Verdict.Result != "NG" {
		t.Errorf("override %+v", o)
	}
	var rec inspect.RecordJSON
	c.must("GET", "/api/v1/records/"+id, nil, 200, &rec)
	if rec.Verdict.Result != "OK" || rec.EffectiveVerdict == nil || rec.EffectiveVerdict.Result != "NG" || len(rec.Overrides) != 1 {
		t.Errorf("record detail: verdict %+v effective %+v overrides %d", rec.Verdict, rec.EffectiveVerdict, len(rec.Overrides))
	}
	c.must("POST", "/api/v1/records/"+id+"/overrides", inspect.OverrideRequest{Result: "NG", Reason: "x", Inspector: "qa-kim"}, 422, nil)

	// Sync now is accepted; enrolling on demand reports the cloud's failure.
	c.must("POST", "/api/v1/sync/now", nil, 202, nil)
	var p inspect.Problem
	c.must("POST", "/api/v1/sync/enroll", inspect.EnrollRequest{Token: device.TokenPrefix + "x"}, 502, &p)
	if !strings.Contains(p.Detail, cfg.CloudAddr) {
		t.Errorf("enroll problem %+v does not name the cloud", p)
	}
	if _, err := os.Stat(cfg.CredentialsPath()); !os.IsNotExist(err) {
		t.Errorf("credentials written after a failed enrollment: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestAgentWithoutCloud: with no cloud_addr there is no sync, and the sync
// endpoints say so.
func TestAgentWithoutCloud(t *testing.T) {
	_, c, _ := startAgent(t, testConfig(t))
	var st inspect.StatusJSON
	c.must("GET", "/api/v1/status", nil, 200, &st)
	if st.Sync != nil || st.SyncRunning {
		t.Errorf("sync reported without cloud_addr: %+v", st)
	}
	c.must("POST", "/api/v1/sync/now", nil, 503, nil)
	c.must("POST", "/api/v1/sync/enroll", inspect.EnrollRequest{Token: "t"}, 503, nil)
}

// TestAgentUsesEnrolledDeviceID: saved credentials win over the configured
// device_id, the sender runs (enrolled, not connected), and a second
// enrollment is refused.
func TestAgentUsesEnrolledDeviceID(t *testing.T) {
	cfg := testConfig(t)
	cfg.CloudAddr = closedAddr(t)
	cfg.SyncBackoffMin, cfg.SyncBackoffMax = 20*time.Millisecond, 100*time.Millisecond
	creds := device.Credentials{DeviceID: "edge-enrolled-7", Line: "line-1", Secret: "s3cret", CloudURL: cfg.CloudAddr}
	if err := device.Save(cfg.CredentialsPath(), creds); err != nil {
		t.Fatal(err)
	}
	_, c, _ := startAgent(t, cfg)
	st := c.waitStatus("the sender's first failure", func(st inspect.StatusJSON) bool {
		return st.Sync != nil && st.Sync.Enrolled && st.Sync.LastError != ""
	})
	if st.DeviceID != "edge-enrolled-7" || st.Sync.Connected {
		t.Errorf("status device %q sync %+v", st.DeviceID, st.Sync)
	}
	var rec inspect.RecordJSON
	c.must("GET", "/api/v1/records/"+c.saveRecord("NG", "dent"), nil, 200, &rec)
	if rec.DeviceID != "edge-enrolled-7" {
		t.Errorf("new record carries device_id %q, want the enrolled one", rec.DeviceID)
	}
	c.must("POST", "/api/v1/sync/enroll", inspect.EnrollRequest{Token: "t"}, 409, nil)
}

func TestAgentRefusesOpenCredentials(t *testing.T) {
	cfg := testConfig(t)
	cfg.CloudAddr = closedAddr(t)
	if err := device.Save(cfg.CredentialsPath(), device.Credentials{DeviceID: cfg.DeviceID, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg.CredentialsPath(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := agent.New(cfg, quiet())
	if err == nil || !strings.Contains(err.Error(), "credentials_file") || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("New with a world-readable credentials file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "queue.db")); err == nil {
		t.Errorf("queue created although the agent refused to start")
	}
}

// enrollServer is a real gRPC server answering only Enroll, as a stand-in
// for the cloud in enrollment tests (the full edge→cloud test lives with
// the cloud API).
type enrollServer struct {
	ifcv1.UnimplementedSyncServiceServer
	mu   sync.Mutex
	used map[string]bool
	reqs []*ifcv1.EnrollRequest
}

func (s *enrollServer) Enroll(_ context.Context, r *ifcv1.EnrollRequest) (*ifcv1.EnrollResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	if r.GetToken() != device.TokenPrefix+"good" || s.used[r.GetToken()] {
		return nil, status.Error(codes.Unauthenticated, "enrollment token is unknown, expired or already used")
	}
	s.used[r.GetToken()] = true
	return &ifcv1.EnrollResponse{Credentials: &ifcv1.DeviceCredentials{DeviceId: r.GetDeviceId(), Line: "line-1", Secret: "s3cret"}}, nil
}

func startEnrollServer(t *testing.T) (*enrollServer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	es := &enrollServer{used: map[string]bool{}}
	gs := grpc.NewServer()
	ifcv1.RegisterSyncServiceServer(gs, es)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	return es, ln.Addr().String()
}

// TestEnrollOnDemand: the first-run screen enrolls through the local API;
// a refused token is a 502 with the cloud's message and writes nothing;
// a good one saves 0600 credentials, starts the sender, and cannot be
// repeated.
func TestEnrollOnDemand(t *testing.T) {
	es, addr := startEnrollServer(t)
	cfg := testConfig(t)
	cfg.CloudAddr = closedAddr(t) // the app gives the real address in cloud_url
	cfg.SyncBackoffMin, cfg.SyncBackoffMax = 20*time.Millisecond, 100*time.Millisecond
	_, c, _ := startAgent(t, cfg)

	var p inspect.Problem
	c.must("POST", "/api/v1/sync/enroll", inspect.EnrollRequest{CloudURL: addr, Token: device.TokenPrefix + "bad"}, 502, &p)
	if !strings.Contains(p.Detail, "already used") {
		t.Errorf("refusal detail %q lacks the cloud's message", p.Detail)
	}
	if _, err := os.Stat(cfg.CredentialsPath()); !os.IsNotExist(err) {
		t.Fatalf("credentials after a refusal: %v", err)
	}

	var ej inspect.EnrollJSON
	c.must("POST", "/api/v1/sync/enroll", inspect.EnrollRequest{CloudURL: addr, Token: device.TokenPrefix + "good"}, 200, &ej)
	if ej.DeviceID != cfg.DeviceID || ej.Line != "line-1" {
		t.Errorf("enrolled as %+v, want the configured device id", ej)
	}
	es.mu.Lock()
	if last := es.reqs[len(es.reqs)-1]; last.GetDeviceId() != cfg.DeviceID || last.GetAgentVersion() != agent.Version {
		t.Errorf("enroll request %v", last)
	}
	es.mu.Unlock()
	st, err := os.Stat(cfg.CredentialsPath())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", st, err)
	}
	creds, err := device.Load(cfg.CredentialsPath())
	if err != nil || creds.CloudURL != addr || creds.Secret != "s3cret" {
		t.Errorf("saved credentials %+v %v", creds, err)
	}
	s := c.waitStatus("the sender running", func(st inspect.StatusJSON) bool {
		return st.Sync != nil && st.Sync.Enrolled && st.Sync.CloudAddr == addr
	})
	if s.DeviceID != cfg.DeviceID {
		t.Errorf("device id changed to %q", s.DeviceID)
	}
	c.must("POST", "/api/v1/sync/enroll", inspect.EnrollRequest{CloudURL: addr, Token: device.TokenPrefix + "good"}, 409, nil)
}

// TestEnrollAtStart: enrollment_token is used once at start.
func TestEnrollAtStart(t *testing.T) {
	_, addr := startEnrollServer(t)
	cfg := testConfig(t)
	cfg.CloudAddr = addr
	cfg.EnrollmentToken = device.TokenPrefix + "good"
	cfg.SyncBackoffMin, cfg.SyncBackoffMax = 20*time.Millisecond, 100*time.Millisecond
	_, c, stop := startAgent(t, cfg)
	c.waitStatus("enrolled", func(st inspect.StatusJSON) bool { return st.Sync != nil && st.Sync.Enrolled })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if creds, err := device.Load(cfg.CredentialsPath()); err != nil || creds.DeviceID != cfg.DeviceID {
		t.Fatalf("credentials after start-up enrollment: %+v %v", creds, err)
	}
	// A restart uses the saved credentials; the spent token is not sent again.
	_, c, _ = startAgent(t, cfg)
	c.waitStatus("enrolled after restart", func(st inspect.StatusJSON) bool { return st.Sync != nil && st.Sync.Enrolled })
}

// A pre-filter pulled from the cloud before a restart is the one the agent
// starts on; a pulled bundle that no longer verifies falls back to the
// configured one.
func TestAgentStartsOnPulledModel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt bool
		want    string
	}{{"verified", false, "1.0.7"}, {"tampered", true, "1.0.0"}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.CloudAddr = closedAddr(t)
			dir := filepath.Join(cfg.ModelsPath(), "prefilter", "1.0.7")
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(copyBundle(t), dir); err != nil {
				t.Fatal(err)
			}
			manifest := filepath.Join(dir, "manifest.json")
			data, err := os.ReadFile(manifest)
			if err != nil {
				t.Fatal(err)
			}
			data = bytes.Replace(data, []byte(`"version": "1.0.0"`), []byte(`"version": "1.0.7"`), 1)
			if tc.corrupt {
				data = bytes.Replace(data, []byte(`"sha256": "`), []byte(`"sha256": "00`), 1)
			}
			if err := os.WriteFile(manifest, data, 0o644); err != nil {
				t.Fatal(err)
			}
			q, err := queue.Open(cfg.QueuePath(), queue.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := q.PutCursor(context.Background(), "model", 3, []byte("prefilter/1.0.7")); err != nil {
				t.Fatal(err)
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			_, c, _ := startAgent(t, cfg)
			var st inspect.StatusJSON
			c.must("GET", "/api/v1/status", nil, 200, &st)
			if st.Model.Version != tc.want {
				t.Fatalf("agent started on model %q, want %q", st.Model.Version, tc.want)
			}
		})
	}
}
