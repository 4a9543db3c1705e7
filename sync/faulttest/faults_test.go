package faulttest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/sync/faultproxy"
)

// TestProxyHelperProcess is not a test: the harness re-executes the test
// binary inside the edge namespace to run the fault proxy there.
func TestProxyHelperProcess(t *testing.T) {
	if os.Getenv("IFC_FAULTPROXY_HELPER") != "1" {
		t.Skip("helper process of the fault harness; runs only when re-executed by it")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	p, err := faultproxy.New(os.Getenv("IFC_FAULTPROXY_LISTEN"), os.Getenv("IFC_FAULTPROXY_TARGET"), log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv := &http.Server{Addr: os.Getenv("IFC_FAULTPROXY_CONTROL"), Handler: p.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("fault proxy running", "listen", p.Addr().String(), "target", os.Getenv("IFC_FAULTPROXY_TARGET"), "control", srv.Addr)
	go func() {
		select {
		case <-ctx.Done():
		case err := <-errc:
			log.Error("control API", "err", err)
		}
		_ = p.Close()
	}()
	if err := p.Run(ctx); err != nil {
		t.Error(err)
	}
	_ = srv.Close()
}

// chaosPlan is how much chaos a run gets.
type chaosPlan struct {
	duration                   time.Duration
	flaps, edgeKills, restarts int
	seed                       uint64
}

func planFromEnv() chaosPlan {
	p := chaosPlan{duration: 75 * time.Second, flaps: 10, edgeKills: 2, restarts: 1, seed: uint64(time.Now().UnixNano())}
	if d, err := time.ParseDuration(os.Getenv("IFC_FAULTS_DURATION")); err == nil && d > 0 {
		p.duration = d
	}
	if n := envInt("IFC_FAULTS_FLAPS", 0); n > 0 {
		p.flaps = n
		p.edgeKills = max(2, n/10)
		p.restarts = max(1, n/30)
	}
	p.edgeKills = envInt("IFC_FAULTS_EDGE_KILLS", p.edgeKills)
	p.restarts = envInt("IFC_FAULTS_CLOUD_RESTARTS", p.restarts)
	if s, err := strconv.ParseUint(os.Getenv("IFC_FAULTS_SEED"), 10, 64); err == nil {
		p.seed = s
	}
	return p
}

type chaosEvent struct {
	at   time.Duration
	kind string
}

// schedule spreads the plan's events at random over the first 90 % of the run.
func (p chaosPlan) schedule(rng *rand.Rand) []chaosEvent {
	var ev []chaosEvent
	add := func(kind string, n int) {
		for range n {
			ev = append(ev, chaosEvent{at: time.Duration(rng.Int64N(int64(p.duration) * 9 / 10)), kind: kind})
		}
	}
	add("flap", p.flaps)
	add("edge-kill", p.edgeKills)
	add("cloud-restart", p.restarts)
	add("proxy-faults", max(3, p.flaps/3))
	add("proxy-cut", max(1, p.flaps/10))
	sort.Slice(ev, func(i, j int) bool { return ev[i].at < ev[j].at })
	return ev
}

// randomFaults draws proxy faults mild enough that sync still makes progress.
func randomFaults(rng *rand.Rand) faultproxy.Faults {
	f := faultproxy.Faults{
		Delay:  time.Duration(rng.IntN(20)) * time.Millisecond,
		Jitter: time.Duration(rng.IntN(10)) * time.Millisecond,
	}
	if rng.IntN(2) == 0 {
		f.StallProb = 0.02 * rng.Float64()
		f.StallFor = time.Duration(200+rng.IntN(1300)) * time.Millisecond
	}
	if rng.IntN(3) == 0 {
		f.ResetPerMB = 0.2 * rng.Float64()
	}
	return f
}

// faultsSummary is the JSON summary of a chaos run.
type faultsSummary struct {
	Mode              string         `json:"mode"` // "netns" or "loopback"
	Seed              uint64         `json:"seed"`
	Duration          string         `json:"duration"`
	Events            map[string]int `json:"events"` // flap, edge-kill, cloud-restart, proxy-faults, proxy-cut
	EdgeIncarnations  int            `json:"edge_incarnations"`
	CloudIncarnations int            `json:"cloud_incarnations"`
	DriverErrors      int            `json:"driver_errors"`
	verification
	DrainAfterChaos    string  `json:"drain_after_chaos"`
	ProxyBytesUp       int64   `json:"proxy_bytes_edge_to_cloud"`
	ProxyBytesDown     int64   `json:"proxy_bytes_cloud_to_edge"`
	ProxyConnections   int64   `json:"proxy_connections"`
	ProxyResets        int64   `json:"proxy_resets"`
	ProxyStalls        int64   `json:"proxy_stalls"`
	SentBytes          int64   `json:"sent_bytes"`        // status sync.sent_bytes summed over edge incarnations
	ResentBytes        int64   `json:"resent_bytes"`      // status sync.resent_bytes summed over edge incarnations
	SentMinusUnique    int64   `json:"sent_minus_unique"` // sent_bytes - image_bytes: re-sent bytes as seen from outside
	Cuts               int     `json:"cuts"`              // flaps + edge kills + cloud restarts + connections reset by the proxy
	ResentBytesPerCut  float64 `json:"resent_bytes_per_cut"`
	SentMinusUniqueCut float64 `json:"sent_minus_unique_per_cut"`
	ChunkBytes         int     `json:"chunk_bytes"`
	ResentChunksPerCut float64 `json:"resent_chunks_per_cut"`
}

// TestFaultsShort runs edge and cloud as processes under link flaps, proxy
// delay/stalls/resets, edge SIGKILLs and cloud restarts while an inspector
// keeps saving inspections, then checks exactly-once delivery with
// byte-identical images. IFC_FAULTS_FLAPS and IFC_FAULTS_DURATION make it
// the long run (docs/faults.md).
func TestFaultsShort(t *testing.T) {
	if testing.Short() {
		t.Skip("fault harness: starts processes for a minute or more")
	}
	plan := planFromEnv()
	chunk := envInt("IFC_FAULTS_CHUNK_BYTES", 65536)
	h := newHarness(t, harnessOptions{camera: "synthetic:?width=1280&height=720&fps=10&defect_rate=0.3&seed=7", chunkBytes: chunk})
	rng := rand.New(rand.NewPCG(plan.seed, 5))
	events := plan.schedule(rng)
	h.logf("chaos plan: %s, %d flaps, %d edge kills, %d cloud restarts, seed %d (IFC_FAULTS_SEED=%d reproduces the schedule)",
		plan.duration, plan.flaps, plan.edgeKills, plan.restarts, plan.seed, plan.seed)

	ctx := context.Background()
	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); h.sampleStatus(bg) }()
	driveCtx, stopDrive := context.WithCancel(ctx)
	go func() { defer wg.Done(); h.drive(driveCtx, 100*time.Millisecond) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopDrive()
			stopBG()
			wg.Wait()
		}
	}
	t.Cleanup(stop)

	start := time.Now()
	for _, ev := range events {
		if d := time.Until(start.Add(ev.at)); d > 0 {
			time.Sleep(d) // the schedule, not synchronisation
		}
		for _, p := range []*proc{h.cloud, h.edge, h.proxy} {
			if p != nil && len(p.unexpected()) > 0 {
				t.Fatalf("a process died on its own: %v", p.unexpected())
			}
		}
		switch ev.kind {
		case "flap":
			hold := time.Duration(300+rng.IntN(2700)) * time.Millisecond
			h.logf("chaos: link down for %s", hold)
			h.cutLink(ctx)
			time.Sleep(hold)
			h.restoreLink(ctx)
		case "edge-kill":
			h.logf("chaos: SIGKILL the edge")
			h.killEdge()
		case "cloud-restart":
			hard := rng.IntN(3) == 0
			h.logf("chaos: restart the cloud (SIGKILL=%v)", hard)
			h.restartCloud(hard)
		case "proxy-faults":
			f := randomFaults(rng)
			h.logf("chaos: proxy faults %+v", f.JSON())
			if err := h.proxyAPI.setFaults(ctx, f); err != nil {
				t.Fatalf("set proxy faults: %v", err)
			}
		case "proxy-cut":
			n, err := h.proxyAPI.cutAll(ctx)
			if err != nil {
				t.Fatalf("proxy cut: %v", err)
			}
			h.logf("chaos: proxy reset %d connections", n)
		}
		h.count(ev.kind)
	}
	if d := time.Until(start.Add(plan.duration)); d > 0 {
		time.Sleep(d)
	}

	// Restore everything, stop producing, and let the edge drain.
	h.logf("chaos over: restoring the link and the proxy; stopping the driver")
	h.restoreLink(ctx)
	if err := h.proxyAPI.setFaults(ctx, faultproxy.Faults{}); err != nil {
		t.Fatal(err)
	}
	if !h.top.netns {
		_ = h.proxyAPI.blackhole(ctx, false)
	}
	stopDrive()
	drain := h.waitDrained(max(3*time.Minute, plan.duration/2))
	stop()
	h.logf("edge queue empty %s after the chaos ended", drain.Round(time.Millisecond))
	for _, p := range []*proc{h.cloud, h.edge, h.proxy} {
		if p != nil && len(p.unexpected()) > 0 {
			t.Fatalf("a process died on its own: %v", p.unexpected())
		}
	}

	v := h.verify()
	if v.Acked == 0 {
		t.Fatal("the driver saved no inspection at all")
	}
	ps, err := h.proxyAPI.stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sent, resent, _ := h.syncTotals()
	h.mu.Lock()
	s := faultsSummary{
		Mode: map[bool]string{true: "netns", false: "loopback"}[h.top.netns], Seed: plan.seed, Duration: plan.duration.String(),
		Events: h.events, EdgeIncarnations: h.edge.incarnation(), CloudIncarnations: h.cloud.incarnation(), DriverErrors: h.driveErr,
		verification: v, DrainAfterChaos: drain.Round(time.Millisecond).String(),
		ProxyBytesUp: ps.BytesUp, ProxyBytesDown: ps.BytesDown, ProxyConnections: ps.Connections, ProxyResets: ps.Resets, ProxyStalls: ps.Stalls,
		SentBytes: sent, ResentBytes: resent, SentMinusUnique: sent - v.ImageBytes, ChunkBytes: chunk,
	}
	s.Cuts = h.events["flap"] + h.events["edge-kill"] + h.events["cloud-restart"] + int(ps.Resets)
	h.mu.Unlock()
	if s.Cuts > 0 {
		s.ResentBytesPerCut = float64(resent) / float64(s.Cuts)
		s.SentMinusUniqueCut = float64(s.SentMinusUnique) / float64(s.Cuts)
		s.ResentChunksPerCut = s.ResentBytesPerCut / float64(chunk)
	}
	h.logf("flaps %d, edge kills %d, cloud restarts %d, proxy resets %d; records %d (acked %d), image bytes %d; proxy edge→cloud %d bytes; sent %d, re-sent %d (%.0f per cut = %.2f chunks; sent−unique %d = %.0f per cut)",
		s.Events["flap"], s.Events["edge-kill"], s.Events["cloud-restart"], ps.Resets, v.Records, v.Acked, v.ImageBytes, ps.BytesUp, sent, resent, s.ResentBytesPerCut, s.ResentChunksPerCut, s.SentMinusUnique, s.SentMinusUniqueCut)
	h.writeSummary("summary.json", s)
}

