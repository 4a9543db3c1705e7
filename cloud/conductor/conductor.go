// Package conductor runs pipelines: it turns a validated pipeline version
// and an input image into an execution, calling the part services over gRPC
// node by node.
//
// Decisions, in the order an execution meets them:
//
//   - Admission. At most Config.MaxConcurrent executions and real-time frames
//     are in flight per conductor; Submit and ProcessFrame above that fail at
//     once with ErrOverloaded (the API answers 429 / RESOURCE_EXHAUSTED).
//     Nothing waits in a queue: a client that retries later gets a fast,
//     honest answer instead of a timeout.
//   - Submit validates again (the store may hold versions validated by an
//     older catalogue; the compiled plan is then cached per id@version),
//     checks that every part's service has a client and that the input file
//     exists, stores the execution QUEUED with every node QUEUED, publishes
//     those states and returns. The run belongs to the conductor: its
//     context derives from the conductor's, not from the request's.
//   - Input. An execution takes exactly one input file. Its stored bytes
//     (JPEG or PNG) go unchanged to every root node; the part services decode
//     them and hand back RAW images, which flow to downstream nodes, so the
//     input is decoded once per root rather than once per node.
//   - Scheduling. One coordinator goroutine per execution owns all state
//     (no locks on the record). A node becomes ready when all its parents
//     have succeeded; ready nodes start in their own goroutines, so
//     independent branches overlap, except that a node that is the only
//     thing left to do runs on the coordinator itself (a chain then costs
//     no goroutine start or stack growth per node). The coordinator waits
//     for every node goroutine before it returns.
//   - Inputs of a node: the image of the parent pipeline.Compile chose for
//     IMAGE and the detections of the parent chosen for DETECTIONS.
//   - Each attempt gets its own Config.NodeTimeout deadline. Only
//     Unavailable, ResourceExhausted, Aborted and DeadlineExceeded are
//     retried, up to Config.MaxAttempts attempts, sleeping an exponential
//     backoff (BackoffBase doubling to BackoffCap) with "equal jitter"
//     (half fixed, half random) so retries of many executions spread out.
//     Everything else (InvalidArgument above all) fails the node at once.
//   - Unreachable part services (fallback.go). Unavailable means the
//     service could not be reached or dropped the connection (a worker
//     killed or restarting); such attempts are not counted against
//     MaxAttempts but repeated (backoff, at most 1s apart) until
//     NodeTimeout after the node started, so a restarted worker picks the
//     node up. A service still unreachable then hands the execution to the
//     durable fallback queue (Deps.Fallback; without one the node fails):
//     the node is QUEUED again with an error saying it waits, the record
//     stays RUNNING, and the conductor of whichever replica takes the job
//     resumes it from the store, retrying until the execution's deadline
//     (created_at + Config.ExecutionTimeout), then failing it.
//   - Failure. A failed node's descendants are SKIPPED; branches that do not
//     depend on it run to the end, so the record shows everything that could
//     be computed. The execution is FAILED with an error naming the first
//     failed node.
//   - Cancellation (Cancel, or Run's context ending) cancels the execution's
//     context, which every running RPC and backoff sleep carries: running
//     nodes end CANCELLED, nodes not started end CANCELLED, the execution
//     ends CANCELLED. Cancel waits for that end.
//   - Outputs. Every image-producing node's image is stored as a JPEG
//     through Files.PutDerived, its file id in NodeOutputs; with
//     PersistIntermediates false only nodes without children are persisted.
//     A node without children asks its service for the JPEG only
//     (encode_output + omit_raw). An intermediate node returns its raw image
//     and the conductor encodes (Deps.EncodeJPEG) and stores it beside the
//     node's children: the children start as soon as the part returns, and
//     the node becomes SUCCEEDED once its output is stored, so encoding and
//     fsyncs stay off the chain's critical path. Detections are kept in
//     NodeOutputs. A failure to encode or persist fails the node, and so
//     the execution, even when its children already ran.
//   - Events. Every state change of a node (QUEUED, RUNNING, SUCCEEDED,
//     FAILED, SKIPPED, CANCELLED) and of the execution (QUEUED, RUNNING,
//     terminal) is published with a per-execution seq starting at 1 and
//     increasing by one; progress is finished nodes / all nodes. Events are
//     published by the coordinator, so seq order is publish order. A
//     publish failure is logged, never fatal: the store is the record.
//   - Store. The record is written when created (in Submit), when the run
//     starts and when it ends (the end synchronously, retried). The start
//     write and node changes go through a per-execution writer goroutine,
//     so they never block the coordinator and land in order: the start at
//     once, beside the first node, then the latest snapshot
//     Config.NodeUpdateInterval (100ms) after the first unwritten change.
//     Live progress travels on the event bus; the store only has to be
//     right for a reader arriving late, and a SQLite write per node change
//     costs more than a no-op node's RPC (BenchmarkConductorOverhead), so by
//     default a typical 25 ms execution is written only at start and end.
//   - Wait answers from memory for executions run here (the last 1024
//     finished are kept) and otherwise polls the store, so it also works
//     for executions finished long ago or run by another instance. Cancel
//     only reaches executions run by this conductor (ErrNotLocal otherwise).
//   - Lifecycle. New starts nothing; Submit works before Run is called so
//     requests arriving during start-up are served; when Run's context
//     ends, running executions are cancelled (CANCELLED, "conductor
//     shutting down") and recorded before Run returns, and Submit fails
//     with ErrClosed.
//   - Real-time frames (ProcessFrame) use the same validation, admission and
//     engine with no store, events or persistence; only the last
//     image-producing node (topological order) is JPEG-encoded, and the
//     detections returned are those of the last detections-producing node.
package conductor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/pipeline"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

