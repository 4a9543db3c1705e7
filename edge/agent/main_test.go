package agent_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/imageflowcanvas/ifc/edge/agent"
)

// Child protocol: the crash test and the RSS benchmark re-execute this test
// binary with childEnv set; TestMain then runs a real agent instead of the
// tests. It writes its HTTP address to <data_dir>/addr once listening.
const (
	childEnv       = "IFC_EDGE_TEST_CHILD"
	childDataEnv   = "IFC_EDGE_TEST_CHILD_DATA"
	childCameraEnv = "IFC_EDGE_TEST_CHILD_CAMERA"
	childLiveEnv   = "IFC_EDGE_TEST_CHILD_LIVE_FPS"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/yalue/onnxruntime_go.(*Environment).init"),
	)
}

func runChild() int {
	dir := os.Getenv(childDataEnv)
	cfg := agent.DefaultConfig()
	cfg.DeviceID = "edge-crash-01"
	cfg.Line = "line-9"
	cfg.DataDir = dir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Camera = os.Getenv(childCameraEnv)
	if v := os.Getenv(childLiveEnv); v != "" {
		if _, err := fmt.Sscan(v, &cfg.LivePrefilterFPS); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 3
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("IFC_EDGE_TEST_CHILD_LOG") == "1" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	a, err := agent.New(cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 3
	}
	tmp := filepath.Join(dir, "addr.tmp")
	if err := os.WriteFile(tmp, []byte(a.HTTPAddr()), 0o600); err != nil || os.Rename(tmp, filepath.Join(dir, "addr")) != nil {
		fmt.Fprintln(os.Stderr, "child: write addr:", err)
		return 3
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}
