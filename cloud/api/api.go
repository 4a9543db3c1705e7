package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	"github.com/imageflowcanvas/ifc/cloud/events"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/pipeline"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Config holds the API's limits and timeouts. Zero fields take the defaults
// documented on each field.
type Config struct {
	MaxPipelineBytes int64         // pipeline definition body limit; default 1 MiB
	MaxUploadBytes   int64         // image upload limit; default 32 MiB
	MaxFramePixels   int64         // largest WS frame accepted (width*height); default 50 MP
	WaitTimeout      time.Duration // bound for ?wait=true and gRPC Execute; default 60 s
	RetryAfter       time.Duration // Retry-After sent with 429; default 1 s
	WSReadLimit      int64         // largest WS message; default 48 MiB (a base64 32 MiB image)
	WSWriteTimeout   time.Duration // per WS message; default 5 s
	WSSendBuffer     int           // queued outbound WS messages before a client is dropped; default 256
	WSProcessQueue   int           // queued WS process requests per connection; default 4
	WSOriginPatterns []string      // extra allowed Origin hosts for the WebSocket (same host always allowed)
	GRPCMaxRecvBytes int           // gRPC max receive message size; default 32 MiB
	ReplayEvents     int           // progress events kept per execution for late subscribers; default 1024
	ReplayTTL        time.Duration // how long history stays after an execution ends; default 2 min
	MaxTracked       int           // executions with kept history; default 10000
	LoginPerMinute   int           // login attempts per client address and minute; default 10
	LoginBurst       int           // login attempts allowed at once; default 10
	// Shifts is the factory's shift pattern for record search and
	// statistics; no shifts: metadata.DefaultShifts in the server's local zone.
	Shifts metadata.ShiftPlan
}

// Validate reports the first field out of range; zero means "default".
func (c Config) Validate() error {
	const gib = 1 << 30
	for _, f := range []struct {
		name   string
		v, max int64
	}{
		{"MaxPipelineBytes", c.MaxPipelineBytes, 64 << 20},
		{"MaxUploadBytes", c.MaxUploadBytes, 4 * gib},
		{"MaxFramePixels", c.MaxFramePixels, 1 << 30},
		{"WaitTimeout", int64(c.WaitTimeout), int64(time.Hour)},
		{"RetryAfter", int64(c.RetryAfter), int64(time.Hour)},
		{"WSReadLimit", c.WSReadLimit, gib},
		{"WSWriteTimeout", int64(c.WSWriteTimeout), int64(time.Minute)},
		{"WSSendBuffer", int64(c.WSSendBuffer), 1 << 20},
		{"WSProcessQueue", int64(c.WSProcessQueue), 1024},
		{"GRPCMaxRecvBytes", int64(c.GRPCMaxRecvBytes), gib},
		{"ReplayEvents", int64(c.ReplayEvents), 1 << 20},
		{"ReplayTTL", int64(c.ReplayTTL), int64(24 * time.Hour)},
		{"MaxTracked", int64(c.MaxTracked), 1 << 24},
		{"LoginPerMinute", int64(c.LoginPerMinute), 1 << 20},
		{"LoginBurst", int64(c.LoginBurst), 1 << 20},
	} {
		if f.v < 0 || f.v > f.max {
			return fmt.Errorf("api config: %s = %d out of range 0..%d", f.name, f.v, f.max)
		}
	}
	if len(c.Shifts.Shifts) > 0 {
		if err := c.Shifts.Validate(); err != nil {
			return fmt.Errorf("api config: Shifts: %w", err)
		}
	}
	return nil
}

func (c *Config) setDefaults() {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	defI := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxPipelineBytes, 1<<20)
	def(&c.MaxUploadBytes, 32<<20)
	def(&c.MaxFramePixels, 50_000_000)
	defD(&c.WaitTimeout, 60*time.Second)
	defD(&c.RetryAfter, time.Second)
	def(&c.WSReadLimit, 48<<20)
	defD(&c.WSWriteTimeout, 5*time.Second)
	defI(&c.WSSendBuffer, 256)
	defI(&c.WSProcessQueue, 4)
	defI(&c.GRPCMaxRecvBytes, 32<<20)
	defI(&c.ReplayEvents, 1024)
	defD(&c.ReplayTTL, 2*time.Minute)
	defI(&c.MaxTracked, 10000)
	defI(&c.LoginPerMinute, 10)
	defI(&c.LoginBurst, 10)
	if len(c.Shifts.Shifts) == 0 {
		c.Shifts.Shifts = metadata.DefaultShifts()
	}
	if c.Shifts.Location == nil {
		c.Shifts.Location = time.Local
	}
}

