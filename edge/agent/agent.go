// Package agent is the edge agent's composition root: it opens the bbolt
// queue, seeds the master cache, loads and verifies the pre-filter, opens
// the camera and serves the local inspection API (edge/inspect), the WHEP
// live preview, /healthz, /readyz and /metrics on one HTTP server.
//
// Lifecycle: New validates the configuration and opens every resource
// (including the listener, so HTTPAddr is known at once) but starts
// nothing. Run runs the camera, the status pusher, the optional live
// pre-filter, the preview and the HTTP server under one errgroup; when its
// context ends the HTTP server drains in-flight requests (a verdict being
// saved finishes and is answered), the other components stop, and then the
// queue and the model are closed — the reverse of the order they were
// opened in. Close releases everything when Run was never called.
//
// The edge never imports cloud/ (a test in edge/ enforces it): it keeps
// working with no network, and talks to the cloud only through sync/.
//
// # Sync
//
// With cloud_addr set, the agent also runs the sync sender (sync/sender)
// under the same errgroup. It never blocks capture or verdicts: those only
// write the bbolt queue, and the sender drains it on its own goroutine with
// its own backoff. The gRPC connection is non-blocking, so the agent starts
// and serves with the cloud unreachable; the status shows enrolled,
// connected and last_error.
//
// Device identity: records carry the agent's device_id. Enrollment (at
// start with enrollment_token, retried with backoff until it succeeds, is
// refused for good, or the agent stops; or on demand through POST
// /api/v1/sync/enroll) proposes the configured device_id, so records made
// offline before enrollment stay valid; the cloud keeps that id or refuses.
// The credentials are saved with mode 0600 in credentials_file. At start,
// saved credentials win: if their device_id differs from the configured one
// (device_id was changed after enrollment), the agent logs it and uses the
// enrolled id for new records. Delete credentials_file to enroll again.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/imageflowcanvas/ifc/edge/capture"
	"github.com/imageflowcanvas/ifc/edge/inspect"
	"github.com/imageflowcanvas/ifc/edge/prefilter"
	"github.com/imageflowcanvas/ifc/edge/queue"
	"github.com/imageflowcanvas/ifc/edge/whep"
	"github.com/imageflowcanvas/ifc/sync/device"
	"github.com/imageflowcanvas/ifc/sync/sender"
	"github.com/imageflowcanvas/ifc/ui"
)

