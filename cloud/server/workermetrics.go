package server

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// workerMetrics are a worker's Prometheus metrics, per part: calls by gRPC
// code, latency and calls in flight. Parts the catalogue does not know
// count as "unknown", so a client cannot grow the label set.
type workerMetrics struct {
	reg      *prometheus.Registry
	cat      *catalog.Catalog
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec
}

func newWorkerMetrics(cat *catalog.Catalog) *workerMetrics {
	m := &workerMetrics{
		reg: prometheus.NewRegistry(),
		cat: cat,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ifc_worker_requests_total", Help: "Part service calls by part and gRPC status code.",
		}, []string{"part", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ifc_worker_request_duration_seconds", Help: "Part service call latency by part, including queueing for a slot.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"part"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ifc_worker_in_flight_requests", Help: "Part service calls running or queued, by part.",
		}, []string{"part"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.inFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// interceptor measures every PartService Process call.
func (m *workerMetrics) interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	pr, ok := req.(*ifcv1.ProcessRequest)
	if !ok {
		return h(ctx, req)
	}
	part := "unknown"
	if _, known := m.cat.Get(pr.GetPart()); known {
		part = pr.GetPart()
	}
	g := m.inFlight.WithLabelValues(part)
	g.Inc()
	start := time.Now()
	resp, err := h(ctx, req)
	m.latency.WithLabelValues(part).Observe(time.Since(start).Seconds())
	g.Dec()
	m.requests.WithLabelValues(part, status.Code(err).String()).Inc()
	return resp, err
}

// handler serves /metrics and /healthz (200 while serving, 503 once the
// worker is shutting down).
func (m *workerMetrics) handler(serving func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !serving() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	return mux
}
