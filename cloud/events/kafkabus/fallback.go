package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/imageflowcanvas/ifc/cloud/events"
)

// The fallback queue (conductor.FallbackQueue): executions waiting for an
// unreachable part service.
//
//   - Jobs go to "<topic>.fallback" (same partitions and retention as the
//     progress topic, created on first use), keyed by execution id.
//     Enqueue uses the bus's client with acks=all, so a job exists on the
//     broker when it returns.
//   - Work sharing, unlike progress: one consumer group, "<topic>.fallback",
//     so each job goes to the one replica that owns its partition. Jobs run
//     concurrently (up to the caller's limit); a partition's offset is
//     committed only up to its oldest unfinished job, so a replica that dies
//     leaves every unfinished job to the next owner (at least once).
//   - A job runs under its generation's context: on a rebalance it is
//     interrupted before the partition can be assigned elsewhere (kafka-go
//     ends a generation only after its goroutines return), so one job never
//     runs on two replicas at once, unless a replica hangs past the session
//     timeout (then the conductor's per-execution idempotency is the guard).
//   - A handler error (the store unreachable, say) is retried in place with
//     backoff while the partition is ours.

const (
	fallbackSuffix  = ".fallback"
	fallbackTypeHdr = "ifc.conductor.FallbackJob"
	retryMin        = 500 * time.Millisecond
	retryMax        = 10 * time.Second
)

// FallbackTopic is the topic fallback jobs of the bus go to.
func (b *Bus) FallbackTopic() string { return b.cfg.Topic + fallbackSuffix }

// EnqueueFallback stores job on the fallback topic keyed by key (an
// execution id) and returns once every in-sync replica has it.
func (b *Bus) EnqueueFallback(ctx context.Context, key string, job []byte) error {
	if b.isClosed() {
		return events.ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	topic := b.FallbackTopic()
	parts, err := b.ensureTopic(ctx, b.FallbackTopic())
	if err != nil {
		return fmt.Errorf("kafkabus: enqueue fallback job %s: %w", key, err)
	}
	msg := kafka.Message{Key: []byte(key)}
	p := (&kafka.Murmur2Balancer{}).Balance(msg, parts...)
	// Retriable broker answers (a leader moving, or the client's metadata
	// of a just-created topic being stale) are retried within the timeout.
	for wait := 50 * time.Millisecond; ; wait = min(wait*2, time.Second) {
		res, err := b.client.Produce(ctx, &kafka.ProduceRequest{
			Topic:        topic,
			Partition:    p,
			RequiredAcks: kafka.RequireAll,
			Records: kafka.NewRecordReader(kafka.Record{
				Key:     kafka.NewBytes([]byte(key)),
				Value:   kafka.NewBytes(job),
				Headers: []kafka.Header{{Key: TypeHeader, Value: []byte(fallbackTypeHdr)}},
			}),
		})
		if err == nil && res.Error != nil {
			err = res.Error
		}
		if err == nil {
			return nil
		}
		var kerr kafka.Error
		if !errors.As(err, &kerr) || !kerr.Temporary() || !pause(ctx, wait) {
			return fmt.Errorf("kafkabus: enqueue fallback job %s to %s[%d]: %w", key, topic, p, err)
		}
	}
}

// ConsumeFallback runs the bus's member of the fallback consumer group
// until ctx ends, calling h for each job (at most limit at once).
func (b *Bus) ConsumeFallback(ctx context.Context, limit int, h func(context.Context, []byte) error) error {
	if b.isClosed() {
		return events.ErrClosed
	}
	limit = max(limit, 1)
	topic := b.FallbackTopic()
	log := b.logger.With("component", "events.kafka.fallback", "topic", topic)
	for {
		octx, cancel := context.WithTimeout(ctx, openTimeout)
		_, err := b.ensureTopic(octx, b.FallbackTopic())
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("fallback topic not ready; retrying", "err", err)
		if !pause(ctx, time.Second) {
			return nil
		}
	}
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                topic,
		Brokers:           b.cfg.Brokers,
		Dialer:            b.dialer,
		Topics:            []string{topic},
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  time.Second,
		RetentionTime:     7 * 24 * time.Hour,
		ErrorLogger:       kafkaLogger(log, slog.LevelDebug),
	})
	if err != nil {
		return fmt.Errorf("kafkabus: fallback consumer group %s: %w", topic, err)
	}
	defer group.Close()
	stop := context.AfterFunc(ctx, func() { _ = group.Close() })
	defer stop()
	sem := make(chan struct{}, limit)
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			log.Warn("join fallback consumer group; retrying", "err", err)
			if !pause(ctx, time.Second) {
				return nil
			}
			continue
		}
		assigned := gen.Assignments[topic]
		log.Info("fallback partitions assigned", "generation", gen.ID, "partitions", len(assigned))
		for _, pa := range assigned {
			gen.Start(func(gctx context.Context) {
				b.consumeFallbackPartition(gctx, gen, topic, pa.ID, pa.Offset, sem, h, log)
			})
		}
	}
}

// consumeFallbackPartition runs the jobs of one assigned partition until
// the generation ends, committing in offset order.
func (b *Bus) consumeFallbackPartition(ctx context.Context, gen *kafka.Generation, topic string, partition int, offset int64,
	sem chan struct{}, h func(context.Context, []byte) error, log *slog.Logger) {
	log = log.With("partition", partition)
	r := b.partitionReader(topic, partition, kafkaLogger(log, slog.LevelDebug))
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		log.Error("seek fallback partition", "offset", offset, "err", err)
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	oc := &orderedCommits{done: map[int64]bool{}}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("read fallback job", "err", err)
			if !pause(ctx, time.Second) {
				return
			}
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		oc.add(m.Offset)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			wait := retryMin
			for {
				err := h(ctx, m.Value)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					return // not committed: the partition's next owner runs it
				}
				log.Warn("fallback job failed; retrying", "offset", m.Offset, "key", string(m.Key), "in", wait, "err", err)
				if !pause(ctx, wait) {
					return
				}
				wait = min(wait*2, retryMax)
			}
			oc.finish(m.Offset, func(next int64) {
				if err := gen.CommitOffsets(map[string]map[int]int64{topic: {partition: next}}); err != nil && ctx.Err() == nil {
					log.Warn("commit fallback offset", "offset", next, "err", err)
				}
			})
		}()
	}
}

// orderedCommits tracks the jobs of one partition in flight: an offset is
// committed only when every job before it has finished.
type orderedCommits struct {
	mu      sync.Mutex
	pending []int64 // ascending
	done    map[int64]bool
}

func (o *orderedCommits) add(off int64) {
	o.mu.Lock()
	o.pending = append(o.pending, off)
	o.mu.Unlock()
}

// finish marks off done and, when the oldest jobs are all done, calls
// commit with the offset to resume from (under the lock, so commits of
// one partition are made in increasing order).
func (o *orderedCommits) finish(off int64, commit func(next int64)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done[off] = true
	n := 0
	for n < len(o.pending) && o.done[o.pending[n]] {
		delete(o.done, o.pending[n])
		n++
	}
	if n == 0 {
		return
	}
	next := o.pending[n-1] + 1
	o.pending = slices.Delete(o.pending, 0, n)
	commit(next)
}

// pause waits d; false when ctx ended first.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