// Agent is one running edge agent.
type Agent struct {
	cfg  Config
	log  *slog.Logger
	q    *queue.Queue
	pf   *prefilter.Filter
	cam  *capture.Camera
	api  *inspect.Server
	met  *metrics
	prev preview
	sync *syncer // nil when cloud_addr is empty
	ln   net.Listener
	srv  *http.Server

	ran       atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg and opens the queue, the master cache, the pre-filter
// (verified before use), the camera and the listener. It starts nothing.
func New(cfg Config, logger *slog.Logger) (_ *Agent, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid edge configuration:\n%w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	var creds *device.Credentials
	if cfg.CloudAddr != "" {
		c, ok, err := loadCredentials(cfg.CredentialsPath())
		if err != nil {
			return nil, err
		}
		if ok {
			if c.DeviceID != cfg.DeviceID {
				logger.Warn("device_id differs from the enrolled identity; using the enrolled one",
					"component", "agent", "configured_device_id", cfg.DeviceID, "device_id", c.DeviceID,
					"credentials_file", cfg.CredentialsPath())
				cfg.DeviceID = c.DeviceID
			}
			creds = &c
		}
	}
	log := logger.With("device_id", cfg.DeviceID)
	a := &Agent{cfg: cfg, log: log.With("component", "agent")}
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	a.q, err = queue.Open(cfg.QueuePath(), queue.Options{
		DeviceID:            cfg.DeviceID,
		SoftLimitBytes:      cfg.DiskSoftLimitBytes,
		HardLimitBytes:      cfg.DiskHardLimitBytes,
		MaxImageBytes:       cfg.MaxImageBytes,
		RequireKnownProduct: true,
		Logger:              logger,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := seedMasters(ctx, a.q, cfg, a.log.Info); err != nil {
		return nil, err
	}
	if a.pf, err = openPrefilter(ctx, a.q, cfg, log); err != nil {
		return nil, err
	}
	a.cam, err = capture.Open(cfg.Camera, capture.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("camera: %w", err)
	}
	a.met = newMetrics(a.q, a.cam, cfg.DeviceID, cfg.Line)
	var syncOpt inspect.SyncReporter
	var enroll inspect.Enroller
	if cfg.CloudAddr != "" {
		a.sync = newSyncer(cfg, a.q, filterModels{pf: a.pf, notify: a.Notify}, creds, a.Notify, log)
		syncOpt, enroll = a.sync, a.sync.enroll
	}
	if a.prev, err = newPreview(a.cam, cfg, a.met.reg, log); err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	a.api, err = inspect.New(inspect.Options{
		Store:          a.q,
		Camera:         stills{cam: a.cam, timeout: cfg.StillTimeout},
		Prefilter:      a.pf,
		DeviceID:       cfg.DeviceID,
		Line:           cfg.Line,
		MaxImageBytes:  cfg.MaxImageBytes,
		Live:           liveFrames{cam: a.cam, prev: a.prev},
		CameraState:    func() string { return a.cam.Status().State },
		AllowedOrigins: cfg.Origins(),
		Metrics:        a.met,
		Sync:           syncOpt,
		Enroll:         enroll,
		Logger:         logger,
	})
	if err != nil {
		return nil, err
	}
	a.srv = &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if a.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	a.log.Info("edge agent ready to run", "http_addr", a.HTTPAddr(), "camera", cfg.Camera,
		"model", a.pf.Model().Name+"@"+a.pf.Model().Version, "data_dir", cfg.DataDir)
	return a, nil
}

// HTTPAddr returns the address the HTTP server listens on (useful with port 0).
func (a *Agent) HTTPAddr() string { return a.ln.Addr().String() }

// Queue returns the agent's queue (for the sync loop and tests).
func (a *Agent) Queue() *queue.Queue { return a.q }

// Model returns the pre-filter model in use.
func (a *Agent) Model() prefilter.Model { return a.pf.Model() }

// ReloadModel verifies the bundle in dir ("" = embedded) and swaps it in
// only if it passes; otherwise the previous model keeps serving.
func (a *Agent) ReloadModel(dir string) (prefilter.Model, error) {
	m, err := a.pf.Reload(dir)
	a.api.Notify()
	return m, err
}

// openPrefilter opens the pre-filter the cloud last rolled out to this edge
// when it was downloaded before, else the configured (or embedded) bundle.
// A pulled bundle that no longer verifies is skipped with a warning; the
// sender downloads it again.
func openPrefilter(ctx context.Context, q *queue.Queue, cfg Config, log *slog.Logger) (*prefilter.Filter, error) {
	if cfg.CloudAddr != "" {
		dir, ok, err := sender.WantedModelDir(ctx, q, cfg.ModelsPath())
		if err != nil {
			return nil, err
		}
		if ok {
			pf, err := prefilter.Open(dir, prefilter.Options{Logger: log})
			if err == nil {
				return pf, nil
			}
			log.Warn("pulled pre-filter does not verify; starting on the configured one", "dir", dir, "err", err)
		}
	}
	return prefilter.Open(cfg.PrefilterDir, prefilter.Options{Logger: log})
}

// SetSync attaches the sync loop's status to the local API's status (and
// its WebSocket pushes).
func (a *Agent) SetSync(r inspect.SyncReporter) { a.api.SetSync(r) }

// Notify pushes the queue status to WebSocket clients now (the sync loop
// calls it after marking records synced).
func (a *Agent) Notify() {
	if a.api != nil {
		a.api.Notify()
	}
}

// Run serves until ctx ends, then shuts down gracefully and releases
// everything. It may be called once.
func (a *Agent) Run(ctx context.Context) error {
	if !a.ran.CompareAndSwap(false, true) {
		return errors.New("agent: Run called twice")
	}
	defer a.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.cam.Run(gctx) })
	g.Go(func() error { return a.api.Run(gctx) })
	g.Go(func() error { return a.prev.Run(gctx) })
	if a.cfg.LivePrefilterFPS > 0 {
		g.Go(func() error { return a.livePrefilter(gctx) })
	}
	if a.sync != nil {
		g.Go(func() error { return a.sync.Run(gctx) })
	}
	g.Go(func() error {
		if err := a.srv.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		if err := a.srv.Shutdown(sctx); err != nil {
			_ = a.srv.Close()
			return fmt.Errorf("http shutdown: %w", err)
		}
		return nil
	})
	a.log.Info("edge agent running", "http_addr", a.HTTPAddr())
	err := g.Wait()
	a.log.Info("edge agent stopped", "err", err)
	return err
}

// Close releases the listener, the model and the queue. It is idempotent.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		var errs []error
		if a.ln != nil && !a.ran.Load() {
			errs = append(errs, ignoreClosed(a.ln.Close()))
		}
		if a.pf != nil {
			errs = append(errs, a.pf.Close())
		}
		if a.q != nil {
			errs = append(errs, a.q.Close())
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}

func ignoreClosed(err error) error {
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// routes builds the agent's HTTP handler.
func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.met.reg, promhttp.HandlerOpts{}))
	mux.Handle("/api/v1/", a.api.Handler())
	h := a.prev.Handler()
	mux.Handle("/whep", h)
	mux.Handle("/whep/", h)
	mux.Handle("GET /preview", whep.PlayerHandler())     // bare live-preview page for a browser on the box
	mux.Handle("/", ui.Handler(ui.Config{Mode: "edge"})) // the web UI; 404 under /api/, /whep, ...
	if a.cfg.AllowRemote {
		return mux
	}
	return loopbackOnly(mux)
}