// Store is the part of the metadata store the API uses.
type Store interface {
	CreatePipelineVersion(ctx context.Context, id string, def *ifcv1.PipelineDefinition, createdBy string) (*ifcv1.Pipeline, error)
	GetPipeline(ctx context.Context, id string, version int32) (*ifcv1.Pipeline, error)
	ListPipelines(ctx context.Context) ([]*ifcv1.Pipeline, error)
	ListPipelineVersions(ctx context.Context, id string) ([]*ifcv1.Pipeline, error)
	DeletePipeline(ctx context.Context, id string) error
	GetFile(ctx context.Context, fileID string) (metadata.File, error)
	GetExecution(ctx context.Context, id string) (*ifcv1.Execution, error)
	ListExecutions(ctx context.Context, f metadata.ExecutionFilter) ([]*ifcv1.Execution, string, error)

	GetUser(ctx context.Context, username string) (metadata.User, error)

	CreateEnrollmentToken(ctx context.Context, t metadata.EnrollmentToken) error
	ListEnrollmentTokens(ctx context.Context) ([]metadata.EnrollmentToken, error)
	RevokeEnrollmentToken(ctx context.Context, id string, at time.Time) (metadata.EnrollmentToken, error)
	GetDevice(ctx context.Context, deviceID string) (metadata.Device, error)
	ListDevices(ctx context.Context) ([]metadata.Device, error)
	RevokeDevice(ctx context.Context, deviceID string, at time.Time) error
	GetRecord(ctx context.Context, recordID string) (metadata.Record, error)
	SearchRecords(ctx context.Context, f metadata.RecordFilter) ([]metadata.Record, string, error)
	RecordStats(ctx context.Context, f metadata.StatsFilter) (metadata.Stats, error)
	AcknowledgeRecords(ctx context.Context, ids []string, user string, at time.Time) (int, error)
	AddOverride(ctx context.Context, o *ifcv1.VerdictOverride) (created bool, err error)
	PutMaster(ctx context.Context, m *ifcv1.InspectionMaster) (*ifcv1.InspectionMaster, error)
	GetMaster(ctx context.Context, productCode string) (*ifcv1.InspectionMaster, error)
	ListMasters(ctx context.Context) ([]*ifcv1.InspectionMaster, error)
	PutRollout(ctx context.Context, r metadata.Rollout) error
}

// Catalog lists the parts served to clients and checks params for the
// pipeline validator (cloud/catalog's *Catalog satisfies it).
type Catalog interface {
	List() []*ifcv1.PartDescriptor
	pipeline.Catalog
}

// Pipelines decodes, validates and encodes pipeline definitions.
type Pipelines interface {
	// Parse decodes a definition; format is "json" or "yaml". A syntax
	// error is reported as is; semantic checks belong to Validate.
	Parse(data []byte, format string) (*ifcv1.PipelineDefinition, error)
	// Validate reports every problem of def (cycles, unknown parts, params, edge types).
	Validate(def *ifcv1.PipelineDefinition) error
	// Export encodes def; format is "json" or "yaml".
	Export(def *ifcv1.PipelineDefinition, format string) ([]byte, error)
}

// Conductor runs pipelines.
type Conductor interface {
	Submit(ctx context.Context, req SubmitRequest) (*ifcv1.Execution, error)
	Wait(ctx context.Context, id string) (*ifcv1.Execution, error)
	Cancel(ctx context.Context, id string) error
	ProcessFrame(ctx context.Context, p *ifcv1.Pipeline, img *ifcv1.Image) (*ifcv1.ProcessedFrame, error)
}

// Files ingests and serves images.
type Files interface {
	Ingest(ctx context.Context, r io.Reader, opts IngestOptions) (metadata.File, error)
	Open(ctx context.Context, fileID string) (io.ReadCloser, metadata.File, error)
}

// Bus delivers progress events.
type Bus interface {
	Subscribe(ctx context.Context, h events.Handler) (cancel func(), err error)
}