// testJPEG is a small unique JPEG (noise blocks seeded by i) of roughly 30-60 KB.
func testJPEG(i int) []byte {
	rng := rand.New(rand.NewPCG(uint64(i), 99))
	img := image.NewRGBA(image.Rect(0, 0, 256, 192))
	for y := 0; y < 192; y += 4 {
		for x := 0; x < 256; x += 4 {
			c := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
			for dy := range 4 {
				for dx := range 4 {
					img.SetRGBA(x+dx, y+dy, c)
				}
			}
		}
	}
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	return b.Bytes()
}

// parseRate turns a tc rate (16mbit, 2mbit, 800kbit) into bits per second.
func parseRate(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}} {
		if n, ok := bytes.CutSuffix([]byte(s), []byte(u.suffix)); ok {
			v, err := strconv.ParseFloat(string(n), 64)
			if err != nil || v <= 0 {
				break
			}
			return v * u.mult, nil
		}
	}
	return 0, fmt.Errorf("rate %q: want a tc rate such as 16mbit", s)
}

// drainSummary is the JSON summary of a drain-rate run.
type drainSummary struct {
	Mode         string       `json:"mode"`
	Rate         string       `json:"rate"` // the tbf rate of the data link ("" on loopback: unshaped)
	Records      int          `json:"records"`
	ImageBytes   int64        `json:"image_bytes"`
	ProxyBytesUp int64        `json:"proxy_bytes_edge_to_cloud"` // application bytes on the link during the drain
	DrainSeconds float64      `json:"drain_seconds"`             // link up → queue empty
	FirstByteS   float64      `json:"first_byte_seconds"`        // link up → first byte through the proxy (reconnect)
	GoodputBps   float64      `json:"goodput_bps"`               // image bytes / drain time
	GoodputPct   float64      `json:"goodput_pct_of_rate"`       // of the tbf rate
	WirePct      float64      `json:"wire_pct_of_rate"`          // proxy bytes / (first byte → empty) of the tbf rate
	BusyPct      float64      `json:"goodput_pct_while_busy"`    // image bytes / (first byte → empty) of the tbf rate
	SentBytes    int64        `json:"sent_bytes"`
	ResentBytes  int64        `json:"resent_bytes"`
	Verified     verification `json:"verified"` // the whole run, warm-up record included
}

