package queue

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// History limits.
const (
	// DefaultHistoryLimit is used when History is given limit <= 0.
	DefaultHistoryLimit = 50
	// MaxHistoryLimit caps one History page.
	MaxHistoryLimit = 1000
)

// HistoryFilter selects records for History; zero fields match everything.
type HistoryFilter struct {
	ProductCode string
	Lot         string
	Serial      string
	Inspector   string
	Result      ifcv1.VerdictResult // UNSPECIFIED = any
	Since       time.Time           // captured_at >= Since
	Until       time.Time           // captured_at < Until
}

// HistoryItem is one record with its sync state.
type HistoryItem struct {
	Record *ifcv1.InspectionRecord
	Status RecordStatus

	key []byte // history key, for the next-page cursor
}

func (f HistoryFilter) match(r *ifcv1.InspectionRecord) bool {
	return (f.ProductCode == "" || r.GetProductCode() == f.ProductCode) &&
		(f.Lot == "" || r.GetLot() == f.Lot) &&
		(f.Serial == "" || r.GetSerial() == f.Serial) &&
		(f.Inspector == "" || r.GetInspector() == f.Inspector) &&
		(f.Result == ifcv1.VerdictResult_VERDICT_RESULT_UNSPECIFIED || r.GetVerdict().GetResult() == f.Result)
}

// History returns up to limit records matching f, newest captured first,
// and a cursor for the next page ("" when there is none). Pass "" as
// cursor for the first page. limit <= 0 means DefaultHistoryLimit.
func (q *Queue) History(ctx context.Context, f HistoryFilter, limit int, cursor string) ([]HistoryItem, string, error) {
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	limit = min(limit, MaxHistoryLimit)
	var after []byte
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(b) != 24 {
			return nil, "", fmt.Errorf("history: %w", invalid("bad cursor %q", cursor))
		}
		after = b
	}
	var (
		items []HistoryItem
		next  string
	)
	err := q.view(ctx, func(tx *bolt.Tx) error {
		records, states := tx.Bucket(bucketRecords), tx.Bucket(bucketState)
		cur := tx.Bucket(bucketHistory).Cursor()
		// Position on the newest key strictly before the start bound.
		var k []byte
		switch {
		case after != nil:
			k = seekBefore(cur, after)
		case !f.Until.IsZero():
			ts := tsBytes(f.Until)
			k = seekBefore(cur, ts[:])
		default:
			k, _ = cur.Last()
		}
		var since []byte
		if !f.Since.IsZero() {
			ts := tsBytes(f.Since)
			since = ts[:]
		}
		for scanned := 0; k != nil; k, _ = cur.Prev() {
			if since != nil && string(k[:8]) < string(since) {
				break
			}
			if scanned++; scanned%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if len(items) == limit {
				next = base64.RawURLEncoding.EncodeToString(items[len(items)-1].key)
				break
			}
			id, err := uuid.FromBytes(k[8:])
			if err != nil {
				return fmt.Errorf("%w: bad history key", ErrCorrupt)
			}
			rec, st, err := loadRecord(records, states, id)
			if err != nil {
				return err
			}
			if f.match(rec) {
				items = append(items, HistoryItem{Record: rec, Status: st.status(), key: append([]byte(nil), k...)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("history: %w", err)
	}
	return items, next, nil
}

// seekBefore positions cur on the last key strictly less than bound.
func seekBefore(cur *bolt.Cursor, bound []byte) []byte {
	k, _ := cur.Seek(bound)
	if k == nil {
		k, _ = cur.Last()
		return k
	}
	if string(k) >= string(bound) {
		k, _ = cur.Prev()
	}
	return k
}
