// Package sqlitestore is the SQLite implementation of metadata.Store
// (modernc.org/sqlite, pure Go), registered for the "sqlite" scheme:
//
//	sqlite:///var/lib/ifc/ifc.db[?synchronous=full&busy_timeout=5000]
//
// The database runs in WAL mode with foreign keys on and a busy timeout;
// every transaction begins IMMEDIATE, so writers queue on the database
// lock instead of failing with SQLITE_BUSY halfway through. Synchronous
// defaults to NORMAL: with WAL the database is always consistent, and a
// power loss may drop only the last few commits; set synchronous=full to
// fsync every commit.
//
// The schema, queries and transactions are shared with the PostgreSQL
// store in package sqlstore (one set of migrations, one implementation);
// this package only opens the database and says how SQLite reports a
// unique violation.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/metadata/sqlstore"
)

// Scheme is the URL scheme this package registers.
const Scheme = "sqlite"

func init() {
	metadata.Register(Scheme, func(u *url.URL) (metadata.Store, error) {
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("sqlite url must have an empty host (sqlite:///abs/path.db), got %q", u.Host)
		}
		opts := Options{}
		q := u.Query()
		for k := range q {
			switch k {
			case "synchronous", "busy_timeout":
			default:
				return nil, fmt.Errorf("unknown sqlite url parameter %q", k)
			}
		}
		if v := q.Get("synchronous"); v != "" {
			opts.Synchronous = v
		}
		if v := q.Get("busy_timeout"); v != "" {
			ms, err := strconv.Atoi(v)
			if err != nil || ms < 0 {
				return nil, fmt.Errorf("busy_timeout %q is not a number of milliseconds", v)
			}
			opts.BusyTimeout = time.Duration(ms) * time.Millisecond
		}
		s, err := New(context.Background(), u.Path, opts)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return s, nil
	})
}

// Options tune a Store; the zero value is the production default.
type Options struct {
	// Synchronous is the SQLite synchronous level: OFF, NORMAL (default), FULL or EXTRA.
	Synchronous string
	// BusyTimeout is how long a writer waits for the lock (default 5s).
	BusyTimeout time.Duration
	// Logger receives migration messages (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests inject their own.
	Now func() time.Time
}

// Store is a metadata.Store backed by one SQLite file.
type Store struct {
	*sqlstore.Store
}

var _ metadata.Store = (*Store)(nil)

// dialect is how SQLite differs for the shared implementation.
var dialect = sqlstore.Dialect{Name: "sqlite", IsUniqueViolation: isUniqueViolation}

// New opens (creating if needed) the database at the absolute path and
// applies pending migrations.
func New(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || !filepath.IsAbs(path) {
		return nil, fmt.Errorf("sqlitestore: database path %q must be absolute", path)
	}
	sync := strings.ToUpper(opts.Synchronous)
	switch sync {
	case "":
		sync = "NORMAL"
	case "OFF", "NORMAL", "FULL", "EXTRA":
	default:
		return nil, fmt.Errorf("sqlitestore: synchronous %q is not OFF, NORMAL, FULL or EXTRA", opts.Synchronous)
	}
	busy := opts.BusyTimeout
	if busy == 0 {
		busy = 5 * time.Second
	}
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", sync)
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	// WAL lets readers run beside the single writer; a handful of
	// connections is plenty for one process.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	st, err := sqlstore.New(ctx, db, dialect, sqlstore.Options{Logger: opts.Logger, Now: opts.Now})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitestore: %s: %w", path, err)
	}
	return &Store{Store: st}, nil
}

// isUniqueViolation reports whether err is a primary key or unique
// constraint failure.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}
