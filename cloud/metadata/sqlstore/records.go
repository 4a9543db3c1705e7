package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// errRaced marks a unique violation on an insert that the transaction's
// own existence check did not see (possible under PostgreSQL's read
// committed isolation, never under SQLite's single writer); the whole
// transaction is retried once and then sees the winner's row.
var errRaced = errors.New("concurrent insert")

// retryRaced runs fn again once when it failed with errRaced.
func retryRaced(fn func() error) error {
	err := fn()
	if errors.Is(err, errRaced) {
		err = fn()
	}
	return err
}

// CommitRecord stores r with its image links in one transaction; see
// metadata.InspectionStore for the outcomes. Records are compared with
// proto.Equal, so a retried commit of the same record is a no-op.
func (s *Store) CommitRecord(ctx context.Context, r *ifcv1.InspectionRecord, committedAt time.Time) (bool, error) {
	if r.GetRecordId() == "" || r.GetDeviceId() == "" || r.GetProductCode() == "" {
		return false, fmt.Errorf("commit record: %w: record id, device id and product code are required", metadata.ErrInvalidArgument)
	}
	if committedAt.IsZero() {
		committedAt = s.now()
	}
	body, err := protojson.Marshal(r)
	if err != nil {
		return false, fmt.Errorf("commit record %s: encode: %w", r.RecordId, err)
	}
	// Compare as stored: the JSON drops fields this build does not know, so
	// a newer edge's retry is a duplicate, not a conflict.
	r = &ifcv1.InspectionRecord{}
	if err := unmarshal.Unmarshal(body, r); err != nil {
		return false, fmt.Errorf("commit record: normalise: %w", err)
	}
	var created bool
	err = retryRaced(func() error {
		created = false
		return s.inTx(ctx, func(tx *txn) error {
			var stored string
			err := tx.QueryRowContext(ctx, `SELECT body FROM records WHERE record_id = ?`, r.RecordId).Scan(&stored)
			switch {
			case err == nil:
				old := &ifcv1.InspectionRecord{}
				if err := unmarshal.Unmarshal([]byte(stored), old); err != nil {
					return fmt.Errorf("decode stored record: %w", err)
				}
				if !proto.Equal(old, r) {
					return fmt.Errorf("%w: a different record is stored under this id", metadata.ErrConflict)
				}
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			var masterBody string
			err = tx.QueryRowContext(ctx, `SELECT body FROM masters WHERE product_code = ?`, r.ProductCode).Scan(&masterBody)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w %q", metadata.ErrUnknownProduct, r.ProductCode)
			}
			if err != nil {
				return err
			}
			m, err := decodeMaster(masterBody)
			if err != nil {
				return err
			}
			state := metadata.PipelineNone
			if m.GetPipelineId() != "" {
				state = metadata.PipelinePending
			}
			fileIDs := make([]string, len(r.Images))
			for i, img := range r.Images {
				err := tx.QueryRowContext(ctx, `SELECT file_id FROM sync_uploads WHERE device_id = ? AND sha256 = ?`,
					r.DeviceId, img.GetSha256()).Scan(&fileIDs[i])
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("%w: image %s of device %s", metadata.ErrMissingImage, img.GetSha256(), r.DeviceId)
				}
				if err != nil {
					return err
				}
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO records (record_id, device_id, line, product_code, lot, serial, captured_at,
				verdict, defect_type, body, committed_at, pipeline_state, execution_id, pipeline_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '')`,
				r.RecordId, r.DeviceId, r.Line, r.ProductCode, r.Lot, r.Serial, nanos(r.GetCapturedAt().AsTime()),
				int32(r.GetVerdict().GetResult()), defectColumn(r.GetVerdict()), string(body), nanos(committedAt), state)
			if s.isUniqueViolation(err) {
				return errRaced
			}
			if err != nil {
				return err
			}
			for i, img := range r.Images {
				if _, err := tx.ExecContext(ctx, `INSERT INTO record_images (record_id, idx, sha256, file_id) VALUES (?, ?, ?, ?)`,
					r.RecordId, i, img.GetSha256(), fileIDs[i]); err != nil {
					return err
				}
			}
			created = true
			return nil
		})
	})
	if err != nil {
		return false, fmt.Errorf("commit record %s: %w", r.RecordId, err)
	}
	return created, nil
}

// AddOverride appends o to its record's history and recomputes the
// record's effective verdict column in the same transaction.
func (s *Store) AddOverride(ctx context.Context, o *ifcv1.VerdictOverride) (bool, error) {
	if o.GetOverrideId() == "" || o.GetRecordId() == "" || o.GetVerdict() == nil {
		return false, fmt.Errorf("add override: %w: override id, record id and verdict are required", metadata.ErrInvalidArgument)
	}
	body, err := protojson.Marshal(o)
	if err != nil {
		return false, fmt.Errorf("add override %s: encode: %w", o.OverrideId, err)
	}
	o = &ifcv1.VerdictOverride{} // compared as stored (see CommitRecord)
	if err := unmarshal.Unmarshal(body, o); err != nil {
		return false, fmt.Errorf("add override: normalise: %w", err)
	}
	var created bool
	err = retryRaced(func() error {
		created = false
		return s.inTx(ctx, func(tx *txn) error {
			var stored string
			err := tx.QueryRowContext(ctx, `SELECT body FROM verdict_overrides WHERE override_id = ?`, o.OverrideId).Scan(&stored)
			switch {
			case err == nil:
				old := &ifcv1.VerdictOverride{}
				if err := unmarshal.Unmarshal([]byte(stored), old); err != nil {
					return fmt.Errorf("decode stored override: %w", err)
				}
				if !proto.Equal(old, o) {
					return fmt.Errorf("%w: a different override is stored under this id", metadata.ErrConflict)
				}
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			// Lock the record row first, so concurrent overrides of one
			// record queue here and each recomputes the effective verdict
			// from every override committed before it.
			var recBody string
			err = tx.QueryRowContext(ctx, `UPDATE records SET verdict = verdict WHERE record_id = ? RETURNING body`,
				o.RecordId).Scan(&recBody)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("record %s: %w", o.RecordId, metadata.ErrNotFound)
			}
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO verdict_overrides (override_id, record_id, at, origin, body) VALUES (?, ?, ?, ?, ?)`,
				o.OverrideId, o.RecordId, nanos(o.GetAt().AsTime()), int32(o.Origin), string(body))
			if s.isUniqueViolation(err) {
				return errRaced
			}
			if err != nil {
				return err
			}
			rec := &ifcv1.InspectionRecord{}
			if err := unmarshal.Unmarshal([]byte(recBody), rec); err != nil {
				return fmt.Errorf("decode record: %w", err)
			}
			ovs, err := overridesOf(ctx, tx, []string{o.RecordId})
			if err != nil {
				return err
			}
			eff := metadata.EffectiveVerdict(rec, ovs[o.RecordId])
			if _, err := tx.ExecContext(ctx, `UPDATE records SET verdict = ?, defect_type = ? WHERE record_id = ?`,
				int32(eff.GetResult()), defectColumn(eff), o.RecordId); err != nil {
				return err
			}
			created = true
			return nil
		})
	})
	if err != nil {
		return false, fmt.Errorf("add override %s to record %s: %w", o.OverrideId, o.RecordId, err)
	}
	return created, nil
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// inList returns the placeholders "?, ?, ..." and the arguments for ids.
func inList(ids []string) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", "), args
}