// ReadyCheck is one dependency probed by /readyz.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Deps are the API's collaborators. Store, Catalog, Conductor, Files, Bus
// and Auth are required.
type Deps struct {
	Store     Store
	Catalog   Catalog
	Pipelines Pipelines // nil: the cloud/pipeline codec over Catalog
	Conductor Conductor
	Files     Files
	Bus       Bus
	Auth      *auth.Authenticator
	// Registry receives the API's metrics and is served on /metrics; nil: a new registry.
	Registry *prometheus.Registry
	// GRPCServices are hosted on the API's gRPC server beside the
	// PipelineService and authenticate their callers themselves.
	GRPCServices []GRPCService
	// ReadyChecks are probed by /readyz besides the metadata store and the bus subscription.
	ReadyChecks []ReadyCheck
	Logger      *slog.Logger     // nil: slog.Default()
	Now         func() time.Time // nil: time.Now
	// UI answers GET requests no route matched (the web UI, see package
	// ui), except under /api/, /healthz, /readyz, /metrics and /whep;
	// nil: they are 404 like every unmatched request.
	UI http.Handler
	// PresignFile returns a URL the object store itself serves f's bytes
	// at until ttl has passed (s3store's Presign); nil: download URLs are
	// API-signed (/api/v1/files/{id}/content?exp=&sig=).
	PresignFile func(ctx context.Context, f metadata.File, ttl time.Duration) (string, error)
}

// Server is the API. Create it with New, serve Handler and RegisterGRPC on
// listeners, and run Run for the bus subscription.
type Server struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	handler http.Handler
	routes  []route
	metrics *metrics
	hub     *hub
	logins  *loginLimiter
	// grpcPerms is the permission of every gRPC method served (see methodPermissions).
	grpcPerms auth.MethodPermissions

	subscribed atomic.Bool
	runOnce    sync.Once
}

// New validates deps and builds the server; it starts nothing.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	var missing []string
	for name, ok := range map[string]bool{
		"Store": deps.Store != nil, "Catalog": deps.Catalog != nil, "Conductor": deps.Conductor != nil,
		"Files": deps.Files != nil, "Bus": deps.Bus != nil, "Auth": deps.Auth != nil,
	} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("api: missing deps %v", missing)
	}
	if deps.Pipelines == nil {
		p, err := defaultPipelines(deps.Catalog)
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		deps.Pipelines = p
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	s := &Server{cfg: cfg, deps: deps, log: deps.Logger.With("component", "api"), now: deps.Now}
	m, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s.metrics = m
	s.hub = newHub(cfg, s.now, m, s.log)
	s.logins = newLoginLimiter(cfg.LoginPerMinute, cfg.LoginBurst)
	s.grpcPerms = s.methodPermissions()
	s.routes = s.routeTable()
	s.mux = http.NewServeMux()
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
	s.mux.HandleFunc("/", s.notFound)
	if deps.UI != nil {
		s.mux.Handle("GET /", s.uiOrNotFound(deps.UI))
	}
	s.handler = traceExecutions(s.mux)
	return s, nil
}

// executionsPath prefixes the REST execution routes traced by traceExecutions.
const executionsPath = "/api/v1/executions"

// traceExecutions starts a server span for each REST execution request,
// continuing a W3C traceparent sent by the client, so the conductor's
// execution span joins the caller's trace. Other routes are not traced.
// While tracing is off the global provider is a no-op and so is the span.
func traceExecutions(next http.Handler) http.Handler {
	tracer := otel.Tracer("github.com/imageflowcanvas/ifc/cloud/api")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, executionsPath) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method+" "+executionsPath, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w} // metrics.go
		r = r.WithContext(ctx)
		next.ServeHTTP(sw, r)
		if r.Pattern != "" {
			span.SetName(r.Pattern)
		}
		code := sw.status
		if code == 0 {
			code = http.StatusOK
		}
		span.SetAttributes(attribute.Int("http.response.status_code", code))
		if code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(code))
		}
	})
}

// Handler returns the HTTP handler serving every route.
func (s *Server) Handler() http.Handler { return s.handler }

// Run subscribes to the event bus and fans events out until ctx is done;
// then it closes every live subscription and returns. Call it once.
func (s *Server) Run(ctx context.Context) error {
	started := false
	s.runOnce.Do(func() { started = true })
	if !started {
		return errors.New("api: Run called twice")
	}
	cancel, err := s.deps.Bus.Subscribe(ctx, s.hub.publish)
	if err != nil {
		return fmt.Errorf("api: subscribe to events: %w", err)
	}
	s.subscribed.Store(true)
	s.log.InfoContext(ctx, "subscribed to progress events")
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	resync := time.NewTicker(resyncEvery) // resync.go
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			s.subscribed.Store(false)
			cancel()
			s.hub.closeAll()
			return nil
		case <-t.C:
			s.hub.gc()
		case <-resync.C:
			s.resync(ctx)
		}
	}
}

// NewHTTPServer returns an http.Server for Handler with header and idle
// timeouts set. It has no write timeout: file downloads, ?wait=true and
// WebSockets are long-lived, and each bounds itself.
func (s *Server) NewHTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}
