package ui

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var built = fstest.MapFS{
	"index.html":             {Data: []byte("<!doctype html><title>IFC</title>")},
	"favicon.svg":            {Data: []byte("<svg/>")},
	"assets/index-abc.js":    {Data: []byte("console.log(1)")},
	"assets/index-abc.css":   {Data: []byte("body{}")},
	"locales/ja/common.json": {Data: []byte(`{"a":"b"}`)},
}

func TestServesBuiltApp(t *testing.T) {
	h := newHandler(built, Config{Mode: "cloud", EdgeURL: "http://127.0.0.1:8081"})
	for _, tc := range []struct {
		target, wantBody, wantCache, wantType string
		wantStatus                            int
	}{
		{"/", "<title>IFC</title>", "no-cache", "text/html", 200},
		{"/index.html", "<title>IFC</title>", "no-cache", "text/html", 200},
		{"/records/0191-abc", "<title>IFC</title>", "no-cache", "text/html", 200}, // client-side route
		{"/pipelines/p1/edit?tab=yaml", "<title>IFC</title>", "no-cache", "text/html", 200},
		{"/assets/index-abc.js", "console.log(1)", "public, max-age=31536000, immutable", "javascript", 200},
		{"/assets/index-abc.css", "body{}", "public, max-age=31536000, immutable", "text/css", 200},
		{"/favicon.svg", "<svg/>", "no-cache", "image/svg+xml", 200},
		{"/locales/ja/common.json", `{"a":"b"}`, "no-cache", "application/json", 200},
		{"/assets/gone-123.js", "", "", "", 404}, // a stale asset is not the app
	} {
		t.Run(tc.target, func(t *testing.T) {
			r := get(t, h, "GET", tc.target)
			b := body(t, r)
			if r.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (%s)", r.StatusCode, tc.wantStatus, b)
			}
			if tc.wantStatus != 200 {
				return
			}
			if !strings.Contains(b, tc.wantBody) {
				t.Errorf("body %q, want %q", b, tc.wantBody)
			}
			if got := r.Header.Get("Cache-Control"); got != tc.wantCache {
				t.Errorf("Cache-Control %q, want %q", got, tc.wantCache)
			}
			if got := r.Header.Get("Content-Type"); !strings.Contains(got, tc.wantType) {
				t.Errorf("Content-Type %q, want %q", got, tc.wantType)
			}
		})
	}
}

func TestConfigDocument(t *testing.T) {
	for _, cfg := range []Config{{Mode: "cloud", EdgeURL: "http://127.0.0.1:8081"}, {Mode: "edge"}} {
		for _, fsys := range []fstest.MapFS{built, {}} { // served whether or not the UI is built
			r := get(t, newHandler(fsys, cfg), "GET", "/ui-config.json")
			if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, type %q", r.StatusCode, r.Header.Get("Content-Type"))
			}
			var got map[string]string
			if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got["mode"] != cfg.Mode || got["edge_url"] != cfg.EdgeURL || len(got) != 2 {
				t.Errorf("config %v, want mode %q edge_url %q", got, cfg.Mode, cfg.EdgeURL)
			}
		}
	}
}

func TestServerRoutesAreNeverTheApp(t *testing.T) {
	h := newHandler(built, Config{Mode: "edge"})
	for _, p := range []string{"/api", "/api/", "/api/v1/nope", "/healthz", "/readyz", "/metrics", "/whep", "/whep/abc", "/healthz/x"} {
		if r := get(t, h, "GET", p); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, r.StatusCode)
		}
	}
	// Names that merely start like a reserved one are app routes.
	if r := get(t, h, "GET", "/metrics-dashboard"); r.StatusCode != 200 {
		t.Errorf("GET /metrics-dashboard: status %d, want the app", r.StatusCode)
	}
	if r := get(t, h, "POST", "/"); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: status %d, want 405", r.StatusCode)
	}
}

func TestNotBuilt(t *testing.T) {
	h := newHandler(fstest.MapFS{".gitkeep": {}}, Config{Mode: "cloud"})
	for _, p := range []string{"/", "/records", "/assets/index.js"} {
		r := get(t, h, "GET", p)
		b := body(t, r)
		if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(b, "not built") || !strings.Contains(b, "make build") {
			t.Errorf("GET %s: status %d body %q; want 503 naming make build", p, r.StatusCode, b)
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: Content-Type %q", p, r.Header.Get("Content-Type"))
		}
	}
}

// The embedded dist works whether or not the UI was built before go test.
func TestEmbeddedHandler(t *testing.T) {
	r := get(t, Handler(Config{Mode: "edge"}), "GET", "/")
	if r.StatusCode != 200 && r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", r.StatusCode)
	}
	if r := get(t, Handler(Config{Mode: "edge"}), "GET", "/api/v1/status"); r.StatusCode != 404 {
		t.Fatalf("status %d", r.StatusCode)
	}
}
