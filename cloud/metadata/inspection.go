package metadata

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Errors of the enrollment and sync contract; callers branch on them.
var (
	// ErrTokenUsed is returned when an enrollment token was already redeemed.
	ErrTokenUsed = errors.New("enrollment token already used")
	// ErrTokenExpired is returned when an enrollment token is past its expiry.
	ErrTokenExpired = errors.New("enrollment token expired")
	// ErrRevoked is returned when a device has been revoked.
	ErrRevoked = errors.New("device revoked")
	// ErrUnknownProduct is returned when a record names a product with no master.
	ErrUnknownProduct = errors.New("unknown product")
	// ErrMissingImage is returned when a record names an image not uploaded by its device.
	ErrMissingImage = errors.New("image not uploaded")
)

// EnrollmentToken lets one edge device enroll for a line, once. Only the
// sha256 of the token is stored.
type EnrollmentToken struct {
	TokenHash string // hex sha256 of the token text
	Line      string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until redeemed
	DeviceID  string    // the device it enrolled; empty until redeemed
	RevokedAt time.Time // zero unless revoked before use
}

// EnrollmentTokenIDLen is the length of an enrollment token's ID.
const EnrollmentTokenIDLen = 12

// ID is the token's stable, non-secret identifier: the first
// EnrollmentTokenIDLen hex digits of its hash. It names the token in
// lists and revocation and cannot be used to enroll.
func (t EnrollmentToken) ID() string {
	if len(t.TokenHash) < EnrollmentTokenIDLen {
		return t.TokenHash
	}
	return t.TokenHash[:EnrollmentTokenIDLen]
}

// Device is one enrolled edge box.
type Device struct {
	DeviceID     string
	Name         string
	Line         string
	SecretHash   string // hex sha256 of the device secret
	EnrolledAt   time.Time
	RevokedAt    time.Time // zero while active
	LastSeen     time.Time // zero until the first authenticated call
	Queued       int64     // last reported queue depth
	QueuedBytes  int64
	OldestQueued time.Time
	AgentVersion string
	ModelVersion string
}

// Revoked reports whether the device has been revoked.
func (d Device) Revoked() bool { return !d.RevokedAt.IsZero() }

// DeviceStatus is what a heartbeat reports.
type DeviceStatus struct {
	Queued       int64
	QueuedBytes  int64
	OldestQueued time.Time
	AgentVersion string
	ModelVersion string
	At           time.Time
}

// Upload is one image a device has fully uploaded and that was stored as a File.
type Upload struct {
	DeviceID  string
	SHA256    string
	FileID    string
	CreatedAt time.Time
}

// RecordImage links a record to the stored file of one of its images.
type RecordImage struct {
	SHA256 string
	FileID string
}

// Record is an inspection record as the cloud holds it: the edge's
// immutable record, where its images are, what the cloud pipeline made of
// it and the override history.
type Record struct {
	Record      *ifcv1.InspectionRecord
	Images      []RecordImage // in Record.Images order
	CommittedAt time.Time
	// ExecutionID is the cloud pipeline run on the first image ("" until submitted).
	ExecutionID string
	// PipelineState is "none" (no pipeline configured), "pending", "submitted" or "failed".
	PipelineState string
	PipelineError string
	Overrides     []*ifcv1.VerdictOverride // oldest first
	// Effective is the verdict in force after the reconciliation rule (see EffectiveVerdict).
	Effective *ifcv1.Verdict
	// AcknowledgedAt and AcknowledgedBy are set by the first AcknowledgeRecords; zero until then.
	AcknowledgedAt time.Time
	AcknowledgedBy string
}

// Pipeline states of a record.
const (
	PipelineNone      = "none"
	PipelinePending   = "pending"
	PipelineSubmitted = "submitted"
	PipelineFailed    = "failed"
)

