package faulttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/imageflowcanvas/ifc/sync/faultproxy"
)

// httpClient has short timeouts: the processes behind it are killed at random.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// call does one JSON request; out (if not nil) receives a 2xx body. It
// returns the status code; a non-2xx status is an error carrying the body.
func call(ctx context.Context, method, u, bearer string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return send(req, out)
}

func send(req *http.Request, out any) (int, error) {
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read body: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if p, ok := out.(*[]byte); ok {
			*p = b
		} else if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode %s: %w", req.Method, req.URL.Path, b, err)
		}
	}
	return resp.StatusCode, nil
}

// cloudAPI is the cloud's REST API as an admin; it logs in again after a 401.
type cloudAPI struct {
	base, password string

	mu    sync.Mutex
	token string
}

func (c *cloudAPI) login(ctx context.Context) error {
	var out struct {
		Token string `json:"token"`
	}
	if _, err := call(ctx, "POST", c.base+"/api/v1/auth/login", "", map[string]string{"username": "admin", "password": c.password}, &out); err != nil {
		return err
	}
	c.mu.Lock()
	c.token = out.Token
	c.mu.Unlock()
	return nil
}

func (c *cloudAPI) do(ctx context.Context, method, path string, in, out any) error {
	for try := 0; ; try++ {
		c.mu.Lock()
		tok := c.token
		c.mu.Unlock()
		if tok == "" {
			if err := c.login(ctx); err != nil {
				return err
			}
			continue
		}
		code, err := call(ctx, method, c.base+path, tok, in, out)
		if code == http.StatusUnauthorized && try == 0 {
			c.mu.Lock()
			c.token = ""
			c.mu.Unlock()
			continue
		}
		return err
	}
}

// healthy reports whether the cloud answers /healthz.
func (c *cloudAPI) healthy(ctx context.Context) bool {
	_, err := call(ctx, "GET", c.base+"/healthz", "", nil, nil)
	return err == nil
}

// cloudRecord is what the harness reads of a cloud record.
type cloudRecord struct {
	RecordID string `json:"record_id"`
	DeviceID string `json:"device_id"`
	Images   []struct {
		SHA256 string `json:"sha256"`
		FileID string `json:"file_id"`
		URL    string `json:"url"`
		Size   int64  `json:"size"`
	} `json:"images"`
}

