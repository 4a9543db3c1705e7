package queue

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// validatedOverride is an override that passed validation, ready to store.
type validatedOverride struct {
	id, record uuid.UUID
	o          *ifcv1.VerdictOverride // clone with at filled in
	atSet      bool                   // the caller left at empty and SaveOverride filled it
	data       []byte
}

// parseOverrideID parses a canonical lowercase RFC 4122 UUID (UUIDv7 from
// this agent; any version is accepted so ids minted elsewhere still fit).
func parseOverrideID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil || id.String() != s || id.Variant() != uuid.RFC4122 || id == uuid.Nil {
		return uuid.UUID{}, invalid("override_id %q is not a canonical lowercase UUID", s)
	}
	return id, nil
}

func (q *Queue) validateOverride(o *ifcv1.VerdictOverride) (*validatedOverride, error) {
	if o == nil {
		return nil, invalid("nil override")
	}
	id, err := parseOverrideID(o.GetOverrideId())
	if err != nil {
		return nil, err
	}
	rid, err := parseID(o.GetRecordId())
	if err != nil {
		return nil, err
	}
	if err := checkVerdict("verdict", o.GetVerdict()); err != nil {
		return nil, err
	}
	if err := checkText("reason", o.GetReason(), true, MaxNoteLen); err != nil {
		return nil, err
	}
	if err := checkText("actor", o.GetActor(), true, MaxFieldLen); err != nil {
		return nil, err
	}
	if o.GetOrigin() != ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE {
		return nil, invalid("origin %v: overrides stored on the edge must have origin EDGE", o.GetOrigin())
	}
	if err := checkText("device_id", o.GetDeviceId(), true, MaxFieldLen); err != nil {
		return nil, err
	}
	if q.opts.DeviceID != "" && o.GetDeviceId() != q.opts.DeviceID {
		return nil, invalid("device_id %q is not this device (%q)", o.GetDeviceId(), q.opts.DeviceID)
	}
	if err := checkTime("at", o.GetAt(), false); err != nil {
		return nil, err
	}
	v := &validatedOverride{id: id, record: rid, o: proto.CloneOf(o)}
	if v.o.GetAt() == nil {
		v.o.At = timestamppb.New(q.now())
		v.atSet = true
	}
	v.data, err = proto.MarshalOptions{Deterministic: true}.Marshal(v.o)
	if err != nil {
		return nil, fmt.Errorf("encode override %s: %w", o.GetOverrideId(), err)
	}
	return v, nil
}

// recordOverrideKey is record id16 + ts8 + override id16.
func recordOverrideKey(record uuid.UUID, at time.Time, id uuid.UUID) []byte {
	return append(append([]byte(nil), record[:]...), timeKey(at, id)...)
}