// RecordFilter selects records for search. Zero fields match all.
type RecordFilter struct {
	Line        string
	DeviceID    string
	ProductCode string
	Lot         string
	Verdict     ifcv1.VerdictResult // matches the effective verdict
	DefectType  string              // matches the effective verdict's defect type
	// Shift names a shift of Shifts: records captured during it, any day.
	Shift string
	// Shifts interprets Shift and, in RecordStats, groups by shift and
	// places the trend's buckets.
	Shifts       ShiftPlan
	Acknowledged *bool     // nil: either; true: acknowledged; false: not yet
	Since        time.Time // captured_at >= Since
	Until        time.Time // captured_at < Until
	Limit        int       // default 50, max 500
	PageToken    string
}

// UnknownRecordsError names the records AcknowledgeRecords did not find;
// it matches ErrNotFound.
type UnknownRecordsError struct {
	IDs []string
}

func (e *UnknownRecordsError) Error() string {
	return fmt.Sprintf("unknown records %s", strings.Join(e.IDs, ", "))
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *UnknownRecordsError) Is(target error) bool { return target == ErrNotFound }

// Rollout marks, for one line, which pre-filter model and threshold the
// edges of that line use for a product, overriding the master's own.
type Rollout struct {
	Line         string
	ProductCode  string
	ModelName    string
	ModelVersion string
	Threshold    float32
	CreatedBy    string
	CreatedAt    time.Time
}

// MasterChanges is one page of master changes for a line.
type MasterChanges struct {
	Masters    []*ifcv1.InspectionMaster // rollouts of the line applied; Version = change sequence
	NextCursor int64
	More       bool
}