// loopbackOnly refuses requests whose Host is not a loopback name: with no
// authentication on the local API, this stops DNS-rebinding pages in a
// browser on the box from reaching it under a foreign host name.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if !isLoopback(host) {
			http.Error(w, "this agent only answers on loopback (Host "+r.Host+" refused); set allow_remote to serve the network", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readiness is the body of /readyz.
type readiness struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

// readyz answers 200 when the queue is readable, a verified model is loaded
// and the camera is live; otherwise 503 with what is wrong.
func (a *Agent) readyz(w http.ResponseWriter, r *http.Request) {
	out := readiness{Ready: true, Checks: map[string]string{}}
	if _, err := a.q.Stats(r.Context()); err != nil {
		out.Ready, out.Checks["queue"] = false, err.Error()
	} else {
		out.Checks["queue"] = "ok"
	}
	m := a.pf.Model()
	out.Checks["prefilter"] = m.Name + "@" + m.Version
	if st := a.cam.Status(); st.State != capture.StateLive {
		out.Ready = false
		out.Checks["camera"] = st.State + ": " + st.Err
	} else {
		out.Checks["camera"] = "live"
	}
	w.Header().Set("Content-Type", "application/json")
	if !out.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(out)
}

// stills adapts the capture camera to inspect.Camera, bounding the wait and
// turning "no frames" into inspect.ErrNoCamera.
type stills struct {
	cam     *capture.Camera
	timeout time.Duration
}

// Still takes the next full-resolution frame.
func (s stills) Still(ctx context.Context) (inspect.Frame, error) {
	sctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	f, err := s.cam.Still(sctx)
	switch {
	case err == nil:
		return inspect.Frame{Image: f.Image, CapturedAt: f.CapturedAt}, nil
	case errors.Is(err, capture.ErrNoCamera), errors.Is(err, capture.ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return inspect.Frame{}, fmt.Errorf("%w: %v", inspect.ErrNoCamera, err)
	default:
		return inspect.Frame{}, err
	}
}

// livePrefilter scores live frames at LivePrefilterFPS and publishes each
// result as an overlay to preview viewers. It never blocks capture: it
// takes the newest frame at each tick and skips the rest.
func (a *Agent) livePrefilter(ctx context.Context) error {
	frames, cancel := a.cam.Subscribe(1)
	defer cancel()
	t := time.NewTicker(time.Duration(float64(time.Second) / a.cfg.LivePrefilterFPS))
	defer t.Stop()
	var latest *capture.Frame
	for {
		select {
		case <-ctx.Done():
			return nil
		case f, ok := <-frames:
			if !ok {
				return nil
			}
			latest = &f
		case <-t.C:
			if latest == nil {
				continue
			}
			f := *latest
			latest = nil
			res, err := a.pf.ClassifyImage(f.Image, 0)
			if err != nil {
				a.log.Warn("live pre-filter", "err", err)
				continue
			}
			a.met.observePrefilter("live", res.Latency, res)
			_ = a.prev.PublishOverlay(Overlay{Seq: f.Seq, CapturedAt: f.CapturedAt, Score: res.Score, Label: res.Label,
				Suspect: res.Suspect, Model: res.ModelName + "@" + res.ModelVersion})
		}
	}
}

// Overlay is the pre-filter result on one live frame, sent to preview viewers.
type Overlay struct {
	Seq        uint64    `json:"seq"`
	CapturedAt time.Time `json:"captured_at"`
	Score      float32   `json:"score"`
	Label      string    `json:"label"`
	Suspect    bool      `json:"suspect"`
	Model      string    `json:"model"`
}
