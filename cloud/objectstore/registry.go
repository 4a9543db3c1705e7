package objectstore

import (
	"net/url"

	"github.com/imageflowcanvas/ifc/internal/registry"
)

// Opener opens a Store from a parsed URL whose scheme it was registered for.
type Opener func(u *url.URL) (Store, error)

var openers = registry.New[Opener]("objectstore")

// Register makes an implementation available to Open under scheme (for
// example "file" or "s3"). Implementations call it from their package's
// init; registering a scheme twice panics, as with database/sql drivers.
func Register(scheme string, o Opener) { openers.Register(scheme, o) }

// Open opens the store named by rawURL, e.g. "file:///var/lib/ifc/objects".
// The implementation's package must be imported (for file://, import
// github.com/imageflowcanvas/ifc/cloud/objectstore/fsstore). Credentials
// in the URL (s3://key:secret@host) are redacted from errors.
func Open(rawURL string) (Store, error) { return registry.Open(openers, "object store", rawURL) }

// Schemes lists the registered schemes, sorted.
func Schemes() []string { return openers.Schemes() }
