package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// ErrUnavailable is returned (wrapped) by Publish while the breaker is open:
// a recent publish found the broker unreachable and no probe has reached it
// since, so the event was not sent.
var ErrUnavailable = errors.New("kafka bus unavailable")

// The publish circuit breaker.
//
// Progress events are published synchronously on the execution's path, so
// while the broker is down every Publish used to wait publish_timeout (5 s
// by default, twelve events per standard execution: a minute per run). The
// breaker trades those waits for an immediate error:
//
//   - It opens when a Publish fails for a reason that says the broker cannot
//     be reached: publish_timeout passed (or the caller's deadline, after at
//     least callerDeadlineTrips), or a connection-level error. An error the
//     broker itself answered with (a non-retriable Kafka error code), the
//     caller cancelling and the bus closing do not open it; nor does a slow
//     broker that acknowledges within publish_timeout, whose events are
//     delivered as before.
//   - While open, Publish returns ErrUnavailable at once (no event is sent,
//     and the caller is told so: nothing is dropped silently). Progress is
//     best effort; the execution record in the store stays the truth, and
//     the API replicas send a subscriber the stored final state when its
//     execution goes quiet (cloud/api/resync.go).
//   - One probe goroutine, owned by the bus, asks the broker for the
//     topic's metadata every probeInterval (each attempt bounded by
//     probeTimeout); the first answer naming a leader for every partition
//     closes the breaker, so publishing resumes within about a second of
//     the broker's return. If the writer still fails then, the breaker
//     opens again and the probe restarts: a failed trial costs the
//     publishes in flight at that moment one wait each, not every event.
//   - A Publish that succeeds closes the breaker too (one that was already
//     in flight when it opened).
//
// PublishRecord and EnqueueFallback are not gated: their callers retry or
// need the broker's own answer (a fallback job must not be dropped).
const (
	probeInterval = time.Second
	probeTimeout  = 2 * time.Second
	// callerDeadlineTrips is how long a publish must have waited for the
	// caller's deadline ending it to open the breaker.
	callerDeadlineTrips = time.Second
)

// breaker is the publish circuit breaker's state; the Bus runs the probe.
type breaker struct {
	// tripped mirrors open for the publish path's lock-free check; it is
	// written only under mu.
	tripped  atomic.Bool
	mu       sync.Mutex
	open     bool
	since    time.Time // when it opened
	cause    error     // the failure that opened it
	rejected int       // publishes failed fast since it opened
	probing  bool      // a probe goroutine is running
}

// allow returns nil when a publish may go to the broker, or an error
// wrapping ErrUnavailable (and naming the cause) when the breaker is open.
func (br *breaker) allow(now time.Time) error {
	if !br.tripped.Load() {
		return nil
	}
	br.mu.Lock()
	defer br.mu.Unlock()
	if !br.open {
		return nil
	}
	br.rejected++
	return fmt.Errorf("%w: a publish failed %v ago (%v); publishes fail fast until a probe reaches the broker",
		ErrUnavailable, now.Sub(br.since).Round(time.Millisecond), br.cause)
}

// trip opens the breaker after a publish failed with cause. It reports
// whether it was closed before, and whether the caller must start a probe
// (none is running; the caller then owns it until probeDone says so).
func (br *breaker) trip(cause error, now time.Time) (opened, startProbe bool) {
	br.mu.Lock()
	defer br.mu.Unlock()
	if !br.open {
		br.open, br.since, br.cause, br.rejected = true, now, cause, 0
		br.tripped.Store(true)
		opened = true
	}
	startProbe = !br.probing
	br.probing = true
	return opened, startProbe
}

// probeDone reports whether the probe may stop: the breaker is closed. It
// then marks no probe running, in the same critical section, so a trip
// either sees the probe still running (and it sees the breaker open) or
// starts a new one.
func (br *breaker) probeDone() bool {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.open {
		return false
	}
	br.probing = false
	return true
}

