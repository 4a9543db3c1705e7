package whep

import (
	_ "embed"
	"net/http"
)

// playerPage is a minimal WHEP player with the overlay canvas; the browser
// test drives the same page.
//
//go:embed browsertest/index.html
var playerPage []byte

// PlayerHandler serves the live-preview page, which plays /whep from the
// same origin (or the endpoint named by ?whep=).
func PlayerHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(playerPage)
	})
}
