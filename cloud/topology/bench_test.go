package topology

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/events/natsbus"
)

// BenchmarkTopologyStandard measures the standard pipeline (1920×1080 JPEG →
// resize 640 letterbox → blur 5 → detect on Triton, every output persisted
// to MinIO, metadata in PostgreSQL, progress on Kafka) through the
// distributed topology: REST ?wait=true on replica A, at concurrency 1
// (latency) and 16 and 100 (throughput); then, for comparison, with the
// detect worker on the embedded ONNX Runtime detector. Method and numbers: docs/topology.md.
func BenchmarkTopologyStandard(b *testing.B) {
	be := requireBackends(b)
	img, _ := partImage(b, 0)
	start := func(opts options) func() error {
		tp := startTopology(b, be, opts)
		fileID := tp.a.upload(img)
		pipelineID := tp.a.createStandardPipeline()
		return func() error {
			ex, err := tp.a.runWait(pipelineID, fileID)
			if err != nil {
				return err
			}
			if ex.Status != "succeeded" {
				return fmt.Errorf("status %s: %s", ex.Status, ex.Error)
			}
			return nil
		}
	}
	run := start(options{})
	for _, c := range []int{1, 16, 100} {
		b.Run(fmt.Sprintf("rest/c%d", c), func(b *testing.B) { runConcurrent(b, c, run) })
	}
	// The same topology with the detect worker running the embedded ONNX
	// Runtime detector instead of calling Triton: separates Triton's share
	// from the cost of the distribution itself.
	runORT := start(options{detectBackend: "onnx:"})
	for _, c := range []int{1, 16} {
		b.Run(fmt.Sprintf("rest-onnx-worker/c%d", c), func(b *testing.B) { runConcurrent(b, c, runORT) })
	}
	// And with progress on NATS instead of Kafka: the conductor publishes
	// each event synchronously, so the bus's publish latency is on the
	// execution's path.
	runNATS := start(options{eventsURL: startNATS(b)})
	for _, c := range []int{1, 16} {
		b.Run(fmt.Sprintf("rest-nats-events/c%d", c), func(b *testing.B) { runConcurrent(b, c, runNATS) })
	}
}

// startNATS starts a nats-server in the test process, stopped at the end,
// and returns its client URL for the topology's processes.
func startNATS(b *testing.B) string {
	ns, err := natsbus.StartEmbedded(context.Background(), natsbus.EmbeddedOptions{Host: "127.0.0.1"},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ns.Close() })
	return ns.ClientURL()
}

// runConcurrent runs b.N calls of fn from c goroutines and reports latency
// percentiles and throughput, as cloud/server's benchmarks do.
func runConcurrent(b *testing.B, c int, fn func() error) {
	lat := make([]time.Duration, b.N)
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	errs := make(chan error, c)
	b.ResetTimer()
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := fn(); err != nil {
					errs <- err
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatalf("execution failed: %v", err)
	}
	reportLatency(b, lat, "")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "exec/s")
}

// reportLatency reports the p50 and p99 of lat in milliseconds.
func reportLatency(b *testing.B, lat []time.Duration, prefix string) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), prefix+"p50-ms")
	b.ReportMetric(pct(0.99), prefix+"p99-ms")
}

// BenchmarkProgressReplicaB measures how long a progress event takes from
// the conductor on replica A (the event's ts, stamped just before publish)
// to a WebSocket client on replica B, over Kafka and over NATS. One
// execution runs at a time; only events published after B answered the
// subscription (its state message) count, so replayed events do not.
func BenchmarkProgressReplicaB(b *testing.B) {
	be := requireBackends(b)
	buses := []struct{ name, url string }{{"kafka", ""}, {"nats", startNATS(b)}}
	img, _ := partImage(b, 0)
	for _, bus := range buses {
		tp := startTopology(b, be, options{eventsURL: bus.url})
		fileID := tp.a.upload(img)
		pipelineID := tp.a.createStandardPipeline()
		b.Run(bus.name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			ws := tp.b.dialWS(ctx)
			var lat []time.Duration
			b.ResetTimer()
			for range b.N {
				id := tp.a.submit(pipelineID, fileID)
				if err := subscribe(ctx, ws, id); err != nil {
					b.Fatal(err)
				}
				var live time.Time
				for {
					m, err := readWS(ctx, ws)
					now := time.Now()
					if err != nil {
						b.Fatal(err)
					}
					if m.Type == "state" && m.ExecutionID == id {
						live = now
						continue
					}
					if m.Type != "progress" || m.ExecutionID != id {
						continue
					}
					if !live.IsZero() && m.TS.After(live) {
						lat = append(lat, now.Sub(m.TS))
					}
					if m.terminal() {
						break
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(len(lat))/float64(b.N), "live-events/exec")
			reportLatency(b, lat, "event-")
		})
	}
}