var (
	// ErrOverloaded is returned when MaxConcurrent executions are in flight.
	ErrOverloaded = errors.New("conductor overloaded")
	// ErrClosed is returned after Run has returned.
	ErrClosed = errors.New("conductor closed")
	// ErrInvalidRequest is returned for requests that cannot run as given
	// (no or several inputs, an input that is not a JPEG or PNG image).
	ErrInvalidRequest = errors.New("invalid execution request")
	// ErrNoService is returned when a part's service has no client.
	ErrNoService = errors.New("part service not configured")
	// ErrFinished is returned by Cancel for an execution already terminal.
	ErrFinished = errors.New("execution already finished")
	// ErrNotLocal is returned by Cancel for an execution that is neither
	// finished nor run by this conductor.
	ErrNotLocal = errors.New("execution not run by this conductor")
	// ErrUnreachable is wrapped by node errors of a part service that could
	// not be reached for the node's whole deadline.
	ErrUnreachable = errors.New("part service unreachable")
)

var (
	errCancelled = errors.New("cancelled by request")
	errShutdown  = errors.New("conductor shutting down")
)

// Store is the part of the metadata store the conductor uses.
type Store interface {
	GetPipeline(ctx context.Context, id string, version int32) (*ifcv1.Pipeline, error)
	GetFile(ctx context.Context, fileID string) (metadata.File, error)
	CreateExecution(ctx context.Context, e *ifcv1.Execution) error
	UpdateExecution(ctx context.Context, e *ifcv1.Execution) error
	GetExecution(ctx context.Context, id string) (*ifcv1.Execution, error)
}

// Files reads input images and stores produced ones.
type Files interface {
	Open(ctx context.Context, fileID string) (io.ReadCloser, metadata.File, error)
	PutDerived(ctx context.Context, data []byte, contentType string, w, h int, createdBy string) (metadata.File, error)
}

// Publisher publishes progress events.
type Publisher interface {
	Publish(ctx context.Context, ev *ifcv1.ProgressEvent) error
}

