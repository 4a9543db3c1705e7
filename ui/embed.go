// Package ui serves the web UI (the React app under ui/src, built by
// `make build` into ui/dist and embedded here) with the few rules a
// single-page app needs: hashed assets cached for good, index.html never
// cached, unknown paths answered with index.html so client-side routes
// survive a reload, and /ui-config.json telling the app which tier
// serves it. Paths that belong to the servers (/api/, /healthz, /readyz,
// /metrics, /whep) are never answered with the app: they 404 as before.
//
// A binary built without the UI (go build, go test) embeds only
// dist/.gitkeep; it then answers every app path with a 503 page saying
// how to build the UI.
package ui

import (
	"embed"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Config tells the app which tier serves it.
type Config struct {
	Mode    string `json:"mode"`     // "cloud" or "edge"
	EdgeURL string `json:"edge_url"` // cloud: where the local edge agent's UI lives; may be empty
}

// Handler serves the embedded UI with cfg as /ui-config.json.
func Handler(cfg Config) http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return newHandler(sub, cfg)
}

// reserved are the path prefixes of the servers' own routes; the app
// never answers them.
var reserved = []string{"/api", "/healthz", "/readyz", "/metrics", "/whep"}

// Reserved reports whether p belongs to a server route rather than to
// the app (so an unknown path under it must 404, not load the app).
func Reserved(p string) bool {
	for _, r := range reserved {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

type handler struct {
	files  fs.FS
	config []byte
	index  []byte // nil: the UI is not built
}

// notBuilt is served (503) when dist holds no index.html.
const notBuilt = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ImageFlowCanvas: UI not built</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>The web UI is not built</h1>
<p>This binary was built without the web UI. Run <code>make build</code> (it builds ui/ with npm, then the binary that embeds it) and start the new binary.</p>
<p>The REST API under <a href="/api/v1/openapi.json">/api/v1/</a> works without it.</p>
</body></html>
`

func newHandler(files fs.FS, cfg Config) *handler {
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(err) // two strings always marshal
	}
	h := &handler{files: files, config: b}
	if idx, err := fs.ReadFile(files, "index.html"); err == nil {
		h.index = idx
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	p = path.Clean(p)
	switch {
	case Reserved(p):
		http.NotFound(w, r)
		return
	case p == "/ui-config.json":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(h.config)
		return
	}
	if h.index == nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, notBuilt)
		return
	}
	name := strings.TrimPrefix(p, "/")
	if name != "" && name != "index.html" && h.serveFile(w, r, name) {
		return
	}
	if strings.HasPrefix(p, "/assets/") {
		// A missing hashed asset is a stale page or a typo; the app's HTML
		// in its place would only confuse the browser's module loader.
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "index.html", time.Time{}, strings.NewReader(string(h.index)))
}

// serveFile serves the regular file name from dist; false when there is none.
func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, name string) bool {
	f, err := h.files.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return false
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(f)
		if err != nil {
			return false
		}
		rs = strings.NewReader(string(b))
	}
	if strings.HasPrefix(name, "assets/") {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, path.Base(name), st.ModTime(), rs)
	return true
}
