package api

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/sync/device"
)

// enroll creates an enrollment token over the API and redeems it in the
// store as the sync service would, returning the device.
func (e *env) enroll(line, deviceID string) metadata.Device {
	e.t.Helper()
	r := e.doJSON("POST", "/api/v1/enrollment-tokens", auth.RoleIntegrator, map[string]any{"line": line})
	if r.code != 201 {
		e.t.Fatalf("create token: %d %s", r.code, r.body)
	}
	_, secretHash, err := device.NewSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := e.meta.RedeemEnrollmentToken(context.Background(), device.Hash(r.json(e.t)["token"].(string)),
		metadata.Device{DeviceID: deviceID, Name: "box " + deviceID, SecretHash: secretHash}, time.Now())
	if err != nil {
		e.t.Fatalf("redeem token: %v", err)
	}
	return d
}

func TestEnrollmentTokens(t *testing.T) {
	e := newEnv(t)
	before := time.Now()
	r := e.doJSON("POST", "/api/v1/enrollment-tokens", auth.RoleAdmin, map[string]any{"line": "line-1"})
	if r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
	}
	m := r.json(t)
	tok, _ := m["token"].(string)
	exp, err := time.Parse(time.RFC3339Nano, m["expires_at"].(string))
	if !strings.HasPrefix(tok, device.TokenPrefix) || m["line"] != "line-1" || err != nil {
		t.Fatalf("token response %s", r.body)
	}
	if d := exp.Sub(before); d < 24*time.Hour || d > 24*time.Hour+time.Minute {
		t.Errorf("default expiry %v after the request, want 24h", d)
	}
	// What the API stored is the token's hash: redeeming with it enrolls for the line.
	_, secretHash, _ := device.NewSecret()
	d, err := e.meta.RedeemEnrollmentToken(context.Background(), device.Hash(tok), metadata.Device{DeviceID: "edge-1", SecretHash: secretHash}, time.Now())
	if err != nil || d.Line != "line-1" {
		t.Fatalf("redeem: %+v %v", d, err)
	}
	if _, err := e.meta.RedeemEnrollmentToken(context.Background(), tok, metadata.Device{DeviceID: "edge-2", SecretHash: secretHash}, time.Now()); err == nil {
		t.Fatal("the plain token text is stored")
	}

	// A short ttl expires when it says.
	r = e.doJSON("POST", "/api/v1/enrollment-tokens", auth.RoleIntegrator, map[string]any{"line": "line-2", "ttl_seconds": 60})
	if r.code != 201 {
		t.Fatalf("integrator create: %d %s", r.code, r.body)
	}
	tok = r.json(t)["token"].(string)
	if _, err := e.meta.RedeemEnrollmentToken(context.Background(), device.Hash(tok), metadata.Device{DeviceID: "edge-3", SecretHash: secretHash}, time.Now().Add(61*time.Second)); err == nil {
		t.Fatal("60 s token redeemed after 61 s")
	}

	for _, role := range []auth.Role{auth.RoleInspector, auth.RoleQAManager} {
		expectProblem(t, e.doJSON("POST", "/api/v1/enrollment-tokens", role, map[string]any{"line": "line-1"}), 403)
	}
	for name, body := range map[string]any{
		"ttl too short": map[string]any{"line": "line-1", "ttl_seconds": 59},
		"ttl too long":  map[string]any{"line": "line-1", "ttl_seconds": 30*86400 + 1},
		"no line":       map[string]any{"ttl_seconds": 3600},
		"line w/ slash": map[string]any{"line": "a/b"},
	} {
		t.Run(name, func(t *testing.T) {
			p := expectProblem(t, e.doJSON("POST", "/api/v1/enrollment-tokens", auth.RoleAdmin, body), 422)
			if len(p["problems"].([]any)) == 0 {
				t.Fatalf("no problems listed: %v", p)
			}
		})
	}
	expectProblem(t, e.do("POST", "/api/v1/enrollment-tokens", auth.RoleAdmin, "application/json", []byte(`{"line":"l","ttl":5}`)), 400)
	expectProblem(t, e.do("POST", "/api/v1/enrollment-tokens", auth.RoleAdmin, "application/json", []byte(`{"line":`)), 400)
}

