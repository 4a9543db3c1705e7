package queue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Pending limits.
const (
	// DefaultPendingLimit is used when Pending is given limit <= 0.
	DefaultPendingLimit = 100
	// MaxPendingLimit caps one Pending call.
	MaxPendingLimit = 10000
)

// OutboxItem is one record waiting to be synced.
type OutboxItem struct {
	RecordID   string
	Result     ifcv1.VerdictResult
	CapturedAt time.Time
	Bytes      int64 // image bytes + encoded record: what sync has to send
}

// RecordStatus is the mutable state of a stored record.
type RecordStatus struct {
	Synced   bool
	SyncedAt time.Time // zero unless Synced
	Evicted  bool      // images were evicted to free disk (only ever for synced OK records)
}

// Stats summarises the queue for the inspector's status line and metrics.
type Stats struct {
	Records        int64     // records stored
	Queued         int64     // records waiting to be synced
	QueuedBytes    int64     // bytes sync has to send for them
	Oldest         time.Time // captured_at of the oldest queued record; zero when none
	Synced         int64     // records marked synced
	Evicted        int64     // records whose images were evicted
	Bytes          int64     // disk budget in use: live image bytes + RecordOverheadBytes per record
	EvictableBytes int64     // bytes eviction could free now
	SoftLimitBytes int64     // eviction threshold (0 = none)
	HardLimitBytes int64     // refusal threshold (0 = none)
	LastSync       time.Time // latest MarkSynced time; zero when never
}

// Pending returns up to limit outbox items in sync order: NG before OK,
// then oldest captured first. limit <= 0 means DefaultPendingLimit.
func (q *Queue) Pending(ctx context.Context, limit int) ([]OutboxItem, error) {
	if limit <= 0 {
		limit = DefaultPendingLimit
	}
	limit = min(limit, MaxPendingLimit)
	var items []OutboxItem
	err := q.view(ctx, func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketOutbox).Cursor()
		for k, v := cur.First(); k != nil && len(items) < limit; k, v = cur.Next() {
			if len(k) != 25 {
				return fmt.Errorf("%w: bad outbox key", ErrCorrupt)
			}
			id, _ := uuid.FromBytes(k[9:])
			result := ifcv1.VerdictResult_VERDICT_RESULT_OK
			if k[0] == prioNG {
				result = ifcv1.VerdictResult_VERDICT_RESULT_NG
			}
			items = append(items, OutboxItem{
				RecordID:   id.String(),
				Result:     result,
				CapturedAt: tsFromBytes(k[1:9]),
				Bytes:      decodeInt(v),
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending: %w", err)
	}
	return items, nil
}

// Get returns the stored record; ErrNotFound if there is none.
func (q *Queue) Get(ctx context.Context, recordID string) (*ifcv1.InspectionRecord, error) {
	id, err := parseID(recordID)
	if err != nil {
		return nil, fmt.Errorf("get record: %w", err)
	}
	var rec *ifcv1.InspectionRecord
	err = q.view(ctx, func(tx *bolt.Tx) error {
		rec, _, err = loadRecord(tx.Bucket(bucketRecords), tx.Bucket(bucketState), id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get record: %w", err)
	}
	return rec, nil
}

// Status returns whether a record is synced and whether its images were evicted.
func (q *Queue) Status(ctx context.Context, recordID string) (RecordStatus, error) {
	id, err := parseID(recordID)
	if err != nil {
		return RecordStatus{}, fmt.Errorf("record status: %w", err)
	}
	var st recordState
	err = q.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketState).Get(id[:])
		if b == nil {
			return fmt.Errorf("record %s: %w", id, ErrNotFound)
		}
		st, err = decodeState(b)
		return err
	})
	if err != nil {
		return RecordStatus{}, fmt.Errorf("record status: %w", err)
	}
	return st.status(), nil
}

func (s recordState) status() RecordStatus {
	rs := RecordStatus{Synced: s.synced, Evicted: s.evicted}
	if s.synced {
		rs.SyncedAt = time.Unix(0, s.syncedAt).UTC()
	}
	return rs
}

// Image returns a copy of the image bytes with the given lowercase hex
// sha256, re-verified against the hash. ErrNotFound if no record holds it
// (never stored, or evicted).
func (q *Queue) Image(ctx context.Context, sha256Hex string) ([]byte, error) {
	sum, err := hex.DecodeString(sha256Hex)
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("image: %w", invalid("sha256 %q is not 64 hex digits", sha256Hex))
	}
	var img []byte
	err = q.view(ctx, func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bucketImages).Cursor().Seek(sum)
		if k == nil || !bytes.HasPrefix(k, sum) {
			return fmt.Errorf("image %s: %w", sha256Hex, ErrNotFound)
		}
		if got := sha256.Sum256(v); !bytes.Equal(got[:], sum) {
			return fmt.Errorf("%w: image %s hashes to %x", ErrCorrupt, sha256Hex, got)
		}
		img = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return img, nil
}

