package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// TestWorkerMetrics: a worker with metrics_addr serves /healthz and
// /metrics, which count its Process calls per part and gRPC code (an
// unknown part as "unknown"), time them and show none in flight after.
func TestWorkerMetrics(t *testing.T) {
	cfg := DefaultConfig()
	cfg.GRPCAddr, cfg.MetricsAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Parts = []string{"resize", "filter"}
	w, err := New(cfg, ModeWorker, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker Run: %v", err)
		}
	}()
	base := "http://" + w.HTTPAddr()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d", code)
	}

	cc, err := grpc.NewClient(w.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	pc := ifcv1.NewPartServiceClient(cc)
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	for _, tc := range []struct {
		part string
		code codes.Code
	}{{"resize", codes.InvalidArgument}, {"resize", codes.InvalidArgument}, {"no-such-part", codes.NotFound}} {
		_, err := pc.Process(cctx, &ifcv1.ProcessRequest{Part: tc.part})
		if status.Code(err) != tc.code {
			t.Fatalf("Process %s: %v, want %v", tc.part, err, tc.code)
		}
	}

	code, body := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics %d", code)
	}
	for _, want := range []string{
		`ifc_worker_requests_total{code="InvalidArgument",part="resize"} 2`,
		`ifc_worker_requests_total{code="NotFound",part="unknown"} 1`,
		`ifc_worker_request_duration_seconds_count{part="resize"} 2`,
		`ifc_worker_in_flight_requests{part="resize"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
