package metadata

import (
	"errors"
	"net/url"

	"github.com/imageflowcanvas/ifc/internal/registry"
)

// ErrInvalidArgument is returned for arguments a store refuses before
// touching the database: empty ids, nil definitions, malformed page tokens.
var ErrInvalidArgument = errors.New("invalid argument")

// Opener opens a Store from a parsed URL whose scheme it was registered for.
type Opener func(u *url.URL) (Store, error)

var openers = registry.New[Opener]("metadata")

// Register makes an implementation available to Open under scheme (for
// example "sqlite" or "postgres"); implementations call it from init.
// Registering a scheme twice panics.
func Register(scheme string, o Opener) { openers.Register(scheme, o) }

// Open opens the store named by rawURL, e.g. "sqlite:///var/lib/ifc/ifc.db",
// and brings its schema up to date. The implementation's package must be
// imported (for sqlite://, github.com/imageflowcanvas/ifc/cloud/metadata/sqlitestore).
func Open(rawURL string) (Store, error) { return registry.Open(openers, "metadata store", rawURL) }

// Schemes lists the registered schemes, sorted.
func Schemes() []string { return openers.Schemes() }
