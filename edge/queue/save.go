package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Field bounds enforced by Save.
const (
	// MaxFieldLen bounds ids, codes and names, in bytes.
	MaxFieldLen = 256
	// MaxNoteLen bounds the verdict note, in bytes.
	MaxNoteLen = 4096
)

// DiskFullError is returned (wrapped) when a capture would cross the hard
// limit even after evicting every evictable image. errors.Is(err, ErrDiskFull)
// holds; show the inspector this error's own message (errors.As), which
// says what is happening and what frees space.
type DiskFullError struct {
	Unsynced       int64 // records waiting in the outbox
	UsedBytes      int64 // budget bytes in use
	NeededBytes    int64 // budget bytes the refused capture needed
	EvictableBytes int64 // bytes that eviction could still free
	HardLimitBytes int64
}

// Error tells the inspector what is happening and what frees space.
func (e *DiskFullError) Error() string {
	if e.Unsynced > 0 {
		return fmt.Sprintf("storage full: %d unsynced records waiting for the network; "+
			"captures are refused until sync frees space (%d of %d bytes used)",
			e.Unsynced, e.UsedBytes, e.HardLimitBytes)
	}
	return fmt.Sprintf("storage full: every record is synced but the kept NG images fill the budget "+
		"(%d of %d bytes used); captures are refused until the disk limit is raised", e.UsedBytes, e.HardLimitBytes)
}

// Is makes errors.Is(err, ErrDiskFull) true.
func (e *DiskFullError) Is(target error) bool { return target == ErrDiskFull }

