package sender

// This file is the contract between the sync sender and its users (the edge
// agent). Keep these names and signatures; the implementation lives beside it.

import (
	"context"
	"time"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Pending is one record waiting in the edge outbox.
type Pending struct {
	RecordID   string
	Result     ifcv1.VerdictResult
	CapturedAt time.Time
	Bytes      int64 // images + encoded record
}

// Backlog summarises what is left to send.
type Backlog struct {
	Queued      int64
	QueuedBytes int64
	Oldest      time.Time // captured_at of the oldest queued record; zero when none
}

// Queue is the edge store the sender drains and fills (edge/queue behind an
// adapter in edge/agent).
type Queue interface {
	// Pending lists outbox records NG first, then oldest captured first.
	Pending(ctx context.Context, limit int) ([]Pending, error)
	Get(ctx context.Context, recordID string) (*ifcv1.InspectionRecord, error)
	Image(ctx context.Context, sha256Hex string) ([]byte, error)
	MarkSynced(ctx context.Context, recordID string, at time.Time) error
	// PendingOverrides lists edge overrides not yet synced, oldest first.
	PendingOverrides(ctx context.Context, limit int) ([]*ifcv1.VerdictOverride, error)
	MarkOverrideSynced(ctx context.Context, overrideID string, at time.Time) error
	Backlog(ctx context.Context) (Backlog, error)
	// PutMaster caches a master pulled from the cloud. Pulls arrive in the
	// cloud's change order, so the pulled master replaces the cached one.
	PutMaster(ctx context.Context, m *ifcv1.InspectionMaster) error
	// Cursor and PutCursor keep downlink cursors and small cached blobs (pipelines) by name.
	Cursor(ctx context.Context, name string) (int64, []byte, error)
	PutCursor(ctx context.Context, name string, version int64, value []byte) error
}

// Models installs pre-filter bundles pulled from the cloud.
type Models interface {
	// Current is the name and version of the bundle in use.
	Current() (name, version string)
	// Install verifies the bundle in dir (manifest sha256 and golden check)
	// and swaps it in atomically; on error the bundle in use stays.
	Install(dir string) error
}

// Clock is the sender's time source; tests inject a manual one.
type Clock interface {
	Now() time.Time
	// After waits for d like time.After.
	After(d time.Duration) <-chan time.Time
}

// State is the sender's status for the inspector API and the desktop app.
type State struct {
	Enrolled     bool      // credentials are present
	Connected    bool      // the last call reached the cloud
	Revoked      bool      // the cloud refused this device as revoked; sync has stopped
	Queued       int64     // records waiting
	QueuedBytes  int64     // bytes waiting
	Oldest       time.Time // oldest waiting record's capture time
	LastAttempt  time.Time
	LastSuccess  time.Time // last call that moved data or confirmed nothing is left
	LastError    string    // "" after a success
	LastErrorAt  time.Time
	NextAttempt  time.Time // when the backoff ends (zero when not backing off)
	SentRecords  int64     // records committed (created or duplicate) by this process
	SentBytes    int64     // image bytes put on the wire
	ResentBytes  int64     // image bytes put on the wire a second time (after a cut)
	ModelVersion string    // pre-filter bundle in use
}