// Config tunes a Conductor; zero fields take the defaults in parentheses.
type Config struct {
	// MaxConcurrent bounds executions plus frames in flight (100).
	MaxConcurrent int
	// NodeTimeout is the deadline of one attempt of one node (30s).
	NodeTimeout time.Duration
	// MaxAttempts bounds the attempts of one node, first included (3).
	MaxAttempts int
	// BackoffBase is the backoff before the second attempt (50ms).
	BackoffBase time.Duration
	// BackoffCap bounds the backoff (2s).
	BackoffCap time.Duration
	// PersistIntermediates stores the image of every image-producing node,
	// not only of nodes without children (nil means true).
	PersistIntermediates *bool
	// NodeUpdateInterval batches store writes of node changes within one
	// execution: a change is written this long after it happened, with the
	// changes that followed it (100ms); an execution ending sooner is
	// written only at start and end. Negative never writes node changes
	// between start and end; a tiny value (1ns) writes nearly every change.
	NodeUpdateInterval time.Duration
	// MaxInputBytes bounds the input file read for an execution (64 MiB).
	MaxInputBytes int64
	// WaitPollInterval is how often Wait polls the store for executions run
	// elsewhere (200ms).
	WaitPollInterval time.Duration
	// ExecutionTimeout bounds an execution handed to the fallback queue:
	// the resumption retries an unreachable service until created_at plus
	// this, then fails the execution (10m).
	ExecutionTimeout time.Duration
	// FallbackConcurrency bounds the fallback jobs this conductor resumes
	// at once (16); more wait in the queue.
	FallbackConcurrency int
}

// Deps are the conductor's collaborators; all but Now and Logger are required.
type Deps struct {
	Store   Store
	Files   Files
	Events  Publisher
	Catalog pipeline.Catalog
	// Parts holds one client per part service, keyed by service name
	// ("resize", "filter", "detect").
	Parts map[string]ifcv1.PartServiceClient
	// EncodeJPEG encodes a raw node output for persistence (nil: pure Go,
	// about three times slower than OpenCV's libjpeg).
	EncodeJPEG func(*ifcv1.Image) (*ifcv1.Image, error)
	Now        func() time.Time
	Logger     *slog.Logger
	// Tracer provides the execution, node and attempt spans (nil: the
	// global OpenTelemetry provider, a no-op unless tracing is set up).
	Tracer trace.TracerProvider
	// Fallback is the durable queue of executions waiting for an
	// unreachable part service (nil: such nodes fail, as other errors do).
	// Run consumes it.
	Fallback FallbackQueue
}

func (c *Config) setDefaults() {
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 100
	}
	if c.NodeTimeout == 0 {
		c.NodeTimeout = 30 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = 50 * time.Millisecond
	}
	if c.BackoffCap == 0 {
		c.BackoffCap = 2 * time.Second
	}
	if c.PersistIntermediates == nil {
		t := true
		c.PersistIntermediates = &t
	}
	if c.NodeUpdateInterval == 0 {
		c.NodeUpdateInterval = 100 * time.Millisecond
	}
	if c.MaxInputBytes == 0 {
		c.MaxInputBytes = 64 << 20
	}
	if c.WaitPollInterval == 0 {
		c.WaitPollInterval = 200 * time.Millisecond
	}
	if c.ExecutionTimeout == 0 {
		c.ExecutionTimeout = 10 * time.Minute
	}
	if c.FallbackConcurrency == 0 {
		c.FallbackConcurrency = 16
	}
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	switch {
	case c.MaxConcurrent < 0:
		return fmt.Errorf("conductor config: MaxConcurrent %d is negative", c.MaxConcurrent)
	case c.NodeTimeout < 0:
		return fmt.Errorf("conductor config: NodeTimeout %v is negative", c.NodeTimeout)
	case c.MaxAttempts < 0 || c.MaxAttempts > 10:
		return fmt.Errorf("conductor config: MaxAttempts %d is not within 1..10", c.MaxAttempts)
	case c.BackoffBase < 0 || c.BackoffCap < 0:
		return fmt.Errorf("conductor config: BackoffBase %v / BackoffCap %v negative", c.BackoffBase, c.BackoffCap)
	case c.BackoffCap != 0 && c.BackoffBase > c.BackoffCap:
		return fmt.Errorf("conductor config: BackoffBase %v exceeds BackoffCap %v", c.BackoffBase, c.BackoffCap)
	case c.MaxInputBytes < 0:
		return fmt.Errorf("conductor config: MaxInputBytes %d is negative", c.MaxInputBytes)
	case c.WaitPollInterval < 0:
		return fmt.Errorf("conductor config: WaitPollInterval %v is negative", c.WaitPollInterval)
	case c.ExecutionTimeout < 0:
		return fmt.Errorf("conductor config: ExecutionTimeout %v is negative", c.ExecutionTimeout)
	case c.FallbackConcurrency < 0:
		return fmt.Errorf("conductor config: FallbackConcurrency %d is negative", c.FallbackConcurrency)
	}
	return nil
}

