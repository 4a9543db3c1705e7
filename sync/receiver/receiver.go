// Package receiver is the cloud end of sync: it implements
// ifcv1.SyncService for edge agents (enrollment, resumable image uploads,
// idempotent record and override commits, heartbeats, master and model
// downloads) and runs the cloud pipeline on committed records.
//
// Authentication: every call but Enroll carries "authorization: Device
// <id>.<secret>"; the handlers check it against the stored secret hash on
// every call, and a device can only write data under its own id.
//
// Durability and retry decisions:
//   - Uploads are staged in <StagingDir>/<device_id>/<sha256>.part. Every
//     chunk is checked (offset, size, sha256) before it is appended with a
//     single write, so the staged bytes are always a prefix of what the edge
//     sent correctly; a cut connection keeps them for UploadOffset to resume
//     from. When the last byte arrives the file is fsynced and its sha256
//     compared with the ImageRef; only then is it ingested (files.Service
//     decodes and stores it) and an Upload recorded. A mismatch deletes the
//     staged bytes: the edge uploads again from 0.
//   - Staging is local to one replica. A resume that lands on another
//     replica sees offset 0 and sends the image again; correctness never
//     depends on the staging, only on the end-to-end sha256. Staged files
//     of abandoned uploads are not swept here.
//   - CommitRecord and CommitOverride are idempotent by record_id and
//     override_id (the store decides CREATED / DUPLICATE / conflict), so an
//     edge that lost a reply simply commits again.
//   - The pipeline loop (Run) submits pending records at least once: a
//     record is marked submitted only after the runner accepted it, so a
//     crash in between runs it again. Runner errors wrapping ErrRetryLater
//     leave the record pending for the next round; any other error marks it
//     failed with the message.
package receiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/device"
)

// Defaults for Options.
const (
	DefaultMaxImageBytes    int64 = 64 << 20
	DefaultMaxChunkBytes          = 4 << 20
	DefaultPipelineInterval       = 2 * time.Second
)

// touchEvery throttles LastSeen updates per device.
const touchEvery = 10 * time.Second

// ErrRetryLater marks a Runner error that is temporary (overload,
// unavailable): the record stays pending and is tried again later.
var ErrRetryLater = errors.New("pipeline runner busy, retry later")

// Store is the part of the metadata store the receiver uses.
type Store interface {
	RedeemEnrollmentToken(ctx context.Context, tokenHash string, d metadata.Device, now time.Time) (metadata.Device, error)
	GetDevice(ctx context.Context, deviceID string) (metadata.Device, error)
	TouchDevice(ctx context.Context, deviceID string, s metadata.DeviceStatus) error
	PutUpload(ctx context.Context, u metadata.Upload) error
	GetUpload(ctx context.Context, deviceID, sha256 string) (metadata.Upload, error)
	CommitRecord(ctx context.Context, r *ifcv1.InspectionRecord, committedAt time.Time) (bool, error)
	GetRecord(ctx context.Context, recordID string) (metadata.Record, error)
	PendingPipelineRecords(ctx context.Context, limit int) ([]metadata.Record, error)
	SetRecordPipeline(ctx context.Context, recordID, state, executionID, errMsg string) error
	AddOverride(ctx context.Context, o *ifcv1.VerdictOverride) (bool, error)
	GetMaster(ctx context.Context, productCode string) (*ifcv1.InspectionMaster, error)
	MasterChangesSince(ctx context.Context, line string, cursor int64, limit int) (metadata.MasterChanges, error)
	GetPipeline(ctx context.Context, id string, version int32) (*ifcv1.Pipeline, error)
}

// Images stores verified uploads as Files; *files.Service satisfies it.
type Images interface {
	Ingest(ctx context.Context, r io.Reader, opts files.IngestOptions) (metadata.File, error)
}

// Runner starts a cloud pipeline run on a stored file.
type Runner interface {
	RunPipeline(ctx context.Context, pipelineID string, version int32, fileID, createdBy string) (executionID string, err error)
}

// Options configure a Server; zero fields take the defaults.
type Options struct {
	Store  Store
	Images Images
	// Runner runs pipelines on committed records; nil keeps them pending.
	Runner Runner
	// ModelDirs hold <name>/<version>/ bundle directories, searched in order.
	ModelDirs []string
	// ModelFS holds extra bundles keyed "name@version" (e.g. the embedded pre-filter).
	ModelFS map[string]fs.FS
	// StagingDir holds partial uploads (required).
	StagingDir string
	// MaxImageBytes bounds one image (default 64 MiB).
	MaxImageBytes int64
	// MaxChunkBytes bounds one upload chunk (default 4 MiB).
	MaxChunkBytes int
	// PipelineInterval is how often Run looks for pending records (default 2 s).
	PipelineInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger defaults to slog.Default.
	Logger *slog.Logger
}