func TestDevices(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.enroll("line-1", "edge-a")
	e.enroll("line-2", "edge-b")
	e.enroll("line-2", "edge-c") // never heard from
	oldest := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	if err := e.meta.TouchDevice(ctx, "edge-a", metadata.DeviceStatus{Queued: 7, QueuedBytes: 7000, OldestQueued: oldest,
		AgentVersion: "1.2.3", ModelVersion: "m-4", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := e.meta.TouchDevice(ctx, "edge-b", metadata.DeviceStatus{At: time.Now().Add(-10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}

	r := e.do("GET", "/api/v1/devices", auth.RoleQAManager, "", nil)
	if r.code != 200 {
		t.Fatalf("list: %d %s", r.code, r.body)
	}
	byID := map[string]map[string]any{}
	for _, d := range r.json(t)["devices"].([]any) {
		d := d.(map[string]any)
		byID[d["device_id"].(string)] = d
	}
	if len(byID) != 3 {
		t.Fatalf("devices %s", r.body)
	}
	a := byID["edge-a"]
	if a["online"] != true || a["line"] != "line-1" || a["name"] != "box edge-a" || a["queued"] != 7.0 || a["queued_bytes"] != 7000.0 ||
		a["agent_version"] != "1.2.3" || a["model_version"] != "m-4" || a["enrolled_at"] == nil || a["revoked_at"] != nil {
		t.Errorf("edge-a %v", a)
	}
	if got, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(a["oldest_queued"])); !got.Equal(oldest) {
		t.Errorf("oldest_queued %v, want %v", a["oldest_queued"], oldest)
	}
	if byID["edge-b"]["online"] != false || byID["edge-b"]["last_seen"] == nil {
		t.Errorf("edge-b seen 10 minutes ago: %v", byID["edge-b"])
	}
	if byID["edge-c"]["online"] != false || byID["edge-c"]["last_seen"] != nil {
		t.Errorf("edge-c never seen: %v", byID["edge-c"])
	}

	r = e.do("GET", "/api/v1/devices/edge-a", auth.RoleIntegrator, "", nil)
	if r.code != 200 || r.json(t)["device_id"] != "edge-a" {
		t.Fatalf("get: %d %s", r.code, r.body)
	}
	expectProblem(t, e.do("GET", "/api/v1/devices/nope", auth.RoleAdmin, "", nil), 404)
	expectProblem(t, e.do("GET", "/api/v1/devices/"+url.PathEscape("bad id!"), auth.RoleAdmin, "", nil), 404)
	expectProblem(t, e.do("GET", "/api/v1/devices", auth.RoleInspector, "", nil), 403)

	// Revocation: a qa_manager may not; an integrator may, twice, keeping the first time.
	expectProblem(t, e.do("POST", "/api/v1/devices/edge-a/revoke", auth.RoleQAManager, "", nil), 403)
	if d, _ := e.meta.GetDevice(ctx, "edge-a"); d.Revoked() {
		t.Fatal("forbidden revoke changed the device")
	}
	r = e.do("POST", "/api/v1/devices/edge-a/revoke", auth.RoleIntegrator, "", nil)
	first := r.json(t)
	if r.code != 200 || first["revoked_at"] == nil || first["online"] != false {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	r = e.do("POST", "/api/v1/devices/edge-a/revoke", auth.RoleAdmin, "", nil)
	if r.code != 200 || r.json(t)["revoked_at"] != first["revoked_at"] {
		t.Fatalf("second revoke: %d %s (first %v)", r.code, r.body, first["revoked_at"])
	}
	if d, _ := e.meta.GetDevice(ctx, "edge-a"); !d.Revoked() {
		t.Fatal("device not revoked in the store")
	}
	expectProblem(t, e.do("POST", "/api/v1/devices/nope/revoke", auth.RoleAdmin, "", nil), 404)
}

func TestEnrollmentTokenListAndRevoke(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	create := func(line string) string {
		r := e.doJSON("POST", "/api/v1/enrollment-tokens", auth.RoleIntegrator, map[string]any{"line": line})
		if r.code != 201 {
			t.Fatalf("create: %d %s", r.code, r.body)
		}
		return r.json(t)["token"].(string)
	}
	list := func() map[string]map[string]any {
		t.Helper()
		r := e.do("GET", "/api/v1/enrollment-tokens", auth.RoleAdmin, "", nil)
		if r.code != 200 {
			t.Fatalf("list: %d %s", r.code, r.body)
		}
		out := map[string]map[string]any{}
		for _, x := range r.json(t)["tokens"].([]any) {
			x := x.(map[string]any)
			out[x["line"].(string)] = x
		}
		return out
	}
	if r := e.do("GET", "/api/v1/enrollment-tokens", auth.RoleAdmin, "", nil); r.code != 200 || !strings.Contains(string(r.body), `"tokens":[]`) {
		t.Fatalf("empty list: %d %s", r.code, r.body)
	}
	revokeTok := create("line-r")
	usedTok := create("line-u")
	create("line-a")
	e.enrollWith(usedTok, "edge-u")

	r := e.do("GET", "/api/v1/enrollment-tokens", auth.RoleIntegrator, "", nil)
	if r.code != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("list: %d %v", r.code, r.header)
	}
	for _, tok := range []string{revokeTok, usedTok, device.Hash(revokeTok), device.Hash(usedTok)} {
		if strings.Contains(string(r.body), tok) {
			t.Fatalf("list shows a token or its full hash: %s", r.body)
		}
	}
	ts := list()
	if len(ts) != 3 {
		t.Fatalf("tokens %v", ts)
	}
	rv := ts["line-r"]
	if rv["token_id"] != device.Hash(revokeTok)[:12] || rv["state"] != "active" || rv["created_by"] == "" ||
		rv["created_at"] == nil || rv["expires_at"] == nil || rv["used_at"] != nil || rv["revoked_at"] != nil {
		t.Fatalf("active token %v", rv)
	}
	if u := ts["line-u"]; u["state"] != "used" || u["device_id"] != "edge-u" || u["used_at"] == nil {
		t.Fatalf("used token %v", u)
	}

	// Revoke: 200 with the token, idempotent; then it enrolls nothing.
	path := "/api/v1/enrollment-tokens/" + rv["token_id"].(string) + "/revoke"
	r = e.do("POST", path, auth.RoleIntegrator, "", nil)
	if r.code != 200 || r.json(t)["state"] != "revoked" || r.json(t)["revoked_at"] == nil {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	first := r.json(t)["revoked_at"]
	if r = e.do("POST", path, auth.RoleAdmin, "", nil); r.code != 200 || r.json(t)["revoked_at"] != first {
		t.Fatalf("second revoke: %d %s; want revoked_at %v kept", r.code, r.body, first)
	}
	if g := list()["line-r"]; g["state"] != "revoked" || g["revoked_at"] != first {
		t.Fatalf("revoked token in list %v", g)
	}
	_, secretHash, _ := device.NewSecret()
	if _, err := e.meta.RedeemEnrollmentToken(ctx, device.Hash(revokeTok), metadata.Device{DeviceID: "edge-r", SecretHash: secretHash}, time.Now()); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("redeem revoked token: %v, want ErrNotFound like an unknown token", err)
	}
	if a := list()["line-a"]; a["state"] != "active" {
		t.Fatalf("other token %v", a)
	}

	expectProblem(t, e.do("POST", "/api/v1/enrollment-tokens/"+ts["line-u"]["token_id"].(string)+"/revoke", auth.RoleAdmin, "", nil), 409)
	for _, id := range []string{"000000000000", "nope", device.Hash(revokeTok), "%25"} {
		expectProblem(t, e.do("POST", "/api/v1/enrollment-tokens/"+id+"/revoke", auth.RoleAdmin, "", nil), 404)
	}
	for _, role := range []auth.Role{auth.RoleInspector, auth.RoleQAManager} {
		expectProblem(t, e.do("GET", "/api/v1/enrollment-tokens", role, "", nil), 403)
		expectProblem(t, e.do("POST", path, role, "", nil), 403)
	}
}

// enrollWith redeems tok in the store as the sync service would.
func (e *env) enrollWith(tok, deviceID string) {
	e.t.Helper()
	_, secretHash, err := device.NewSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.meta.RedeemEnrollmentToken(context.Background(), device.Hash(tok),
		metadata.Device{DeviceID: deviceID, SecretHash: secretHash}, time.Now()); err != nil {
		e.t.Fatalf("redeem token: %v", err)
	}
}