// records lists every cloud record of a device (all pages, in order).
func (c *cloudAPI) records(ctx context.Context, deviceID string) ([]cloudRecord, error) {
	var all []cloudRecord
	token := ""
	for {
		q := url.Values{"device_id": {deviceID}, "limit": {"500"}}
		if token != "" {
			q.Set("page_token", token)
		}
		var page struct {
			Records       []cloudRecord `json:"records"`
			NextPageToken string        `json:"next_page_token"`
		}
		if err := c.do(ctx, "GET", "/api/v1/records?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Records...)
		if page.NextPageToken == "" {
			return all, nil
		}
		token = page.NextPageToken
	}
}

// file downloads one cloud image by its URL path.
func (c *cloudAPI) file(ctx context.Context, path string) ([]byte, error) {
	var b []byte
	err := c.do(ctx, "GET", path, nil, &b)
	return b, err
}

// edgeAPI is the edge agent's local API.
type edgeAPI struct{ base string }

// edgeStatus is what the harness reads of GET /api/v1/status. The sync
// counters are looked up under "sync" and at the top level, so the harness
// does not depend on where the agent nests them.
type edgeStatus struct {
	Queued, QueuedBytes                 int64
	SentRecords, SentBytes, ResentBytes int64
	Connected                           bool
	LastError                           string
	At                                  time.Time
	Raw                                 map[string]any
}

func (e *edgeAPI) status(ctx context.Context) (edgeStatus, error) {
	var raw map[string]any
	if _, err := call(ctx, "GET", e.base+"/api/v1/status", "", nil, &raw); err != nil {
		return edgeStatus{}, err
	}
	st := edgeStatus{Raw: raw, At: time.Now()}
	sub, _ := raw["sync"].(map[string]any)
	// queued and queued_bytes: the live queue (top level) before the sender's snapshot.
	num := func(key string) int64 {
		order := []map[string]any{sub, raw}
		if key == "queued" || key == "queued_bytes" {
			order = []map[string]any{raw, sub}
		}
		for _, m := range order {
			if v, ok := m[key].(float64); ok {
				return int64(v)
			}
		}
		return 0
	}
	st.Queued, st.QueuedBytes = num("queued"), num("queued_bytes")
	st.SentRecords, st.SentBytes, st.ResentBytes = num("sent_records"), num("sent_bytes"), num("resent_bytes")
	for _, m := range []map[string]any{sub, raw} {
		if v, ok := m["last_error"].(string); ok && st.LastError == "" {
			st.LastError = v
		}
		for _, k := range []string{"connected", "sync_connected"} {
			if v, ok := m[k].(bool); ok && v {
				st.Connected = true
			}
		}
	}
	return st, nil
}

// inspect runs one inspection: a new session when *session is empty, a
// capture (a camera still, or upload when not nil) and a verdict. It
// returns the acknowledged record id and its image size.
func (e *edgeAPI) inspect(ctx context.Context, session *string, product, lot string, seq int, upload []byte) (string, int64, error) {
	if *session == "" {
		var s struct {
			SessionID string `json:"session_id"`
		}
		if _, err := call(ctx, "POST", e.base+"/api/v1/sessions", "", map[string]string{
			"product_code": product, "lot": lot, "serial": fmt.Sprintf("S-%06d", seq), "inspector": "fault-harness",
		}, &s); err != nil {
			return "", 0, err
		}
		*session = s.SessionID
	}
	var c struct {
		CaptureID  string `json:"capture_id"`
		ImageBytes int64  `json:"image_bytes"`
		Prefilter  struct {
			Suspect bool `json:"suspect"`
		} `json:"prefilter"`
	}
	capURL := e.base + "/api/v1/sessions/" + *session + "/captures"
	var err error
	if upload != nil {
		req, rerr := http.NewRequestWithContext(ctx, "POST", capURL, bytes.NewReader(upload))
		if rerr != nil {
			return "", 0, rerr
		}
		req.Header.Set("Content-Type", "image/jpeg")
		_, err = send(req, &c)
	} else {
		_, err = call(ctx, "POST", capURL, "", struct{}{}, &c)
	}
	if err != nil {
		*session = "" // the agent may have restarted and forgotten it
		return "", 0, err
	}
	v := map[string]string{"result": "OK", "note": fmt.Sprintf("harness #%d", seq)}
	if c.Prefilter.Suspect || seq%4 == 0 {
		v["result"], v["defect_type"] = "NG", "scratch"
	}
	var saved struct {
		Record struct {
			RecordID string `json:"record_id"`
		} `json:"record"`
	}
	code, err := call(ctx, "POST", e.base+"/api/v1/captures/"+c.CaptureID+"/verdict", "", v, &saved)
	if err != nil {
		*session = ""
		return "", 0, err
	}
	if code != http.StatusCreated {
		return "", 0, fmt.Errorf("verdict for capture %s: status %d, want 201", c.CaptureID, code)
	}
	return saved.Record.RecordID, c.ImageBytes, nil
}

// edgeRecord is what the harness reads of a local record.
type edgeRecord struct {
	RecordID string `json:"record_id"`
	Synced   bool   `json:"synced"`
	Evicted  bool   `json:"evicted"`
	Images   []struct {
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	} `json:"images"`
}

// history lists the edge's whole local history by record id.
func (e *edgeAPI) history(ctx context.Context) (map[string]edgeRecord, error) {
	all := map[string]edgeRecord{}
	cursor := ""
	for {
		q := url.Values{"limit": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Records    []edgeRecord `json:"records"`
			NextCursor string       `json:"next_cursor"`
		}
		if _, err := call(ctx, "GET", e.base+"/api/v1/records?"+q.Encode(), "", nil, &page); err != nil {
			return nil, err
		}
		for _, r := range page.Records {
			if _, dup := all[r.RecordID]; dup {
				return nil, fmt.Errorf("edge history lists record %s twice", r.RecordID)
			}
			all[r.RecordID] = r
		}
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// image downloads a record's stored image from the edge.
func (e *edgeAPI) image(ctx context.Context, recordID string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", e.base+"/api/v1/records/"+recordID+"/image", nil)
	if err != nil {
		return nil, err
	}
	var b []byte
	_, err = send(req, &b)
	return b, err
}

// proxyAPI is the fault proxy's control API (faultproxy.Handler).
type proxyAPI struct{ base string }

func (p *proxyAPI) setFaults(ctx context.Context, f faultproxy.Faults) error {
	_, err := call(ctx, "PUT", p.base+"/faults", "", f.JSON(), nil)
	return err
}

func (p *proxyAPI) blackhole(ctx context.Context, on bool) error {
	_, err := call(ctx, "POST", fmt.Sprintf("%s/blackhole?on=%t", p.base, on), "", nil, nil)
	return err
}

func (p *proxyAPI) cutAll(ctx context.Context) (int, error) {
	var out struct {
		Cut int `json:"cut"`
	}
	_, err := call(ctx, "POST", p.base+"/cut", "", nil, &out)
	return out.Cut, err
}

func (p *proxyAPI) stats(ctx context.Context) (faultproxy.Stats, error) {
	var st faultproxy.Stats
	_, err := call(ctx, "GET", p.base+"/stats", "", nil, &st)
	return st, err
}
