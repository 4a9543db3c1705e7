package inspect_test

import (
	"context"
	"encoding/json"
	"image"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/edge/inspect"
)

// stillCamera returns the same pre-rendered frame at once, so the benchmark
// measures the agent's own work, not frame pacing or synthetic drawing.
type stillCamera struct{ img image.Image }

func (c stillCamera) Still(context.Context) (inspect.Frame, error) {
	return inspect.Frame{Image: c.img, CapturedAt: time.Now()}, nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

// BenchmarkCaptureToVerdictShown is POST /captures over loopback HTTP with a
// 1280×720 still: Mat conversion, JPEG encode, disk-budget check,
// pre-filter, JSON answer decoded by the client — everything between the
// inspector's click and the verdict on screen except the camera's frame
// interval. It also times the verdict submission (fsynced bbolt commit).
//
//	go test -run '^$' -bench CaptureToVerdict -benchtime 200x ./edge/inspect
func BenchmarkCaptureToVerdictShown(b *testing.B) {
	for _, size := range []struct {
		name string
		w, h int
	}{{"720p", 1280, 720}, {"1080p", 1920, 1080}} {
		b.Run(size.name, func(b *testing.B) {
			e := newBenchEnv(b, stillCamera{img: synthImage(b, size.w, size.h)})
			sess := e.session()
			var capture, verdict []time.Duration
			var server []float64
			for b.Loop() {
				start := time.Now()
				r := e.do("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", "", nil)
				if r.code != http.StatusCreated {
					b.Fatalf("capture: %d %s", r.code, r.body)
				}
				var c inspect.CaptureJSON
				if err := json.Unmarshal(r.body, &c); err != nil {
					b.Fatal(err)
				}
				capture = append(capture, time.Since(start))
				server = append(server, c.Timings.PrefilterMS)
				start = time.Now()
				r = e.postJSON("/api/v1/captures/"+c.CaptureID+"/verdict", inspect.VerdictRequest{Result: "OK"})
				if r.code != http.StatusCreated {
					b.Fatalf("verdict: %d %s", r.code, r.body)
				}
				verdict = append(verdict, time.Since(start))
			}
			sort.Float64s(server)
			b.ReportMetric(float64(percentile(capture, 0.5).Microseconds())/1000, "capture-p50-ms")
			b.ReportMetric(float64(percentile(capture, 0.95).Microseconds())/1000, "capture-p95-ms")
			b.ReportMetric(server[len(server)/2], "prefilter-p50-ms")
			b.ReportMetric(float64(percentile(verdict, 0.5).Microseconds())/1000, "save-p50-ms")
			b.ReportMetric(float64(percentile(verdict, 0.95).Microseconds())/1000, "save-p95-ms")
		})
	}
}
