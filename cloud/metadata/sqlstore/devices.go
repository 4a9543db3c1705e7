package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
)

// nullNanos stores a zero time as NULL ("not yet").
func nullNanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: nanos(t), Valid: true}
}

func fromNullNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}

// inTx runs fn in one (immediate) transaction and commits when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *txn) error) error {
	tx, err := s.db.BeginTx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// CreateEnrollmentToken stores a new token; a duplicate hash is ErrConflict.
func (s *Store) CreateEnrollmentToken(ctx context.Context, t metadata.EnrollmentToken) error {
	if t.TokenHash == "" || t.Line == "" || t.ExpiresAt.IsZero() {
		return fmt.Errorf("create enrollment token: %w: token hash, line and expiry are required", metadata.ErrInvalidArgument)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO enrollment_tokens
		(token_hash, line, created_by, created_at, expires_at, used_at, device_id, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.TokenHash, t.Line, t.CreatedBy, nanos(t.CreatedAt), nanos(t.ExpiresAt), nullNanos(t.UsedAt),
		sql.NullString{String: t.DeviceID, Valid: t.DeviceID != ""}, nullNanos(t.RevokedAt))
	if s.isUniqueViolation(err) {
		return fmt.Errorf("create enrollment token for line %s: %w", t.Line, metadata.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create enrollment token for line %s: %w", t.Line, err)
	}
	return nil
}

// RedeemEnrollmentToken checks the token and creates the device in one
// transaction, so a token enrolls at most one device even when two edges
// race with it, and a failed redemption leaves the token usable.
func (s *Store) RedeemEnrollmentToken(ctx context.Context, tokenHash string, d metadata.Device, now time.Time) (metadata.Device, error) {
	if tokenHash == "" || d.DeviceID == "" || d.SecretHash == "" {
		return metadata.Device{}, fmt.Errorf("redeem enrollment token: %w: token hash, device id and secret hash are required", metadata.ErrInvalidArgument)
	}
	err := s.inTx(ctx, func(tx *txn) error {
		var (
			line    string
			expires int64
			used    sql.NullInt64
			revoked sql.NullInt64
		)
		err := tx.QueryRowContext(ctx, `SELECT line, expires_at, used_at, revoked_at FROM enrollment_tokens WHERE token_hash = ?`, tokenHash).
			Scan(&line, &expires, &used, &revoked)
		switch {
		case errors.Is(err, sql.ErrNoRows), err == nil && revoked.Valid:
			// A revoked token is refused exactly like an unknown one.
			return metadata.ErrNotFound
		case err != nil:
			return err
		case used.Valid:
			return metadata.ErrTokenUsed
		case nanos(now) >= expires:
			return metadata.ErrTokenExpired
		}
		d.Line = line
		d.EnrolledAt = fromNanos(nanos(now))
		// The used_at condition makes the update the token's lock: of two
		// redemptions racing under READ COMMITTED, the second waits for
		// the first and then updates nothing; so does a redemption racing
		// a revocation that commits first.
		res, err := tx.ExecContext(ctx, `UPDATE enrollment_tokens SET used_at = ?, device_id = ?
			WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL`, nanos(now), d.DeviceID, tokenHash)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			if err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM enrollment_tokens WHERE token_hash = ?`, tokenHash).Scan(&revoked); err != nil {
				return err
			}
			if revoked.Valid {
				return metadata.ErrNotFound
			}
			return metadata.ErrTokenUsed
		}
		// A revoked device enrolls again under its id (its queued records
		// carry that id): new secret, line and enrollment time, not revoked.
		res, err = tx.ExecContext(ctx, `UPDATE devices SET name = ?, line = ?, secret_hash = ?, enrolled_at = ?,
			revoked_at = NULL, last_seen = NULL, agent_version = ? WHERE device_id = ? AND revoked_at IS NOT NULL`,
			d.Name, d.Line, d.SecretHash, nanos(d.EnrolledAt), d.AgentVersion, d.DeviceID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO devices (device_id, name, line, secret_hash, enrolled_at, revoked_at,
			last_seen, queued, queued_bytes, oldest_queued, agent_version, model_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.DeviceID, d.Name, d.Line, d.SecretHash, nanos(d.EnrolledAt), nullNanos(d.RevokedAt), nullNanos(d.LastSeen),
			d.Queued, d.QueuedBytes, nullNanos(d.OldestQueued), d.AgentVersion, d.ModelVersion); err != nil {
			if s.isUniqueViolation(err) {
				return metadata.ErrConflict
			}
			return err
		}
		return nil
	})
	if err != nil {
		return metadata.Device{}, fmt.Errorf("redeem enrollment token for device %s: %w", d.DeviceID, err)
	}
	return d, nil
}

const tokenCols = `token_hash, line, created_by, created_at, expires_at, used_at, device_id, revoked_at`

func scanToken(sc rowScanner) (metadata.EnrollmentToken, error) {
	var (
		t                metadata.EnrollmentToken
		created, expires int64
		used, revoked    sql.NullInt64
		deviceID         sql.NullString
	)
	if err := sc.Scan(&t.TokenHash, &t.Line, &t.CreatedBy, &created, &expires, &used, &deviceID, &revoked); err != nil {
		return metadata.EnrollmentToken{}, err
	}
	t.CreatedAt = fromNanos(created)
	t.ExpiresAt = fromNanos(expires)
	t.UsedAt = fromNullNanos(used)
	t.DeviceID = deviceID.String
	t.RevokedAt = fromNullNanos(revoked)
	return t, nil
}

// ListEnrollmentTokens returns every token, newest created first.
func (s *Store) ListEnrollmentTokens(ctx context.Context) ([]metadata.EnrollmentToken, error) {
	return queryAll(ctx, s.db, "list enrollment tokens", scanToken, `SELECT `+tokenCols+` FROM enrollment_tokens ORDER BY created_at DESC, token_hash`)
}

// validTokenID reports whether id can be an EnrollmentToken.ID: lower-case hex
// of EnrollmentTokenIDLen digits.
func validTokenID(id string) bool {
	if len(id) != metadata.EnrollmentTokenIDLen {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// RevokeEnrollmentToken sets revoked_at of an unused token once; later
// calls keep the first time. A used token is ErrTokenUsed.
func (s *Store) RevokeEnrollmentToken(ctx context.Context, id string, at time.Time) (metadata.EnrollmentToken, error) {
	if !validTokenID(id) {
		return metadata.EnrollmentToken{}, fmt.Errorf("revoke enrollment token %q: %w", id, metadata.ErrNotFound)
	}
	if at.IsZero() {
		at = s.now()
	}
	var t metadata.EnrollmentToken
	err := s.inTx(ctx, func(tx *txn) error {
		// The used_at condition orders this against a racing redemption:
		// whichever commits first wins, the other changes nothing.
		if _, err := tx.ExecContext(ctx, `UPDATE enrollment_tokens SET revoked_at = COALESCE(revoked_at, ?)
			WHERE substr(token_hash, 1, 12) = ? AND used_at IS NULL`, nanos(at), id); err != nil {
			return err
		}
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM enrollment_tokens
			WHERE substr(token_hash, 1, 12) = ? ORDER BY created_at, token_hash`, id))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return metadata.ErrNotFound
		case err != nil:
			return err
		case t.RevokedAt.IsZero():
			return metadata.ErrTokenUsed
		}
		return nil
	})
	if err != nil {
		return metadata.EnrollmentToken{}, fmt.Errorf("revoke enrollment token %s: %w", id, err)
	}
	return t, nil
}

