package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts"
	"github.com/imageflowcanvas/ifc/cloud/parts/detect"
	"github.com/imageflowcanvas/ifc/cloud/parts/filter"
	"github.com/imageflowcanvas/ifc/cloud/parts/imageio"
	"github.com/imageflowcanvas/ifc/cloud/parts/resize"
	"github.com/imageflowcanvas/ifc/models/infer"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// BenchmarkStandardPipeline measures the standard pipeline (1920×1080 JPEG →
// resize 640 letterbox → gaussian blur 5 → detect, every output persisted)
// end to end through the all-in-one: REST ?wait=true and gRPC Execute, at
// concurrency 1 (latency percentiles) and 16 and 100 (throughput). The
// "floor" sub-benchmark does the same work in one goroutine with no RPC and
// no persistence. Method and numbers: docs/benchmarks.md.
func BenchmarkStandardPipeline(b *testing.B) {
	h := startAllInOne(b)
	img, _ := partImage(b, 0)
	fileID := h.upload("part.jpg", img)
	pipelineID := h.createStandardPipeline()
	client, ctx := grpcConn(b, h)
	body := fmt.Sprintf(`{"pipeline_id":%q,"inputs":[%q]}`, pipelineID, fileID)

	rest := func() error {
		var ex executionJSON
		h.do("POST", "/api/v1/executions?wait=true", "application/json", body, http.StatusOK, &ex)
		if ex.Status != "succeeded" {
			return fmt.Errorf("status %s: %s", ex.Status, ex.Error)
		}
		return nil
	}
	grpcExec := func() error { return executeGRPC(ctx, client, pipelineID, fileID) }
	for _, c := range []int{1, 16, 100} {
		b.Run(fmt.Sprintf("rest/c%d", c), func(b *testing.B) { runConcurrent(b, c, rest) })
		b.Run(fmt.Sprintf("grpc/c%d", c), func(b *testing.B) { runConcurrent(b, c, grpcExec) })
	}
	b.Run("floor/c1", func(b *testing.B) { benchFloor(b, img) })

	// The same gRPC path with only the sink's output persisted, to separate
	// the cost of persisting intermediates from the RPC path's own.
	b.Run("grpc-sinks-only/c1", func(b *testing.B) {
		h2 := startAllInOne(b, func(c *Config) { c.PersistIntermediates = false })
		file2 := h2.upload("part.jpg", img)
		pipe2 := h2.createStandardPipeline()
		client2, ctx2 := grpcConn(b, h2)
		runConcurrent(b, 1, func() error { return executeGRPC(ctx2, client2, pipe2, file2) })
	})
}

// executeGRPC runs one execution of pipelineID on fileID through
// PipelineService.Execute and fails unless it succeeded.
func executeGRPC(ctx context.Context, client ifcv1.PipelineServiceClient, pipelineID, fileID string) error {
	resp, err := client.Execute(ctx, &ifcv1.ExecuteRequest{PipelineId: pipelineID, Input: &ifcv1.ExecuteRequest_FileId{FileId: fileID}})
	if err != nil {
		return err
	}
	if st := resp.GetExecution().GetStatus(); st != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		return fmt.Errorf("status %v", st)
	}
	return nil
}

// runConcurrent runs b.N calls of fn from c goroutines and reports latency
// percentiles and throughput.
func runConcurrent(b *testing.B, c int, fn func() error) {
	lat := make([]time.Duration, b.N)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, c)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < c; w++ {
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
	reportLatency(b, lat, elapsed)
}

func reportLatency(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "exec/s")
}

// benchFloor does the standard pipeline's work directly: decode, letterbox,
// blur, detect + annotate, JPEG encode; no gRPC, no stores, no events.
func benchFloor(b *testing.B, jpegBytes []byte) {
	det, err := detect.NewEmbedded(infer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer det.Close()
	cat := catalog.Default()
	params := func(part string, p map[string]any) parts.Params {
		v, err := cat.ValidateParams(part, p)
		if err != nil {
			b.Fatal(err)
		}
		return parts.Params(v)
	}
	rp := params("resize", map[string]any{"width": 640, "height": 640, "keep_aspect": true, "letterbox": true})
	bp := params("gaussian_blur", map[string]any{"ksize": 5})
	dp := params("detect", map[string]any{})
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		src, err := imageio.DecodeBytes(jpegBytes, imageio.DefaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		small, err := resize.Resize(src, resize.OptionsFrom(rp))
		src.Close()
		if err != nil {
			b.Fatal(err)
		}
		blurred, err := filter.Apply("gaussian_blur", small, bp)
		small.Close()
		if err != nil {
			b.Fatal(err)
		}
		res, err := det.Process(context.Background(), &parts.Request{Part: "detect", Params: dp, Images: []gocv.Mat{blurred}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := imageio.EncodeJPEG(res.Image, 90); err != nil {
			b.Fatal(err)
		}
		if res.Image.Ptr() != blurred.Ptr() {
			res.Image.Close()
		}
		blurred.Close()
		lat[i] = time.Since(t0)
	}
	reportLatency(b, lat, time.Since(start))
}
