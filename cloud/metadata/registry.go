package metadata

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// ErrInvalidArgument is returned for arguments a store refuses before
// touching the database: empty ids, nil definitions, malformed page tokens.
var ErrInvalidArgument = errors.New("invalid argument")

// Opener opens a Store from a parsed URL whose scheme it was registered for.
type Opener func(u *url.URL) (Store, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Opener{}
)

// Register makes an implementation available to Open under scheme (for
// example "sqlite" or "postgres"); implementations call it from init.
// Registering a scheme twice panics.
func Register(scheme string, o Opener) {
	scheme = strings.ToLower(scheme)
	if scheme == "" || o == nil {
		panic("metadata: Register with empty scheme or nil opener")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[scheme]; dup {
		panic("metadata: Register called twice for scheme " + scheme)
	}
	registry[scheme] = o
}

// Open opens the store named by rawURL, e.g. "sqlite:///var/lib/ifc/ifc.db",
// and brings its schema up to date. The implementation's package must be
// imported (for sqlite://, github.com/imageflowcanvas/ifc/cloud/metadata/sqlitestore).
func Open(rawURL string) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open metadata store: parse url: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	registryMu.RLock()
	o, ok := registry[scheme]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("open metadata store: no implementation registered for scheme %q (known: %s)", u.Scheme, strings.Join(Schemes(), ", "))
	}
	s, err := o(u)
	if err != nil {
		return nil, fmt.Errorf("open metadata store %s: %w", u.Redacted(), err)
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
