package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/edge/inspect"
	"github.com/imageflowcanvas/ifc/edge/prefilter"
	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/device"
	"github.com/imageflowcanvas/ifc/sync/sender"
)

// Version is the agent version reported at enrollment and in heartbeats;
// the command sets it at build time.
var Version = "dev"

// enrollTimeout bounds one enrollment call.
const enrollTimeout = 30 * time.Second

// loadCredentials reads the credentials file; ok is false when there is none.
func loadCredentials(path string) (device.Credentials, bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return device.Credentials{}, false, nil
	}
	c, err := device.Load(path)
	if err != nil {
		return device.Credentials{}, false, fmt.Errorf("device credentials (credentials_file): %w", err)
	}
	return c, true, nil
}

// syncer owns the agent's link to the cloud: the credentials, enrollment
// (at start with enrollment_token, or on demand from the local API) and the
// sender. It never blocks capture or verdicts: those only touch the queue,
// which the sender drains on its own goroutine.
type syncer struct {
	cfg    Config
	log    *slog.Logger
	q      *queue.Queue
	models sender.Models
	notify func()

	enrollMu sync.Mutex    // one enrollment at a time
	enrolled chan struct{} // signalled when credentials arrive
	wake     chan struct{} // SyncNow before the sender runs

	mu          sync.Mutex
	creds       *device.Credentials // nil until enrolled
	snd         *sender.Sender      // nil until the sender runs
	tokenSpent  bool                // the configured token was refused for good
	lastAttempt time.Time
	lastErr     string
	lastErrAt   time.Time
	nextAttempt time.Time
}

func newSyncer(cfg Config, q *queue.Queue, models sender.Models, creds *device.Credentials, notify func(), log *slog.Logger) *syncer {
	return &syncer{
		cfg: cfg, q: q, models: models, creds: creds, notify: notify,
		log:      log.With("component", "sync"),
		enrolled: make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
	}
}

// Run waits for credentials (enrolling with enrollment_token when set,
// retrying with backoff), then runs the sender until ctx ends. A sync
// failure is logged and shown in the status; it never stops the agent,
// which keeps inspecting offline.
func (s *syncer) Run(ctx context.Context) error {
	if err := s.run(ctx); err != nil {
		s.log.Error("sync stopped; the agent keeps working offline", "err", err)
		s.mu.Lock()
		s.lastErr, s.lastErrAt = err.Error(), time.Now()
		s.mu.Unlock()
		s.notify()
	}
	return nil
}

func (s *syncer) run(ctx context.Context) error {
	creds, err := s.awaitCredentials(ctx)
	if err != nil {
		return nil // ctx ended before enrollment
	}
	target := creds.CloudURL
	if target == "" {
		target = s.cfg.CloudAddr
	}
	conn, err := sender.Dial(target) // non-blocking: connects in the background
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	defer conn.Close()
	snd, err := sender.New(sender.Options{
		Client:               ifcv1.NewSyncServiceClient(conn),
		Conn:                 conn,
		Credentials:          creds,
		Queue:                senderQueue{s.q},
		Models:               s.models,
		ModelDir:             s.cfg.ModelsPath(),
		ChunkBytes:           s.cfg.SyncChunkBytes,
		BandwidthBytesPerSec: s.cfg.SyncBandwidthBytesPerSec,
		BackoffMin:           s.cfg.SyncBackoffMin,
		BackoffMax:           s.cfg.SyncBackoffMax,
		PullInterval:         s.cfg.SyncPullInterval,
		IdleInterval:         s.cfg.SyncIdleInterval,
		OnChange:             s.notify,
		AgentVersion:         Version,
		Logger:               s.log,
	})
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	s.mu.Lock()
	s.snd = snd
	s.mu.Unlock()
	s.notify()
	s.log.Info("sync started", "cloud_addr", target, "device_id", creds.DeviceID, "line", creds.Line)
	return snd.Run(ctx)
}

// awaitCredentials returns the credentials once present: loaded at start,
// enrolled here with the configured token, or enrolled through the API.
func (s *syncer) awaitCredentials(ctx context.Context) (device.Credentials, error) {
	b := sender.NewBackoff(s.cfg.SyncBackoffMin, s.cfg.SyncBackoffMax, nil)
	for {
		s.mu.Lock()
		creds, spent := s.creds, s.tokenSpent
		s.mu.Unlock()
		if creds != nil {
			return *creds, nil
		}
		var wait <-chan time.Time
		if s.cfg.EnrollmentToken != "" && !spent {
			_, err := s.enroll(ctx, "", s.cfg.EnrollmentToken)
			switch {
			case err == nil || errors.Is(err, inspect.ErrAlreadyEnrolled):
				continue
			case ctx.Err() != nil:
				return device.Credentials{}, ctx.Err()
			case terminal(err):
				s.log.Error("enrollment token refused; enroll from the app or set a new enrollment_token", "err", err)
				s.mu.Lock()
				s.tokenSpent = true
				s.mu.Unlock()
			default:
				d := b.Next()
				s.log.Warn("enrollment failed; retrying", "err", err, "backoff", d)
				s.setNext(time.Now().Add(d))
				wait = time.After(d)
			}
		}
		select {
		case <-ctx.Done():
			return device.Credentials{}, ctx.Err()
		case <-s.enrolled:
		case <-s.wake:
		case <-wait:
		}
		s.setNext(time.Time{})
	}
}

func (s *syncer) setNext(t time.Time) {
	s.mu.Lock()
	s.nextAttempt = t
	s.mu.Unlock()
	s.notify()
}

// terminal reports an enrollment refusal that retrying the same token cannot fix.
func terminal(err error) bool {
	switch status.Code(err) { // status.Code unwraps
	case codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument, codes.AlreadyExists, codes.FailedPrecondition:
		return true
	}
	return false
}

// enroll exchanges token for credentials at cloudURL ("" = cloud_addr),
// proposing cfg.DeviceID so records made offline keep a valid device id,
// saves them (0600) and hands them to Run. It is the local API's Enroller.
// Cloud errors wrap inspect.ErrEnrollRefused and the gRPC error.
func (s *syncer) enroll(ctx context.Context, cloudURL, token string) (inspect.Enrollment, error) {
	s.enrollMu.Lock()
	defer s.enrollMu.Unlock()
	s.mu.Lock()
	have := s.creds
	s.lastAttempt = time.Now()
	s.mu.Unlock()
	if have != nil {
		return inspect.Enrollment{}, fmt.Errorf("%w as %s on line %q (delete %s to enroll again)",
			inspect.ErrAlreadyEnrolled, have.DeviceID, have.Line, s.cfg.CredentialsPath())
	}
	if cloudURL == "" {
		cloudURL = s.cfg.CloudAddr
	}
	creds, err := s.exchange(ctx, cloudURL, token)
	if err != nil {
		s.mu.Lock()
		s.lastErr, s.lastErrAt = err.Error(), time.Now()
		s.mu.Unlock()
		s.notify()
		return inspect.Enrollment{}, err
	}
	if err := device.Save(s.cfg.CredentialsPath(), creds); err != nil {
		return inspect.Enrollment{}, fmt.Errorf("save device credentials: %w", err)
	}
	s.mu.Lock()
	s.creds = &creds
	s.lastErr, s.lastErrAt = "", time.Time{}
	s.mu.Unlock()
	select {
	case s.enrolled <- struct{}{}:
	default:
	}
	s.notify()
	s.log.Info("device enrolled", "device_id", creds.DeviceID, "line", creds.Line, "cloud_addr", cloudURL,
		"credentials_file", s.cfg.CredentialsPath())
	return inspect.Enrollment{DeviceID: creds.DeviceID, Line: creds.Line}, nil
}

// exchange runs the Enroll call on its own short-lived connection.
func (s *syncer) exchange(ctx context.Context, cloudURL, token string) (device.Credentials, error) {
	conn, err := sender.Dial(cloudURL)
	if err != nil {
		return device.Credentials{}, fmt.Errorf("%w: %w", inspect.ErrEnrollRefused, err)
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, enrollTimeout)
	defer cancel()
	host, _ := os.Hostname()
	creds, err := sender.Enroll(cctx, ifcv1.NewSyncServiceClient(conn), token, s.cfg.DeviceID, host, Version, cloudURL)
	if err != nil {
		return device.Credentials{}, fmt.Errorf("%w: %w", inspect.ErrEnrollRefused, err)
	}
	return creds, nil
}

// SyncState reports the sender's state, or the enrollment state before it runs.
func (s *syncer) SyncState() inspect.SyncState {
	s.mu.Lock()
	snd, creds := s.snd, s.creds
	out := inspect.SyncState{
		Enrolled: creds != nil, CloudAddr: s.cfg.CloudAddr, LastAttempt: s.lastAttempt,
		LastError: s.lastErr, LastErrorAt: s.lastErrAt, NextAttempt: s.nextAttempt,
	}
	s.mu.Unlock()
	if creds != nil && creds.CloudURL != "" {
		out.CloudAddr = creds.CloudURL
	}
	if snd == nil {
		if creds == nil && out.LastError == "" {
			out.LastError = "not enrolled: enroll this device from the inspector app or set enrollment_token"
		}
		if s.models != nil {
			_, out.ModelVersion = s.models.Current()
		}
		return out
	}
	st := snd.State()
	// The sender refreshes its backlog per round; during an outage rounds
	// stop, so the queue itself is the live count.
	queued := st.QueuedBytes
	if stats, err := s.q.Stats(context.Background()); err == nil {
		queued = stats.QueuedBytes
	}
	return inspect.SyncState{
		Enrolled: st.Enrolled, Connected: st.Connected, Revoked: st.Revoked, CloudAddr: out.CloudAddr,
		QueuedBytes: queued, LastAttempt: st.LastAttempt, LastSuccess: st.LastSuccess,
		LastError: st.LastError, LastErrorAt: st.LastErrorAt, NextAttempt: st.NextAttempt,
		SentRecords: st.SentRecords, SentBytes: st.SentBytes, ResentBytes: st.ResentBytes, ModelVersion: st.ModelVersion,
	}
}

// SyncNow asks for an attempt now: wakes the sender, or the enrollment retry.
func (s *syncer) SyncNow() {
	s.mu.Lock()
	snd := s.snd
	s.mu.Unlock()
	if snd != nil {
		snd.SyncNow()
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// senderQueue adapts the bbolt queue to sender.Queue.
type senderQueue struct{ *queue.Queue }

// Pending lists outbox records NG first, then oldest captured first.
func (a senderQueue) Pending(ctx context.Context, limit int) ([]sender.Pending, error) {
	items, err := a.Queue.Pending(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]sender.Pending, len(items))
	for i, it := range items {
		out[i] = sender.Pending{RecordID: it.RecordID, Result: it.Result, CapturedAt: it.CapturedAt, Bytes: it.Bytes}
	}
	return out, nil
}

// Backlog summarises the outbox from the queue's counters.
// PutMaster caches a pulled master; the cloud's order wins (queue.ReplaceMaster).
func (a senderQueue) PutMaster(ctx context.Context, m *ifcv1.InspectionMaster) error {
	return a.Queue.ReplaceMaster(ctx, m)
}

func (a senderQueue) Backlog(ctx context.Context) (sender.Backlog, error) {
	st, err := a.Stats(ctx)
	if err != nil {
		return sender.Backlog{}, err
	}
	return sender.Backlog{Queued: st.Queued, QueuedBytes: st.QueuedBytes, Oldest: st.Oldest}, nil
}

// filterModels adapts the pre-filter to sender.Models.
type filterModels struct {
	pf     *prefilter.Filter
	notify func()
}

// Current is the name and version of the bundle in use.
func (m filterModels) Current() (name, version string) {
	md := m.pf.Model()
	return md.Name, md.Version
}

// Install verifies the bundle in dir (sha256 + golden check, in
// prefilter.Reload) and swaps it in; on failure the previous model stays.
func (m filterModels) Install(dir string) error {
	_, err := m.pf.Reload(dir)
	m.notify()
	return err
}
