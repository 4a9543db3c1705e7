package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func (e *env) dialWS(role auth.Role, viaQuery bool) *wsClient {
	e.t.Helper()
	c, res, err := e.tryDialWS(role, viaQuery)
	if err != nil {
		e.t.Fatalf("dial ws: %v (%v)", err, res)
	}
	return c
}

func (e *env) tryDialWS(role auth.Role, viaQuery bool) (*wsClient, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/api/v1/ws"
	opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
	if role != "" {
		if viaQuery {
			u += "?token=" + e.tokens[role]
		} else {
			opts.HTTPHeader.Set("Authorization", "Bearer "+e.tokens[role])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		return nil, res, err
	}
	conn.SetReadLimit(64 << 20)
	c := &wsClient{t: e.t, conn: conn}
	e.t.Cleanup(func() { _ = conn.CloseNow() })
	return c, res, nil
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("ws write: %v", err)
	}
}

func (c *wsClient) recv() map[string]any {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("ws read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("ws message not JSON: %s", b)
	}
	return m
}

func TestWSAuth(t *testing.T) {
	e := newEnv(t)
	if _, res, err := e.tryDialWS("", false); err == nil || res == nil || res.StatusCode != 401 {
		t.Fatalf("no token: err %v res %v", err, res)
	}
	e.dialWS(auth.RoleInspector, true)
	e.dialWS(auth.RoleInspector, false)
	e.clock.Add(time.Hour)
	if _, res, err := e.tryDialWS(auth.RoleInspector, true); err == nil || res == nil || res.StatusCode != 401 {
		t.Fatalf("expired token: err %v res %v", err, res)
	}
}

// TestWSSubscribeOrdering subscribes late: the client gets the current
// state, then every event so far in order, then live events in order.
func TestWSSubscribeOrdering(t *testing.T) {
	e := newEnv(t)
	pid := e.createPipeline()
	fid := e.upload(testJPEG(t, 32, 32))
	ex := e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}}).json(t)
	id := ex["execution_id"].(string)
	e.cond.step(id, 0) // seq 2, 3 before anyone subscribes

	late := e.dialWS(auth.Role("inspector"), false)
	late.send(map[string]any{"type": "subscribe", "execution_id": id})
	st := late.recv()
	if st["type"] != "state" || st["execution"].(map[string]any)["status"] != "running" {
		t.Fatalf("first message %v", st)
	}
	other := e.dialWS(auth.RoleQAManager, true)
	other.send(map[string]any{"type": "subscribe", "execution_id": id})
	if m := other.recv(); m["type"] != "state" {
		t.Fatalf("other first message %v", m)
	}
	go e.cond.finish(id)
	for _, c := range []*wsClient{late, other} {
		var seqs []int
		for {
			m := c.recv()
			if m["type"] != "progress" {
				t.Fatalf("unexpected %v", m)
			}
			seqs = append(seqs, int(m["seq"].(float64)))
			if m["node_id"] == nil && m["execution_status"] == "succeeded" {
				break
			}
		}
		// queued(1), resize running(2)/done(3), blur(4,5), detect(6,7), succeeded(8)
		want := []int{1, 2, 3, 4, 5, 6, 7, 8}
		if len(seqs) != len(want) {
			t.Fatalf("seqs %v, want %v", seqs, want)
		}
		for i := range want {
			if seqs[i] != want[i] {
				t.Fatalf("seqs %v, want %v", seqs, want)
			}
		}
	}
	// Unsubscribed clients get nothing more.
	late.send(map[string]any{"type": "unsubscribe", "execution_id": id})
	if m := late.recv(); m["type"] != "unsubscribed" {
		t.Fatalf("unsubscribe answer %v", m)
	}
	e.cond.publish(id, "", 0, ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED)
	late.send(map[string]any{"type": "bogus"})
	if m := late.recv(); m["type"] != "error" || m["status"].(float64) != 400 {
		t.Fatalf("after unsubscribe got %v", m)
	}
	if m := other.recv(); m["type"] != "progress" || m["seq"].(float64) != 9 {
		t.Fatalf("still-subscribed client got %v", m)
	}
}

func TestWSSubscribeErrors(t *testing.T) {
	e := newEnv(t)
	c := e.dialWS(auth.RoleInspector, false)
	c.send(map[string]any{"type": "subscribe", "execution_id": "nope"})
	if m := c.recv(); m["type"] != "error" || m["status"].(float64) != 404 || m["execution_id"] != "nope" {
		t.Fatalf("unknown execution: %v", m)
	}
	c.send(map[string]any{"type": "subscribe"})
	if m := c.recv(); m["type"] != "error" || m["status"].(float64) != 400 {
		t.Fatalf("missing id: %v", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.conn.Write(ctx, websocket.MessageText, []byte("{not json"))
	if m := c.recv(); m["type"] != "error" || m["status"].(float64) != 400 {
		t.Fatalf("malformed: %v", m)
	}
}

func TestWSMessageSizeBounded(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.WSReadLimit = 1 << 10 }))
	c := e.dialWS(auth.RoleInspector, false)
	c.send(map[string]any{"type": "process", "image": strings.Repeat("A", 4<<10)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := c.conn.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversized message: %v", err)
	}
}

