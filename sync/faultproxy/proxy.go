// Package faultproxy is a small fault-injecting TCP proxy for testing sync
// under a bad link where the kernel lacks netem.
//
// Every accepted connection is dialled to the target and served by two
// pumps (client→target "up", target→client "down") that copy one chunk at a
// time. Before a chunk is forwarded the pump applies the current faults:
//
//   - Delay (+ uniform Jitter) per forwarded chunk;
//   - Stall: with probability StallProb per chunk the chunk is held for
//     StallFor, which is how packet loss looks to an application over TCP;
//   - Reset: with probability ResetPerMB per forwarded MiB both sides are
//     closed abruptly (RST, linger 0);
//   - Blackhole: nothing is forwarded and nothing is closed until it is
//     lifted, like a pulled cable; new connections are held undialled.
//
// CutAll resets every open connection at once. Faults can be changed at any
// time from any goroutine; counters are exact: a byte is counted once it
// has been written to the other side.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// chunkSize is the largest piece a pump reads and forwards at once.
const chunkSize = 32 << 10

// Faults are the injected faults; the zero value forwards faithfully.
type Faults struct {
	Delay      time.Duration // added before each forwarded chunk
	Jitter     time.Duration // uniform extra 0..Jitter on top of Delay
	StallProb  float64       // probability per chunk of a stall
	StallFor   time.Duration // how long a stalled chunk is held
	ResetPerMB float64       // probability per forwarded MiB of resetting the connection
}

// Validate names the first bad field.
func (f Faults) Validate() error {
	switch {
	case f.Delay < 0 || f.Jitter < 0 || f.StallFor < 0:
		return fmt.Errorf("faults: delay, jitter and stall_for must not be negative (got %s, %s, %s)", f.Delay, f.Jitter, f.StallFor)
	case f.StallProb < 0 || f.StallProb > 1 || math.IsNaN(f.StallProb):
		return fmt.Errorf("faults: stall_prob %v is outside 0..1", f.StallProb)
	case f.ResetPerMB < 0 || f.ResetPerMB > 1 || math.IsNaN(f.ResetPerMB):
		return fmt.Errorf("faults: reset_per_mb %v is outside 0..1", f.ResetPerMB)
	}
	return nil
}

// Stats are the proxy's counters since it was created.
type Stats struct {
	BytesUp     int64 `json:"bytes_up"`    // client → target, forwarded
	BytesDown   int64 `json:"bytes_down"`  // target → client, forwarded
	Connections int64 `json:"connections"` // accepted
	Open        int64 `json:"open"`        // currently open
	Resets      int64 `json:"resets"`      // connections reset by ResetPerMB or CutAll
	Stalls      int64 `json:"stalls"`      // chunks held by StallProb
	DialErrors  int64 `json:"dial_errors"` // target unreachable
	Blackhole   bool  `json:"blackhole"`
}

// Proxy forwards TCP connections from a listener to a target with faults.
type Proxy struct {
	ln     net.Listener
	target string
	log    *slog.Logger

	mu        sync.Mutex
	faults    Faults
	blackhole bool
	lifted    chan struct{} // closed when the blackhole is off
	conns     map[*pair]struct{}
	rng       *rand.Rand

	up, down, accepted, resets, stalls, dialErrs atomic.Int64

	wg        sync.WaitGroup
	closing   chan struct{}
	closeOnce sync.Once
}

// New listens on listen (host:port; port 0 picks one) and forwards to
// target. Nothing is forwarded until Run.
func New(listen, target string, log *slog.Logger) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("faultproxy target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("faultproxy listen %s: %w", listen, err)
	}
	lifted := make(chan struct{})
	close(lifted)
	return &Proxy{
		ln: ln, target: target, log: log.With("component", "faultproxy"),
		lifted: lifted, conns: map[*pair]struct{}{},
		rng:     rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)),
		closing: make(chan struct{}),
	}, nil
}

// Addr is the listening address.
func (p *Proxy) Addr() net.Addr { return p.ln.Addr() }

// Run accepts and forwards connections until ctx ends or Close is called,
// then closes every connection and waits for its goroutines.
func (p *Proxy) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = p.Close() })
	defer stop()
	var err error
accept:
	for {
		c, aerr := p.ln.Accept()
		if aerr != nil {
			select {
			case <-p.closing:
			default:
				err = fmt.Errorf("faultproxy accept: %w", aerr)
				_ = p.Close()
			}
			break accept
		}
		p.accepted.Add(1)
		pr := &pair{client: c, done: make(chan struct{})}
		p.mu.Lock()
		p.conns[pr] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(pr)
		}()
	}
	p.mu.Lock()
	for pr := range p.conns {
		pr.abort()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// Close stops the listener and ends Run; it is idempotent.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		close(p.closing)
		_ = p.ln.Close()
	})
	return nil
}

// SetFaults replaces the faults; it applies to the next chunk of every connection.
func (p *Proxy) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	p.faults = f
	p.mu.Unlock()
	p.log.Info("faults set", "delay", f.Delay, "jitter", f.Jitter, "stall_prob", f.StallProb, "stall_for", f.StallFor, "reset_per_mb", f.ResetPerMB)
	return nil
}

