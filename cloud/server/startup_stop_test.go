package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestStopDuringStartup cancels the context before or right as Run starts
// (a SIGTERM while the process is still starting): Run must return nil, and
// promptly, in every shape.
func TestStopDuringStartup(t *testing.T) {
	for _, delay := range []time.Duration{-1, 0, time.Millisecond, 5 * time.Millisecond} {
		for _, mode := range []Mode{ModeAllInOne, ModeWorker} {
			t.Run(string(mode)+"/"+delay.String(), func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.DataDir = t.TempDir()
				cfg.HTTPAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
				cfg.AdminPassword = adminPassword
				cfg.Resolve()
				srv, err := New(cfg, mode, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				if delay < 0 {
					cancel()
				} else {
					time.AfterFunc(delay, cancel)
				}
				done := make(chan error, 1)
				go func() { done <- srv.Run(ctx) }()
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("Run after a stop during start-up = %v, want nil", err)
					}
				case <-time.After(30 * time.Second):
					t.Fatal("Run did not return within 30s of the stop")
				}
				cancel()
			})
		}
	}
}
