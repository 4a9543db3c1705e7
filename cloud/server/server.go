// Package server is the cloud tier's composition root. It builds the
// components one process shape needs (all-in-one, api, worker) from a
// Config, runs them under one errgroup and shuts them down in reverse order.
//
// The all-in-one serves every part service on a loopback gRPC listener and
// dials it exactly as the api shape dials remote workers, so the conductor's
// code path is the same in both shapes.
package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/imageflowcanvas/ifc/cloud/api"
	"github.com/imageflowcanvas/ifc/cloud/auth"
	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/conductor"
	"github.com/imageflowcanvas/ifc/cloud/events"
	_ "github.com/imageflowcanvas/ifc/cloud/events/kafkabus" // kafka:// events
	"github.com/imageflowcanvas/ifc/cloud/events/natsbus"
	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	_ "github.com/imageflowcanvas/ifc/cloud/metadata/pgstore"     // postgres:// metadata
	_ "github.com/imageflowcanvas/ifc/cloud/metadata/sqlitestore" // sqlite:// metadata
	"github.com/imageflowcanvas/ifc/cloud/objectstore"
	_ "github.com/imageflowcanvas/ifc/cloud/objectstore/fsstore" // file:// objects
	_ "github.com/imageflowcanvas/ifc/cloud/objectstore/s3store" // s3:// objects (MinIO)
	"github.com/imageflowcanvas/ifc/cloud/parts"
	"github.com/imageflowcanvas/ifc/cloud/parts/detect"
	"github.com/imageflowcanvas/ifc/cloud/parts/filter"
	"github.com/imageflowcanvas/ifc/cloud/parts/imageio"
	"github.com/imageflowcanvas/ifc/cloud/parts/resize"
	"github.com/imageflowcanvas/ifc/cloud/tracing"
	"github.com/imageflowcanvas/ifc/models/infer"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/receiver"
)

// shutdownGrace bounds how long in-flight requests get after a stop signal.
const shutdownGrace = 10 * time.Second

// Server is one cloud-tier process.
type Server struct {
	cfg  Config
	mode Mode
	log  *slog.Logger

	httpLn, grpcLn, partsLn net.Listener
	httpSrv                 *http.Server
	grpcSrv, partsSrv       *grpc.Server
	partsHealth             *health.Server
	conductor               *conductor.Conductor
	api                     *api.Server
	receiver                *receiver.Server
	meta                    metadata.Store
	workerMetrics           *workerMetrics // worker with metrics_addr
	stopping                atomic.Bool    // /healthz of a worker answers 503
	ui                      *uiSwitch      // the web UI on the API's HTTP server (ui.go)

	runners []func(context.Context) error // optional components run beside the fixed ones (metrics tap, archive)
	closers []func() error                // run in reverse order by close
}

// New builds every component of the mode and opens its listeners and
// stores; it starts nothing (Run does). out receives the one-time admin
// password when one is generated.
func New(cfg Config, mode Mode, logger *slog.Logger, out io.Writer) (*Server, error) {
	if err := cfg.Validate(mode); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	s := &Server{cfg: cfg, mode: mode, log: logger.With("component", "server", "mode", string(mode))}
	tr, err := tracing.Setup(context.Background(), tracing.Config{Endpoint: cfg.TracingEndpoint, ServiceName: "ifc-cloud-" + string(mode)})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() error { // last to close: flushes the spans of shutdown too
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return tr.Shutdown(ctx)
	})
	if err := s.build(logger, out); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// build creates the components of s.mode; on error the caller closes what