// MarkSynced records that the cloud committed the record (and its images)
// at the given time: the record leaves the outbox, and if its verdict is
// OK its images become evictable. Record and images stay until evicted.
// Marking an already synced record again is a no-op. A zero at means now.
func (q *Queue) MarkSynced(ctx context.Context, recordID string, at time.Time) error {
	id, err := parseID(recordID)
	if err != nil {
		return fmt.Errorf("mark synced: %w", err)
	}
	if at.IsZero() {
		at = q.now()
	}
	var already bool
	err = q.update(ctx, func(tx *bolt.Tx) error {
		states := tx.Bucket(bucketState)
		rec, st, err := loadRecord(tx.Bucket(bucketRecords), states, id)
		if err != nil {
			return err
		}
		if st.synced {
			already = true
			return nil
		}
		c, err := getCounters(tx)
		if err != nil {
			return err
		}
		captured := rec.GetCapturedAt().AsTime()
		result := rec.GetVerdict().GetResult()
		if err := tx.Bucket(bucketOutbox).Delete(outboxKey(result, captured, id)); err != nil {
			return fmt.Errorf("delete outbox entry: %w", err)
		}
		st.synced, st.syncedAt = true, at.UnixNano()
		if err := states.Put(id[:], st.encode()); err != nil {
			return fmt.Errorf("put state: %w", err)
		}
		if result == ifcv1.VerdictResult_VERDICT_RESULT_OK && !st.evicted {
			if err := tx.Bucket(bucketEvictable).Put(timeKey(captured, id), encodeInt(st.imageBytes)); err != nil {
				return fmt.Errorf("put evictable entry: %w", err)
			}
			c.evictableBytes += st.imageBytes
		}
		c.queued--
		c.queuedBytes -= st.uploadBytes
		c.synced++
		c.lastSync = max(c.lastSync, at.UnixNano())
		return putCounters(tx, c)
	})
	if err != nil {
		return fmt.Errorf("mark synced %s: %w", recordID, err)
	}
	if !already {
		q.log.Debug("record synced", "record_id", recordID)
	}
	return nil
}

// Stats returns the queue's counters.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := q.view(ctx, func(tx *bolt.Tx) error {
		c, err := getCounters(tx)
		if err != nil {
			return err
		}
		s = Stats{
			Records:        c.records,
			Queued:         c.queued,
			QueuedBytes:    c.queuedBytes,
			Synced:         c.synced,
			Evicted:        c.evicted,
			Bytes:          c.used,
			EvictableBytes: c.evictableBytes,
			SoftLimitBytes: q.opts.SoftLimitBytes,
			HardLimitBytes: q.opts.HardLimitBytes,
		}
		if c.lastSync != 0 {
			s.LastSync = time.Unix(0, c.lastSync).UTC()
		}
		// The oldest queued record is the first of either priority section.
		cur := tx.Bucket(bucketOutbox).Cursor()
		for _, p := range []byte{prioNG, prioOK} {
			k, _ := cur.Seek([]byte{p})
			if k == nil || k[0] != p {
				continue
			}
			if t := tsFromBytes(k[1:9]); s.Oldest.IsZero() || t.Before(s.Oldest) {
				s.Oldest = t
			}
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	return s, nil
}
