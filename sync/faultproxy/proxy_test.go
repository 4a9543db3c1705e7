package faultproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoServer echoes every connection until the client half-closes.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

// startProxy runs a proxy to target until the test ends.
func startProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New("127.0.0.1:0", target, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if st := p.Stats(); st.Open != 0 {
			t.Errorf("after Run returned %d connections are still open", st.Open)
		}
	})
	return p
}

func dial(t *testing.T, p *Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*net.TCPConn)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// roundTrip writes payload, half-closes and returns everything echoed back.
func roundTrip(t *testing.T, c *net.TCPConn, payload []byte) ([]byte, error) {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	got, rerr := io.ReadAll(c)
	if err := <-werr; err != nil && rerr == nil {
		rerr = err
	}
	return got, rerr
}

func TestBytesPassThroughIdenticalAndCountersExact(t *testing.T) {
	p := startProxy(t, echoServer(t))
	payload := make([]byte, 3<<20+123)
	_, _ = rand.Read(payload)
	for i := range 2 {
		got, err := roundTrip(t, dial(t, p), payload)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("connection %d: echoed %d bytes, not identical to the %d sent", i, len(got), len(payload))
		}
	}
	want := int64(2 * len(payload))
	eventually(t, "exact counters", func() bool {
		st := p.Stats()
		return st.BytesUp == want && st.BytesDown == want && st.Open == 0
	})
	if st := p.Stats(); st.Connections != 2 || st.Resets != 0 || st.Stalls != 0 {
		t.Fatalf("stats %+v: want 2 connections, no resets, no stalls", st)
	}
}

func TestBlackholeStallsThenResumes(t *testing.T) {
	p := startProxy(t, echoServer(t))
	c := dial(t, p)
	buf := make([]byte, 4)
	if _, err := c.Write([]byte("one!")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "one!" {
		t.Fatalf("before blackhole: %q, %v", buf, err)
	}

	p.SetBlackhole(true)
	if _, err := c.Write([]byte("two!")); err != nil {
		t.Fatal(err)
	}
	// Nothing may come back while the cable is pulled, and nothing is closed.
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("during blackhole: read %d bytes, err %v; want a timeout", n, err)
	}
	if st := p.Stats(); !st.Blackhole || st.Open != 1 || st.BytesUp != 4 {
		t.Fatalf("during blackhole: stats %+v; want blackhole, 1 open connection, only the first 4 bytes forwarded", st)
	}

	p.SetBlackhole(false)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "two!" {
		t.Fatalf("after blackhole: %q, %v", buf, err)
	}
}

func TestBlackholeHoldsNewConnectionsUndialled(t *testing.T) {
	p := startProxy(t, echoServer(t))
	p.SetBlackhole(true)
	c := dial(t, p)
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the connection to be accepted", func() bool { return p.Stats().Connections == 1 })
	p.SetBlackhole(false)
	got, err := roundTrip(t, c, nil)
	if err != nil || string(got) != "held" {
		t.Fatalf("after blackhole: %q, %v", got, err)
	}
}

func TestCutAllMakesTheClientSeeAnError(t *testing.T) {
	p := startProxy(t, echoServer(t))
	c := dial(t, p)
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if n := p.CutAll(); n != 1 {
		t.Fatalf("CutAll cut %d connections, want 1", n)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(buf)
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after CutAll: %v; want a connection reset", err)
	}
	eventually(t, "the cut connection to be forgotten", func() bool { return p.Stats().Open == 0 })
	if st := p.Stats(); st.Resets != 1 {
		t.Fatalf("resets %d, want 1", st.Resets)
	}
	// The proxy itself keeps serving.
	if got, err := roundTrip(t, dial(t, p), []byte("again")); err != nil || string(got) != "again" {
		t.Fatalf("after CutAll: %q, %v", got, err)
	}
}

