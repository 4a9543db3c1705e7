package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/imageflowcanvas/ifc/cloud/server"
	"github.com/imageflowcanvas/ifc/edge/agent"
	"github.com/imageflowcanvas/ifc/internal/confload"
)

// runCloud runs one of the cloud-tier shapes. Configuration comes from
// defaults, then --config YAML, then IFC_* environment, then flags.
func runCloud(ctx context.Context, shape string, args []string, stdout, stderr io.Writer) error {
	mode := map[string]server.Mode{"all-in-one": server.ModeAllInOne, "api": server.ModeAPI, "worker": server.ModeWorker}[shape]
	fs := flag.NewFlagSet(shape, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file")
	check := fs.Bool("check-config", false, "validate the configuration, print it and exit")
	dataDir := fs.String("data-dir", "", "directory for the database and objects (env IFC_DATA_DIR)")
	httpAddr := fs.String("http-addr", "", "HTTP listen address (env IFC_HTTP_ADDR); worker: the /metrics and /healthz listener (env IFC_METRICS_ADDR, default off)")
	grpcAddr := fs.String("grpc-addr", "", "gRPC listen address (env IFC_GRPC_ADDR)")
	parts := fs.String("parts", "", "worker: comma-separated services to host: resize,filter,detect (env IFC_PARTS)")
	endpoints := fs.String("part-endpoints", "", "api: service=host:port,... for every part service (env IFC_PART_ENDPOINTS)")
	logLevel := fs.String("log-level", "", "debug|info|warn|error (env IFC_LOG_LEVEL)")
	var edgeAddr *string
	var noEdge *bool
	if mode == server.ModeAllInOne {
		edgeAddr = fs.String("edge-http-addr", "", "all-in-one: the edge agent's API/WHEP address (env IFC_EDGE_HTTP_ADDR, default 127.0.0.1:8081)")
		noEdge = fs.Bool("no-edge", false, "all-in-one: do not start the edge agent")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", shape, fs.Args())
	}

	cfg := server.DefaultConfig()
	if err := confload.Load(*configPath, "IFC_", &cfg); err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "data-dir":
			cfg.DataDir = *dataDir
		case "http-addr":
			if mode == server.ModeWorker {
				cfg.MetricsAddr = *httpAddr
			} else {
				cfg.HTTPAddr = *httpAddr
			}
		case "grpc-addr":
			cfg.GRPCAddr = *grpcAddr
		case "parts":
			cfg.Parts = splitList(*parts)
		case "part-endpoints":
			cfg.PartEndpoints = splitList(*endpoints)
		case "log-level":
			cfg.LogLevel = *logLevel
		}
	})
	cfg.Resolve()
	if err := cfg.Validate(mode); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	if *check {
		fmt.Fprintf(stdout, "configuration OK for %s: %+v\n", shape, redacted(cfg))
		return nil
	}

	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	srv, err := server.New(cfg, mode, logger, stdout)
	if err != nil {
		return err
	}
	if ctx.Err() != nil { // stopped while starting: a clean exit
		srv.Close()
		return nil
	}
	// The all-in-one also runs one edge agent beside the cloud, enrolled
	// with it and syncing to it. Only main may import both tiers, so they
	// are wired here.
	var edge *agent.Agent
	if mode == server.ModeAllInOne && !*noEdge {
		if edge, err = newLocalEdge(ctx, srv, filepath.Join(cfg.DataDir, "edge"), *edgeAddr, logger); err != nil {
			srv.Close()
			return err
		}
		// The cloud UI links the edge agent's UI (unless ui_edge_url says otherwise).
		srv.SetUIEdgeURL("http://" + loopbackAddr(edge.HTTPAddr()))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(gctx) })
	if edge != nil {
		g.Go(func() error { return edge.Run(gctx) })
		fmt.Fprintf(stdout, "ImageFlowCanvas all-in-one: API http://%s  gRPC %s  edge agent http://%s\n", srv.HTTPAddr(), srv.GRPCAddr(), edge.HTTPAddr())
	}
	return g.Wait()
}

// newLocalEdge builds the all-in-one's edge agent: the synthetic camera,
// its data under the cloud's data dir, and sync to this cloud. On first
// start it gets a one-time enrollment token straight from the cloud's
// store, and the cloud learns the demo master and the standard pipeline,
// so the edge's records are accepted and analysed.
func newLocalEdge(ctx context.Context, srv *server.Server, dataDir, httpAddr string, logger *slog.Logger) (*agent.Agent, error) {
	ecfg, err := agent.Load("")
	if err != nil {
		return nil, err
	}
	ecfg.DataDir = dataDir
	if httpAddr != "" {
		ecfg.HTTPAddr = httpAddr
	}
	if ecfg.Line == "" {
		ecfg.Line = "demo-line"
	}
	if ecfg.CloudAddr == "" {
		ecfg.CloudAddr = loopbackAddr(srv.GRPCAddr())
	}
	masters, err := agent.ParseMasters(agent.DemoMasters)
	if err != nil {
		return nil, err
	}
	if err := srv.EnsureDemo(ctx, masters); err != nil {
		return nil, err
	}
	if _, err := os.Stat(ecfg.CredentialsPath()); errors.Is(err, fs.ErrNotExist) && ecfg.EnrollmentToken == "" {
		if ecfg.EnrollmentToken, err = srv.CreateEnrollmentToken(ctx, ecfg.Line, time.Hour); err != nil {
			return nil, err
		}
	}
	if err := ecfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid edge configuration:\n%w", err)
	}
	a, err := agent.New(ecfg, logger)
	if err != nil {
		return nil, fmt.Errorf("start edge agent: %w", err)
	}
	return a, nil
}

// loopbackAddr turns a wildcard listen address into one a local client can dial.
func loopbackAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func redacted(c server.Config) server.Config {
	if c.AdminPassword != "" {
		c.AdminPassword = "<redacted>"
	}
	return c
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
