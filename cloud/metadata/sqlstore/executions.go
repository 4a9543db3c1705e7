package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// CreateExecution records a new execution. A missing created_at is set to
// now on e itself, so the caller sees the stored value. A duplicate
// execution_id is ErrConflict.
func (s *Store) CreateExecution(ctx context.Context, e *ifcv1.Execution) error {
	if e == nil || e.GetExecutionId() == "" {
		return fmt.Errorf("create execution: %w: execution_id is required", metadata.ErrInvalidArgument)
	}
	if e.CreatedAt == nil {
		e.CreatedAt = timestamppb.New(s.now())
	}
	body, err := protojson.Marshal(e)
	if err != nil {
		return fmt.Errorf("create execution %s: encode: %w", e.ExecutionId, err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO executions
		(id, pipeline_id, pipeline_version, status, created_by, created_at, updated_at, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ExecutionId, e.PipelineId, e.PipelineVersion, int32(e.Status), e.CreatedBy,
		nanos(e.CreatedAt.AsTime()), nanos(s.now()), string(body))
	if s.isUniqueViolation(err) {
		return fmt.Errorf("create execution %s: %w", e.ExecutionId, metadata.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create execution %s: %w", e.ExecutionId, err)
	}
	return nil
}

// UpdateExecution replaces a stored execution. Its identity and creation
// fields (pipeline, created_by, created_at) keep their stored values in
// the indexed columns, so listing order never changes under a page token.
func (s *Store) UpdateExecution(ctx context.Context, e *ifcv1.Execution) error {
	if e == nil || e.GetExecutionId() == "" {
		return fmt.Errorf("update execution: %w: execution_id is required", metadata.ErrInvalidArgument)
	}
	body, err := protojson.Marshal(e)
	if err != nil {
		return fmt.Errorf("update execution %s: encode: %w", e.ExecutionId, err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE executions SET status = ?, updated_at = ?, body = ? WHERE id = ?`,
		int32(e.Status), nanos(s.now()), string(body), e.ExecutionId)
	if err != nil {
		return fmt.Errorf("update execution %s: %w", e.ExecutionId, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update execution %s: %w", e.ExecutionId, err)
	}
	if n == 0 {
		return fmt.Errorf("update execution %s: %w", e.ExecutionId, metadata.ErrNotFound)
	}
	return nil
}

// GetExecution returns one execution.
func (s *Store) GetExecution(ctx context.Context, id string) (*ifcv1.Execution, error) {
	var body string
	err := s.db.QueryRowContext(ctx, `SELECT body FROM executions WHERE id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get execution %s: %w", id, metadata.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get execution %s: %w", id, err)
	}
	e := &ifcv1.Execution{}
	if err := unmarshal.Unmarshal([]byte(body), e); err != nil {
		return nil, fmt.Errorf("get execution %s: decode: %w", id, err)
	}
	return e, nil
}

// ListExecutions returns executions newest first (created_at, then id,
// both descending) with keyset pagination: the page token holds the
// position of the last row returned, and the next page starts strictly
// below it, so rows inserted meanwhile neither repeat nor shift pages.
func (s *Store) ListExecutions(ctx context.Context, f metadata.ExecutionFilter) ([]*ifcv1.Execution, string, error) {
	limit := metadata.PageSize(f.Limit)
	var (
		where []string
		args  []any
	)
	if f.PipelineID != "" {
		where = append(where, "pipeline_id = ?")
		args = append(args, f.PipelineID)
	}
	if f.Status != ifcv1.ExecutionStatus_EXECUTION_STATUS_UNSPECIFIED {
		where = append(where, "status = ?")
		args = append(args, int32(f.Status))
	}
	if f.CreatedBy != "" {
		where = append(where, "created_by = ?")
		args = append(args, f.CreatedBy)
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, nanos(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, nanos(f.Until))
	}
	if f.PageToken != "" {
		c, err := metadata.DecodePageToken(f.PageToken)
		if err != nil {
			return nil, "", fmt.Errorf("list executions: %w", err)
		}
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, nanos(c.CreatedAt), nanos(c.CreatedAt), c.ID)
	}
	q := `SELECT id, created_at, body FROM executions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)

	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list executions: %w", err)
	}
	defer rows.Close()
	out := make([]*ifcv1.Execution, 0, limit)
	var (
		last    metadata.Cursor
		hasMore bool
	)
	for rows.Next() {
		if len(out) == limit {
			hasMore = true
			break
		}
		var (
			id      string
			created int64
			body    string
		)
		if err := rows.Scan(&id, &created, &body); err != nil {
			return nil, "", fmt.Errorf("list executions: %w", err)
		}
		e := &ifcv1.Execution{}
		if err := unmarshal.Unmarshal([]byte(body), e); err != nil {
			return nil, "", fmt.Errorf("list executions: decode %s: %w", id, err)
		}
		out = append(out, e)
		last = metadata.Cursor{CreatedAt: fromNanos(created), ID: id}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list executions: %w", err)
	}
	if !hasMore {
		return out, "", nil
	}
	return out, metadata.EncodePageToken(last), nil
}
