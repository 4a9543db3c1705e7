package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/imageflowcanvas/ifc/edge/agent"
)

// runEdge runs the edge agent. Configuration comes from defaults, then
// --config YAML, then IFC_EDGE_* environment, then flags.
func runEdge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file (see deploy/edge/config.yaml)")
	check := fs.Bool("check-config", false, "validate the configuration, print it and exit")
	httpAddr := fs.String("http-addr", "", "local API / WHEP / metrics listen address (env IFC_EDGE_HTTP_ADDR)")
	dataDir := fs.String("data-dir", "", "directory for the queue and masters.yaml (env IFC_EDGE_DATA_DIR)")
	camera := fs.String("camera", "", "camera spec: synthetic:, v4l2:/dev/video0, folder:/path (env IFC_EDGE_CAMERA)")
	logLevel := fs.String("log-level", "", "debug|info|warn|error (env IFC_EDGE_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("edge: unexpected arguments %q", fs.Args())
	}
	cfg, err := agent.Load(*configPath)
	if err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "http-addr":
			cfg.HTTPAddr = *httpAddr
		case "data-dir":
			cfg.DataDir = *dataDir
		case "camera":
			cfg.Camera = *camera
		case "log-level":
			cfg.LogLevel = *logLevel
		}
	})
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid edge configuration:\n%w", err)
	}
	if *check {
		fmt.Fprintf(stdout, "edge configuration OK: %+v\n", cfg)
		return nil
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	a, err := agent.New(cfg, logger)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
