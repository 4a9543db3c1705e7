package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
)

// PutFile records a file. A second record with the same FileID is ErrConflict.
func (s *Store) PutFile(ctx context.Context, f metadata.File) error {
	if f.FileID == "" || f.Key == "" {
		return fmt.Errorf("put file: %w: file id and key are required", metadata.ErrInvalidArgument)
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = s.now()
	}
	md := f.Metadata
	if md == nil {
		md = map[string]string{}
	}
	mdJSON, err := json.Marshal(md)
	if err != nil {
		return fmt.Errorf("put file %s: encode metadata: %w", f.FileID, err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO files
		(file_id, object_key, sha256, size, content_type, width, height, metadata, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.FileID, f.Key, f.SHA256, f.Size, f.ContentType, f.Width, f.Height, string(mdJSON), f.CreatedBy, nanos(f.CreatedAt))
	if s.isUniqueViolation(err) {
		return fmt.Errorf("put file %s: %w", f.FileID, metadata.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put file %s: %w", f.FileID, err)
	}
	return nil
}

// GetFile returns one file record.
func (s *Store) GetFile(ctx context.Context, fileID string) (metadata.File, error) {
	var (
		f       metadata.File
		md      string
		created int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT file_id, object_key, sha256, size, content_type, width, height, metadata, created_by, created_at
		FROM files WHERE file_id = ?`, fileID).
		Scan(&f.FileID, &f.Key, &f.SHA256, &f.Size, &f.ContentType, &f.Width, &f.Height, &md, &f.CreatedBy, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return metadata.File{}, fmt.Errorf("get file %s: %w", fileID, metadata.ErrNotFound)
	}
	if err != nil {
		return metadata.File{}, fmt.Errorf("get file %s: %w", fileID, err)
	}
	if err := json.Unmarshal([]byte(md), &f.Metadata); err != nil {
		return metadata.File{}, fmt.Errorf("get file %s: decode metadata: %w", fileID, err)
	}
	f.CreatedAt = fromNanos(created)
	return f, nil
}
