package api

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	requests          *prometheus.CounterVec
	latency           *prometheus.HistogramVec
	executions        *prometheus.CounterVec
	admissionRejected *prometheus.CounterVec
	grpcRequests      *prometheus.CounterVec
	grpcLatency       *prometheus.HistogramVec
	wsClients         prometheus.Gauge
	wsDropped         prometheus.Counter
	events            prometheus.Counter
	handler           http.Handler
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ifc_api_http_requests_total", Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ifc_api_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route"}),
		grpcRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ifc_api_grpc_requests_total", Help: "gRPC calls by method and status code.",
		}, []string{"method", "code"}),
		grpcLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ifc_api_grpc_request_duration_seconds", Help: "gRPC call duration by method (streams: whole stream).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 120},
		}, []string{"method"}),
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ifc_api_executions_total", Help: "Execution status changes seen on the event bus, by status.",
		}, []string{"status"}),
		admissionRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ifc_api_admission_rejections_total", Help: "Executions and frames refused because the conductor was at capacity, by entry point.",
		}, []string{"entry"}),
		wsClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ifc_api_websocket_clients", Help: "Open WebSocket connections.",
		}),
		wsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ifc_api_slow_subscribers_dropped_total", Help: "WebSocket clients and gRPC watchers dropped for not keeping up.",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ifc_api_progress_events_total", Help: "Progress events received from the bus.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.grpcRequests, m.grpcLatency, m.executions, m.admissionRejected, m.wsClients, m.wsDropped, m.events} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	// Process and Go collectors are added when absent; a registry shared
	// with the composition root may have them already.
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("register metrics: %w", err)
			}
		}
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m, nil
}

// instrument counts and times requests of one route.
func (m *metrics) instrument(route string, next http.Handler) http.Handler {
	lat := m.latency.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		code := sw.status
		if code == 0 {
			code = http.StatusOK
		}
		m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		lat.Observe(time.Since(start).Seconds())
	})
}

// statusWriter records the status code; it passes Hijack and Flush through
// so WebSocket upgrades and streaming keep working.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer cannot hijack")
	}
	w.status = http.StatusSwitchingProtocols
	return hj.Hijack()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
