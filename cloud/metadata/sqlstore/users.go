package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
)

// CreateUser adds a user; an existing username is ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u metadata.User) error {
	if u.Username == "" {
		return fmt.Errorf("create user: %w: empty username", metadata.ErrInvalidArgument)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (username, password_hash, role, created_at, disabled_at) VALUES (?, ?, ?, ?, ?)`,
		u.Username, u.PasswordHash, u.Role, nanos(u.CreatedAt), nullNanos(u.DisabledAt))
	if s.isUniqueViolation(err) {
		return fmt.Errorf("create user %s: %w", u.Username, metadata.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Username, err)
	}
	return nil
}

const userColumns = `username, password_hash, role, created_at, disabled_at`

func scanUser(r rowScanner) (metadata.User, error) {
	var (
		u        metadata.User
		created  int64
		disabled sql.NullInt64
	)
	if err := r.Scan(&u.Username, &u.PasswordHash, &u.Role, &created, &disabled); err != nil {
		return metadata.User{}, err
	}
	u.CreatedAt = fromNanos(created)
	u.DisabledAt = fromNullNanos(disabled)
	return u, nil
}

// GetUser returns one user by exact username.
func (s *Store) GetUser(ctx context.Context, username string) (metadata.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return metadata.User{}, fmt.Errorf("get user %s: %w", username, metadata.ErrNotFound)
	}
	if err != nil {
		return metadata.User{}, fmt.Errorf("get user %s: %w", username, err)
	}
	return u, nil
}

// ListUsers returns every user ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]metadata.User, error) {
	return queryAll(ctx, s.db, "list users", scanUser, `SELECT `+userColumns+` FROM users ORDER BY username`)
}

// SetUserPassword replaces a user's password hash.
func (s *Store) SetUserPassword(ctx context.Context, username, passwordHash string) error {
	if passwordHash == "" {
		return fmt.Errorf("set password of %s: %w: empty hash", username, metadata.ErrInvalidArgument)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE username = ?`, passwordHash, username)
	return s.userUpdated(res, err, "set password of "+username)
}

// DisableUser marks a user disabled; the first time is kept.
func (s *Store) DisableUser(ctx context.Context, username string, at time.Time) error {
	if at.IsZero() {
		at = s.now()
	}
	res, err := s.db.ExecContext(ctx, `UPDATE users SET disabled_at = COALESCE(disabled_at, ?) WHERE username = ?`, nanos(at), username)
	return s.userUpdated(res, err, "disable user "+username)
}

// userUpdated turns the result of an UPDATE of one user into ErrNotFound
// when no row matched.
func (s *Store) userUpdated(res sql.Result, err error, op string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, metadata.ErrNotFound)
	}
	return nil
}