// validated is a record that passed validation, ready to store.
type validated struct {
	id         uuid.UUID
	rec        *ifcv1.InspectionRecord // clone with created_at filled in
	createdSet bool                    // the caller left created_at empty and Save filled it
	data       []byte                  // encoded rec
	shas       [][32]byte
	images     [][]byte // images[i] hashes to shas[i]
	imageBytes int64
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func checkText(name, v string, required bool, max int) error {
	if required && v == "" {
		return invalid("%s is required", name)
	}
	if len(v) > max {
		return invalid("%s is %d bytes, limit %d", name, len(v), max)
	}
	if !utf8.ValidString(v) {
		return invalid("%s is not valid UTF-8", name)
	}
	return nil
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func checkTime(name string, ts *timestamppb.Timestamp, required bool) error {
	if ts == nil {
		if required {
			return invalid("%s is required", name)
		}
		return nil
	}
	if err := ts.CheckValid(); err != nil {
		return invalid("%s: %v", name, err)
	}
	if t := ts.AsTime(); t.Before(minTime) || t.After(maxTime) {
		return invalid("%s %s is out of range", name, t.Format(time.RFC3339))
	}
	return nil
}

func finite01(name string, v float32) error {
	f := float64(v)
	if math.IsNaN(f) || f < 0 || f > 1 {
		return invalid("%s %v is not within 0..1", name, v)
	}
	return nil
}

// checkVerdict checks a human verdict: OK or NG, a defect type for NG,
// bounded note, valid decided_at. name prefixes the field names in errors.
func checkVerdict(name string, v *ifcv1.Verdict) error {
	if v == nil {
		return invalid("%s is required", name)
	}
	switch v.GetResult() {
	case ifcv1.VerdictResult_VERDICT_RESULT_OK, ifcv1.VerdictResult_VERDICT_RESULT_NG:
	default:
		return invalid("%s result %v is not OK or NG", name, v.GetResult())
	}
	if err := checkText(name+".defect_type", v.GetDefectType(),
		v.GetResult() == ifcv1.VerdictResult_VERDICT_RESULT_NG, MaxFieldLen); err != nil {
		return err
	}
	if err := checkText(name+".note", v.GetNote(), false, MaxNoteLen); err != nil {
		return err
	}
	return checkTime(name+".decided_at", v.GetDecidedAt(), false)
}

// validate checks rec and images without touching the store.
func (q *Queue) validate(rec *ifcv1.InspectionRecord, images [][]byte) (*validated, error) {
	if rec == nil {
		return nil, invalid("nil record")
	}
	id, err := parseID(rec.GetRecordId())
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name     string
		v        string
		required bool
		max      int
	}{
		{"device_id", rec.GetDeviceId(), true, MaxFieldLen},
		{"line", rec.GetLine(), false, MaxFieldLen},
		{"product_code", rec.GetProductCode(), true, MaxFieldLen},
		{"lot", rec.GetLot(), false, MaxFieldLen},
		{"serial", rec.GetSerial(), false, MaxFieldLen},
		{"inspector", rec.GetInspector(), true, MaxFieldLen},
		{"pipeline_id", rec.GetPipelineId(), false, MaxFieldLen},
		{"model_version", rec.GetModelVersion(), false, MaxFieldLen},
	} {
		if err := checkText(f.name, f.v, f.required, f.max); err != nil {
			return nil, err
		}
	}
	if q.opts.DeviceID != "" && rec.GetDeviceId() != q.opts.DeviceID {
		return nil, invalid("device_id %q is not this device (%q)", rec.GetDeviceId(), q.opts.DeviceID)
	}
	if err := checkTime("captured_at", rec.GetCapturedAt(), true); err != nil {
		return nil, err
	}
	if err := checkTime("created_at", rec.GetCreatedAt(), false); err != nil {
		return nil, err
	}
	if rec.GetMasterVersion() < 0 || rec.GetPipelineVersion() < 0 {
		return nil, invalid("negative master_version or pipeline_version")
	}

	if err := checkVerdict("verdict", rec.GetVerdict()); err != nil {
		return nil, err
	}

	if p := rec.GetPrefilter(); p != nil {
		if err := finite01("prefilter.score", p.GetScore()); err != nil {
			return nil, err
		}
		if err := finite01("prefilter.threshold", p.GetThreshold()); err != nil {
			return nil, err
		}
		for _, f := range []struct{ name, v string }{
			{"prefilter.label", p.GetLabel()},
			{"prefilter.model_name", p.GetModelName()},
			{"prefilter.model_version", p.GetModelVersion()},
		} {
			if err := checkText(f.name, f.v, false, MaxFieldLen); err != nil {
				return nil, err
			}
		}
	}

	refs := rec.GetImages()
	switch {
	case len(refs) == 0:
		return nil, invalid("record has no images")
	case len(refs) > q.opts.MaxImages:
		return nil, invalid("record has %d images, limit %d", len(refs), q.opts.MaxImages)
	case len(refs) != len(images):
		return nil, invalid("record lists %d images but %d were given", len(refs), len(images))
	}
	out := &validated{id: id, shas: make([][32]byte, len(refs)), images: images}
	seen := make(map[[32]byte]bool, len(refs))
	for i, ref := range refs {
		img := images[i]
		switch {
		case len(img) == 0:
			return nil, invalid("image %d is empty", i)
		case int64(len(img)) > q.opts.MaxImageBytes:
			return nil, invalid("image %d is %d bytes, limit %d", i, len(img), q.opts.MaxImageBytes)
		case ref.GetSize() != int64(len(img)):
			return nil, invalid("image %d: size %d in record, %d bytes given", i, ref.GetSize(), len(img))
		case ref.GetWidth() < 0 || ref.GetHeight() < 0:
			return nil, invalid("image %d: negative width or height", i)
		}
		if err := checkText(fmt.Sprintf("image %d content_type", i), ref.GetContentType(), true, MaxFieldLen); err != nil {
			return nil, err
		}
		want, err := hex.DecodeString(ref.GetSha256())
		if err != nil || len(want) != sha256.Size || hex.EncodeToString(want) != ref.GetSha256() {
			return nil, invalid("image %d: sha256 %q is not 64 lowercase hex digits", i, ref.GetSha256())
		}
		got := sha256.Sum256(img)
		if string(got[:]) != string(want) {
			return nil, invalid("image %d: sha256 mismatch: record says %s, bytes hash to %x", i, ref.GetSha256(), got)
		}
		if seen[got] {
			return nil, invalid("image %d: same bytes listed twice", i)
		}
		seen[got] = true
		out.shas[i] = got
		out.imageBytes += int64(len(img))
	}

	out.rec = proto.CloneOf(rec)
	if out.rec.GetCreatedAt() == nil {
		out.rec.CreatedAt = timestamppb.New(q.now())
		out.createdSet = true
	}
	out.data, err = proto.MarshalOptions{Deterministic: true}.Marshal(out.rec)
	if err != nil {
		return nil, fmt.Errorf("encode record %s: %w", rec.GetRecordId(), err)
	}
	return out, nil
}

// Save stores rec and its image bytes (images[i] belongs to rec.Images[i])
// in one fsynced transaction and adds the record to the outbox. When it
// returns nil the record is durable. Saving an identical record again is a
// no-op; a different record under the same record_id fails with ErrConflict.
// Invalid input fails with ErrInvalid, a full disk with ErrDiskFull; in
// every failure nothing is changed. Save does not modify rec; an empty
// created_at is filled in from the clock in the stored copy. The image
// slices must not be modified until Save returns; they are not retained.
func (q *Queue) Save(ctx context.Context, rec *ifcv1.InspectionRecord, images [][]byte) error {
	v, err := q.validate(rec, images)
	if err != nil {
		return fmt.Errorf("save record: %w", err)
	}
	var (
		duplicate bool
		evicted   []evictedRecord
		c         *counters
	)
	err = q.update(ctx, func(tx *bolt.Tx) error {
		evicted = evicted[:0]
		records := tx.Bucket(bucketRecords)
		if old := records.Get(v.id[:]); old != nil {
			stored := &ifcv1.InspectionRecord{}
			if err := proto.Unmarshal(old, stored); err != nil {
				return fmt.Errorf("%w: decode stored record: %v", ErrCorrupt, err)
			}
			cand := v.rec
			if v.createdSet {
				cand = proto.CloneOf(v.rec)
				cand.CreatedAt = stored.GetCreatedAt()
			}
			if !proto.Equal(stored, cand) {
				return fmt.Errorf("%w: record_id %s is already stored with different content", ErrConflict, v.rec.GetRecordId())
			}
			duplicate = true
			return nil
		}
		if q.opts.RequireKnownProduct && tx.Bucket(bucketMasters).Get([]byte(v.rec.GetProductCode())) == nil {
			return invalid("unknown product %q: not in the master cache", v.rec.GetProductCode())
		}

		var err error
		if c, err = getCounters(tx); err != nil {
			return err
		}
		cost := RecordOverheadBytes + v.imageBytes
		if err := q.checkBudget(c, cost); err != nil {
			return err
		}
		if soft := q.opts.SoftLimitBytes; soft > 0 && c.used+cost > soft {
			if evicted, err = evict(tx, c, c.used+cost-soft); err != nil {
				return err
			}
		}
		return q.put(tx, c, v)
	})
	if err != nil {
		if errors.Is(err, ErrDiskFull) {
			q.log.Warn("capture refused: disk budget exhausted", "record_id", rec.GetRecordId(), "err", err)
		}
		return fmt.Errorf("save record %s: %w", rec.GetRecordId(), err)
	}
	for _, e := range evicted {
		q.log.Info("evicted synced OK images", "record_id", e.id, "bytes", e.bytes)
	}
	if duplicate {
		q.log.Debug("record already saved", "record_id", v.rec.GetRecordId())
		return nil
	}
	q.log.Debug("record saved", "record_id", v.rec.GetRecordId(),
		"result", v.rec.GetVerdict().GetResult().String(), "image_bytes", v.imageBytes, "budget_bytes", c.used)
	return nil
}

// checkBudget refuses a capture of cost budget bytes if it would cross the
// hard limit even after evicting every evictable image.
func (q *Queue) checkBudget(c *counters, cost int64) error {
	hard := q.opts.HardLimitBytes
	if hard == 0 || c.used-c.evictableBytes+cost <= hard {
		return nil
	}
	return &DiskFullError{
		Unsynced:       c.queued,
		UsedBytes:      c.used,
		NeededBytes:    cost,
		EvictableBytes: c.evictableBytes,
		HardLimitBytes: hard,
	}
}

// put writes a validated new record and its indexes, and updates c.
func (q *Queue) put(tx *bolt.Tx, c *counters, v *validated) error {
	captured := v.rec.GetCapturedAt().AsTime()
	result := v.rec.GetVerdict().GetResult()
	st := recordState{imageBytes: v.imageBytes, uploadBytes: v.imageBytes + int64(len(v.data))}

	if err := tx.Bucket(bucketRecords).Put(v.id[:], v.data); err != nil {
		return fmt.Errorf("put record: %w", err)
	}
	if err := tx.Bucket(bucketState).Put(v.id[:], st.encode()); err != nil {
		return fmt.Errorf("put state: %w", err)
	}
	imgs := tx.Bucket(bucketImages)
	for i, sha := range v.shas {
		if err := imgs.Put(imageKey(sha, v.id), v.images[i]); err != nil {
			return fmt.Errorf("put image %d: %w", i, err)
		}
	}
	if err := tx.Bucket(bucketOutbox).Put(outboxKey(result, captured, v.id), encodeInt(st.uploadBytes)); err != nil {
		return fmt.Errorf("put outbox entry: %w", err)
	}
	if err := tx.Bucket(bucketHistory).Put(timeKey(captured, v.id), nil); err != nil {
		return fmt.Errorf("put history entry: %w", err)
	}
	c.records++
	c.used += RecordOverheadBytes + v.imageBytes
	c.queued++
	c.queuedBytes += st.uploadBytes
	return putCounters(tx, c)
}

// evictedRecord names a record whose images were evicted, for logging.
type evictedRecord struct {
	id    string
	bytes int64
}

// evict removes images of synced OK records, oldest captured first, until at
// least need budget bytes are freed or no candidate is left.
func evict(tx *bolt.Tx, c *counters, need int64) ([]evictedRecord, error) {
	type cand struct {
		key   []byte
		bytes int64
	}
	var cands []cand
	var freed int64
	cur := tx.Bucket(bucketEvictable).Cursor()
	for k, val := cur.First(); k != nil && freed < need; k, val = cur.Next() {
		n := decodeInt(val)
		cands = append(cands, cand{key: append([]byte(nil), k...), bytes: n})
		freed += n
	}
	records, states, imgs := tx.Bucket(bucketRecords), tx.Bucket(bucketState), tx.Bucket(bucketImages)
	out := make([]evictedRecord, 0, len(cands))
	for _, cd := range cands {
		id, err := uuid.FromBytes(cd.key[8:])
		if err != nil {
			return nil, fmt.Errorf("%w: bad evictable key: %v", ErrCorrupt, err)
		}
		rec, st, err := loadRecord(records, states, id)
		if err != nil {
			return nil, err
		}
		for _, ref := range rec.GetImages() {
			sha, err := hex.DecodeString(ref.GetSha256())
			if err != nil || len(sha) != sha256.Size {
				return nil, fmt.Errorf("%w: record %s has bad image sha256", ErrCorrupt, id)
			}
			if err := imgs.Delete(imageKey([32]byte(sha), id)); err != nil {
				return nil, fmt.Errorf("evict image of %s: %w", id, err)
			}
		}
		st.evicted = true
		if err := states.Put(id[:], st.encode()); err != nil {
			return nil, fmt.Errorf("evict %s: %w", id, err)
		}
		if err := tx.Bucket(bucketEvictable).Delete(cd.key); err != nil {
			return nil, fmt.Errorf("evict %s: %w", id, err)
		}
		c.used -= st.imageBytes
		c.evictableBytes -= st.imageBytes
		c.evicted++
		out = append(out, evictedRecord{id: id.String(), bytes: st.imageBytes})
	}
	return out, nil
}

// loadRecord reads a record and its state; ErrNotFound if absent.
func loadRecord(records, states *bolt.Bucket, id uuid.UUID) (*ifcv1.InspectionRecord, recordState, error) {
	data := records.Get(id[:])
	if data == nil {
		return nil, recordState{}, fmt.Errorf("record %s: %w", id, ErrNotFound)
	}
	rec := &ifcv1.InspectionRecord{}
	if err := proto.Unmarshal(data, rec); err != nil {
		return nil, recordState{}, fmt.Errorf("%w: decode record %s: %v", ErrCorrupt, id, err)
	}
	st, err := decodeState(states.Get(id[:]))
	if err != nil {
		return nil, recordState{}, fmt.Errorf("record %s: %w", id, err)
	}
	return rec, st, nil
}

// CanCapture reports whether a capture with about imageBytes of images
// would be accepted by the disk budget (evicting synced OK images if
// needed). It writes nothing; call it before the inspector works on a part.
// The answer is advisory: Save makes the final decision atomically.
func (q *Queue) CanCapture(ctx context.Context, imageBytes int64) error {
	if imageBytes < 0 {
		return fmt.Errorf("can capture: %w", invalid("negative image size"))
	}
	err := q.view(ctx, func(tx *bolt.Tx) error {
		c, err := getCounters(tx)
		if err != nil {
			return err
		}
		return q.checkBudget(c, RecordOverheadBytes+imageBytes)
	})
	if err != nil {
		return fmt.Errorf("can capture: %w", err)
	}
	return nil
}