// TestDrainRate builds a backlog with the link down, shapes the link to a
// fixed rate, brings it up and measures the drain. The numbers are reported,
// not asserted; exactly-once and byte-identical images are asserted.
func TestDrainRate(t *testing.T) {
	if testing.Short() {
		t.Skip("fault harness: starts processes")
	}
	n := envInt("IFC_DRAIN_RECORDS", 200)
	rateSpec := os.Getenv("IFC_DRAIN_RATE")
	if rateSpec == "" {
		rateSpec = "16mbit"
	}
	rate, err := parseRate(rateSpec)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{camera: "synthetic:?width=640&height=480&fps=5"})
	ctx := context.Background()

	// One record through, which also proves enrollment worked.
	session := ""
	id, size, err := h.edgeAPI.inspect(ctx, &session, productCode, "WARMUP", 0, testJPEG(-1))
	if err != nil {
		t.Fatalf("warm-up inspection: %v", err)
	}
	h.ack(id, size)
	h.waitDrained(2 * time.Minute)
	h.logf("warm-up record %s synced", id)

	h.cutLink(ctx)
	h.logf("link cut; creating a backlog of %d records", n)
	start := time.Now()
	for i := 1; i <= n; i++ {
		id, size, err := h.edgeAPI.inspect(ctx, &session, productCode, "DRAIN", i, testJPEG(i))
		if err != nil {
			t.Fatalf("backlog inspection %d: %v", i, err)
		}
		h.ack(id, size)
	}
	st, err := h.edgeAPI.status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.logf("backlog: %d records, %d bytes queued (built in %s)", st.Queued, st.QueuedBytes, time.Since(start).Round(time.Millisecond))
	if st.Queued < int64(n) {
		t.Fatalf("status shows %d queued after %d records were saved with the link down", st.Queued, n)
	}

	if h.top.netns {
		if err := h.top.shape(rateSpec); err != nil {
			t.Fatalf("shape the data link: %v", err)
		}
		t.Cleanup(func() { _ = h.top.shape("") })
		h.logf("data link shaped to %s (tbf, both ends)", rateSpec)
	} else {
		h.logf("LOOPBACK: the link is not shaped; the goodput below is against nothing and only indicative")
	}
	ps0, err := h.proxyAPI.stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bg, stopBG := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() { defer close(sampled); h.sampleStatus(bg) }()
	defer func() { stopBG(); <-sampled }()

	t0 := time.Now()
	h.restoreLink(ctx)
	var tFirst time.Time
	deadline := t0.Add(time.Duration(float64(st.QueuedBytes*8)/rate*float64(time.Second))*10 + 2*time.Minute)
	for {
		ps, err := h.proxyAPI.stats(ctx)
		if err == nil && tFirst.IsZero() && ps.BytesUp > ps0.BytesUp {
			tFirst = time.Now()
		}
		s, err := h.edgeAPI.status(ctx)
		if err == nil && s.Queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog not drained by %s: %+v %v", deadline.Sub(t0), s, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t1 := time.Now()
	h.sampleOnce(ctx)
	ps1, err := h.proxyAPI.stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := h.verify()
	sent, resent, _ := h.syncTotals()
	drainS := t1.Sub(t0).Seconds()
	imageBytes := v.ImageBytes - size // the backlog only, without the warm-up record
	s := drainSummary{
		Mode: map[bool]string{true: "netns", false: "loopback"}[h.top.netns], Records: n, ImageBytes: imageBytes,
		ProxyBytesUp: ps1.BytesUp - ps0.BytesUp, DrainSeconds: drainS, FirstByteS: tFirst.Sub(t0).Seconds(),
		GoodputBps: float64(imageBytes*8) / drainS, SentBytes: sent, ResentBytes: resent, Verified: v,
	}
	if h.top.netns {
		s.Rate = rateSpec
		s.GoodputPct = 100 * s.GoodputBps / rate
		if busy := t1.Sub(tFirst).Seconds(); busy > 0 && !tFirst.IsZero() {
			s.WirePct = 100 * float64(s.ProxyBytesUp*8) / busy / rate
			s.BusyPct = 100 * float64(imageBytes*8) / busy / rate
		}
	}
	h.logf("drain: %d records, %d image bytes in %.2fs (first byte after %.2fs): goodput %.2f Mbit/s = %.1f%% of %s (%.1f%% from the first byte); %d bytes on the link (%.1f%% of the rate while busy); sent %d, re-sent %d",
		n, imageBytes, drainS, s.FirstByteS, s.GoodputBps/1e6, s.GoodputPct, rateSpec, s.BusyPct, s.ProxyBytesUp, s.WirePct, sent, resent)
	h.writeSummary("drain-summary.json", s)
}