func TestStallAndDelayStillDeliverIntact(t *testing.T) {
	p := startProxy(t, echoServer(t))
	if err := p.SetFaults(Faults{Delay: time.Millisecond, Jitter: time.Millisecond, StallProb: 0.5, StallFor: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 512<<10)
	_, _ = rand.Read(payload)
	got, err := roundTrip(t, dial(t, p), payload)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("under delay and stalls: %d of %d bytes back, identical=%v, err %v", len(got), len(payload), bytes.Equal(got, payload), err)
	}
	if st := p.Stats(); st.Stalls == 0 || st.Resets != 0 {
		t.Fatalf("stats %+v: want some stalls and no resets", st)
	}
}

func TestResetPerMBResetsLongTransfers(t *testing.T) {
	p := startProxy(t, echoServer(t))
	if err := p.SetFaults(Faults{ResetPerMB: 1}); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 4<<20)
	if _, err := roundTrip(t, dial(t, p), payload); err == nil {
		t.Fatal("a 4 MiB transfer with reset_per_mb=1 completed; want a reset")
	}
	// The client can see the reset before the proxy's pumps have counted it.
	eventually(t, "the reset counted", func() bool { return p.Stats().Resets == 1 })
	if st := p.Stats(); st.Resets != 1 || st.BytesUp >= int64(len(payload)) {
		t.Fatalf("stats %+v: want 1 reset before the whole payload went through", st)
	}
}

func TestDeadTargetClosesTheClient(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	target := ln.Addr().String()
	_ = ln.Close()
	p := startProxy(t, target)
	// The reset may already refuse the dial, or else the first read.
	if c, err := net.Dial("tcp", p.Addr().String()); err == nil {
		t.Cleanup(func() { _ = c.Close() })
		if got, err := roundTrip(t, c.(*net.TCPConn), []byte("x")); err == nil && len(got) > 0 {
			t.Fatalf("a proxied connection to a dead target echoed %q", got)
		}
	}
	eventually(t, "the dial error", func() bool { return p.Stats().DialErrors == 1 })
}

func TestBadFaultsAreRefusedAndChangeNothing(t *testing.T) {
	p := startProxy(t, echoServer(t))
	good := Faults{Delay: time.Millisecond}
	if err := p.SetFaults(good); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Faults{{Delay: -1}, {StallProb: 1.5}, {ResetPerMB: -0.1}, {StallFor: -time.Second}} {
		if err := p.SetFaults(f); err == nil {
			t.Errorf("SetFaults(%+v) accepted", f)
		}
	}
	if p.Faults() != good {
		t.Fatalf("faults changed to %+v by refused updates", p.Faults())
	}
}

func TestControlHandler(t *testing.T) {
	p := startProxy(t, echoServer(t))
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	do := func(method, path, body string, want int) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		return b
	}
	do("PUT", "/faults", `{"delay":"2ms","stall_prob":0.1,"stall_for":"1s"}`, 200)
	if f := p.Faults(); f.Delay != 2*time.Millisecond || f.StallProb != 0.1 || f.StallFor != time.Second {
		t.Fatalf("faults after PUT: %+v", f)
	}
	do("PUT", "/faults", `{"delay":"soon"}`, 422)
	do("PUT", "/faults", `{"stall_prob":2}`, 422)
	do("PUT", "/faults", `{"bogus":1}`, 400)
	if f := p.Faults(); f.Delay != 2*time.Millisecond {
		t.Fatalf("a refused PUT changed the faults to %+v", f)
	}
	do("POST", "/blackhole?on=true", "", 200)
	if !p.Stats().Blackhole {
		t.Fatal("POST /blackhole?on=true did not switch it on")
	}
	do("POST", "/blackhole?on=maybe", "", 400)
	do("POST", "/blackhole?on=false", "", 200)
	var cut map[string]int
	if err := json.Unmarshal(do("POST", "/cut", "", 200), &cut); err != nil || cut["cut"] != 0 {
		t.Fatalf("POST /cut: %v %v", cut, err)
	}
	var st Stats
	if err := json.Unmarshal(do("GET", "/stats", "", 200), &st); err != nil || st.Blackhole {
		t.Fatalf("GET /stats: %+v %v", st, err)
	}
}
