// Package pgstore is the PostgreSQL implementation of metadata.Store
// (pgx v5), registered for the "postgres" and "postgresql" schemes:
//
//	postgres://user:password@host:5432/ifc?sslmode=verify-full[&search_path=ifc][&connect_timeout=10]
//
// The URL is a libpq/pgx connection URL; every parameter pgx knows
// (sslmode, sslrootcert, connect_timeout, application_name, ...) works, and
// any other parameter is sent to the server as a run-time setting (for
// example search_path, to keep the tables in their own schema).
//
// The schema, the queries and the transactions are those of SQLite: both
// stores are package sqlstore over database/sql with one set of embedded
// migrations. That is why this package uses pgx through its database/sql
// driver (pgx/v5/stdlib) rather than pgxpool: the shared code runs
// unchanged, database/sql pools the connections, and this package only
// supplies the dialect ("$n" placeholders, SQLSTATE 23505 as the unique
// violation, an advisory lock around migrations so API replicas starting
// together apply each migration once). Transactions run at PostgreSQL's
// default READ COMMITTED with explicit row locks; sqlstore's package doc
// says which and why.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/metadata/sqlstore"
)

// Scheme is the main URL scheme this package registers; "postgresql" is
// registered too.
const Scheme = "postgres"

func init() {
	open := func(u *url.URL) (metadata.Store, error) {
		s, err := New(context.Background(), u.String(), Options{})
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return s, nil
	}
	metadata.Register(Scheme, open)
	metadata.Register("postgresql", open)
}

// Options tune a Store; the zero value is the production default.
type Options struct {
	// MaxConns bounds the open connections (default 16).
	MaxConns int
	// Logger receives migration messages (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests inject their own.
	Now func() time.Time
}

// Store is a metadata.Store backed by a PostgreSQL database.
type Store struct {
	*sqlstore.Store
}

var _ metadata.Store = (*Store)(nil)

// migrationLockKey is the advisory lock key that serialises migrators of
// one database ("ifc-meta" in ASCII).
const migrationLockKey = 0x6966632d6d657461

var dialect = sqlstore.Dialect{
	Name:               "postgres",
	DollarPlaceholders: true,
	IsUniqueViolation:  isUniqueViolation,
	MigrationLock:      fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", int64(migrationLockKey)),
}

// defaultConnectTimeout applies when the URL sets no connect_timeout, so a
// wrong host fails the open instead of hanging.
const defaultConnectTimeout = 10 * time.Second

// New connects to the database named by the connection URL, checks that
// it answers and applies pending migrations.
func New(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	redacted := redact(rawURL)
	if opts.MaxConns < 0 {
		return nil, fmt.Errorf("pgstore: max conns %d is negative", opts.MaxConns)
	}
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, fmt.Errorf("pgstore: parse url %s: invalid connection url", redacted)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	db := stdlib.OpenDB(*cfg)
	maxConns := opts.MaxConns
	if maxConns == 0 {
		maxConns = 16
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("pgstore: connect %s: %w", redacted, err)
	}
	st, err := sqlstore.New(ctx, db, dialect, sqlstore.Options{Logger: opts.Logger, Now: opts.Now})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("pgstore: %s: %w", redacted, err)
	}
	return &Store{Store: st}, nil
}

// isUniqueViolation reports whether err is SQLSTATE 23505 (unique_violation),
// which PostgreSQL raises for primary keys and unique indexes alike.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// redact returns the URL with its password masked, for messages.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
