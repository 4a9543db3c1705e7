package whep

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats is a snapshot of the preview pipeline.
type Stats struct {
	Viewers       int     // sessions currently open
	FramesIn      uint64  // frames received from the source
	FramesSent    uint64  // frames encoded and written to the shared track
	KeyFrames     uint64  // key frames among FramesSent
	BytesSent     uint64  // encoded bytes written (once, not per viewer)
	CaptureToSend Summary // capture time → packets handed to every viewer's transport
	Encode        Summary // encoder time per frame, colour conversion included
}

// Summary summarises the most recent samples (up to 1024) of a duration.
type Summary struct {
	N             int
	P50, P95, Max time.Duration
}

// window keeps the latest samples of a duration.
type window struct {
	mu   sync.Mutex
	buf  []time.Duration
	next int
}

const windowSize = 1024

func (w *window) add(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) < windowSize {
		w.buf = append(w.buf, d)
		return
	}
	w.buf[w.next] = d
	w.next = (w.next + 1) % windowSize
}

func (w *window) summary() Summary {
	w.mu.Lock()
	s := slices.Clone(w.buf)
	w.mu.Unlock()
	if len(s) == 0 {
		return Summary{}
	}
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return Summary{N: len(s), P50: q(0.50), P95: q(0.95), Max: s[len(s)-1]}
}

// metrics are the Prometheus collectors; they are registered only when a Registerer is given.
type metrics struct {
	captureToSend prometheus.Histogram
	encode        prometheus.Histogram
	viewers       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	buckets := []float64{.001, .002, .004, .006, .008, .010, .015, .020, .030, .050, .100, .250}
	m := &metrics{
		captureToSend: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ifc_whep_capture_to_send_seconds", Buckets: buckets,
			Help: "Time from a frame's capture to its RTP packets being handed to every WHEP viewer.",
		}),
		encode: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ifc_whep_encode_seconds", Buckets: buckets,
			Help: "Time the shared WHEP encoder spends on one frame.",
		}),
		viewers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ifc_whep_viewers", Help: "Open WHEP sessions.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.captureToSend, m.encode, m.viewers} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