const deviceCols = `device_id, name, line, secret_hash, enrolled_at, revoked_at, last_seen,
	queued, queued_bytes, oldest_queued, agent_version, model_version`

func scanDevice(sc rowScanner) (metadata.Device, error) {
	var (
		d                              metadata.Device
		enrolled                       int64
		revoked, lastSeen, oldestQueue sql.NullInt64
	)
	if err := sc.Scan(&d.DeviceID, &d.Name, &d.Line, &d.SecretHash, &enrolled, &revoked, &lastSeen,
		&d.Queued, &d.QueuedBytes, &oldestQueue, &d.AgentVersion, &d.ModelVersion); err != nil {
		return metadata.Device{}, err
	}
	d.EnrolledAt = fromNanos(enrolled)
	d.RevokedAt = fromNullNanos(revoked)
	d.LastSeen = fromNullNanos(lastSeen)
	d.OldestQueued = fromNullNanos(oldestQueue)
	return d, nil
}

// GetDevice returns one device, revoked or not.
func (s *Store) GetDevice(ctx context.Context, deviceID string) (metadata.Device, error) {
	d, err := scanDevice(s.db.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE device_id = ?`, deviceID))
	if errors.Is(err, sql.ErrNoRows) {
		return metadata.Device{}, fmt.Errorf("get device %s: %w", deviceID, metadata.ErrNotFound)
	}
	if err != nil {
		return metadata.Device{}, fmt.Errorf("get device %s: %w", deviceID, err)
	}
	return d, nil
}

// ListDevices returns every device ordered by line, then device id.
func (s *Store) ListDevices(ctx context.Context) ([]metadata.Device, error) {
	return queryAll(ctx, s.db, "list devices", scanDevice, `SELECT `+deviceCols+` FROM devices ORDER BY line, device_id`)
}

// RevokeDevice sets revoked_at once; later calls keep the first time.
func (s *Store) RevokeDevice(ctx context.Context, deviceID string, at time.Time) error {
	if at.IsZero() {
		at = s.now()
	}
	return s.updateDevice(ctx, "revoke device", deviceID,
		`UPDATE devices SET revoked_at = COALESCE(revoked_at, ?) WHERE device_id = ?`, nanos(at), deviceID)
}

// TouchDevice records a heartbeat. A status with only At set (a plain
// authenticated call) moves LastSeen alone; any other status is a full
// heartbeat and replaces every reported field, zeros included (an empty
// queue reports Queued 0).
func (s *Store) TouchDevice(ctx context.Context, deviceID string, st metadata.DeviceStatus) error {
	at := st.At
	if at.IsZero() {
		at = s.now()
	}
	if (st == metadata.DeviceStatus{At: st.At}) {
		return s.updateDevice(ctx, "touch device", deviceID,
			`UPDATE devices SET last_seen = ? WHERE device_id = ?`, nanos(at), deviceID)
	}
	return s.updateDevice(ctx, "touch device", deviceID, `UPDATE devices SET last_seen = ?, queued = ?, queued_bytes = ?,
		oldest_queued = ?, agent_version = ?, model_version = ? WHERE device_id = ?`,
		nanos(at), st.Queued, st.QueuedBytes, nullNanos(st.OldestQueued), st.AgentVersion, st.ModelVersion, deviceID)
}

// updateDevice runs one UPDATE of a device row; no row is ErrNotFound.
func (s *Store) updateDevice(ctx context.Context, what, deviceID, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, deviceID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, deviceID, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", what, deviceID, metadata.ErrNotFound)
	}
	return nil
}

// PutUpload records a verified upload. It is idempotent by device and
// sha256: a repeat (a retried finish after a lost reply) keeps the first row.
func (s *Store) PutUpload(ctx context.Context, u metadata.Upload) error {
	if u.DeviceID == "" || u.SHA256 == "" || u.FileID == "" {
		return fmt.Errorf("put upload: %w: device id, sha256 and file id are required", metadata.ErrInvalidArgument)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO sync_uploads (device_id, sha256, file_id, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (device_id, sha256) DO NOTHING`, u.DeviceID, u.SHA256, u.FileID, nanos(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("put upload %s of device %s: %w", u.SHA256, u.DeviceID, err)
	}
	return nil
}

// GetUpload returns the upload of one image by one device.
func (s *Store) GetUpload(ctx context.Context, deviceID, sha256 string) (metadata.Upload, error) {
	u := metadata.Upload{DeviceID: deviceID, SHA256: sha256}
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT file_id, created_at FROM sync_uploads WHERE device_id = ? AND sha256 = ?`,
		deviceID, sha256).Scan(&u.FileID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return metadata.Upload{}, fmt.Errorf("get upload %s of device %s: %w", sha256, deviceID, metadata.ErrNotFound)
	}
	if err != nil {
		return metadata.Upload{}, fmt.Errorf("get upload %s of device %s: %w", sha256, deviceID, err)
	}
	u.CreatedAt = fromNanos(created)
	return u, nil
}
