package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)`,
		u.Username, u.PasswordHash, u.Role, nanos(u.CreatedAt))
	if s.isUniqueViolation(err) {
		return fmt.Errorf("create user %s: %w", u.Username, metadata.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Username, err)
	}
	return nil
}

// GetUser returns one user by exact username.
func (s *Store) GetUser(ctx context.Context, username string) (metadata.User, error) {
	var (
		u       metadata.User
		created int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT username, password_hash, role, created_at FROM users WHERE username = ?`, username).
		Scan(&u.Username, &u.PasswordHash, &u.Role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return metadata.User{}, fmt.Errorf("get user %s: %w", username, metadata.ErrNotFound)
	}
	if err != nil {
		return metadata.User{}, fmt.Errorf("get user %s: %w", username, err)
	}
	u.CreatedAt = fromNanos(created)
	return u, nil
}