// Server implements ifcv1.SyncServiceServer.
type Server struct {
	ifcv1.UnimplementedSyncServiceServer

	opts   Options
	logger *slog.Logger
	wake   chan struct{}

	mu        sync.Mutex
	lastTouch map[string]time.Time // device id → last LastSeen write
	uploading map[string]bool      // device id/sha256 → a stream is active
}

// New validates opts and creates the staging directory. It starts nothing.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("receiver: Store is required")
	case opts.Images == nil:
		return nil, errors.New("receiver: Images is required")
	case opts.StagingDir == "":
		return nil, errors.New("receiver: StagingDir is required")
	case opts.MaxImageBytes < 0 || opts.MaxChunkBytes < 0 || opts.PipelineInterval < 0:
		return nil, errors.New("receiver: MaxImageBytes, MaxChunkBytes and PipelineInterval must not be negative")
	}
	if opts.MaxImageBytes == 0 {
		opts.MaxImageBytes = DefaultMaxImageBytes
	}
	if opts.MaxChunkBytes == 0 {
		opts.MaxChunkBytes = DefaultMaxChunkBytes
	}
	if opts.PipelineInterval == 0 {
		opts.PipelineInterval = DefaultPipelineInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.StagingDir, 0o700); err != nil {
		return nil, fmt.Errorf("receiver: staging dir: %w", err)
	}
	return &Server{
		opts:      opts,
		logger:    opts.Logger.With("component", "sync-receiver"),
		wake:      make(chan struct{}, 1),
		lastTouch: map[string]time.Time{},
		uploading: map[string]bool{},
	}, nil
}

// Desc is the service descriptor to register s under.
func (s *Server) Desc() *grpc.ServiceDesc { return &ifcv1.SyncService_ServiceDesc }

// FlowWindowBytes fixes the HTTP/2 flow-control windows of the server the
// receiver runs on. A fixed window bounds the bytes in flight when a link
// is cut, and so what the edge must send again after the cut (at most the
// partial chunk plus this window; measured in docs/benchmarks.md). gRPC's
// default grows the window with the bandwidth-delay product up to 16 MiB,
// which would let a cut waste megabytes. The cost: one connection moves at
// most 64 KiB per round trip (about 5 Mbit/s at 100 ms RTT, far more on a
// LAN).
const FlowWindowBytes = 64 << 10

// ServerOptions are the settings edge connections need: keepalive (edges
// ping every 10 s over NAT and mobile links) and fixed flow-control windows.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 15 * time.Second, Timeout: 5 * time.Second}),
		grpc.InitialWindowSize(FlowWindowBytes),
		grpc.InitialConnWindowSize(FlowWindowBytes),
	}
}

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

// authenticate checks the device credential of the call. Unknown devices
// and wrong secrets get the same answer; a revoked device is told so, but
// only when it presents the right secret.
func (s *Server) authenticate(ctx context.Context) (metadata.Device, error) {
	md, _ := grpcmd.FromIncomingContext(ctx)
	vals := md.Get(device.MetadataKey)
	if len(vals) != 1 {
		return metadata.Device{}, status.Error(codes.Unauthenticated, `missing device credential: send "authorization: Device <device_id>.<secret>"`)
	}
	id, secret, err := device.ParseHeader(vals[0])
	if err != nil {
		return metadata.Device{}, status.Error(codes.Unauthenticated, err.Error())
	}
	d, err := s.opts.Store.GetDevice(ctx, id)
	if errors.Is(err, metadata.ErrNotFound) || err == nil && !device.HashEqual(secret, d.SecretHash) {
		return metadata.Device{}, status.Error(codes.Unauthenticated, "unknown device or wrong secret")
	}
	if err != nil {
		return metadata.Device{}, s.internal(ctx, "look up device", err, "device_id", id)
	}
	if d.Revoked() {
		return metadata.Device{}, status.Errorf(codes.PermissionDenied, "device %s was revoked at %s; enroll again with a new token",
			id, d.RevokedAt.UTC().Format(time.RFC3339))
	}
	s.touch(ctx, id)
	return d, nil
}

// touch records LastSeen at most once per touchEvery per device.
func (s *Server) touch(ctx context.Context, id string) {
	now := s.now()
	s.mu.Lock()
	last, ok := s.lastTouch[id]
	if ok && now.Sub(last) < touchEvery {
		s.mu.Unlock()
		return
	}
	s.lastTouch[id] = now
	s.mu.Unlock()
	if err := s.opts.Store.TouchDevice(ctx, id, metadata.DeviceStatus{At: now}); err != nil {
		s.logger.WarnContext(ctx, "touch device", "device_id", id, "err", err)
	}
}

// internal logs err and returns a status that does not leak store details;
// a call whose context ended gets that context's status instead.
func (s *Server) internal(ctx context.Context, what string, err error, args ...any) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	s.logger.ErrorContext(ctx, what, append(args, "err", err)...)
	return status.Errorf(codes.Internal, "%s failed; try again later", what)
}