// was opened.
func (s *Server) build(logger *slog.Logger, out io.Writer) error {
	cfg, mode := s.cfg, s.mode
	cat := catalog.Default()

	// Part services: hosted here in all-in-one and worker mode.
	if mode != ModeAPI {
		services := cfg.Parts
		if mode == ModeAllInOne {
			services = Services
		}
		addr := cfg.GRPCAddr
		if mode == ModeAllInOne {
			addr = "127.0.0.1:0" // internal only
		}
		if err := s.startParts(cat, services, addr); err != nil {
			return err
		}
		if mode == ModeWorker {
			return s.listenWorkerMetrics(logger)
		}
	}

	// Stores and events.
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	meta, err := metadata.Open(cfg.MetadataURL)
	if err != nil {
		return fmt.Errorf("open metadata store: %w", err)
	}
	s.closers = append(s.closers, meta.Close)
	s.meta = meta
	objects, err := objectstore.Open(cfg.ObjectsURL)
	if err != nil {
		return fmt.Errorf("open object store: %w", err)
	}
	s.closers = append(s.closers, objects.Close)
	bus, err := s.openBus(cfg.EventsURL)
	if err != nil {
		return err
	}
	progress, err := s.kafkaExtras(bus, objects, meta, logger) // archive.go
	if err != nil {
		return err
	}
	fileSvc, err := files.New(objects, meta, logger, files.Options{DefaultMaxBytes: cfg.MaxUploadBytes})
	if err != nil {
		return err
	}

	// Part clients.
	clients, err := s.dialParts(cfg)
	if err != nil {
		return err
	}

	s.conductor, err = conductor.New(conductor.Config{
		MaxConcurrent:        cfg.MaxConcurrent,
		NodeTimeout:          cfg.NodeTimeout,
		ExecutionTimeout:     cfg.ExecutionTimeout,
		PersistIntermediates: &cfg.PersistIntermediates,
	}, conductor.Deps{Store: meta, Files: fileSvc, Events: progress, Catalog: cat, Parts: clients,
		EncodeJPEG: imageio.EncodeRawJPEG, Logger: logger, Fallback: fallbackQueue(bus)})
	if err != nil {
		return err
	}

	if s.receiver, err = newReceiver(cfg, meta, fileSvc, s.conductor, logger); err != nil {
		return err
	}
	authn, err := s.authenticator(meta, out)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	shifts, err := cfg.ShiftPlan()
	if err != nil {
		return err
	}
	s.ui = newUISwitch(cfg.UIEdgeURL)
	s.api, err = api.New(api.Config{MaxUploadBytes: cfg.MaxUploadBytes, Shifts: shifts}, api.Deps{
		Store:        meta,
		Catalog:      cat,
		Conductor:    s.conductor,
		Files:        fileSvc,
		Bus:          bus,
		Auth:         authn,
		Registry:     reg,
		GRPCServices: []api.GRPCService{{Desc: s.receiver.Desc(), Impl: s.receiver}},
		ReadyChecks: []api.ReadyCheck{{Name: "objects", Check: func(ctx context.Context) error {
			// A missing probe key answers ErrNotFound from a reachable store.
			if _, err := objects.Stat(ctx, "readyz/probe"); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
				return err
			}
			return nil
		}}},
		Logger:      logger,
		UI:          s.ui,
		PresignFile: presigner(objects),
	})
	if err != nil {
		return err
	}

	if s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return fmt.Errorf("listen http %s: %w", cfg.HTTPAddr, err)
	}
	s.httpSrv = &http.Server{
		Handler:           s.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if s.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return fmt.Errorf("listen grpc %s: %w", cfg.GRPCAddr, err)
	}
	s.grpcSrv = s.api.NewGRPCServer(receiver.ServerOptions()...)
	return nil
}

// startParts builds the part services and their gRPC server on addr.
func (s *Server) startParts(cat *catalog.Catalog, services []string, addr string) error {
	var handlers []parts.Handler
	for _, svc := range services {
		switch svc {
		case "resize":
			handlers = append(handlers, resize.New())
		case "filter":
			handlers = append(handlers, filter.New())
		case "detect":
			h, err := detect.Open(context.Background(), s.cfg.DetectBackend, infer.Options{Logger: s.log})
			if err != nil {
				return fmt.Errorf("start detect service: %w", err)
			}
			s.closers = append(s.closers, h.Close)
			s.log.Info("detector loaded", "model", h.Model())
			handlers = append(handlers, h)
		}
	}
	srv, err := parts.NewServer(s.log, cat, handlers...)
	if err != nil {
		return err
	}
	opts := parts.ServerOptions()
	if s.mode == ModeWorker && s.cfg.MetricsAddr != "" {
		s.workerMetrics = newWorkerMetrics(cat)
		opts = append(opts, grpc.ChainUnaryInterceptor(s.workerMetrics.interceptor))
	}
	s.partsSrv = grpc.NewServer(opts...)
	ifcv1.RegisterPartServiceServer(s.partsSrv, srv)
	// The standard health service (SERVING once the parts are loaded, which
	// New does before anything listens; NOT_SERVING while shutting down)
	// for Kubernetes gRPC probes and load balancers.
	s.partsHealth = health.NewServer()
	healthpb.RegisterHealthServer(s.partsSrv, s.partsHealth)
	if s.partsLn, err = net.Listen("tcp", addr); err != nil {
		return fmt.Errorf("listen part services %s: %w", addr, err)
	}
	return nil
}

