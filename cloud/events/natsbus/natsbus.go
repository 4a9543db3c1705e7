// Package natsbus is the NATS implementation of events.Bus, registered for
// the "nats" scheme, plus the embedded nats-server the all-in-one runs.
//
// Every progress event is published on "ifc.progress.<execution_id>" as
// a protobuf-encoded ifc.v1.ProgressEvent; subscribers listen on
// "ifc.progress.>". Core NATS (not JetStream) is enough: progress is live
// state, not a log, and a client that was away reads the execution record.
// NATS preserves the order of messages from one connection to one
// subscriber, so events of one execution, published by the one conductor
// running it, arrive in publish order.
package natsbus

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/imageflowcanvas/ifc/cloud/events"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Scheme is the URL scheme this package registers.
const Scheme = "nats"

// SubjectPrefix starts every progress subject; the execution id follows.
const SubjectPrefix = "ifc.progress."

// AllSubjects is the wildcard subscribers listen on.
const AllSubjects = SubjectPrefix + ">"

const flushTimeout = 5 * time.Second

func init() {
	events.Register(Scheme, func(rawURL string, logger *slog.Logger) (events.Bus, error) {
		b, err := Connect(rawURL, logger)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return b, nil
	})
}

// Subject returns the subject events of one execution are published on.
func Subject(executionID string) string { return SubjectPrefix + executionID }

// Bus is an events.Bus over one NATS connection.
type Bus struct {
	nc     *nats.Conn
	logger *slog.Logger

	mu     sync.Mutex
	closed bool
	subs   map[*subscription]struct{}
	once   sync.Once
}

var _ events.Bus = (*Bus)(nil)

// Connect dials the NATS server(s) at url (comma-separated for a
// cluster) and returns a Bus that reconnects forever after the first
// successful connection.
func Connect(url string, logger *slog.Logger, opts ...nats.Option) (*Bus, error) {
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "events.nats")
	nc, err := nats.Connect(url, append(connOptions(logger), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect %s: %w", redact(url), err)
	}
	return newBus(nc, logger), nil
}

func connOptions(logger *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name("ifc"),
		nats.Timeout(5 * time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("disconnected from nats", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("reconnected to nats", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			// Slow consumers lose events here; the execution record
			// remains the source of truth.
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Error("nats async error", "subject", subject, "err", err)
		}),
	}
}

func newBus(nc *nats.Conn, logger *slog.Logger) *Bus {
	return &Bus{nc: nc, logger: logger, subs: map[*subscription]struct{}{}}
}

// Publish sends ev on its execution's subject. It returns once the event
// is handed to the connection (buffered while reconnecting), not when it
// is delivered.
func (b *Bus) Publish(ctx context.Context, ev *ifcv1.ProgressEvent) error {
	if err := events.Validate(ev); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish progress of %s: %w", ev.ExecutionId, err)
	}
	data, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("publish progress of %s: encode: %w", ev.ExecutionId, err)
	}
	if b.isClosed() {
		return events.ErrClosed
	}
	if err := b.nc.Publish(Subject(ev.ExecutionId), data); err != nil {
		if b.nc.IsClosed() {
			return events.ErrClosed
		}
		return fmt.Errorf("publish progress of %s: %w", ev.ExecutionId, err)
	}
	return nil
}

// Subscribe delivers every progress event to h, one at a time in arrival
// order, until ctx is done, cancel is called or the Bus is closed. The
// subscription is registered with the server before Subscribe returns.
// After cancel returns no new call of h starts (one already running
// finishes); cancel may be called from inside h.
func (b *Bus) Subscribe(ctx context.Context, h events.Handler) (func(), error) {
	if h == nil {
		return nil, fmt.Errorf("natsbus: subscribe: nil handler")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("natsbus: subscribe: %w", err)
	}
	if b.isClosed() {
		return nil, events.ErrClosed
	}
	s := &subscription{bus: b, stop: make(chan struct{}), done: make(chan struct{})}
	sub, err := b.nc.Subscribe(AllSubjects, func(m *nats.Msg) {
		if s.stopped.Load() {
			return
		}
		ev := &ifcv1.ProgressEvent{}
		if err := proto.Unmarshal(m.Data, ev); err != nil {
			b.logger.Warn("dropping undecodable progress event", "subject", m.Subject, "err", err)
			return
		}
		h(ev)
	})
	if err == nil {
		err = b.nc.FlushTimeout(flushTimeout)
	}
	if err != nil {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
		if b.nc.IsClosed() {
			return nil, events.ErrClosed
		}
		return nil, fmt.Errorf("natsbus: subscribe %s: %w", AllSubjects, err)
	}
	s.sub = sub
	go s.watch(ctx)
	// Only a fully set up subscription is visible to Close.
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.cancel()
		return nil, events.ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s.cancel, nil
}

// Close unsubscribes everything and closes the connection. It is
// idempotent and safe to call concurrently.
func (b *Bus) Close() error {
	b.once.Do(func() {
		b.mu.Lock()
		b.closed = true
		subs := make([]*subscription, 0, len(b.subs))
		for s := range b.subs {
			subs = append(subs, s)
		}
		b.mu.Unlock()
		for _, s := range subs {
			s.cancel()
		}
		if b.nc.IsConnected() {
			_ = b.nc.FlushTimeout(time.Second) // deliver what was published
		}
		b.nc.Close()
	})
	return nil
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *Bus) forget(s *subscription) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

// subscription ties one NATS subscription to the goroutine watching its
// context; cancel stops both and waits for the watcher.
type subscription struct {
	bus     *Bus
	sub     *nats.Subscription
	stopped atomic.Bool
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func (s *subscription) watch(ctx context.Context) {
	defer close(s.done)
	select {
	case <-ctx.Done():
		s.stopped.Store(true)
		s.unsubscribe()
	case <-s.stop:
	}
}

func (s *subscription) cancel() {
	s.once.Do(func() {
		s.stopped.Store(true)
		close(s.stop)
		s.unsubscribe()
	})
	<-s.done
}

func (s *subscription) unsubscribe() {
	if err := s.sub.Unsubscribe(); err != nil && !s.bus.nc.IsClosed() {
		s.bus.logger.Debug("unsubscribe", "err", err)
	}
	s.bus.forget(s)
}

func redact(url string) string {
	if i := strings.Index(url, "@"); i >= 0 {
		if j := strings.Index(url, "://"); j >= 0 && j < i {
			return url[:j+3] + "***" + url[i:]
		}
	}
	return url
}
