package faulttest

import (
	"bytes"
	"image/jpeg"
	"math/rand/v2"
	"testing"
	"time"
)

func TestScheduleHoldsThePlannedEventsInOrder(t *testing.T) {
	p := chaosPlan{duration: time.Minute, flaps: 30, edgeKills: 3, restarts: 2}
	ev := p.schedule(rand.New(rand.NewPCG(1, 2)))
	got := map[string]int{}
	for i, e := range ev {
		got[e.kind]++
		if e.at < 0 || e.at >= p.duration*9/10 {
			t.Errorf("event %d (%s) at %s is outside the first 90%% of %s", i, e.kind, e.at, p.duration)
		}
		if i > 0 && e.at < ev[i-1].at {
			t.Fatalf("events out of order at %d: %s after %s", i, e.at, ev[i-1].at)
		}
	}
	want := map[string]int{"flap": 30, "edge-kill": 3, "cloud-restart": 2, "proxy-faults": 10, "proxy-cut": 3}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d events, want %d", k, got[k], n)
		}
	}
}

func TestRandomFaultsAreValid(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		if f := randomFaults(rng); f.Validate() != nil {
			t.Fatalf("randomFaults drew invalid faults %+v: %v", f, f.Validate())
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"16mbit": 16e6, "800kbit": 800e3, "1gbit": 1e9, "2.5mbit": 2.5e6} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "16", "fast", "-1mbit", "16mbps"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) accepted", in)
		}
	}
}

func TestTestJPEGsAreUniqueAndDecodable(t *testing.T) {
	a, b := testJPEG(1), testJPEG(2)
	if string(a) == string(b) || len(a) < 1024 {
		t.Fatalf("testJPEG: %d and %d bytes, identical=%v", len(a), len(b), string(a) == string(b))
	}
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(a)); err != nil || cfg.Width != 256 || cfg.Height != 192 {
		t.Fatalf("testJPEG(1) decodes to %+v, %v; want 256x192", cfg, err)
	}
	if string(a) != string(testJPEG(1)) {
		t.Fatal("testJPEG(1) is not deterministic")
	}
}