// overridesOf returns the overrides of the given records, oldest first.
func overridesOf(ctx context.Context, q querier, recordIDs []string) (map[string][]*ifcv1.VerdictOverride, error) {
	in, args := inList(recordIDs)
	rows, err := q.QueryContext(ctx, `SELECT record_id, body FROM verdict_overrides WHERE record_id IN (`+in+`)
		ORDER BY record_id, at, override_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read overrides: %w", err)
	}
	defer rows.Close()
	out := map[string][]*ifcv1.VerdictOverride{}
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			return nil, fmt.Errorf("read overrides: %w", err)
		}
		o := &ifcv1.VerdictOverride{}
		if err := unmarshal.Unmarshal([]byte(body), o); err != nil {
			return nil, fmt.Errorf("decode override of record %s: %w", id, err)
		}
		out[id] = append(out[id], o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read overrides: %w", err)
	}
	return out, nil
}

// imagesOf returns the image links of the given records in image order.
func imagesOf(ctx context.Context, q querier, recordIDs []string) (map[string][]metadata.RecordImage, error) {
	in, args := inList(recordIDs)
	rows, err := q.QueryContext(ctx, `SELECT record_id, sha256, file_id FROM record_images WHERE record_id IN (`+in+`)
		ORDER BY record_id, idx`, args...)
	if err != nil {
		return nil, fmt.Errorf("read record images: %w", err)
	}
	defer rows.Close()
	out := map[string][]metadata.RecordImage{}
	for rows.Next() {
		var (
			id  string
			img metadata.RecordImage
		)
		if err := rows.Scan(&id, &img.SHA256, &img.FileID); err != nil {
			return nil, fmt.Errorf("read record images: %w", err)
		}
		out[id] = append(out[id], img)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read record images: %w", err)
	}
	return out, nil
}

const recordCols = `record_id, body, committed_at, pipeline_state, execution_id, pipeline_error, acknowledged_at, acknowledged_by`

// queryRecords runs a SELECT of recordCols and fills in images, overrides
// and the effective verdict of every row.
func (s *Store) queryRecords(ctx context.Context, q string, args ...any) ([]metadata.Record, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []metadata.Record{}
	var ids []string
	for rows.Next() {
		var (
			id, body  string
			committed int64
			acked     sql.NullInt64
			rec       metadata.Record
		)
		if err := rows.Scan(&id, &body, &committed, &rec.PipelineState, &rec.ExecutionID, &rec.PipelineError, &acked, &rec.AcknowledgedBy); err != nil {
			return nil, err
		}
		if acked.Valid {
			rec.AcknowledgedAt = fromNanos(acked.Int64)
		}
		rec.Record = &ifcv1.InspectionRecord{}
		if err := unmarshal.Unmarshal([]byte(body), rec.Record); err != nil {
			return nil, fmt.Errorf("decode record %s: %w", id, err)
		}
		rec.CommittedAt = fromNanos(committed)
		out = append(out, rec)
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if len(ids) == 0 {
		return out, nil
	}
	images, err := imagesOf(ctx, s.db, ids)
	if err != nil {
		return nil, err
	}
	ovs, err := overridesOf(ctx, s.db, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		id := ids[i]
		out[i].Images = images[id]
		out[i].Overrides = ovs[id]
		out[i].Effective = metadata.EffectiveVerdict(out[i].Record, ovs[id])
	}
	return out, nil
}

// GetRecord returns one record with images, overrides and effective verdict.
func (s *Store) GetRecord(ctx context.Context, recordID string) (metadata.Record, error) {
	recs, err := s.queryRecords(ctx, `SELECT `+recordCols+` FROM records WHERE record_id = ?`, recordID)
	if err != nil {
		return metadata.Record{}, fmt.Errorf("get record %s: %w", recordID, err)
	}
	if len(recs) == 0 {
		return metadata.Record{}, fmt.Errorf("get record %s: %w", recordID, metadata.ErrNotFound)
	}
	return recs[0], nil
}

// SearchRecords returns records newest captured first (captured_at, then
// record_id, both descending) with the same keyset pagination as
// ListExecutions: a page token is the position of the last row returned.
func (s *Store) SearchRecords(ctx context.Context, f metadata.RecordFilter) ([]metadata.Record, string, error) {
	limit := metadata.PageSize(f.Limit)
	where, args, err := s.recordWhere(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("search records: %w", err)
	}
	if f.PageToken != "" {
		c, err := metadata.DecodePageToken(f.PageToken)
		if err != nil {
			return nil, "", fmt.Errorf("search records: %w", err)
		}
		where = append(where, "(captured_at < ? OR (captured_at = ? AND record_id < ?))")
		args = append(args, nanos(c.CreatedAt), nanos(c.CreatedAt), c.ID)
	}
	q := `SELECT ` + recordCols + ` FROM records`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY captured_at DESC, record_id DESC LIMIT ?"
	args = append(args, limit+1)
	recs, err := s.queryRecords(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("search records: %w", err)
	}
	if len(recs) <= limit {
		return recs, "", nil
	}
	recs = recs[:limit]
	last := recs[limit-1].Record
	return recs, metadata.EncodePageToken(metadata.Cursor{CreatedAt: last.GetCapturedAt().AsTime(), ID: last.RecordId}), nil
}

// PendingPipelineRecords returns up to limit (default 50, max 500) records
// waiting for their cloud pipeline, oldest committed first.
func (s *Store) PendingPipelineRecords(ctx context.Context, limit int) ([]metadata.Record, error) {
	recs, err := s.queryRecords(ctx, `SELECT `+recordCols+` FROM records WHERE pipeline_state = ?
		ORDER BY committed_at, record_id LIMIT ?`, metadata.PipelinePending, metadata.PageSize(limit))
	if err != nil {
		return nil, fmt.Errorf("pending pipeline records: %w", err)
	}
	return recs, nil
}

// SetRecordPipeline sets the pipeline state, execution id and error of a record.
func (s *Store) SetRecordPipeline(ctx context.Context, recordID, state, executionID, errMsg string) error {
	switch state {
	case metadata.PipelineNone, metadata.PipelinePending, metadata.PipelineSubmitted, metadata.PipelineFailed:
	default:
		return fmt.Errorf("set pipeline of record %s: %w: state %q is not none, pending, submitted or failed",
			recordID, metadata.ErrInvalidArgument, state)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE records SET pipeline_state = ?, execution_id = ?, pipeline_error = ? WHERE record_id = ?`,
		state, executionID, errMsg, recordID)
	if err != nil {
		return fmt.Errorf("set pipeline of record %s: %w", recordID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("set pipeline of record %s: %w", recordID, err)
	}
	if n == 0 {
		return fmt.Errorf("set pipeline of record %s: %w", recordID, metadata.ErrNotFound)
	}
	return nil
}
