package events

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/imageflowcanvas/ifc/internal/registry"
)

// ErrClosed is returned by Publish and Subscribe after Close.
var ErrClosed = errors.New("event bus closed")

// Opener opens a Bus from the raw URL (which may list several servers,
// "nats://a:4222,nats://b:4222") whose scheme it was registered for.
type Opener func(rawURL string, logger *slog.Logger) (Bus, error)

var openers = registry.New[Opener]("events")

// Register makes an implementation available to Open under scheme (for
// example "nats" or "kafka"); implementations call it from init.
// Registering a scheme twice panics.
func Register(scheme string, o Opener) { openers.Register(scheme, o) }

// Open connects to the bus named by rawURL, e.g. "nats://127.0.0.1:4222".
// The implementation's package must be imported (for nats://,
// github.com/imageflowcanvas/ifc/cloud/events/natsbus). The all-in-one
// does not go through Open: it starts natsbus.StartEmbedded and connects
// in process.
func Open(rawURL string, logger *slog.Logger) (Bus, error) {
	first, _, _ := strings.Cut(rawURL, ",")
	u, o, err := openers.Lookup(strings.TrimSpace(first))
	if err != nil {
		return nil, fmt.Errorf("open event bus: %w", err)
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
func Schemes() []string { return openers.Schemes() }
