package agent

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/imageflowcanvas/ifc/edge/capture"
	"github.com/imageflowcanvas/ifc/edge/prefilter"
	"github.com/imageflowcanvas/ifc/edge/queue"
)

// metrics are the agent's Prometheus collectors; it implements inspect.Metrics.
type metrics struct {
	reg        *prometheus.Registry
	captures   *prometheus.CounterVec
	verdicts   *prometheus.CounterVec
	verdictDur prometheus.Histogram
	prefilter  *prometheus.HistogramVec
	suspect    *prometheus.CounterVec
}

var cameraStates = []string{capture.StateStarting, capture.StateLive, capture.StateMissing, capture.StateError}

func newMetrics(q *queue.Queue, cam *capture.Camera, deviceID, line string) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		captures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ifc_edge_captures_total", Help: "Capture requests by outcome (ok, no_camera, disk_full, too_large, invalid, error).",
		}, []string{"outcome"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ifc_edge_verdicts_total", Help: "Verdict submissions by result (OK/NG) and outcome (saved, duplicate, rejected, error).",
		}, []string{"result", "outcome"}),
		verdictDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ifc_edge_verdict_save_duration_seconds", Help: "Verdict submission to durable (fsynced) save.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		prefilter: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ifc_edge_prefilter_duration_seconds", Help: "Pre-filter latency (preprocessing + inference) by source (still, live).",
			Buckets: []float64{.0005, .001, .002, .003, .005, .0075, .01, .02, .05, .1},
		}, []string{"source"}),
		suspect: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ifc_edge_prefilter_results_total", Help: "Pre-filter results by source and label.",
		}, []string{"source", "label"}),
	}
	stat := func(f func(queue.Stats) float64) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			st, err := q.Stats(ctx)
			if err != nil {
				return -1
			}
			return f(st)
		}
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.captures, m.verdicts, m.verdictDur, m.prefilter, m.suspect,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ifc_edge_info", Help: "Always 1; labels identify the device.",
			ConstLabels: prometheus.Labels{"device_id": deviceID, "line": line}}, func() float64 { return 1 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ifc_edge_queue_depth", Help: "Records waiting to be synced."},
			stat(func(s queue.Stats) float64 { return float64(s.Queued) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ifc_edge_queue_bytes", Help: "Bytes sync has to send for the queued records."},
			stat(func(s queue.Stats) float64 { return float64(s.QueuedBytes) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ifc_edge_queue_oldest_age_seconds", Help: "Age of the oldest queued record (0 when none)."},
			stat(func(s queue.Stats) float64 {
				if s.Oldest.IsZero() {
					return 0
				}
				return time.Since(s.Oldest).Seconds()
			})),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ifc_edge_records", Help: "Records stored locally."},
			stat(func(s queue.Stats) float64 { return float64(s.Records) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ifc_edge_disk_budget_used_bytes", Help: "Disk budget in use (images + per-record overhead)."},
			stat(func(s queue.Stats) float64 { return float64(s.Bytes) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ifc_edge_disk_budget_hard_limit_bytes", Help: "Disk budget hard limit (0 = none)."},
			stat(func(s queue.Stats) float64 { return float64(s.HardLimitBytes) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ifc_edge_camera_frames_total", Help: "Frames delivered by the camera."},
			func() float64 { return float64(cam.Status().Frames) }),
	)
	for _, st := range cameraStates {
		st := st
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ifc_edge_camera_state", Help: "1 for the camera's current state.", ConstLabels: prometheus.Labels{"state": st},
		}, func() float64 {
			if cam.Status().State == st {
				return 1
			}
			return 0
		}))
	}
	return m
}

// Capture counts a capture request (inspect.Metrics).
func (m *metrics) Capture(outcome string) { m.captures.WithLabelValues(outcome).Inc() }

// Prefilter records one pre-filter run on a still (inspect.Metrics).
func (m *metrics) Prefilter(d time.Duration, r prefilter.Result) { m.observePrefilter("still", d, r) }

func (m *metrics) observePrefilter(source string, d time.Duration, r prefilter.Result) {
	m.prefilter.WithLabelValues(source).Observe(d.Seconds())
	m.suspect.WithLabelValues(source, r.Label).Inc()
}

// Verdict counts a verdict submission (inspect.Metrics).
func (m *metrics) Verdict(result, outcome string, d time.Duration) {
	switch result {
	case "OK", "NG":
	default:
		result = "invalid"
	}
	m.verdicts.WithLabelValues(result, outcome).Inc()
	if outcome == "saved" {
		m.verdictDur.Observe(d.Seconds())
	}
}
