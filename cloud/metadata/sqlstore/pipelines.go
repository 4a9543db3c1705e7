package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// CreatePipelineVersion saves def as a new immutable version. The version
// number is taken by incrementing pipelines.latest_version inside the
// same transaction that inserts the version row, so concurrent saves queue
// on the row (PostgreSQL) or the database lock (SQLite) and never share a
// number; the (pipeline_id, version) primary key backs this up.
func (s *Store) CreatePipelineVersion(ctx context.Context, id string, def *ifcv1.PipelineDefinition, createdBy string) (*ifcv1.Pipeline, error) {
	if def == nil {
		return nil, fmt.Errorf("create pipeline version: %w: nil definition", metadata.ErrInvalidArgument)
	}
	body, err := protojson.Marshal(def)
	if err != nil {
		return nil, fmt.Errorf("create pipeline version: encode definition: %w", err)
	}
	now := s.now().UTC()
	tx, err := s.db.BeginTx(ctx)
	if err != nil {
		return nil, fmt.Errorf("create pipeline version: begin: %w", err)
	}
	defer tx.Rollback()

	var version int32
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("create pipeline: new id: %w", err)
		}
		id = u.String()
		version = 1
		if _, err := tx.ExecContext(ctx, `INSERT INTO pipelines (id, latest_version, name, created_by, created_at, updated_at)
			VALUES (?, 1, ?, ?, ?, ?)`, id, def.GetName(), createdBy, nanos(now), nanos(now)); err != nil {
			return nil, fmt.Errorf("create pipeline: %w", err)
		}
	} else {
		err := tx.QueryRowContext(ctx, `UPDATE pipelines SET latest_version = latest_version + 1, name = ?, updated_at = ?
			WHERE id = ? AND deleted_at IS NULL RETURNING latest_version`, def.GetName(), nanos(now), id).Scan(&version)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("create version of pipeline %s: %w", id, metadata.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("create version of pipeline %s: %w", id, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO pipeline_versions (pipeline_id, version, definition, created_by, created_at)
		VALUES (?, ?, ?, ?, ?)`, id, version, string(body), createdBy, nanos(now)); err != nil {
		if s.isUniqueViolation(err) {
			return nil, fmt.Errorf("create version %d of pipeline %s: %w", version, id, metadata.ErrConflict)
		}
		return nil, fmt.Errorf("create version %d of pipeline %s: %w", version, id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("create version %d of pipeline %s: commit: %w", version, id, err)
	}
	return pipeline(id, version, def, createdBy, now), nil
}

func pipeline(id string, version int32, def *ifcv1.PipelineDefinition, createdBy string, at time.Time) *ifcv1.Pipeline {
	return &ifcv1.Pipeline{
		Id:         id,
		Version:    version,
		Definition: proto.CloneOf(def),
		CreatedBy:  createdBy,
		CreatedAt:  timestamppb.New(fromNanos(nanos(at))),
	}
}

const pipelineCols = `v.pipeline_id, v.version, v.definition, v.created_by, v.created_at`

func scanPipeline(sc interface{ Scan(...any) error }) (*ifcv1.Pipeline, error) {
	var (
		p       ifcv1.Pipeline
		def     string
		created int64
	)
	if err := sc.Scan(&p.Id, &p.Version, &def, &p.CreatedBy, &created); err != nil {
		return nil, err
	}
	p.Definition = &ifcv1.PipelineDefinition{}
	if err := unmarshal.Unmarshal([]byte(def), p.Definition); err != nil {
		return nil, fmt.Errorf("decode definition of %s@%d: %w", p.Id, p.Version, err)
	}
	p.CreatedAt = timestamppb.New(fromNanos(created))
	return &p, nil
}

// GetPipeline returns one version (0 = latest). Deleted pipelines are not found.
func (s *Store) GetPipeline(ctx context.Context, id string, version int32) (*ifcv1.Pipeline, error) {
	if version < 0 {
		return nil, fmt.Errorf("get pipeline %s@%d: %w: negative version", id, version, metadata.ErrInvalidArgument)
	}
	row := s.db.QueryRowContext(ctx, `SELECT `+pipelineCols+`
		FROM pipeline_versions v JOIN pipelines p ON p.id = v.pipeline_id
		WHERE p.id = ? AND p.deleted_at IS NULL
		  AND v.version = CASE WHEN ? = 0 THEN p.latest_version ELSE ? END`, id, version, version)
	p, err := scanPipeline(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get pipeline %s@%d: %w", id, version, metadata.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get pipeline %s@%d: %w", id, version, err)
	}
	return p, nil
}

// ListPipelines returns the latest version of every live pipeline, most
// recently changed first.
func (s *Store) ListPipelines(ctx context.Context) ([]*ifcv1.Pipeline, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+pipelineCols+`
		FROM pipelines p JOIN pipeline_versions v ON v.pipeline_id = p.id AND v.version = p.latest_version
		WHERE p.deleted_at IS NULL
		ORDER BY p.updated_at DESC, p.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list pipelines: %w", err)
	}
	return collectPipelines(rows, "list pipelines")
}

// ListPipelineVersions returns every version of a live pipeline, oldest first.
func (s *Store) ListPipelineVersions(ctx context.Context, id string) ([]*ifcv1.Pipeline, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+pipelineCols+`
		FROM pipelines p JOIN pipeline_versions v ON v.pipeline_id = p.id
		WHERE p.id = ? AND p.deleted_at IS NULL
		ORDER BY v.version`, id)
	if err != nil {
		return nil, fmt.Errorf("list versions of pipeline %s: %w", id, err)
	}
	ps, err := collectPipelines(rows, "list versions of pipeline "+id)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("list versions of pipeline %s: %w", id, metadata.ErrNotFound)
	}
	return ps, nil
}

func collectPipelines(rows *sql.Rows, what string) ([]*ifcv1.Pipeline, error) {
	defer rows.Close()
	out := []*ifcv1.Pipeline{}
	for rows.Next() {
		p, err := scanPipeline(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// DeletePipeline soft-deletes: versions stay for the executions that ran
// them, but the pipeline is no longer listed, read or extended.
func (s *Store) DeletePipeline(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE pipelines SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL`, nanos(s.now()), id)
	if err != nil {
		return fmt.Errorf("delete pipeline %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete pipeline %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete pipeline %s: %w", id, metadata.ErrNotFound)
	}
	return nil
}
