package objectstore

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Opener opens a Store from a parsed URL whose scheme it was registered for.
type Opener func(u *url.URL) (Store, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Opener{}
)

// Register makes an implementation available to Open under scheme (for
// example "file" or "s3"). Implementations call it from their package's
// init; registering a scheme twice panics, as with database/sql drivers.
func Register(scheme string, o Opener) {
	scheme = strings.ToLower(scheme)
	if scheme == "" || o == nil {
		panic("objectstore: Register with empty scheme or nil opener")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[scheme]; dup {
		panic("objectstore: Register called twice for scheme " + scheme)
	}
	registry[scheme] = o
}

// Open opens the store named by rawURL, e.g. "file:///var/lib/ifc/objects".
// The implementation's package must be imported (for file://, import
// github.com/imageflowcanvas/ifc/cloud/objectstore/fsstore).
func Open(rawURL string) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open object store: parse url: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	registryMu.RLock()
	o, ok := registry[scheme]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("open object store: no implementation registered for scheme %q (known: %s)", u.Scheme, strings.Join(Schemes(), ", "))
	}
	s, err := o(u)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", redact(u), err)
	}
	return s, nil
}

// Schemes lists the registered schemes, sorted.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for s := range registry {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// redact hides credentials (s3://key:secret@host) in error messages.
func redact(u *url.URL) string {
	return u.Redacted()
}
