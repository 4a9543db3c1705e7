package inspect

import (
	"context"
	"errors"
	"image"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/edge/prefilter"
	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// ErrNoCamera is returned (wrapped) by a Camera that has no device to take
// a still from; the API answers 503 with the camera's message.
var ErrNoCamera = errors.New("camera not available")

// Frame is one full-resolution still.
type Frame struct {
	Image      image.Image
	CapturedAt time.Time
}

// Camera takes full-resolution stills. Errors wrapping ErrNoCamera mean the
// device is missing or unplugged.
type Camera interface {
	Still(ctx context.Context) (Frame, error)
}

// Prefilter scores an image (edge/prefilter.Filter implements it).
type Prefilter interface {
	Classify(img gocv.Mat, threshold float32) (prefilter.Result, error)
	Model() prefilter.Model
}

// Store is the part of the bbolt queue the API uses (edge/queue.Queue).
type Store interface {
	Save(ctx context.Context, rec *ifcv1.InspectionRecord, images [][]byte) error
	Get(ctx context.Context, recordID string) (*ifcv1.InspectionRecord, error)
	Status(ctx context.Context, recordID string) (queue.RecordStatus, error)
	Image(ctx context.Context, sha256Hex string) ([]byte, error)
	History(ctx context.Context, f queue.HistoryFilter, limit int, cursor string) ([]queue.HistoryItem, string, error)
	Stats(ctx context.Context) (queue.Stats, error)
	CanCapture(ctx context.Context, imageBytes int64) error
	Master(ctx context.Context, productCode string) (*ifcv1.InspectionMaster, error)
	Masters(ctx context.Context) ([]*ifcv1.InspectionMaster, error)
	SaveOverride(ctx context.Context, o *ifcv1.VerdictOverride) error
	Overrides(ctx context.Context, recordID string) ([]*ifcv1.VerdictOverride, error)
}

// SyncState is what the sync loop reports about its link to the cloud
// (the agent fills it from sync/sender.State).
type SyncState struct {
	Enrolled     bool      `json:"enrolled"`  // device credentials are present
	Connected    bool      `json:"connected"` // the last call reached the cloud
	Revoked      bool      `json:"revoked"`   // the cloud refused this device as revoked; sync has stopped
	CloudAddr    string    `json:"cloud_addr"`
	QueuedBytes  int64     `json:"queued_bytes"`
	LastAttempt  time.Time `json:"last_attempt"`
	LastSuccess  time.Time `json:"last_success"`
	LastError    string    `json:"last_error"`
	LastErrorAt  time.Time `json:"last_error_at"`
	NextAttempt  time.Time `json:"next_attempt"` // when the backoff ends (zero when not backing off)
	SentRecords  int64     `json:"sent_records"` // records committed by this process
	SentBytes    int64     `json:"sent_bytes"`
	ResentBytes  int64     `json:"resent_bytes"`
	ModelVersion string    `json:"model_version"` // pre-filter bundle in use
}

// SyncReporter is the sync loop as the API sees it (nil when sync is not configured).
type SyncReporter interface {
	SyncState() SyncState
	// SyncNow asks for a sync attempt now, ending any backoff; it does not block.
	SyncNow()
}

// Enrollment is the outcome of a successful enrollment.
type Enrollment struct {
	DeviceID string
	Line     string
}

// Enroller exchanges an enrollment token for device credentials at the
// cloud sync endpoint cloudURL ("" = the configured one) and starts sync.
// Errors wrap ErrAlreadyEnrolled, ErrSyncDisabled or ErrEnrollRefused.
type Enroller func(ctx context.Context, cloudURL, token string) (Enrollment, error)

// Errors an Enroller returns (wrapped), mapped to 409, 503 and 502.
var (
	ErrAlreadyEnrolled = errors.New("this device is already enrolled")
	ErrSyncDisabled    = errors.New("sync is not configured on this agent (set cloud_addr)")
	ErrEnrollRefused   = errors.New("enrollment failed at the cloud")
)

// Metrics receives counts and timings (the agent's Prometheus collectors).
type Metrics interface {
	Capture(outcome string)                                 // "ok", "no_camera", "disk_full", "too_large", "error", ...
	Prefilter(d time.Duration, r prefilter.Result)          // one pre-filter run on a still
	Verdict(result string, outcome string, d time.Duration) // result OK/NG; outcome saved/duplicate/rejected/error
}

// Defaults for zero Options fields.
const (
	DefaultMaxCaptures    = 32
	DefaultCaptureTTL     = 30 * time.Minute
	DefaultMaxSessions    = 256
	DefaultJPEGQuality    = 90
	DefaultStatusInterval = time.Second
	maxJSONBody           = 64 << 10
)

// Options configure a Server.
type Options struct {
	Store     Store     // required
	Camera    Camera    // required
	Prefilter Prefilter // required
	DeviceID  string    // required
	Line      string
	// MaxImageBytes bounds one captured or uploaded image (0 = queue.DefaultMaxImageBytes).
	MaxImageBytes int64
	// JPEGQuality for stills (0 = DefaultJPEGQuality).
	JPEGQuality int
	// MaxCaptures bounds the unconfirmed captures held in memory (0 = DefaultMaxCaptures).
	MaxCaptures int
	// CaptureTTL is how long an unconfirmed capture is kept (0 = DefaultCaptureTTL).
	CaptureTTL time.Duration
	// StatusInterval is how often the status is polled for changes (0 = DefaultStatusInterval).
	StatusInterval time.Duration
	// Sync reports the sync loop's state (nil = not running).
	Sync SyncReporter
	// Enroll enrolls the device on POST /api/v1/sync/enroll (nil = 503).
	Enroll Enroller
	// AllowedOrigins are the browser origins allowed to call the API (CORS)
	// and to open the WebSocket; same-origin requests are always allowed.
	AllowedOrigins []string
	// Live serves GET /api/v1/preview/frame from the live preview's frames (nil = 503).
	Live LiveView
	// CameraState describes the camera for the status document (nil = omitted).
	CameraState func() string
	// Metrics receives counts and timings (nil = none).
	Metrics Metrics
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// Logger (nil = slog.Default()).
	Logger *slog.Logger
}

// Server serves the local inspection API. Create it with New, serve
// Handler, and run Run for the live status pushes.
type Server struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	routes []route
	mux    *http.ServeMux
	hub    *hub

	mu       sync.Mutex
	sync     SyncReporter // guarded by mu; Options.Sync or SetSync
	sessions map[string]*session
	captures *captureStore
	preview  previewCache
}

