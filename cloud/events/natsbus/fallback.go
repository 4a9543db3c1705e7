package natsbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/imageflowcanvas/ifc/cloud/events"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// The fallback queue (conductor.FallbackQueue) over JetStream: unlike
// progress events, a job must survive a restart and go to exactly one
// consumer, so it needs JetStream (EmbeddedOptions.StoreDir in the
// all-in-one; an external server must have it enabled, otherwise enqueue
// fails and the conductor fails the node as it would without a queue).
//
//   - Stream FallbackStream (work-queue retention, file storage, subjects
//     "ifc.fallback.<execution_id>"), created on first use; a job is removed
//     when acknowledged.
//   - One durable pull consumer, FallbackConsumer, shared by every replica:
//     JetStream hands each job to one of them. A job in flight is kept
//     ours with InProgress every fallbackAckWait/3; if the replica dies it
//     is redelivered after fallbackAckWait (at least once). A handler error
//     naks it with a delay; an interrupted job is nakked for immediate
//     redelivery.

const (
	// FallbackStream is the JetStream stream holding fallback jobs.
	FallbackStream = "IFC_FALLBACK"
	// FallbackConsumer is the durable consumer every replica shares.
	FallbackConsumer = "ifc-fallback"
	// FallbackSubjectPrefix starts the subject of a job; the key follows.
	FallbackSubjectPrefix = "ifc.fallback."

	fallbackAckWait  = 30 * time.Second
	fallbackNakDelay = time.Second
	fallbackMaxAge   = 24 * time.Hour
)

// ErrNoJetStream is returned when the server offers no JetStream.
var ErrNoJetStream = errors.New("natsbus: the fallback queue needs JetStream, which the server does not offer")

func (b *Bus) fallbackStream(ctx context.Context) (jetstream.JetStream, jetstream.Stream, error) {
	if b.isClosed() {
		return nil, nil, events.ErrClosed
	}
	js, err := jetstream.New(b.nc)
	if err != nil {
		return nil, nil, fmt.Errorf("natsbus: jetstream: %w", err)
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:      FallbackStream,
		Subjects:  []string{FallbackSubjectPrefix + ">"},
		Retention: jetstream.WorkQueuePolicy,
		Storage:   jetstream.FileStorage,
		MaxAge:    fallbackMaxAge,
	})
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
		errors.Is(err, nats.ErrNoResponders) {
		return nil, nil, ErrNoJetStream
	}
	if err != nil {
		return nil, nil, fmt.Errorf("natsbus: fallback stream %s: %w", FallbackStream, err)
	}
	return js, st, nil
}

// EnqueueFallback stores job under key (an execution id) and returns once
// JetStream acknowledged it.
func (b *Bus) EnqueueFallback(ctx context.Context, key string, job []byte) error {
	ctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	js, _, err := b.fallbackStream(ctx)
	if err != nil {
		return err
	}
	if err := events.Validate(&ifcv1.ProgressEvent{ExecutionId: key}); err != nil {
		return err
	}
	if _, err := js.Publish(ctx, FallbackSubjectPrefix+key, job); err != nil {
		return fmt.Errorf("natsbus: enqueue fallback job %s: %w", key, err)
	}
	return nil
}

// ConsumeFallback takes jobs from the shared durable consumer, at most
// limit at once, until ctx ends.
func (b *Bus) ConsumeFallback(ctx context.Context, limit int, h func(context.Context, []byte) error) error {
	limit = max(limit, 1)
	log := b.logger.With("component", "events.nats.fallback")
	var cons jetstream.Consumer
	for warned := false; ; {
		_, st, err := b.fallbackStream(ctx)
		if err == nil {
			cons, err = st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
				Durable:       FallbackConsumer,
				AckPolicy:     jetstream.AckExplicitPolicy,
				AckWait:       fallbackAckWait,
				MaxAckPending: -1,
			})
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrNoJetStream) {
			if !warned {
				log.Warn("no fallback queue: the server has no JetStream; unreachable part services fail their nodes")
				warned = true
			}
		} else {
			log.Warn("fallback consumer not ready; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, limit)
	for ctx.Err() == nil {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		msg, err := b.nextJob(ctx, cons)
		if err != nil {
			<-sem
			if ctx.Err() != nil {
				return nil
			}
			if !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
				log.Warn("fetch fallback job", "err", err)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			runJob(ctx, msg, h, log)
		}()
	}
	return nil
}

// nextJob waits up to a second for one job.
func (b *Bus) nextJob(ctx context.Context, cons jetstream.Consumer) (jetstream.Msg, error) {
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		return nil, err
	}
	for m := range batch.Messages() {
		return m, nil
	}
	if err := batch.Error(); err != nil {
		return nil, err
	}
	return nil, jetstream.ErrNoMessages
}

// runJob calls h for msg, keeping the job ours while it runs.
func runJob(ctx context.Context, msg jetstream.Msg, h func(context.Context, []byte) error, log interface {
	Warn(string, ...any)
}) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(fallbackAckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	err := h(ctx, msg.Data())
	close(done)
	switch {
	case err == nil:
		if err := msg.Ack(); err != nil {
			log.Warn("ack fallback job", "subject", msg.Subject(), "err", err)
		}
	case ctx.Err() != nil:
		_ = msg.Nak() // interrupted: redeliver at once, to whoever is left
	default:
		log.Warn("fallback job failed; redelivering", "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(fallbackNakDelay)
	}
}
