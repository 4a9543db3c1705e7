package main

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestCloudAPIStopDuringStartup stops `ifc cloud api` (the context main
// cancels on SIGTERM) before and at several moments of its start-up: run
// returns nil every time, which main turns into exit status 0. It used to
// return the event subscription's "context canceled" (exit 2).
func TestCloudAPIStopDuringStartup(t *testing.T) {
	t.Setenv("IFC_ADMIN_PASSWORD", "stop during startup")
	for _, delay := range []time.Duration{-1, 0, time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if delay < 0 {
				cancel()
			} else {
				time.AfterFunc(delay, cancel)
			}
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"cloud", "api", "--data-dir", t.TempDir(), "--log-level", "error",
					"--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0",
					"--part-endpoints", "resize=127.0.0.1:1,filter=127.0.0.1:1,detect=127.0.0.1:1"}, io.Discard, io.Discard)
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("cloud api stopped %v into start-up: %v, want nil (exit 0)", delay, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("cloud api did not return within 30s of the stop")
			}
		})
	}
}