// listenWorkerMetrics opens a worker's /metrics and /healthz listener
// (metrics_addr) when one is configured.
func (s *Server) listenWorkerMetrics(logger *slog.Logger) error {
	if s.workerMetrics == nil {
		return nil
	}
	var err error
	if s.httpLn, err = net.Listen("tcp", s.cfg.MetricsAddr); err != nil {
		return fmt.Errorf("listen metrics %s: %w", s.cfg.MetricsAddr, err)
	}
	s.httpSrv = &http.Server{
		Handler:           s.workerMetrics.handler(func() bool { return !s.stopping.Load() }),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return nil
}

// dialParts connects to the part services: the loopback listener in the
// all-in-one, the configured endpoints otherwise.
func (s *Server) dialParts(cfg Config) (map[string]ifcv1.PartServiceClient, error) {
	endpoints := map[string]string{}
	if s.mode == ModeAllInOne {
		for _, svc := range Services {
			endpoints[svc] = s.partsLn.Addr().String()
		}
	} else {
		var err error
		if endpoints, err = cfg.Endpoints(); err != nil {
			return nil, err
		}
	}
	conns := map[string]*grpc.ClientConn{}
	clients := map[string]ifcv1.PartServiceClient{}
	for svc, addr := range endpoints {
		cc, ok := conns[addr]
		if !ok {
			var err error
			// Part services are internal (loopback, or inside the cluster
			// network per DESIGN "Security"); no TLS on this hop.
			// round_robin over every address the name resolves to: on
			// Kubernetes a headless Service lists each part pod, so scaling
			// a part service out spreads the calls (pick_first would pin
			// each API replica to one pod).
			opts := append(parts.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`))
			cc, err = grpc.NewClient(addr, opts...)
			if err != nil {
				return nil, fmt.Errorf("dial part service %s at %s: %w", svc, addr, err)
			}
			conns[addr] = cc
			s.closers = append(s.closers, cc.Close)
		}
		clients[svc] = ifcv1.NewPartServiceClient(cc)
	}
	return clients, nil
}

// openBus opens the event bus of url: "embedded" starts a NATS server in
// this process; nats:// and kafka:// connect through the events registry.
func (s *Server) openBus(url string) (events.Bus, error) {
	var (
		bus events.Bus
		err error
	)
	if url == "embedded" {
		// Other processes could connect on ClientURL; this one uses an
		// in-process connection (4 µs publish→handler instead of 17 µs).
		// JetStream (files under data_dir/nats) holds the fallback queue.
		ns, serr := natsbus.StartEmbedded(context.Background(), natsbus.EmbeddedOptions{StoreDir: filepath.Join(s.cfg.DataDir, "nats")}, s.log)
		if serr != nil {
			return nil, serr
		}
		s.closers = append(s.closers, ns.Close)
		bus, err = ns.Connect(s.log)
	} else {
		bus, err = events.Open(url, s.log)
	}
	if err != nil {
		return nil, fmt.Errorf("connect event bus: %w", err)
	}
	s.closers = append(s.closers, bus.Close)
	return bus, nil
}

// fallbackQueue is the bus's durable queue for executions waiting on an
// unreachable part service (kafkabus, natsbus), or nil.
func fallbackQueue(bus events.Bus) conductor.FallbackQueue {
	if q, ok := bus.(conductor.FallbackQueue); ok {
		return q
	}
	return nil
}

// authenticator loads (or creates) the token key and makes sure an admin exists.
func (s *Server) authenticator(users auth.UserStore, out io.Writer) (*auth.Authenticator, error) {
	key, err := loadOrCreateKey(s.cfg.TokenKeyFile)
	if err != nil {
		return nil, err
	}
	tokens, err := auth.NewTokens(auth.TokenConfig{Key: key, TTL: s.cfg.TokenTTL})
	if err != nil {
		return nil, err
	}
	a, err := auth.NewAuthenticator(users, tokens, auth.WithLogger(s.log))
	if err != nil {
		return nil, err
	}
	generated, err := a.EnsureAdmin(context.Background(), s.cfg.AdminPassword)
	if err != nil {
		return nil, fmt.Errorf("ensure admin user: %w", err)
	}
	if generated != "" {
		fmt.Fprintf(out, "created user admin with password %s (shown once; set IFC_ADMIN_PASSWORD to choose it)\n", generated)
	}
	return a, nil
}

// loadOrCreateKey reads a hex token key, creating it (0600) at first start.
func loadOrCreateKey(path string) ([]byte, error) {
	if raw, err := os.ReadFile(path); err == nil {
		key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
		if err != nil {
			return nil, fmt.Errorf("token key %s: not hex: %w", path, err)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read token key: %w", err)
	}
	key, err := auth.GenerateKey()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create token key dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write token key: %w", err)
	}
	return key, nil
}

// HTTPAddr is the address the HTTP API listens on; in worker mode the
// /metrics listener's ("" without metrics_addr).
func (s *Server) HTTPAddr() string { return addrOf(s.httpLn) }

// GRPCAddr is the address of the public gRPC server: the PipelineService,
// or the part services in worker mode.
func (s *Server) GRPCAddr() string {
	if s.mode == ModeWorker {
		return addrOf(s.partsLn)
	}
	return addrOf(s.grpcLn)
}

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

// Run serves until ctx is done, then stops accepting, lets in-flight work
// finish (bounded by a grace period) and closes everything in reverse
// order of opening.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	eg, gctx := errgroup.WithContext(ctx)
	g := stoppable{eg, ctx}
	if s.partsSrv != nil {
		g.Go(func() error { return s.partsSrv.Serve(s.partsLn) })
	}
	if s.mode != ModeWorker {
		g.Go(func() error { return s.conductor.Run(gctx) })
		g.Go(func() error { return s.api.Run(gctx) })
		g.Go(func() error { return s.receiver.Run(gctx) })
		g.Go(func() error {
			if err := s.httpSrv.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http server: %w", err)
			}
			return nil
		})
		g.Go(func() error { return s.grpcSrv.Serve(s.grpcLn) })
		for _, run := range s.runners {
			g.Go(func() error { return run(gctx) })
		}
		s.log.Info("cloud tier ready", "http", s.HTTPAddr(), "grpc", s.GRPCAddr())
	} else {
		if s.httpSrv != nil {
			g.Go(func() error {
				if err := s.httpSrv.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
					return fmt.Errorf("metrics server: %w", err)
				}
				return nil
			})
		}
		s.log.Info("part services ready", "grpc", s.GRPCAddr(), "services", s.cfg.Parts, "metrics", s.HTTPAddr())
	}
	g.Go(func() error {
		<-gctx.Done()
		s.stopping.Store(true)
		s.log.Info("shutting down")
		shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if s.httpSrv != nil {
			_ = s.httpSrv.Shutdown(shutCtx)
		}
		if s.partsHealth != nil {
			s.partsHealth.Shutdown()
		}
		for _, gs := range []*grpc.Server{s.grpcSrv, s.partsSrv} {
			if gs != nil {
				stopGRPC(shutCtx, gs)
			}
		}
		return nil
	})
	err := g.Wait()
	if ctx.Err() != nil && err == nil {
		s.log.Info("stopped")
	}
	return err
}

// stoppable runs a component under the errgroup and forgets the errors a
// component reports only because the stop came before it was up: a
// subscription refused for a done context, a gRPC Serve called after
// GracefulStop. A stop (SIGTERM) during start-up is a clean exit, not exit 2.
type stoppable struct {
	*errgroup.Group
	ctx context.Context
}

func (g stoppable) Go(f func() error) {
	g.Group.Go(func() error {
		err := f()
		if err != nil && g.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, grpc.ErrServerStopped)) {
			return nil
		}
		return err
	})
}

// stopGRPC stops gs gracefully, or hard when ctx expires first.
func stopGRPC(ctx context.Context, gs *grpc.Server) {
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		gs.Stop()
		<-done
	}
}

// Close releases what New opened, for a Server whose Run is never called.
func (s *Server) Close() { s.close() }

// close releases resources in reverse order of opening.
func (s *Server) close() {
	for _, l := range []net.Listener{s.httpLn, s.grpcLn, s.partsLn} {
		if l != nil {
			_ = l.Close()
		}
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			s.log.Warn("close", "err", err)
		}
	}
	s.closers = nil
}