func TestWSProcess(t *testing.T) {
	e := newEnv(t)
	pid := e.createPipeline()
	c := e.dialWS(auth.RoleInspector, true)
	img := testJPEG(t, 40, 30)
	c.send(map[string]any{"type": "process", "request_id": "r1", "pipeline_id": pid, "image": base64.StdEncoding.EncodeToString(img)})
	m := c.recv()
	if m["type"] != "result" || m["request_id"] != "r1" || m["processing_us"].(float64) != 42 || m["width"].(float64) != 40 {
		t.Fatalf("result %v", m)
	}
	out, err := base64.StdEncoding.DecodeString(m["image"].(string))
	if err != nil || len(out) != len(img) {
		t.Fatalf("result image: %v", err)
	}
	if d := m["detections"].([]any); len(d) != 1 || d[0].(map[string]any)["label"] != pid {
		t.Fatalf("detections %v", d)
	}
	// Data URLs are accepted as browsers produce them.
	c.send(map[string]any{"type": "process", "request_id": "r2", "pipeline_id": pid, "version": 1, "image": "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(img)})
	if m := c.recv(); m["type"] != "result" || m["request_id"] != "r2" {
		t.Fatalf("data url: %v", m)
	}
	for _, bad := range []struct {
		name   string
		msg    map[string]any
		status float64
	}{
		{"bad base64", map[string]any{"pipeline_id": pid, "image": "%%%"}, 400},
		{"not an image", map[string]any{"pipeline_id": pid, "image": base64.StdEncoding.EncodeToString([]byte("hello there"))}, 415},
		{"bomb", map[string]any{"pipeline_id": pid, "image": base64.StdEncoding.EncodeToString(pngBomb(t, 60000, 60000))}, 422},
		{"unknown pipeline", map[string]any{"pipeline_id": "nope", "image": base64.StdEncoding.EncodeToString(img)}, 404},
	} {
		bad.msg["type"], bad.msg["request_id"] = "process", bad.name
		c.send(bad.msg)
		if m := c.recv(); m["type"] != "error" || m["status"].(float64) != bad.status || m["request_id"] != bad.name {
			t.Errorf("%s: %v", bad.name, m)
		}
	}
	e.cond.mu.Lock()
	e.cond.overloaded = true
	e.cond.mu.Unlock()
	c.send(map[string]any{"type": "process", "request_id": "r3", "pipeline_id": pid, "image": base64.StdEncoding.EncodeToString(img)})
	if m := c.recv(); m["type"] != "error" || m["status"].(float64) != 429 {
		t.Fatalf("overloaded: %v", m)
	}
}

// TestWSSlowClientDropped checks a client that stops reading is dropped
// while the hub and a reading client carry on.
func TestWSSlowClientDropped(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.WSSendBuffer = 4; c.ReplayEvents = 8 }))
	pid := e.createPipeline()
	fid := e.upload(testJPEG(t, 32, 32))
	id := e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}}).json(t)["execution_id"].(string)
	slow := e.dialWS(auth.RoleInspector, false)
	fast := e.dialWS(auth.RoleInspector, false)
	for _, c := range []*wsClient{slow, fast} {
		c.send(map[string]any{"type": "subscribe", "execution_id": id})
		if m := c.recv(); m["type"] != "state" {
			t.Fatalf("state: %v", m)
		}
	}
	// Drain the replayed queued event on both.
	slow.recv()
	fast.recv()

	// The publisher goes in lockstep with the fast client, so only the
	// slow one falls behind: its socket buffers fill, then its queue.
	const n = 300
	big := strings.Repeat("x", 64<<10)
	got := make(chan int, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(got)
		for i := 0; i < n; i++ {
			m := fast.recv()
			got <- int(m["seq"].(float64))
		}
	})
	for i := 0; i < n; i++ {
		e.cond.mu.Lock()
		e.cond.seq[id]++
		seq := e.cond.seq[id]
		e.cond.mu.Unlock()
		start := time.Now()
		_ = e.bus.Publish(context.Background(), &ifcv1.ProgressEvent{ExecutionId: id, NodeId: "resize", Seq: seq, Error: big})
		if d := time.Since(start); d > time.Second {
			t.Fatalf("publish blocked %v on a slow client", d)
		}
		if s, ok := <-got; !ok || s != int(seq) {
			t.Fatalf("fast client got seq %d, want %d", s, seq)
		}
	}
	wg.Wait()
	// The slow client eventually sees a policy-violation close.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	for err == nil {
		_, _, err = slow.conn.Read(ctx)
	}
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation && !errors.Is(err, context.DeadlineExceeded) {
		t.Logf("slow client closed with %v", err)
	}
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("slow client: %v, want policy violation close", err)
	}
}

// TestWSTokenExpiry checks a connection closes when its token expires,
// unless the client sends a fresh token first.
func TestWSTokenExpiry(t *testing.T) {
	e := newEnv(t)
	short, err := auth.NewTokens(auth.TokenConfig{Key: e.key, TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dial := func() *wsClient {
		tok, _, err := short.Issue(auth.Principal{Username: "inspector-user", Role: auth.RoleInspector})
		if err != nil {
			t.Fatal(err)
		}
		e.tokens["short"] = tok
		return e.dialWS("short", true)
	}
	expiring := dial()
	refreshed := dial()
	refreshed.send(map[string]any{"type": "auth", "token": "garbage"})
	if m := refreshed.recv(); m["type"] != "error" || m["status"].(float64) != 401 {
		t.Fatalf("bad token: %v", m)
	}
	refreshed.send(map[string]any{"type": "auth", "token": e.tokens[auth.RoleAdmin]})
	if m := refreshed.recv(); m["type"] != "error" || m["status"].(float64) != 403 {
		t.Fatalf("other user's token: %v", m)
	}
	refreshed.send(map[string]any{"type": "auth", "token": e.tokens[auth.RoleInspector]})
	if m := refreshed.recv(); m["type"] != "authenticated" {
		t.Fatalf("refresh: %v", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err = expiring.conn.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), "token expired") {
		t.Fatalf("expiring connection: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // past the short token's expiry too
	refreshed.send(map[string]any{"type": "bogus"})
	if m := refreshed.recv(); m["type"] != "error" || m["status"].(float64) != 400 {
		t.Fatalf("refreshed connection: %v", m)
	}
}
