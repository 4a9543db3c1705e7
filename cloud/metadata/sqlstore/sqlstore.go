// Package sqlstore is the one implementation of metadata.Store over
// database/sql that the SQLite (sqlitestore) and PostgreSQL (pgstore)
// stores share: the same embedded migrations (migrations/), the same
// queries and the same transactions. A Dialect holds the few differences:
// placeholder style, how a unique violation is recognised, and the lock
// that serialises concurrent migrators.
//
// The SQL is the subset both engines accept: BIGINT Unix-nanosecond times,
// TEXT protojson documents, ON CONFLICT upserts, UPDATE ... RETURNING.
// Queries are written with "?" placeholders and rebound to "$1, $2, ..."
// for PostgreSQL.
//
// Concurrency. SQLite runs one writer at a time (every transaction begins
// IMMEDIATE), so every transaction is serialisable. PostgreSQL runs at its
// default READ COMMITTED, and each transaction that reads before it writes
// takes the row lock that makes it safe there too, by a statement SQLite
// also accepts:
//   - pipeline versions and master/rollout change numbers come from
//     UPDATE ... RETURNING on one row, so concurrent writers queue on it;
//   - an enrollment token is consumed by UPDATE ... WHERE used_at IS NULL,
//     so of two racing redemptions exactly one updates a row;
//   - an override first locks its record row (UPDATE ... RETURNING), so
//     the effective verdict is recomputed from every committed override;
//   - a record or override inserted by a concurrent transaction after our
//     existence check surfaces as a unique violation; the transaction is
//     retried once and then sees the winner's row (created=false).
//
// READ COMMITTED with these locks was chosen over SERIALIZABLE because
// writers queue instead of failing and retrying, which matters for the
// hot counter rows under many API replicas.
//
// Sync writes are idempotent so an edge can retry after any lost reply:
// uploads by device and sha256, records by record_id and overrides by
// override_id, each checked and written in one transaction (a repeat is
// created=false, different content under a used id is ErrConflict). A
// record's effective verdict and defect type columns are recomputed in
// the transaction that adds an override; search and statistics filter
// and group on them (review.go). Masters and per-line rollouts take their versions
// from one change counter, so an edge pulls both with a single cursor.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
)

// Dialect describes how one database engine differs.
type Dialect struct {
	// Name names the engine in logs and errors ("sqlite", "postgres").
	Name string
	// DollarPlaceholders rebinds "?" placeholders to "$1, $2, ...".
	DollarPlaceholders bool
	// IsUniqueViolation reports whether err is a primary key or unique
	// constraint failure.
	IsUniqueViolation func(err error) bool
	// MigrationLock, when set, is run first in every migration transaction
	// and holds a lock until it ends (PostgreSQL: an advisory lock), so
	// concurrent openers apply each migration once.
	MigrationLock string
}

// Options tune a Store.
type Options struct {
	// Logger receives migration messages (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests inject their own.
	Now func() time.Time
}

// Store is a metadata.Store over one database/sql handle.
type Store struct {
	db     conn
	d      *Dialect
	logger *slog.Logger
	now    func() time.Time
}

var _ metadata.Store = (*Store)(nil)

// New wraps db and applies pending migrations. On error db is left open
// for the caller to close.
func New(ctx context.Context, db *sql.DB, d Dialect, opts Options) (*Store, error) {
	if d.IsUniqueViolation == nil || d.Name == "" {
		return nil, fmt.Errorf("sqlstore: dialect needs a name and IsUniqueViolation")
	}
	s := &Store{db: conn{db: db, d: &d}, d: &d, logger: opts.Logger, now: opts.Now}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.logger = s.logger.With("component", "metadata."+d.Name)
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DB exposes the underlying handle for tests and diagnostics.
func (s *Store) DB() *sql.DB { return s.db.db }

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.db.Close(); err != nil {
		return fmt.Errorf("%sstore: close: %w", s.d.Name, err)
	}
	return nil
}

func (s *Store) isUniqueViolation(err error) bool { return err != nil && s.d.IsUniqueViolation(err) }

// rebind turns "?" placeholders into "$n" for dialects that need it.
// Question marks inside single-quoted literals are left alone.
func (d *Dialect) rebind(q string) string {
	if !d.DollarPlaceholders || !strings.Contains(q, "?") {
		return q
	}
	var (
		b      strings.Builder
		n      int
		quoted bool
	)
	b.Grow(len(q) + 16)
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// conn is the database handle with placeholders rebound.
type conn struct {
	db *sql.DB
	d  *Dialect
}

func (c conn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return c.db.ExecContext(ctx, c.d.rebind(q), args...)
}

func (c conn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return c.db.QueryContext(ctx, c.d.rebind(q), args...)
}

func (c conn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return c.db.QueryRowContext(ctx, c.d.rebind(q), args...)
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// queryAll runs q and scans every row with scan; what names the operation
// in errors. No rows is an empty, non-nil slice.
func queryAll[T any](ctx context.Context, c conn, what string, scan func(rowScanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

func (c conn) BeginTx(ctx context.Context) (*txn, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &txn{tx: tx, d: c.d}, nil
}

// txn is a transaction with placeholders rebound.
type txn struct {
	tx *sql.Tx
	d  *Dialect
}

func (t *txn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.rebind(q), args...)
}

func (t *txn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.rebind(q), args...)
}

func (t *txn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(q), args...)
}

func (t *txn) Commit() error   { return t.tx.Commit() }
func (t *txn) Rollback() error { return t.tx.Rollback() }

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }
