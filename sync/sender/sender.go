// Package sender is the edge end of sync: one goroutine that drains the
// edge outbox to the cloud and pulls masters, pipelines and pre-filter
// models back.
//
// Durability and retry decisions:
//
//   - The queue is the source of truth. A record leaves the outbox only
//     after CommitRecord answered CREATED or DUPLICATE; a crash at any point
//     before that resends it, and the cloud's idempotency by record_id makes
//     the resend harmless. Nothing is ever deleted here.
//   - Images go first, record last: the cloud never sees a record whose
//     images it does not hold. Each image asks UploadOffset and resumes at the
//     offset the cloud acknowledged, so a cut costs at most the bytes that
//     were in flight. Bytes are checked against the record's sha256 before
//     sending; a mismatch is local corruption and the record is held, never
//     sent. A DataLoss answer for a whole image is retried once from the
//     offset the cloud reports, then the record is held.
//   - Each round takes records in the queue's order (NG first, then oldest)
//     and does not reorder them. Errors are classified: transport and
//     availability errors (and Unauthenticated) end the round and start an
//     exponential backoff with equal jitter on the injected clock, cut short
//     by SyncNow or by the connection turning READY again after it was not;
//     per-record refusals (InvalidArgument, FailedPrecondition,
//     AlreadyExists, NotFound, PermissionDenied, a second DataLoss) hold only
//     that record for the round, so one bad record never blocks the others;
//     PermissionDenied saying "revoked" stops all sending until restart.
//   - A cut loses what was in flight: the chunk being sent plus what the
//     HTTP/2 flow-control windows let through (chunks are atomic, so the
//     chunk in flight is always sent again). The receiver bounds this by
//     fixing its windows (64 KiB windows: at most ChunkBytes + 128 KiB per cut).
//   - Held records stay in the outbox and are tried again next round; the
//     round asks the queue for a page long enough to see past them.
//   - Downlink runs every PullInterval, before the uplink; only a link that
//     is down ends the round, other downlink failures are reported and the
//     records still go. The downlink: masters are cached by version cursor
//     (the cursor is stored after each page, so a cut resumes the pull), the
//     pipelines they name are cached, and the pre-filter model named by the
//     newest master is downloaded into a temporary directory, checked file by
//     file (size and sha256), renamed into place and handed to Models.Install.
//     A failed model version is not tried again before the next pull.
package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/device"
)

// Options configure a Sender; zero durations take the documented defaults.
type Options struct {
	Client               ifcv1.SyncServiceClient // required
	Conn                 *grpc.ClientConn        // optional: watched for READY to cut a backoff short
	Credentials          device.Credentials      // required (already enrolled)
	Queue                Queue                   // required
	Models               Models                  // nil: no model downlink
	ModelDir             string                  // pulled bundles live in <ModelDir>/<name>/<version>; required with Models
	ChunkBytes           int                     // default 256 KiB, 4 KiB..4 MiB
	BandwidthBytesPerSec int64                   // 0 = unlimited; limits image bytes
	BackoffMin           time.Duration           // default 500 ms
	BackoffMax           time.Duration           // default 60 s
	PullInterval         time.Duration           // masters/models downlink; default 30 s
	HeartbeatInterval    time.Duration           // default 30 s
	IdleInterval         time.Duration           // look for new records when idle; default 2 s
	CallTimeout          time.Duration           // per unary call and per chunk of progress; default 30 s
	Clock                Clock                   // nil: the real clock
	Rand                 func() float64          // jitter source in [0,1); nil: math/rand/v2
	OnChange             func()                  // called from the sender's goroutine after State changes; must not block
	AgentVersion         string
	Logger               *slog.Logger
}

// Defaults and limits of Options.
const (
	DefaultChunkBytes = 256 << 10
	MinChunkBytes     = 4 << 10
	MaxChunkBytes     = 4 << 20
	pendingPage       = 100
)

// Sender drains the edge outbox to the cloud; see the package doc.
type Sender struct {
	o       Options
	log     *slog.Logger
	backoff *Backoff
	limiter *rate.Limiter // nil: unlimited
	wake    chan struct{}

	mu    sync.Mutex
	state State

	// Owned by the Run goroutine.
	highest      map[string]int64 // per image sha: highest offset put on the wire
	nextPull     time.Time
	nextBeat     time.Time
	failedModel  string // "name/version" that failed verification or install
	failedModelT time.Time
	roundErr     string // last per-record or downlink error of the current round
	// held delays items the cloud refused (keys "record:<id>",
	// "override:<id>") with their own exponential backoff, so a record
	// that cannot be accepted is not re-sent every round; SyncNow clears it.
	held      map[string]heldItem
	overrides map[string]*ifcv1.VerdictOverride // the page sendOverrides is working on, by id
	retryNow  atomic.Bool                       // set by SyncNow: retry held items at the next round
}

// heldItem is a refused item's retry state.
type heldItem struct {
	tries int
	until time.Time
}

// waiting reports whether a refused item is still in its backoff.
func (s *Sender) waiting(key string) bool {
	h, ok := s.held[key]
	return ok && s.o.Clock.Now().Before(h.until)
}

// refused starts or extends a refused item's backoff (BackoffMin doubling up to BackoffMax).
func (s *Sender) refused(key string) {
	h := s.held[key]
	h.tries++
	d := s.o.BackoffMax
	if h.tries < 30 {
		d = min(s.o.BackoffMin<<h.tries, s.o.BackoffMax)
	}
	h.until = s.o.Clock.Now().Add(d)
	s.held[key] = h
}

// New validates opts and returns a Sender; it starts nothing.
func New(opts Options) (*Sender, error) {
	o := opts
	switch {
	case o.Client == nil:
		return nil, errors.New("sender: Client is required")
	case o.Queue == nil:
		return nil, errors.New("sender: Queue is required")
	case o.Models != nil && o.ModelDir == "":
		return nil, errors.New("sender: ModelDir is required when Models is set")
	case o.BandwidthBytesPerSec < 0:
		return nil, fmt.Errorf("sender: BandwidthBytesPerSec must be >= 0, got %d", o.BandwidthBytesPerSec)
	}
	if err := o.Credentials.Validate(); err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	if o.ChunkBytes == 0 {
		o.ChunkBytes = DefaultChunkBytes
	}
	if o.ChunkBytes < MinChunkBytes || o.ChunkBytes > MaxChunkBytes {
		return nil, fmt.Errorf("sender: ChunkBytes must be %d..%d, got %d", MinChunkBytes, MaxChunkBytes, o.ChunkBytes)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"BackoffMin", &o.BackoffMin, 500 * time.Millisecond},
		{"BackoffMax", &o.BackoffMax, 60 * time.Second},
		{"PullInterval", &o.PullInterval, 30 * time.Second},
		{"HeartbeatInterval", &o.HeartbeatInterval, 30 * time.Second},
		{"IdleInterval", &o.IdleInterval, 2 * time.Second},
		{"CallTimeout", &o.CallTimeout, 30 * time.Second},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("sender: %s must be >= 0, got %v", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if o.BackoffMin > o.BackoffMax {
		return nil, fmt.Errorf("sender: BackoffMin %v is above BackoffMax %v", o.BackoffMin, o.BackoffMax)
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Sender{
		o:       o,
		log:     o.Logger.With("component", "sync-sender", "device_id", o.Credentials.DeviceID),
		backoff: NewBackoff(o.BackoffMin, o.BackoffMax, o.Rand),
		wake:    make(chan struct{}, 1),
		highest: map[string]int64{},
		held:    map[string]heldItem{},
	}
	if o.BandwidthBytesPerSec > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(o.BandwidthBytesPerSec), o.ChunkBytes)
	}
	s.state.Enrolled = true
	if o.Models != nil {
		_, s.state.ModelVersion = o.Models.Current()
	}
	return s, nil
}

// SyncNow wakes the loop now, ending any backoff or idle wait.
func (s *Sender) SyncNow() {
	s.retryNow.Store(true)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// State returns a snapshot of the sender's status.
func (s *Sender) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// update changes State and calls OnChange if anything changed.
func (s *Sender) update(f func(*State)) {
	s.mu.Lock()
	old := s.state
	f(&s.state)
	changed := s.state != old
	s.mu.Unlock()
	if changed && s.o.OnChange != nil {
		s.o.OnChange()
	}
}

// Run is the sync loop. It returns nil when ctx ends; call it once.
func (s *Sender) Run(ctx context.Context) error {
	s.log.Info("sync sender started", "chunk_bytes", s.o.ChunkBytes, "bandwidth_bytes_per_sec", s.o.BandwidthBytesPerSec)
	defer s.log.Info("sync sender stopped")
	for {
		err := s.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if s.State().Revoked {
			s.log.Error("device revoked by the cloud; sync stopped until restart", "err", err)
			<-ctx.Done()
			return nil
		}
		if err != nil {
			d := s.backoff.Next()
			next := s.o.Clock.Now().Add(d)
			s.log.Warn("sync round failed; backing off", "err", err, "backoff", d)
			s.update(func(st *State) { st.NextAttempt = next })
			s.waitBackoff(ctx, d)
			s.update(func(st *State) { st.NextAttempt = time.Time{} })
			continue
		}
		s.backoff.Reset()
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-s.o.Clock.After(s.o.IdleInterval):
		}
	}
}

// waitBackoff waits d on the clock, or until SyncNow, or until Conn turns
// READY after having been not READY (the link came back).
func (s *Sender) waitBackoff(ctx context.Context, d time.Duration) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan struct{})
	if c := s.o.Conn; c != nil {
		done := make(chan struct{})
		defer func() { cancel(); <-done }()
		go func() {
			defer close(done)
			st := c.GetState()
			sawDown := st != connectivity.Ready
			c.Connect() // an IDLE channel would not reconnect by itself
			for c.WaitForStateChange(wctx, st) {
				st = c.GetState()
				if st != connectivity.Ready {
					sawDown = true
				} else if sawDown {
					close(ready)
					return
				}
			}
		}()
	}
	select {
	case <-ctx.Done():
	case <-s.wake:
	case <-ready:
		s.log.Info("connection ready again; retrying now")
	case <-s.o.Clock.After(d):
	}
}

// errKind classifies an error from a cloud call.
type errKind int

const (
	kindRetry    errKind = iota // transport or availability: end the round, back off
	kindAuth                    // Unauthenticated: end the round, back off
	kindRevoked                 // the device was revoked: stop
	kindTerminal                // this item is refused: hold it, go on
)

func classify(err error) errKind {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists, codes.NotFound, codes.DataLoss, codes.OutOfRange, codes.Unimplemented:
		return kindTerminal
	case codes.PermissionDenied:
		if strings.Contains(st.Message(), " was revoked at ") { // the receiver's wording
			return kindRevoked
		}
		return kindTerminal
	case codes.Unauthenticated:
		return kindAuth
	default:
		return kindRetry
	}
}

// reached reports whether err (from a cloud call) came from the server.
func reached(err error) bool {
	switch status.Code(err) {
	case codes.OK, codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists, codes.NotFound,
		codes.DataLoss, codes.OutOfRange, codes.Unimplemented, codes.PermissionDenied, codes.Unauthenticated, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

// called records the outcome of a cloud call in State and turns it into the
// error the round acts on: nil, a roundError (end the round) or the call's
// own error (terminal for the item at hand).
func (s *Sender) called(what string, err error) error {
	ok := reached(err)
	s.update(func(st *State) { st.Connected = ok })
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", what, err)
	switch classify(err) {
	case kindRevoked:
		s.update(func(st *State) {
			st.Revoked = true
			st.LastError, st.LastErrorAt = err.Error(), s.o.Clock.Now()
		})
		return roundError{err}
	case kindRetry, kindAuth:
		return roundError{err}
	}
	return err
}

// roundError ends the round and starts a backoff.
type roundError struct{ err error }

func (e roundError) Error() string { return e.err.Error() }
func (e roundError) Unwrap() error { return e.err }

func isRoundError(err error) bool {
	var re roundError
	return errors.As(err, &re)
}

// round is one pass: downlink if due, overrides, records, heartbeat if due.
func (s *Sender) round(ctx context.Context) (err error) {
	now := s.o.Clock.Now()
	s.roundErr = ""
	s.update(func(st *State) { st.LastAttempt = now })
	defer func() {
		if ctx.Err() != nil {
			return
		}
		at := s.o.Clock.Now()
		if err != nil {
			s.update(func(st *State) { st.LastError, st.LastErrorAt = err.Error(), at })
			return
		}
		s.update(func(st *State) {
			st.LastSuccess = at
			st.LastError = s.roundErr
		})
	}()
	if s.retryNow.Swap(false) {
		clear(s.held)
	}
	if err := s.refreshBacklog(ctx); err != nil {
		return err
	}
	if !now.Before(s.nextPull) {
		if err := s.downlink(ctx); err != nil {
			return err
		}
		s.nextPull = now.Add(s.o.PullInterval)
	}
	if err := s.sendOverrides(ctx); err != nil {
		return err
	}
	if err := s.sendRecords(ctx); err != nil {
		return err
	}
	if !now.Before(s.nextBeat) {
		if err := s.heartbeat(ctx); err != nil {
			return err
		}
		s.nextBeat = now.Add(s.o.HeartbeatInterval)
	}
	return nil
}

// hold reports an item refused for this round and goes on.
func (s *Sender) hold(msg string, err error, attrs ...any) {
	s.log.Warn(msg, append(attrs, "err", err)...)
	s.roundErr = err.Error()
	at := s.o.Clock.Now()
	s.update(func(st *State) { st.LastError, st.LastErrorAt = err.Error(), at })
}

func (s *Sender) refreshBacklog(ctx context.Context) error {
	b, err := s.o.Queue.Backlog(ctx)
	if err != nil {
		return fmt.Errorf("queue backlog: %w", err)
	}
	s.update(func(st *State) { st.Queued, st.QueuedBytes, st.Oldest = b.Queued, b.QueuedBytes, b.Oldest })
	return nil
}

// callCtx is ctx with the device credential and CallTimeout, for a unary call.
func (s *Sender) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(withCredential(ctx, s.o.Credentials), s.o.CallTimeout)
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
