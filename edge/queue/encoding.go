package queue

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Outbox priorities: lower sorts (and syncs) first.
const (
	prioNG byte = 0
	prioOK byte = 1
)

func priority(r ifcv1.VerdictResult) byte {
	if r == ifcv1.VerdictResult_VERDICT_RESULT_NG {
		return prioNG
	}
	return prioOK
}

// tsBytes encodes t so that byte order equals time order (sign bit flipped).
func tsBytes(t time.Time) [8]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.UnixNano())^(1<<63))
	return b
}

func tsFromBytes(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)^(1<<63))).UTC()
}

// timeKey is ts8 + id16 (history and evictable buckets).
func timeKey(t time.Time, id uuid.UUID) []byte {
	ts := tsBytes(t)
	k := make([]byte, 0, 24)
	k = append(k, ts[:]...)
	return append(k, id[:]...)
}

// outboxKey is prio1 + ts8 + id16.
func outboxKey(r ifcv1.VerdictResult, t time.Time, id uuid.UUID) []byte {
	return append([]byte{priority(r)}, timeKey(t, id)...)
}

// imageKey is sha32 + id16.
func imageKey(sha [32]byte, id uuid.UUID) []byte {
	k := make([]byte, 0, 48)
	k = append(k, sha[:]...)
	return append(k, id[:]...)
}

func encodeInt(v int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(v))
	return b
}

func decodeInt(b []byte) int64 {
	if len(b) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// recordState is the mutable side of a stored (immutable) record.
type recordState struct {
	synced      bool
	evicted     bool
	syncedAt    int64 // unix nanoseconds
	imageBytes  int64 // image bytes stored at Save (before any eviction)
	uploadBytes int64 // image bytes + encoded record: what sync has to send
}

const (
	stateVersion   = 1
	stateLen       = 2 + 3*8
	flagSynced     = 1 << 0
	flagEvicted    = 1 << 1
	counterVersion = 1
)

func (s recordState) encode() []byte {
	b := make([]byte, stateLen)
	b[0] = stateVersion
	if s.synced {
		b[1] |= flagSynced
	}
	if s.evicted {
		b[1] |= flagEvicted
	}
	binary.BigEndian.PutUint64(b[2:], uint64(s.syncedAt))
	binary.BigEndian.PutUint64(b[10:], uint64(s.imageBytes))
	binary.BigEndian.PutUint64(b[18:], uint64(s.uploadBytes))
	return b
}

func decodeState(b []byte) (recordState, error) {
	if len(b) != stateLen || b[0] != stateVersion {
		return recordState{}, fmt.Errorf("%w: bad record state (%d bytes)", ErrCorrupt, len(b))
	}
	return recordState{
		synced:      b[1]&flagSynced != 0,
		evicted:     b[1]&flagEvicted != 0,
		syncedAt:    int64(binary.BigEndian.Uint64(b[2:])),
		imageBytes:  int64(binary.BigEndian.Uint64(b[10:])),
		uploadBytes: int64(binary.BigEndian.Uint64(b[18:])),
	}, nil
}

// counters are the aggregates kept in step with every write, so Stats and
// the budget check are O(1).
type counters struct {
	records        int64 // records stored
	used           int64 // budget bytes: live image bytes + overhead per record
	queued         int64 // records in the outbox
	queuedBytes    int64 // sum of uploadBytes over the outbox
	synced         int64 // records marked synced
	evictableBytes int64 // live image bytes of synced OK records
	evicted        int64 // records whose images were evicted
	lastSync       int64 // unix nanoseconds of the latest MarkSynced time, 0 = never
}

func (c *counters) fields() []*int64 {
	return []*int64{&c.records, &c.used, &c.queued, &c.queuedBytes, &c.synced,
		&c.evictableBytes, &c.evicted, &c.lastSync}
}

func getCounters(tx *bolt.Tx) (*counters, error) {
	c := &counters{}
	f := c.fields()
	b := tx.Bucket(bucketMeta).Get(keyCounters)
	if len(b) != 1+8*len(f) || b[0] != counterVersion {
		return nil, fmt.Errorf("%w: bad counters (%d bytes)", ErrCorrupt, len(b))
	}
	for i, p := range f {
		*p = int64(binary.BigEndian.Uint64(b[1+8*i:]))
	}
	return c, nil
}

func putCounters(tx *bolt.Tx, c *counters) error {
	f := c.fields()
	b := make([]byte, 1+8*len(f))
	b[0] = counterVersion
	for i, p := range f {
		binary.BigEndian.PutUint64(b[1+8*i:], uint64(*p))
	}
	return tx.Bucket(bucketMeta).Put(keyCounters, b)
}

// parseID parses a canonical UUIDv7 string.
func parseID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil || id.String() != s {
		return uuid.UUID{}, fmt.Errorf("%w: record_id %q is not a canonical lowercase UUID", ErrInvalid, s)
	}
	if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
		return uuid.UUID{}, fmt.Errorf("%w: record_id %q is a version %d UUID, want UUIDv7", ErrInvalid, s, id.Version())
	}
	return id, nil
}