// SaveOverride stores a verdict override made on this edge and adds it to
// the override outbox, in one fsynced transaction. The record it corrects
// must be stored (ErrNotFound otherwise); the record itself is never
// rewritten. Saving the same override again is a no-op; a different one
// under the same override_id fails with ErrConflict. Invalid input fails
// with ErrInvalid and changes nothing. An empty at is filled in from the
// clock in the stored copy. Overrides are small and do not count against
// the disk budget, and eviction never touches them.
func (q *Queue) SaveOverride(ctx context.Context, o *ifcv1.VerdictOverride) error {
	v, err := q.validateOverride(o)
	if err != nil {
		return fmt.Errorf("save override: %w", err)
	}
	duplicate := false
	err = q.update(ctx, func(tx *bolt.Tx) error {
		overrides := tx.Bucket(bucketOverrides)
		if old := overrides.Get(v.id[:]); old != nil {
			stored := &ifcv1.VerdictOverride{}
			if err := proto.Unmarshal(old, stored); err != nil {
				return fmt.Errorf("%w: decode stored override: %v", ErrCorrupt, err)
			}
			cand := v.o
			if v.atSet {
				cand = proto.CloneOf(v.o)
				cand.At = stored.GetAt()
			}
			if !proto.Equal(stored, cand) {
				return fmt.Errorf("%w: override_id %s is already stored with different content", ErrConflict, v.o.GetOverrideId())
			}
			duplicate = true
			return nil
		}
		if tx.Bucket(bucketRecords).Get(v.record[:]) == nil {
			return fmt.Errorf("record %s: %w", v.record, ErrNotFound)
		}
		at := v.o.GetAt().AsTime()
		if err := overrides.Put(v.id[:], v.data); err != nil {
			return fmt.Errorf("put override: %w", err)
		}
		if err := tx.Bucket(bucketRecordOverrides).Put(recordOverrideKey(v.record, at, v.id), nil); err != nil {
			return fmt.Errorf("put record override index: %w", err)
		}
		if err := tx.Bucket(bucketOverrideOutbox).Put(timeKey(at, v.id), nil); err != nil {
			return fmt.Errorf("put override outbox entry: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save override %s: %w", o.GetOverrideId(), err)
	}
	if !duplicate {
		q.log.Info("override saved", "record_id", o.GetRecordId(), "override_id", o.GetOverrideId(),
			"result", v.o.GetVerdict().GetResult().String(), "actor", o.GetActor())
	}
	return nil
}

// Overrides lists the overrides of a record, oldest first (empty when there
// are none). ErrNotFound if the record is not stored.
func (q *Queue) Overrides(ctx context.Context, recordID string) ([]*ifcv1.VerdictOverride, error) {
	rid, err := parseID(recordID)
	if err != nil {
		return nil, fmt.Errorf("overrides: %w", err)
	}
	var out []*ifcv1.VerdictOverride
	err = q.view(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRecords).Get(rid[:]) == nil {
			return fmt.Errorf("record %s: %w", rid, ErrNotFound)
		}
		overrides := tx.Bucket(bucketOverrides)
		cur := tx.Bucket(bucketRecordOverrides).Cursor()
		for k, _ := cur.Seek(rid[:]); k != nil && bytes.HasPrefix(k, rid[:]); k, _ = cur.Next() {
			o, err := loadOverride(overrides, k[len(k)-16:])
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("overrides of %s: %w", recordID, err)
	}
	return out, nil
}

// PendingOverrides returns up to limit overrides not yet synced, oldest
// first. limit <= 0 means DefaultPendingLimit.
func (q *Queue) PendingOverrides(ctx context.Context, limit int) ([]*ifcv1.VerdictOverride, error) {
	if limit <= 0 {
		limit = DefaultPendingLimit
	}
	limit = min(limit, MaxPendingLimit)
	var out []*ifcv1.VerdictOverride
	err := q.view(ctx, func(tx *bolt.Tx) error {
		overrides := tx.Bucket(bucketOverrides)
		cur := tx.Bucket(bucketOverrideOutbox).Cursor()
		for k, _ := cur.First(); k != nil && len(out) < limit; k, _ = cur.Next() {
			if len(k) != 24 {
				return fmt.Errorf("%w: bad override outbox key", ErrCorrupt)
			}
			o, err := loadOverride(overrides, k[8:])
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending overrides: %w", err)
	}
	return out, nil
}

// MarkOverrideSynced records that the cloud committed the override: it
// leaves the override outbox. Marking it again is a no-op. A zero at means now.
func (q *Queue) MarkOverrideSynced(ctx context.Context, overrideID string, at time.Time) error {
	id, err := parseOverrideID(overrideID)
	if err != nil {
		return fmt.Errorf("mark override synced: %w", err)
	}
	if at.IsZero() {
		at = q.now()
	}
	err = q.update(ctx, func(tx *bolt.Tx) error {
		o, err := loadOverride(tx.Bucket(bucketOverrides), id[:])
		if err != nil {
			return err
		}
		synced := tx.Bucket(bucketOverrideSynced)
		if synced.Get(id[:]) != nil {
			return nil
		}
		if err := tx.Bucket(bucketOverrideOutbox).Delete(timeKey(o.GetAt().AsTime(), id)); err != nil {
			return fmt.Errorf("delete override outbox entry: %w", err)
		}
		return synced.Put(id[:], encodeInt(at.UnixNano()))
	})
	if err != nil {
		return fmt.Errorf("mark override synced %s: %w", overrideID, err)
	}
	return nil
}

// loadOverride reads an override by its 16-byte id; ErrNotFound if absent.
func loadOverride(overrides *bolt.Bucket, id []byte) (*ifcv1.VerdictOverride, error) {
	data := overrides.Get(id)
	if data == nil {
		u, _ := uuid.FromBytes(id)
		return nil, fmt.Errorf("override %s: %w", u, ErrNotFound)
	}
	o := &ifcv1.VerdictOverride{}
	if err := proto.Unmarshal(data, o); err != nil {
		return nil, fmt.Errorf("%w: decode override %x: %v", ErrCorrupt, id, err)
	}
	return o, nil
}

// checkOverrides verifies the override indexes: every override decodes,
// names a stored record, is in its record's index, and is either in the
// outbox or marked synced (never both); no index entry is left dangling.
func checkOverrides(tx *bolt.Tx, add func(string, ...any) bool) {
	overrides, records := tx.Bucket(bucketOverrides), tx.Bucket(bucketRecords)
	byRecord, outbox, synced := tx.Bucket(bucketRecordOverrides), tx.Bucket(bucketOverrideOutbox), tx.Bucket(bucketOverrideSynced)
	n := 0
	_ = overrides.ForEach(func(k, _ []byte) error {
		n++
		if len(k) != 16 {
			add("override key %x is not a UUID", k)
			return nil
		}
		o, err := loadOverride(overrides, k)
		if err != nil {
			add("%v", err)
			return nil
		}
		id := uuid.UUID(k)
		rid, err := uuid.Parse(o.GetRecordId())
		if err != nil {
			add("override %x: bad key or record_id %q", k, o.GetRecordId())
			return nil
		}
		if o.GetOverrideId() != id.String() {
			add("override key %s holds override %s", id, o.GetOverrideId())
		}
		if records.Get(rid[:]) == nil {
			add("override %s names record %s, which is not stored", id, rid)
		}
		at := o.GetAt().AsTime()
		if byRecord.Get(recordOverrideKey(rid, at, id)) == nil {
			add("override %s has no record index entry", id)
		}
		inOutbox, isSynced := outbox.Get(timeKey(at, id)) != nil, synced.Get(k) != nil
		if inOutbox == isSynced {
			add("override %s: in outbox=%v, synced=%v", id, inOutbox, isSynced)
		}
		return nil
	})
	if m := byRecord.Stats().KeyN; m != n {
		add("%d record override index entries, %d overrides", m, n)
	}
	if m := outbox.Stats().KeyN + synced.Stats().KeyN; m != n {
		add("%d override outbox + synced entries, %d overrides", m, n)
	}
}