// New validates opts and builds the server; it starts nothing.
func New(opts Options) (*Server, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("inspect: Options.Store is required")
	case opts.Camera == nil:
		return nil, errors.New("inspect: Options.Camera is required")
	case opts.Prefilter == nil:
		return nil, errors.New("inspect: Options.Prefilter is required")
	case opts.DeviceID == "":
		return nil, errors.New("inspect: Options.DeviceID is required")
	case opts.MaxImageBytes < 0 || opts.MaxCaptures < 0 || opts.JPEGQuality < 0 || opts.JPEGQuality > 100:
		return nil, errors.New("inspect: negative bound or JPEG quality outside 0..100")
	}
	if opts.MaxImageBytes == 0 {
		opts.MaxImageBytes = queue.DefaultMaxImageBytes
	}
	if opts.JPEGQuality == 0 {
		opts.JPEGQuality = DefaultJPEGQuality
	}
	if opts.MaxCaptures == 0 {
		opts.MaxCaptures = DefaultMaxCaptures
	}
	if opts.CaptureTTL <= 0 {
		opts.CaptureTTL = DefaultCaptureTTL
	}
	if opts.StatusInterval <= 0 {
		opts.StatusInterval = DefaultStatusInterval
	}
	if opts.Metrics == nil {
		opts.Metrics = noMetrics{}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		opts:     opts,
		log:      log.With("component", "inspect", "device_id", opts.DeviceID),
		now:      now,
		sync:     opts.Sync,
		sessions: map[string]*session{},
		captures: newCaptureStore(opts.MaxCaptures, opts.CaptureTTL),
	}
	s.hub = newHub(s.log)
	s.routes = s.routeTable()
	s.mux = http.NewServeMux()
	for _, rt := range s.routes {
		s.mux.HandleFunc(rt.Method+" "+rt.Pattern, rt.handler)
	}
	return s, nil
}

// Handler returns the HTTP handler for every /api/v1 route, with CORS for
// the allowed origins.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && s.originAllowed(o) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", o)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "Location, ETag, X-Frame-Seq, X-Captured-At")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Content-Type")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		s.mux.ServeHTTP(w, r)
	})
}

func (s *Server) originAllowed(origin string) bool {
	for _, o := range s.opts.AllowedOrigins {
		if o == "*" || o == origin {
			return true
		}
	}
	return false
}

// Patterns returns the "METHOD /path" patterns the handler serves.
func (s *Server) Patterns() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.Method + " " + rt.Pattern
	}
	return out
}

// SetSync attaches the sync loop's reporter (nil detaches it) and pushes the status.
func (s *Server) SetSync(r SyncReporter) {
	s.mu.Lock()
	s.sync = r
	s.mu.Unlock()
	s.hub.kick()
}

// Notify asks for a status push now (the sync loop calls it after a change).
func (s *Server) Notify() { s.hub.kick() }

// Run pushes the status to WebSocket clients whenever it changes, until ctx
// ends; then it closes every WebSocket connection.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.StatusInterval)
	defer t.Stop()
	defer s.hub.shutdown()
	for {
		st, err := s.status(ctx)
		if err == nil {
			s.hub.publish(st)
		} else if ctx.Err() == nil {
			s.log.Warn("status", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.hub.kicked:
		}
	}
}

type noMetrics struct{}

func (noMetrics) Capture(string)                            {}
func (noMetrics) Prefilter(time.Duration, prefilter.Result) {}
func (noMetrics) Verdict(string, string, time.Duration)     {}