// InspectionStore keeps devices, enrollment, synced records, overrides and
// masters. It is part of Store.
type InspectionStore interface {
	CreateEnrollmentToken(ctx context.Context, t EnrollmentToken) error
	// RedeemEnrollmentToken atomically marks the token used and creates d
	// (with d.Line set from the token); a revoked device of the same id is
	// enrolled again (new secret, line and time; no longer revoked), an
	// active one is ErrConflict. ErrNotFound, ErrTokenUsed or
	// ErrTokenExpired (at now) leave both unchanged; a revoked token is
	// ErrNotFound, like an unknown one.
	RedeemEnrollmentToken(ctx context.Context, tokenHash string, d Device, now time.Time) (Device, error)
	// ListEnrollmentTokens returns every token, newest created first.
	ListEnrollmentTokens(ctx context.Context) ([]EnrollmentToken, error)
	// RevokeEnrollmentToken sets RevokedAt of the unused token with that
	// ID (idempotent: a second call keeps the first time) and returns the
	// token. An unknown ID is ErrNotFound; a used token is ErrTokenUsed.
	RevokeEnrollmentToken(ctx context.Context, id string, at time.Time) (EnrollmentToken, error)
	GetDevice(ctx context.Context, deviceID string) (Device, error)
	ListDevices(ctx context.Context) ([]Device, error)
	// RevokeDevice sets RevokedAt (idempotent: a second call keeps the first time).
	RevokeDevice(ctx context.Context, deviceID string, at time.Time) error
	// TouchDevice records a heartbeat (or just LastSeen when s has only At).
	TouchDevice(ctx context.Context, deviceID string, s DeviceStatus) error

	// PutUpload records a completed, verified upload (idempotent by device+sha256).
	PutUpload(ctx context.Context, u Upload) error
	// GetUpload returns ErrNotFound when the device has not completed that image.
	GetUpload(ctx context.Context, deviceID, sha256 string) (Upload, error)

	// CommitRecord stores r in one transaction with its image links. It
	// returns created=false (and changes nothing) when the same record is
	// already stored; ErrConflict when a different record has that id;
	// ErrMissingImage when an image has no Upload of r's device;
	// ErrUnknownProduct when no master exists for the product.
	// PipelineState is set to pending when the product's master names a
	// pipeline, none otherwise.
	CommitRecord(ctx context.Context, r *ifcv1.InspectionRecord, committedAt time.Time) (created bool, err error)
	// GetRecord returns one record with images, overrides and effective verdict.
	GetRecord(ctx context.Context, recordID string) (Record, error)
	// SearchRecords returns records newest captured first and a next page token.
	SearchRecords(ctx context.Context, f RecordFilter) ([]Record, string, error)
	// RecordStats counts the records f selects by effective verdict: in
	// total, by line, product and shift, per trend bucket, and the NG
	// records by effective defect type. A shift name unknown to f.Shifts,
	// an invalid plan or a trend of more than MaxTrendPoints buckets is
	// ErrInvalidArgument.
	RecordStats(ctx context.Context, f StatsFilter) (Stats, error)
	// AcknowledgeRecords marks the records acknowledged by user at at, in
	// one transaction: records already acknowledged keep their first
	// time and user. It returns how many were newly acknowledged. When any
	// id is unknown nothing changes and the error is an
	// *UnknownRecordsError naming every unknown id.
	AcknowledgeRecords(ctx context.Context, ids []string, user string, at time.Time) (int, error)
	// PendingPipelineRecords returns up to limit records whose PipelineState is pending, oldest committed first.
	PendingPipelineRecords(ctx context.Context, limit int) ([]Record, error)
	// SetRecordPipeline sets the pipeline state (and execution id / error) of a record.
	SetRecordPipeline(ctx context.Context, recordID, state, executionID, errMsg string) error

	// AddOverride appends an override event (idempotent by override_id:
	// created=false when the same event exists; ErrConflict when a different
	// one has that id; ErrNotFound when the record is unknown).
	AddOverride(ctx context.Context, o *ifcv1.VerdictOverride) (created bool, err error)

	// PutMaster stores a new master version; the stored Version is the next
	// change sequence number (the given Version is ignored) and UpdatedAt is set.
	PutMaster(ctx context.Context, m *ifcv1.InspectionMaster) (*ifcv1.InspectionMaster, error)
	GetMaster(ctx context.Context, productCode string) (*ifcv1.InspectionMaster, error)
	ListMasters(ctx context.Context) ([]*ifcv1.InspectionMaster, error)
	// PutRollout sets the line's model/threshold for a product; it is a
	// change with its own sequence number, so edges of the line pull the
	// master again. ErrNotFound when the product has no master.
	PutRollout(ctx context.Context, r Rollout) error
	// MasterChangesSince returns the masters changed (by PutMaster or a
	// rollout of line) with sequence > cursor, in sequence order, at most limit.
	MasterChangesSince(ctx context.Context, line string, cursor int64, limit int) (MasterChanges, error)
}

// EffectiveVerdict applies the reconciliation rule to a record's verdict
// and its overrides (oldest first): a cloud override outranks every edge
// override, whatever their times, because review in the cloud is the
// later, informed decision; within one origin the latest `at` wins, ties
// broken by override_id. With no override the record's own verdict
// stands. Every override stays in the history either way.
func EffectiveVerdict(r *ifcv1.InspectionRecord, overrides []*ifcv1.VerdictOverride) *ifcv1.Verdict {
	var best *ifcv1.VerdictOverride
	rank := func(o *ifcv1.VerdictOverride) int {
		if o.GetOrigin() == ifcv1.VerdictOrigin_VERDICT_ORIGIN_CLOUD {
			return 1
		}
		return 0
	}
	later := func(a, b *ifcv1.VerdictOverride) bool { // a beats b
		if rank(a) != rank(b) {
			return rank(a) > rank(b)
		}
		ta, tb := a.GetAt().AsTime(), b.GetAt().AsTime()
		if !ta.Equal(tb) {
			return ta.After(tb)
		}
		return a.GetOverrideId() > b.GetOverrideId()
	}
	for _, o := range overrides {
		if best == nil || later(o, best) {
			best = o
		}
	}
	if best == nil {
		return r.GetVerdict()
	}
	return best.GetVerdict()
}