// Conductor runs pipeline executions; see the package doc.
type Conductor struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time

	inflight atomic.Int64
	running  atomic.Bool

	baseCtx    context.Context
	baseCancel context.CancelCauseFunc

	mu     sync.Mutex
	closed bool
	active map[string]*execution
	recent map[string]*ifcv1.Execution // finished here, newest kept
	order  []string                    // recent's ids, oldest first
	wg     sync.WaitGroup

	planMu sync.Mutex
	plans  map[string]*pipeline.Plan // planFor's cache by id@version

	tracer trace.Tracer

	resumeMu sync.Mutex
	resuming map[string]chan struct{} // executions resumed here, closed when done
}

// recentKept bounds the finished executions kept in memory for Wait.
const recentKept = 1024

// New checks the configuration and dependencies; it starts nothing.
func New(cfg Config, deps Deps) (*Conductor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	switch {
	case deps.Store == nil:
		return nil, errors.New("conductor: Deps.Store is required")
	case deps.Files == nil:
		return nil, errors.New("conductor: Deps.Files is required")
	case deps.Events == nil:
		return nil, errors.New("conductor: Deps.Events is required")
	case deps.Catalog == nil:
		return nil, errors.New("conductor: Deps.Catalog is required")
	case len(deps.Parts) == 0:
		return nil, errors.New("conductor: Deps.Parts is empty")
	}
	for name, cl := range deps.Parts {
		if cl == nil {
			return nil, fmt.Errorf("conductor: Deps.Parts[%q] is nil", name)
		}
	}
	c := &Conductor{
		cfg:    cfg,
		deps:   deps,
		log:    deps.Logger,
		now:    deps.Now,
		active: make(map[string]*execution),
		recent: make(map[string]*ifcv1.Execution),
		plans:  make(map[string]*pipeline.Plan),

		resuming: make(map[string]chan struct{}),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("component", "conductor")
	if c.now == nil {
		c.now = time.Now
	}
	tp := deps.Tracer
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	c.tracer = tp.Tracer(tracerName)
	c.baseCtx, c.baseCancel = context.WithCancelCause(context.Background())
	return c, nil
}

// Run blocks until ctx is done, then cancels every execution still running,
// waits for them to be recorded and returns. Submit works before Run is
// called (so requests arriving during start-up are served) and fails with
// ErrClosed once Run is returning.
func (c *Conductor) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("conductor: Run called twice")
	}
	consumed := make(chan struct{})
	if c.deps.Fallback != nil {
		go func() { defer close(consumed); c.consumeFallback(ctx) }()
	} else {
		close(consumed)
	}
	<-ctx.Done()
	c.mu.Lock()
	c.closed = true
	n := len(c.active)
	c.mu.Unlock()
	c.log.Info("conductor stopping", "running_executions", n)
	c.baseCancel(errShutdown)
	<-consumed
	c.wg.Wait()
	return nil
}

// acquire takes an admission slot or fails with ErrOverloaded.
func (c *Conductor) acquire() error {
	if n := c.inflight.Add(1); n > int64(c.cfg.MaxConcurrent) {
		c.inflight.Add(-1)
		return fmt.Errorf("%w: %d executions in flight", ErrOverloaded, c.cfg.MaxConcurrent)
	}
	return nil
}

func (c *Conductor) release() { c.inflight.Add(-1) }

// InFlight reports the executions and frames currently admitted.
func (c *Conductor) InFlight() int { return int(c.inflight.Load()) }
