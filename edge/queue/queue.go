package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// RecordOverheadBytes is the fixed per-record estimate added to the image
// bytes when accounting the disk budget (see the package doc).
const RecordOverheadBytes = 2 << 10

// Defaults applied by Open to zero Options fields.
const (
	// DefaultMaxImageBytes bounds one image: a full-resolution 4K JPEG is 3–6 MB.
	DefaultMaxImageBytes = 16 << 20
	// DefaultMaxImages bounds the images of one record.
	DefaultMaxImages = 8
	// DefaultLockTimeout bounds the wait for another process's file lock.
	DefaultLockTimeout = time.Second
)

// schemaVersion is the layout version stored in the meta bucket.
const schemaVersion = 1

// Sentinel errors callers branch on.
var (
	// ErrInvalid marks input that failed validation; nothing was changed.
	ErrInvalid = errors.New("invalid input")
	// ErrConflict marks a record_id (or master version) already stored with different content.
	ErrConflict = errors.New("conflict")
	// ErrNotFound marks a record, image or master that is not stored.
	ErrNotFound = errors.New("not found")
	// ErrDiskFull marks a capture refused because the disk budget is exhausted.
	ErrDiskFull = errors.New("storage full")
	// ErrCorrupt marks stored data that fails a consistency or checksum check.
	ErrCorrupt = errors.New("queue corrupt")
	// ErrClosed marks a call on a closed Queue.
	ErrClosed = errors.New("queue closed")
)

// Options configure a Queue. The zero value is usable: no disk budget,
// default bounds, time.Now and slog.Default.
type Options struct {
	// DeviceID is this edge's id; when set, Save refuses records of another device.
	DeviceID string
	// SoftLimitBytes is the budget above which synced OK images are evicted (0 = HardLimitBytes).
	SoftLimitBytes int64
	// HardLimitBytes is the budget above which Save refuses with ErrDiskFull (0 = unlimited).
	HardLimitBytes int64
	// MaxImageBytes bounds one image (0 = DefaultMaxImageBytes).
	MaxImageBytes int64
	// MaxImages bounds the images of one record (0 = DefaultMaxImages).
	MaxImages int
	// RequireKnownProduct makes Save refuse product codes absent from the master cache.
	RequireKnownProduct bool
	// LockTimeout bounds the wait for the file lock held by another process (0 = DefaultLockTimeout).
	LockTimeout time.Duration
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// Logger receives the queue's logs (nil = slog.Default()).
	Logger *slog.Logger

	// noSync disables fsync; only tests set it, to fill large fixtures quickly.
	noSync bool
}

// Queue is the durable edge store. It is safe for concurrent use.
type Queue struct {
	db        *bolt.DB
	path      string
	opts      Options
	now       func() time.Time
	log       *slog.Logger
	closeOnce sync.Once
	closeErr  error
}

// Bucket names; see the package doc for the key layouts.
var (
	bucketRecords   = []byte("records")   // id16 -> InspectionRecord
	bucketState     = []byte("state")     // id16 -> recordState
	bucketImages    = []byte("images")    // sha32+id16 -> image bytes
	bucketOutbox    = []byte("outbox")    // prio1+ts8+id16 -> upload bytes (8)
	bucketHistory   = []byte("history")   // ts8+id16 -> empty
	bucketEvictable = []byte("evictable") // ts8+id16 -> image bytes (8)
	bucketMasters   = []byte("masters")   // product code -> InspectionMaster
	bucketCursors   = []byte("cursors")   // name -> version8 + value
	bucketMeta      = []byte("meta")      // "schema", "counters"

	bucketOverrides       = []byte("overrides")        // override id16 -> VerdictOverride
	bucketRecordOverrides = []byte("record_overrides") // record id16 + ts8 + override id16 -> empty
	bucketOverrideOutbox  = []byte("override_outbox")  // ts8 + override id16 -> empty
	bucketOverrideSynced  = []byte("override_synced")  // override id16 -> synced at (unix ns, 8)

	allBuckets = [][]byte{bucketRecords, bucketState, bucketImages, bucketOutbox,
		bucketHistory, bucketEvictable, bucketMasters, bucketCursors, bucketMeta,
		bucketOverrides, bucketRecordOverrides, bucketOverrideOutbox, bucketOverrideSynced}

	keySchema   = []byte("schema")
	keyCounters = []byte("counters")
)

// Open opens (creating if needed) the queue file at path. It fails if another
// process holds the file for longer than Options.LockTimeout.
func Open(path string, opts Options) (*Queue, error) {
	if path == "" {
		return nil, fmt.Errorf("open queue: %w: empty path", ErrInvalid)
	}
	if opts.SoftLimitBytes < 0 || opts.HardLimitBytes < 0 || opts.MaxImageBytes < 0 || opts.MaxImages < 0 {
		return nil, fmt.Errorf("open queue %s: %w: negative limit in options", path, ErrInvalid)
	}
	if opts.SoftLimitBytes == 0 {
		opts.SoftLimitBytes = opts.HardLimitBytes
	}
	if opts.HardLimitBytes > 0 && opts.SoftLimitBytes > opts.HardLimitBytes {
		return nil, fmt.Errorf("open queue %s: %w: SoftLimitBytes %d above HardLimitBytes %d",
			path, ErrInvalid, opts.SoftLimitBytes, opts.HardLimitBytes)
	}
	if opts.MaxImageBytes == 0 {
		opts.MaxImageBytes = DefaultMaxImageBytes
	}
	if opts.MaxImages == 0 {
		opts.MaxImages = DefaultMaxImages
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "queue", "device_id", opts.DeviceID)

	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      opts.LockTimeout,
		FreelistType: bolt.FreelistMapType, // many large freed image runs; map lookups stay O(1)
		NoSync:       opts.noSync,          // false outside tests: every commit is fsynced
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open queue %s: file is locked by another process after %s: %w", path, opts.LockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keySchema); v != nil {
			if got := decodeInt(v); got != schemaVersion {
				return fmt.Errorf("%w: schema version %d, this build reads %d", ErrCorrupt, got, schemaVersion)
			}
			return nil
		}
		if err := meta.Put(keySchema, encodeInt(schemaVersion)); err != nil {
			return err
		}
		return putCounters(tx, &counters{})
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	q := &Queue{db: db, path: path, opts: opts, now: now, log: logger}
	logger.Info("queue opened", "path", path,
		"soft_limit_bytes", opts.SoftLimitBytes, "hard_limit_bytes", opts.HardLimitBytes)
	return q, nil
}

// Close closes the file; it waits for running transactions. It is idempotent.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		if err := q.db.Close(); err != nil {
			q.closeErr = fmt.Errorf("close queue %s: %w", q.path, err)
		}
	})
	return q.closeErr
}

// Path returns the file path of the queue.
func (q *Queue) Path() string { return q.path }

// view runs fn in a read-only transaction after checking ctx.
func (q *Queue) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return mapClosed(q.db.View(fn))
}

// update runs fn in a read-write, fsynced transaction after checking ctx.
func (q *Queue) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return mapClosed(q.db.Update(fn))
}

func mapClosed(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// WriteTo streams a consistent copy of the whole file to w (a hot backup).
func (q *Queue) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := mapClosed(q.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	}))
	if err != nil {
		return n, fmt.Errorf("backup queue %s: %w", q.path, err)
	}
	return n, nil
}
