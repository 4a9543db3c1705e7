package agent_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestCORS checks the local API and WHEP answer CORS, preflight included,
// for the desktop webview's origins and for no other.
func TestCORS(t *testing.T) {
	cfg := testConfig(t)
	cfg.CORSOrigins = append(cfg.CORSOrigins, "http://localhost:1420") // a dev webview beside the defaults
	a, _, _ := startAgent(t, cfg)
	base := "http://" + a.HTTPAddr()
	send := func(method, path, origin string, hdr ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	preflight := func(path, origin, method string) *http.Response {
		return send("OPTIONS", path, origin, "Access-Control-Request-Method", method, "Access-Control-Request-Headers", "content-type")
	}

	for _, origin := range []string{"tauri://localhost", "http://tauri.localhost", "http://localhost:1420"} {
		for _, tc := range []struct{ path, method string }{
			{"/api/v1/sessions", "POST"},
			{"/api/v1/status", "GET"},
			{"/whep", "POST"},
			{"/whep/0123abcd", "DELETE"},
		} {
			res := preflight(tc.path, origin, tc.method)
			if res.StatusCode >= 300 || res.Header.Get("Access-Control-Allow-Origin") != origin ||
				!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), tc.method) ||
				!strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "content-type") {
				t.Errorf("preflight %s %s from %s: %d %v", tc.method, tc.path, origin, res.StatusCode, res.Header)
			}
		}
		// Actual requests carry the origin and expose Location (WHEP's session URL).
		res := send("GET", "/api/v1/status", origin)
		if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != origin ||
			!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Location") {
			t.Errorf("GET /api/v1/status from %s: %d %v", origin, res.StatusCode, res.Header)
		}
		res = send("POST", "/whep", origin, "Content-Type", "text/plain")
		if res.Header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Location") {
			t.Errorf("POST /whep from %s: %d %v", origin, res.StatusCode, res.Header)
		}
	}

	// Another origin gets no CORS headers at all, so a browser refuses it.
	for _, origin := range []string{"https://evil.example", "null", "tauri://localhost.evil"} {
		for _, res := range []*http.Response{
			preflight("/api/v1/sessions", origin, "POST"),
			preflight("/whep", origin, "POST"),
			send("GET", "/api/v1/status", origin),
			send("POST", "/whep", origin, "Content-Type", "text/plain"),
		} {
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("%s %s from %s: Access-Control-Allow-Origin %q", res.Request.Method, res.Request.URL.Path, origin, got)
			}
		}
	}
}
