package events

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// ErrClosed is returned by Publish and Subscribe after Close.
var ErrClosed = errors.New("event bus closed")

// Opener opens a Bus from the raw URL (which may list several servers,
// "nats://a:4222,nats://b:4222") whose scheme it was registered for.
type Opener func(rawURL string, logger *slog.Logger) (Bus, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Opener{}
)

// Register makes an implementation available to Open under scheme (for
// example "nats" or "kafka"); implementations call it from init.
// Registering a scheme twice panics.
func Register(scheme string, o Opener) {
	scheme = strings.ToLower(scheme)
	if scheme == "" || o == nil {
		panic("events: Register with empty scheme or nil opener")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[scheme]; dup {
		panic("events: Register called twice for scheme " + scheme)
	}
	registry[scheme] = o
}

// Open connects to the bus named by rawURL, e.g. "nats://127.0.0.1:4222".
// The implementation's package must be imported (for nats://,
// github.com/imageflowcanvas/ifc/cloud/events/natsbus). The all-in-one
// does not go through Open: it starts natsbus.StartEmbedded and connects
// in process.
func Open(rawURL string, logger *slog.Logger) (Bus, error) {
	first, _, _ := strings.Cut(rawURL, ",")
	u, err := url.Parse(strings.TrimSpace(first))
	if err != nil {
		return nil, fmt.Errorf("open event bus: parse url: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	registryMu.RLock()
	o, ok := registry[scheme]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("open event bus: no implementation registered for scheme %q (known: %s)", u.Scheme, strings.Join(Schemes(), ", "))
	}
	if logger == nil {
		logger = slog.Default()
	}
	b, err := o(rawURL, logger)
	if err != nil {
		return nil, fmt.Errorf("open event bus %s: %w", u.Redacted(), err)
	}
	return b, nil
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
