package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// maxCheckErrors bounds the errors Check collects before giving up.
const maxCheckErrors = 20

// Check verifies the whole file: bbolt's own page-level consistency check
// (tx.Check), then this package's invariants — every record has a state,
// every live image is present with the right sha256 and size, the outbox,
// history and eviction indexes agree with the records, every override
// names a stored record and sits in exactly one of the override outbox and
// the synced set, and the counters
// equal a recount. It reads every byte, so it is for tests, startup after
// an unclean shutdown, and support tools, not for the hot path. A failure
// wraps ErrCorrupt.
func (q *Queue) Check(ctx context.Context) error {
	var errs []error
	add := func(format string, args ...any) bool {
		errs = append(errs, fmt.Errorf(format, args...))
		return len(errs) < maxCheckErrors
	}
	err := q.view(ctx, func(tx *bolt.Tx) error {
		full := false
		for err := range tx.Check() { // drained to the end so the checker goroutine exits
			if !full {
				full = !add("bbolt: %v", err)
			}
		}
		if len(errs) > 0 {
			return nil
		}
		return q.checkInvariants(ctx, tx, add)
	})
	if err != nil {
		return fmt.Errorf("check queue %s: %w", q.path, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("check queue %s: %w: %w", q.path, ErrCorrupt, errors.Join(errs...))
	}
	return nil
}

func (q *Queue) checkInvariants(ctx context.Context, tx *bolt.Tx, add func(string, ...any) bool) error {
	stored, err := getCounters(tx)
	if err != nil {
		add("%v", err)
		return nil
	}
	var want counters
	records, states, imgs := tx.Bucket(bucketRecords), tx.Bucket(bucketState), tx.Bucket(bucketImages)
	outbox, history, evictable := tx.Bucket(bucketOutbox), tx.Bucket(bucketHistory), tx.Bucket(bucketEvictable)
	liveImages := 0
	err = records.ForEach(func(k, _ []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		id, err := uuid.FromBytes(k)
		if err != nil {
			add("record key %x is not a UUID", k)
			return nil
		}
		rec, st, err := loadRecord(records, states, id)
		if err != nil {
			add("%v", err)
			return nil
		}
		want.records++
		want.used += RecordOverheadBytes
		captured := rec.GetCapturedAt().AsTime()
		result := rec.GetVerdict().GetResult()
		if history.Get(timeKey(captured, id)) == nil {
			add("record %s has no history entry", id)
		}
		inOutbox := outbox.Get(outboxKey(result, captured, id)) != nil
		if inOutbox == st.synced {
			add("record %s: synced=%v but in outbox=%v", id, st.synced, inOutbox)
		}
		if !st.synced {
			want.queued++
			want.queuedBytes += st.uploadBytes
		} else {
			want.synced++
			want.lastSync = max(want.lastSync, st.syncedAt)
		}
		isOK := result == ifcv1.VerdictResult_VERDICT_RESULT_OK
		if st.evicted {
			want.evicted++
			if !st.synced || !isOK {
				add("record %s: images evicted but synced=%v result=%v", id, st.synced, result)
			}
		}
		evictableEntry := evictable.Get(timeKey(captured, id)) != nil
		if wantEntry := st.synced && isOK && !st.evicted; evictableEntry != wantEntry {
			add("record %s: evictable entry %v, want %v", id, evictableEntry, wantEntry)
		}
		if st.evicted {
			return nil
		}
		want.used += st.imageBytes
		if st.synced && isOK {
			want.evictableBytes += st.imageBytes
		}
		var sum int64
		for i, ref := range rec.GetImages() {
			sha, err := hex.DecodeString(ref.GetSha256())
			if err != nil || len(sha) != sha256.Size {
				add("record %s image %d: bad sha256", id, i)
				continue
			}
			v := imgs.Get(imageKey([32]byte(sha), id))
			if v == nil {
				add("record %s image %d (%s) is missing", id, i, ref.GetSha256())
				continue
			}
			liveImages++
			sum += int64(len(v))
			if got := sha256.Sum256(v); string(got[:]) != string(sha) {
				add("record %s image %d: sha256 %x, want %s", id, i, got, ref.GetSha256())
			}
		}
		if sum != st.imageBytes {
			add("record %s: %d image bytes stored, state says %d", id, sum, st.imageBytes)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n := imgs.Stats().KeyN; n != liveImages {
		add("%d images stored, %d referenced by live records", n, liveImages)
	}
	if n := outbox.Stats().KeyN; int64(n) != want.queued {
		add("%d outbox entries, %d unsynced records", n, want.queued)
	}
	if n := history.Stats().KeyN; int64(n) != want.records {
		add("%d history entries, %d records", n, want.records)
	}
	if n := states.Stats().KeyN; int64(n) != want.records {
		add("%d state entries, %d records", n, want.records)
	}
	checkOverrides(tx, add)
	if *stored != want {
		add("counters %+v, recount %+v", *stored, want)
	}
	return nil
}