// reset closes the breaker; it reports whether it was open, since when and
// how many publishes it failed fast.
func (br *breaker) reset() (wasOpen bool, since time.Time, rejected int) {
	if !br.tripped.Load() {
		return false, time.Time{}, 0
	}
	br.mu.Lock()
	defer br.mu.Unlock()
	wasOpen, since, rejected = br.open, br.since, br.rejected
	br.open, br.cause, br.rejected = false, nil, 0
	br.tripped.Store(false)
	return wasOpen, since, rejected
}

// unreachable reports whether err, from a publish whose caller's context
// is ctx and which waited for waited, says the broker cannot be reached
// (and should open the breaker). The caller's context ending counts only
// when it was a deadline and the publish had waited at least
// callerDeadlineTrips: a conductor's own publish deadline may end first
// (it equals the default publish_timeout), but a caller's very short
// deadline says nothing about the broker.
func unreachable(ctx context.Context, err error, waited time.Duration) bool {
	switch {
	case err == nil, errors.Is(err, io.ErrClosedPipe), brokerAnswered(err):
		return false
	case ctx.Err() != nil:
		return errors.Is(ctx.Err(), context.DeadlineExceeded) && waited >= callerDeadlineTrips
	}
	return true
}

// brokerAnswered reports whether err is, or holds, a Kafka error code that
// is not retriable: the broker is up and refused this request.
func brokerAnswered(err error) bool {
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) { // WriteErrors does not unwrap
		for _, e := range werrs {
			if e != nil && brokerAnswered(e) {
				return true
			}
		}
		return false
	}
	var kerr kafka.Error
	return errors.As(err, &kerr) && !kerr.Temporary()
}

// tripBreaker opens the breaker after a failed publish and, if it was
// closed, starts the probe that closes it again.
func (b *Bus) tripBreaker(cause error) {
	opened, startProbe := b.brk.trip(cause, time.Now())
	if opened {
		b.logger.Warn("kafka unreachable: progress publishes fail fast until a probe reaches it",
			"probe_interval", probeInterval, "err", cause)
	}
	if !startProbe {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.wg.Add(1)
	go b.probe()
}

// closeBreaker closes the breaker after the broker answered (a probe or a
// publish) and logs the end of an outage.
func (b *Bus) closeBreaker(by string) {
	if open, since, rejected := b.brk.reset(); open {
		b.logger.Info("kafka reachable again: progress publishes resume", "by", by,
			"outage", time.Since(since).Round(time.Millisecond), "failed_fast", rejected)
	}
}

// probe asks the broker for the topic's metadata every probeInterval until
// it answers with a leader for every partition (then closes the breaker),
// the breaker was closed by a successful publish, or the bus closes. While
// it runs, brk.probing is set; it stops only through probeDone.
func (b *Bus) probe() {
	defer b.wg.Done()
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-b.life.Done():
			return
		case <-t.C:
		}
		if b.brk.probeDone() {
			return
		}
		ctx, cancel := context.WithTimeout(b.life, probeTimeout)
		err := b.leadersReady(ctx)
		cancel()
		if err != nil {
			b.logger.Debug("kafka probe failed", "err", err)
			continue
		}
		b.closeBreaker("probe")
		if b.brk.probeDone() {
			return
		}
	}
}

// leadersReady reads the progress topic's metadata and fails unless every
// partition has a leader.
func (b *Bus) leadersReady(ctx context.Context) error {
	md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{b.cfg.Topic}})
	if err != nil {
		return err
	}
	for _, t := range md.Topics {
		if t.Name != b.cfg.Topic {
			continue
		}
		if t.Error != nil {
			return t.Error
		}
		if len(t.Partitions) == 0 {
			return fmt.Errorf("topic %s has no partitions", t.Name)
		}
		for _, p := range t.Partitions {
			if p.Error != nil {
				return fmt.Errorf("partition %d: %w", p.ID, p.Error)
			}
			if p.Leader.Host == "" {
				return fmt.Errorf("partition %d has no leader", p.ID)
			}
		}
		return nil
	}
	return fmt.Errorf("topic %s missing from metadata", b.cfg.Topic)
}