// Faults returns the current faults.
func (p *Proxy) Faults() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// SetBlackhole stops (on) or resumes (off) all forwarding without closing anything.
func (p *Proxy) SetBlackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on == p.blackhole {
		return
	}
	p.blackhole = on
	if on {
		p.lifted = make(chan struct{})
	} else {
		close(p.lifted)
	}
	p.log.Info("blackhole", "on", on)
}

// CutAll resets every open connection and returns how many it cut.
func (p *Proxy) CutAll() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for pr := range p.conns {
		if pr.abort() {
			p.resets.Add(1)
			n++
		}
	}
	p.log.Info("cut all connections", "cut", n)
	return n
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	open, bh := int64(len(p.conns)), p.blackhole
	p.mu.Unlock()
	return Stats{
		BytesUp: p.up.Load(), BytesDown: p.down.Load(), Connections: p.accepted.Load(), Open: open,
		Resets: p.resets.Load(), Stalls: p.stalls.Load(), DialErrors: p.dialErrs.Load(), Blackhole: bh,
	}
}

// pair is one proxied connection.
type pair struct {
	client net.Conn
	mu     sync.Mutex
	server net.Conn // nil until dialled
	done   chan struct{}
	once   sync.Once
}

// abort closes both sides with RST; it reports whether this call did it.
func (pr *pair) abort() bool {
	first := false
	pr.once.Do(func() {
		first = true
		close(pr.done)
		pr.mu.Lock()
		defer pr.mu.Unlock()
		for _, c := range []net.Conn{pr.client, pr.server} {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			if c != nil {
				_ = c.Close()
			}
		}
	})
	return first
}

// finish closes both sides gracefully once both pumps are done.
func (pr *pair) finish() {
	pr.once.Do(func() {
		close(pr.done)
		pr.mu.Lock()
		defer pr.mu.Unlock()
		_ = pr.client.Close()
		if pr.server != nil {
			_ = pr.server.Close()
		}
	})
}

func (p *Proxy) serve(pr *pair) {
	defer func() {
		pr.finish()
		p.mu.Lock()
		delete(p.conns, pr)
		p.mu.Unlock()
	}()
	if !p.waitLifted(pr.done) {
		return
	}
	var d net.Dialer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	go func() {
		select {
		case <-pr.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	srv, err := d.DialContext(ctx, "tcp", p.target)
	cancel()
	if err != nil {
		p.dialErrs.Add(1)
		p.log.Debug("dial target", "target", p.target, "err", err)
		pr.abort()
		return
	}
	pr.mu.Lock()
	select {
	case <-pr.done: // cut while dialling
		pr.mu.Unlock()
		_ = srv.Close()
		return
	default:
	}
	pr.server = srv
	pr.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(pr, pr.client, srv, &p.up) }()
	go func() { defer wg.Done(); p.pump(pr, srv, pr.client, &p.down) }()
	wg.Wait()
}

// pump copies src to dst chunk by chunk, applying the faults. On EOF it
// half-closes dst so the other pump can finish its direction.
func (p *Proxy) pump(pr *pair, src, dst net.Conn, counter *atomic.Int64) {
	buf := make([]byte, chunkSize)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if !p.hold(pr, n) {
				return
			}
			w, werr := dst.Write(buf[:n])
			counter.Add(int64(w))
			if werr != nil {
				pr.abort()
				return
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
					return
				}
			}
			pr.abort()
			return
		}
	}
}

// hold applies the faults to a chunk of n bytes about to be forwarded. It
// returns false when the connection was cut (by a reset fault, CutAll or Close).
func (p *Proxy) hold(pr *pair, n int) bool {
	if !p.waitLifted(pr.done) {
		return false
	}
	p.mu.Lock()
	f := p.faults
	wait := f.Delay
	if f.Jitter > 0 {
		wait += time.Duration(p.rng.Int64N(int64(f.Jitter) + 1))
	}
	stall := f.StallProb > 0 && p.rng.Float64() < f.StallProb
	reset := f.ResetPerMB > 0 && p.rng.Float64() < 1-math.Pow(1-f.ResetPerMB, float64(n)/(1<<20))
	p.mu.Unlock()
	if reset {
		if pr.abort() {
			p.resets.Add(1)
		}
		return false
	}
	if stall {
		p.stalls.Add(1)
		wait += f.StallFor
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-pr.done:
			return false
		}
	}
	// A blackhole switched on during the wait holds this chunk too.
	return p.waitLifted(pr.done)
}

// waitLifted blocks while the blackhole is on; false when done closed first.
func (p *Proxy) waitLifted(done <-chan struct{}) bool {
	p.mu.Lock()
	lifted := p.lifted
	p.mu.Unlock()
	select {
	case <-lifted:
		select {
		case <-done:
			return false
		default:
			return true
		}
	case <-done:
		return false
	case <-p.closing:
		return false
	}
}
