package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRunEdgeCheckConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "edge.yaml")
	if err := os.WriteFile(cfgPath, []byte("device_id: box-1\nline: L1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IFC_EDGE_LOG_LEVEL", "debug")
	var out, errOut strings.Builder
	err := runEdge(context.Background(), []string{"--config", cfgPath, "--check-config",
		"--http-addr", "127.0.0.1:18081", "--data-dir", dir, "--camera", "folder:/srv/replay"}, &out, &errOut)
	if err != nil {
		t.Fatalf("check-config: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"edge configuration OK", "DeviceID:box-1", "HTTPAddr:127.0.0.1:18081", "Camera:folder:/srv/replay", "LogLevel:debug", "DataDir:" + dir} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q: %s", want, out.String())
		}
	}
}

func TestRunEdgeRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--check-config", "--http-addr", "0.0.0.0:8081"}, "http_addr"},
		{[]string{"--check-config", "--camera", ""}, "camera"},
		{[]string{"--check-config", "--config", "/does/not/exist.yaml"}, "exist.yaml"},
		{[]string{"--check-config", "stray"}, "unexpected arguments"},
	} {
		var out, errOut strings.Builder
		err := runEdge(context.Background(), tc.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	var out, errOut strings.Builder
	if err := runEdge(context.Background(), []string{"-h"}, &out, &errOut); !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut.String(), "--check-config") && !strings.Contains(errOut.String(), "-check-config") {
		t.Errorf("-h: %v %s", err, errOut.String())
	}
}

// TestRunEdgeServesAndStops starts the agent through the command and stops
// it by cancelling the context, as SIGTERM does in main.
func TestRunEdgeServesAndStops(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errOut syncBuilder
	go func() {
		done <- runEdge(ctx, []string{"--data-dir", dir, "--http-addr", "127.0.0.1:0",
			"--camera", "synthetic:?width=320&height=240&fps=5", "--log-level", "info"}, &out, &errOut)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(errOut.String(), "edge agent running") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("agent did not start:\n%s", errOut.String())
		}
		select {
		case err := <-done:
			t.Fatalf("runEdge returned early: %v\n%s", err, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runEdge: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("runEdge did not return after cancel")
	}
	logs := errOut.String()
	if !strings.Contains(logs, "device_id=") || !strings.Contains(logs, "edge agent stopped") {
		t.Errorf("logs:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(dir, "queue.db")); err != nil {
		t.Error(err)
	}
}

// syncBuilder is a strings.Builder safe for the logger and the test to share.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
