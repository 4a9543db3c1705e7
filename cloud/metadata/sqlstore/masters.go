package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Page limits for MasterChangesSince.
const (
	defaultMasterChanges = 100
	maxMasterChanges     = 1000
)

// nextSeq takes the next change sequence number. The UPDATE holds the
// counter row until the transaction ends, so numbers are unique and
// commit in order.
func nextSeq(ctx context.Context, tx *txn) (int64, error) {
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE change_seq SET value = value + 1 WHERE id = 1 RETURNING value`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("next change sequence: %w", err)
	}
	return seq, nil
}

// PutMaster stores m as the product's current master with Version set to
// the next change sequence number and UpdatedAt to now.
func (s *Store) PutMaster(ctx context.Context, m *ifcv1.InspectionMaster) (*ifcv1.InspectionMaster, error) {
	if m.GetProduct().GetCode() == "" || m.GetProduct().GetName() == "" {
		return nil, fmt.Errorf("put master: %w: product code and name are required", metadata.ErrInvalidArgument)
	}
	out := proto.CloneOf(m)
	out.UpdatedAt = timestamppb.New(fromNanos(nanos(s.now())))
	code := out.Product.Code
	err := s.inTx(ctx, func(tx *txn) error {
		seq, err := nextSeq(ctx, tx)
		if err != nil {
			return err
		}
		out.Version = seq
		body, err := protojson.Marshal(out)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO masters (product_code, seq, body) VALUES (?, ?, ?)
			ON CONFLICT (product_code) DO UPDATE SET seq = excluded.seq, body = excluded.body`, code, seq, string(body))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("put master %s: %w", code, err)
	}
	return out, nil
}

func decodeMaster(body string) (*ifcv1.InspectionMaster, error) {
	m := &ifcv1.InspectionMaster{}
	if err := unmarshal.Unmarshal([]byte(body), m); err != nil {
		return nil, fmt.Errorf("decode master: %w", err)
	}
	return m, nil
}

// GetMaster returns the product's current master as stored (no rollout applied).
func (s *Store) GetMaster(ctx context.Context, productCode string) (*ifcv1.InspectionMaster, error) {
	var body string
	err := s.db.QueryRowContext(ctx, `SELECT body FROM masters WHERE product_code = ?`, productCode).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get master %s: %w", productCode, metadata.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get master %s: %w", productCode, err)
	}
	m, err := decodeMaster(body)
	if err != nil {
		return nil, fmt.Errorf("get master %s: %w", productCode, err)
	}
	return m, nil
}

// ListMasters returns every current master ordered by product code.
func (s *Store) ListMasters(ctx context.Context) ([]*ifcv1.InspectionMaster, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM masters ORDER BY product_code`)
	if err != nil {
		return nil, fmt.Errorf("list masters: %w", err)
	}
	defer rows.Close()
	out := []*ifcv1.InspectionMaster{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("list masters: %w", err)
		}
		m, err := decodeMaster(body)
		if err != nil {
			return nil, fmt.Errorf("list masters: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list masters: %w", err)
	}
	return out, nil
}

// PutRollout sets (or replaces) the line's model and threshold for a
// product under the next change sequence number.
func (s *Store) PutRollout(ctx context.Context, r metadata.Rollout) error {
	if r.Line == "" || r.ProductCode == "" || r.ModelName == "" {
		return fmt.Errorf("put rollout: %w: line, product code and model name are required", metadata.ErrInvalidArgument)
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.now()
	}
	err := s.inTx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM masters WHERE product_code = ?`, r.ProductCode).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return metadata.ErrNotFound
		}
		seq, err := nextSeq(ctx, tx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO rollouts
			(line, product_code, model_name, model_version, threshold, created_by, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (line, product_code) DO UPDATE SET model_name = excluded.model_name, model_version = excluded.model_version,
			threshold = excluded.threshold, created_by = excluded.created_by, created_at = excluded.created_at, seq = excluded.seq`,
			r.Line, r.ProductCode, r.ModelName, r.ModelVersion, r.Threshold, r.CreatedBy, nanos(r.CreatedAt), seq)
		return err
	})
	if err != nil {
		return fmt.Errorf("put rollout of %s on line %s: %w", r.ProductCode, r.Line, err)
	}
	return nil
}

// MasterChangesSince returns, for one line, the masters whose own change
// or whose rollout on that line is newer than cursor. Each comes with the
// line's rollout applied and Version = the newer of the two sequence
// numbers; every sequence number belongs to one row, so versions are
// distinct and the cursor pages without gaps or repeats.
func (s *Store) MasterChangesSince(ctx context.Context, line string, cursor int64, limit int) (metadata.MasterChanges, error) {
	switch {
	case limit <= 0:
		limit = defaultMasterChanges
	case limit > maxMasterChanges:
		limit = maxMasterChanges
	}
	rows, err := s.db.QueryContext(ctx, `SELECT m.body, m.seq, r.model_name, r.model_version, r.threshold, r.seq
		FROM masters m LEFT JOIN rollouts r ON r.product_code = m.product_code AND r.line = ?
		WHERE m.seq > ? OR r.seq > ?
		ORDER BY CASE WHEN r.seq > m.seq THEN r.seq ELSE m.seq END
		LIMIT ?`, line, cursor, cursor, limit+1)
	if err != nil {
		return metadata.MasterChanges{}, fmt.Errorf("master changes for line %s since %d: %w", line, cursor, err)
	}
	defer rows.Close()
	out := metadata.MasterChanges{Masters: []*ifcv1.InspectionMaster{}, NextCursor: cursor}
	for rows.Next() {
		if len(out.Masters) == limit {
			out.More = true
			break
		}
		var (
			body            string
			seq             int64
			model, modelVer sql.NullString
			threshold       sql.NullFloat64
			rolloutSeq      sql.NullInt64
		)
		if err := rows.Scan(&body, &seq, &model, &modelVer, &threshold, &rolloutSeq); err != nil {
			return metadata.MasterChanges{}, fmt.Errorf("master changes for line %s: %w", line, err)
		}
		m, err := decodeMaster(body)
		if err != nil {
			return metadata.MasterChanges{}, fmt.Errorf("master changes for line %s: %w", line, err)
		}
		if rolloutSeq.Valid {
			m.PrefilterModelName = model.String
			m.PrefilterModelVersion = modelVer.String
			m.PrefilterThreshold = float32(threshold.Float64)
			m.Version = max(seq, rolloutSeq.Int64)
		}
		out.Masters = append(out.Masters, m)
		out.NextCursor = m.Version
	}
	if err := rows.Err(); err != nil {
		return metadata.MasterChanges{}, fmt.Errorf("master changes for line %s: %w", line, err)
	}
	return out, nil
}
