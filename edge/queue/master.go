package queue

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// MaxCursorValueBytes bounds the value stored by PutCursor.
const MaxCursorValueBytes = 64 << 10

func validateMaster(m *ifcv1.InspectionMaster) error {
	if m == nil {
		return invalid("nil master")
	}
	if err := checkText("product.code", m.GetProduct().GetCode(), true, MaxFieldLen); err != nil {
		return err
	}
	if err := checkText("product.name", m.GetProduct().GetName(), false, MaxFieldLen); err != nil {
		return err
	}
	if m.GetVersion() <= 0 {
		return invalid("master version %d must be positive", m.GetVersion())
	}
	if err := finite01("prefilter_threshold", m.GetPrefilterThreshold()); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, d := range m.GetDefectTypes() {
		if err := checkText("defect_types.code", d.GetCode(), true, MaxFieldLen); err != nil {
			return err
		}
		if seen[d.GetCode()] {
			return invalid("defect type %q listed twice", d.GetCode())
		}
		seen[d.GetCode()] = true
	}
	for _, it := range m.GetItems() {
		if err := checkText("items.id", it.GetId(), true, MaxFieldLen); err != nil {
			return err
		}
	}
	return nil
}

// PutMaster caches m for offline use if its version is newer than the
// cached one for the same product. An older version is ignored (a replayed
// downlink); the same version with different content fails with ErrConflict.
func (q *Queue) PutMaster(ctx context.Context, m *ifcv1.InspectionMaster) error {
	if err := validateMaster(m); err != nil {
		return fmt.Errorf("put master: %w", err)
	}
	code := m.GetProduct().GetCode()
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("put master %s: encode: %w", code, err)
	}
	var stale int64
	err = q.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMasters)
		if old := b.Get([]byte(code)); old != nil {
			cur := &ifcv1.InspectionMaster{}
			if err := proto.Unmarshal(old, cur); err != nil {
				return fmt.Errorf("%w: decode cached master: %v", ErrCorrupt, err)
			}
			switch {
			case cur.GetVersion() > m.GetVersion():
				stale = cur.GetVersion()
				return nil
			case cur.GetVersion() == m.GetVersion():
				if !proto.Equal(cur, m) {
					return fmt.Errorf("%w: version %d is already cached with different content", ErrConflict, m.GetVersion())
				}
				stale = cur.GetVersion()
				return nil
			}
		}
		return b.Put([]byte(code), data)
	})
	if err != nil {
		return fmt.Errorf("put master %s: %w", code, err)
	}
	if stale != 0 {
		q.log.Debug("master not newer than cache", "product_code", code, "version", m.GetVersion(), "cached_version", stale)
		return nil
	}
	q.log.Info("master cached", "product_code", code, "version", m.GetVersion())
	return nil
}

// ReplaceMaster caches m whatever the cached version. Sync uses it for
// masters pulled from the cloud: they arrive in the cloud's change order
// (a replay after a crash repeats that order), and the cloud's version
// numbers are not comparable with those of a seeded masters.yaml, so the
// pulled master always wins over whatever is cached.
func (q *Queue) ReplaceMaster(ctx context.Context, m *ifcv1.InspectionMaster) error {
	if err := validateMaster(m); err != nil {
		return fmt.Errorf("replace master: %w", err)
	}
	code := m.GetProduct().GetCode()
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("replace master %s: encode: %w", code, err)
	}
	if err := q.update(ctx, func(tx *bolt.Tx) error { return tx.Bucket(bucketMasters).Put([]byte(code), data) }); err != nil {
		return fmt.Errorf("replace master %s: %w", code, err)
	}
	q.log.Info("master replaced from cloud", "product_code", code, "version", m.GetVersion())
	return nil
}

// Master returns the cached master of a product; ErrNotFound if none.
func (q *Queue) Master(ctx context.Context, productCode string) (*ifcv1.InspectionMaster, error) {
	var m *ifcv1.InspectionMaster
	err := q.view(ctx, func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketMasters).Get([]byte(productCode))
		if data == nil {
			return fmt.Errorf("product %q: %w", productCode, ErrNotFound)
		}
		m = &ifcv1.InspectionMaster{}
		if err := proto.Unmarshal(data, m); err != nil {
			return fmt.Errorf("%w: decode master %q: %v", ErrCorrupt, productCode, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("master: %w", err)
	}
	return m, nil
}

// Masters returns every cached master, ordered by product code.
func (q *Queue) Masters(ctx context.Context) ([]*ifcv1.InspectionMaster, error) {
	var out []*ifcv1.InspectionMaster
	err := q.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMasters).ForEach(func(k, v []byte) error {
			m := &ifcv1.InspectionMaster{}
			if err := proto.Unmarshal(v, m); err != nil {
				return fmt.Errorf("%w: decode master %q: %v", ErrCorrupt, k, err)
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("masters: %w", err)
	}
	return out, nil
}

// PutCursor stores value under name if version is greater than the stored
// version, so a late writer can never move a downlink cursor backwards.
// An older or equal version is ignored.
func (q *Queue) PutCursor(ctx context.Context, name string, version int64, value []byte) error {
	if err := checkText("cursor name", name, true, MaxFieldLen); err != nil {
		return fmt.Errorf("put cursor: %w", err)
	}
	if len(value) > MaxCursorValueBytes {
		return fmt.Errorf("put cursor %s: %w", name, invalid("value is %d bytes, limit %d", len(value), MaxCursorValueBytes))
	}
	err := q.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCursors)
		if old := b.Get([]byte(name)); len(old) >= 8 && decodeInt(old[:8]) >= version {
			return nil
		}
		return b.Put([]byte(name), append(encodeInt(version), value...))
	})
	if err != nil {
		return fmt.Errorf("put cursor %s: %w", name, err)
	}
	return nil
}

// Cursor returns the version and value stored under name; version 0 and a
// nil value when nothing is stored.
func (q *Queue) Cursor(ctx context.Context, name string) (int64, []byte, error) {
	var (
		version int64
		value   []byte
	)
	err := q.view(ctx, func(tx *bolt.Tx) error {
		old := tx.Bucket(bucketCursors).Get([]byte(name))
		if old == nil {
			return nil
		}
		if len(old) < 8 {
			return fmt.Errorf("%w: bad cursor %q", ErrCorrupt, name)
		}
		version, value = decodeInt(old[:8]), bytes.Clone(old[8:])
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("cursor %s: %w", name, err)
	}
	return version, value, nil
}
