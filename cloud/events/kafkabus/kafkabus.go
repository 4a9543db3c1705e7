// Package kafkabus is the Apache Kafka implementation of events.Bus
// (kafka-go), registered for the "kafka" scheme; the distributed cloud tier
// uses it between conductors and API replicas.
//
// Decisions:
//
//   - One topic (default "ifc.progress", DefaultPartitions partitions) holds
//     every progress event as a protobuf-encoded ifc.v1.ProgressEvent, keyed
//     by execution id. The key picks the partition (murmur2, as Java
//     producers do), so one execution's events share a partition and stay
//     in order; executions spread over the partitions.
//   - Fan-out, not work sharing: every API replica must see every event, so
//     there is no consumer group. Each Subscribe reads every partition with
//     its own kafka-go Reader, starting at the partition's end offset read
//     synchronously in Subscribe: every event published after Subscribe
//     returns is delivered, nothing older is. Nothing is committed.
//   - A subscription's partition readers feed one goroutine that calls the
//     handler, so handlers run one at a time and per-execution order holds.
//     A slow handler slows only its own subscription and loses nothing:
//     the readers stop fetching and the broker's log holds the rest.
//   - Publish waits for the broker's acknowledgement from all in-sync
//     replicas (acks=all) and is bounded by publish_timeout, retries
//     included, so a conductor never hangs on a dead broker. Events of one
//     execution come from the one conductor running it, which publishes
//     them one after another, so acknowledged order is publish order.
//   - Open creates the topic when it is missing (tolerating a concurrent
//     creator) and waits until every partition has a leader. Partitions
//     added later are not read until the next Open.
//   - While the broker is away, readers retry from their offset, so a short
//     outage delays events rather than losing them (within retention).
//     Publish fails fast instead of waiting publish_timeout per event once
//     one publish found the broker unreachable, until a probe reaches it
//     again (the circuit breaker in breaker.go).
package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"

	"github.com/imageflowcanvas/ifc/cloud/events"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Scheme is the URL scheme this package registers.
const Scheme = "kafka"

// TypeHeader names the message header that tells what the value holds.
const TypeHeader = "ifc-type"

// ProgressType is TypeHeader's value for progress events.
const ProgressType = "ifc.v1.ProgressEvent"

const (
	// openTimeout bounds Open through the registry: connect, create the
	// topic and wait for its partition leaders.
	openTimeout = 30 * time.Second
	dialTimeout = 5 * time.Second
	// subscribeTimeout bounds reading the partitions' end offsets.
	subscribeTimeout = 10 * time.Second
	// readerMaxWait is how long the broker holds an empty fetch; a new
	// event answers it at once, so this only sets the idle poll rate.
	readerMaxWait = 500 * time.Millisecond
	handoffBuffer = 256
)

func init() {
	events.Register(Scheme, func(rawURL string, logger *slog.Logger) (events.Bus, error) {
		cfg, err := ParseURL(rawURL)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		defer cancel()
		b, err := Open(ctx, cfg, logger)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return b, nil
	})
}

// Bus is an events.Bus over a Kafka cluster: one writer for Publish and a
// set of partition readers per subscription.
type Bus struct {
	cfg        Config
	logger     *slog.Logger
	transport  *kafka.Transport
	client     *kafka.Client
	writer     *kafka.Writer
	dialer     *kafka.Dialer
	partitions []int

	brk breaker // fails publishes fast while the broker is unreachable
	// life ends when Close starts; the breaker's probe runs under it.
	life    context.Context
	endLife context.CancelFunc

	mu     sync.Mutex
	closed bool
	subs   map[*subscription]struct{}
	wg     sync.WaitGroup // every goroutine of every subscription, and the probe
	once   sync.Once
}

var _ events.Bus = (*Bus)(nil)

// Open connects to the cluster, creates cfg.Topic if it is missing and
// returns a Bus. It fails when no broker answers before ctx ends.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "events.kafka", "topic", cfg.Topic)
	transport := &kafka.Transport{ClientID: "ifc", DialTimeout: dialTimeout, MetadataTTL: 10 * time.Second}
	b := &Bus{
		cfg:       cfg,
		logger:    logger,
		transport: transport,
		client:    &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: dialTimeout * 2, Transport: transport},
		dialer:    &kafka.Dialer{ClientID: "ifc", Timeout: dialTimeout, DualStack: true},
		subs:      map[*subscription]struct{}{},
	}
	parts, err := b.ensureTopic(ctx, b.cfg.Topic)
	if err != nil {
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("kafkabus: open %v: %w", cfg.Brokers, err)
	}
	b.partitions = parts
	b.life, b.endLife = context.WithCancel(context.Background())
	b.writer = &kafka.Writer{
		Addr:            kafka.TCP(cfg.Brokers...),
		Topic:           cfg.Topic,
		Balancer:        &kafka.Murmur2Balancer{},
		RequiredAcks:    kafka.RequireAll,
		BatchTimeout:    cfg.BatchTimeout,
		WriteTimeout:    cfg.PublishTimeout,
		ReadTimeout:     cfg.PublishTimeout,
		MaxAttempts:     5,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
		Transport:       transport,
		ErrorLogger:     kafkaLogger(logger, slog.LevelWarn),
	}
	logger.Debug("kafka bus open", "brokers", cfg.Brokers, "partitions", len(parts))
	return b, nil
}

// ensureTopic returns the named topic's partition ids, creating it first
// (with the bus's partitions, replication and retention) if the cluster
// does not know it, and waits until each partition has a leader.
func (b *Bus) ensureTopic(ctx context.Context, name string) ([]int, error) {
	created := false
	for {
		md, err := b.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{name}})
		if err != nil {
			return nil, fmt.Errorf("read metadata: %w", err)
		}
		var topic *kafka.Topic
		for i := range md.Topics {
			if md.Topics[i].Name == name {
				topic = &md.Topics[i]
			}
		}
		switch {
		case topic == nil || errors.Is(topic.Error, kafka.UnknownTopicOrPartition):
			if !created {
				if err := b.createTopic(ctx, name); err != nil {
					return nil, err
				}
				created = true
			}
		case topic.Error != nil && !errors.Is(topic.Error, kafka.LeaderNotAvailable):
			return nil, fmt.Errorf("topic %s: %w", name, topic.Error)
		case topic.Error == nil && len(topic.Partitions) > 0:
			ids := make([]int, 0, len(topic.Partitions))
			ready := true
			for _, p := range topic.Partitions {
				if p.Error != nil || p.Leader.Host == "" {
					ready = false
				}
				ids = append(ids, p.ID)
			}
			if ready {
				slices.Sort(ids)
				return ids, nil
			}
		}
		// A new topic's leaders are elected within milliseconds; poll.
		if !pause(ctx, 50*time.Millisecond) {
			return nil, fmt.Errorf("topic %s has no leader for every partition: %w", name, ctx.Err())
		}
	}
}

func (b *Bus) createTopic(ctx context.Context, name string) error {
	res, err := b.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic:             name,
		NumPartitions:     b.cfg.Partitions,
		ReplicationFactor: b.cfg.Replication,
		ConfigEntries: []kafka.ConfigEntry{
			{ConfigName: "retention.ms", ConfigValue: strconv.FormatInt(b.cfg.Retention.Milliseconds(), 10)},
		},
	}}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	if err := res.Errors[name]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s (%d partitions, replication %d): %w",
			name, b.cfg.Partitions, b.cfg.Replication, err)
	}
	b.logger.Info("created topic", "topic", name, "partitions", b.cfg.Partitions, "replication", b.cfg.Replication, "retention", b.cfg.Retention)
	return nil
}

// Topic returns the topic progress events are published on.
func (b *Bus) Topic() string { return b.cfg.Topic }

// Partitions returns the partition ids subscriptions read.
func (b *Bus) Partitions() []int { return slices.Clone(b.partitions) }

// Publish sends ev keyed by its execution id and returns once the broker
// acknowledged it, or with an error after at most the configured
// publish_timeout. After a publish found the broker unreachable, Publish
// fails at once with an error wrapping ErrUnavailable until a probe
// reaches the broker again (breaker.go).
func (b *Bus) Publish(ctx context.Context, ev *ifcv1.ProgressEvent) error {
	if err := events.Validate(ev); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafkabus: publish progress of %s: %w", ev.ExecutionId, err)
	}
	data, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("kafkabus: publish progress of %s: encode: %w", ev.ExecutionId, err)
	}
	if b.isClosed() {
		return events.ErrClosed
	}
	if err := b.brk.allow(time.Now()); err != nil {
		return fmt.Errorf("kafkabus: publish progress of %s to %s: %w", ev.ExecutionId, b.cfg.Topic, err)
	}
	pctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	start := time.Now()
	err = b.writer.WriteMessages(pctx, kafka.Message{
		Key:     []byte(ev.ExecutionId),
		Value:   data,
		Headers: []kafka.Header{{Key: TypeHeader, Value: []byte(ProgressType)}},
	})
	if err == nil {
		b.closeBreaker("publish")
		return nil
	}
	if unreachable(ctx, err, time.Since(start)) && !b.isClosed() {
		b.tripBreaker(err)
	}
	switch {
	case errors.Is(err, io.ErrClosedPipe):
		return events.ErrClosed
	case ctx.Err() == nil && pctx.Err() != nil:
		return fmt.Errorf("kafkabus: publish progress of %s to %s: not acknowledged within %v: %w",
			ev.ExecutionId, b.cfg.Topic, b.cfg.PublishTimeout, err)
	default:
		return fmt.Errorf("kafkabus: publish progress of %s to %s: %w", ev.ExecutionId, b.cfg.Topic, err)
	}
}

// PublishRecord sends value keyed by key on the bus's topic, with typ in
// the TypeHeader, and returns once the broker acknowledged it (bounded by
// publish_timeout like Publish). It carries records other than progress
// events, such as execution metrics on a Bus opened on the metrics topic.
func (b *Bus) PublishRecord(ctx context.Context, key, typ string, value []byte) error {
	if b.isClosed() {
		return events.ErrClosed
	}
	pctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	err := b.writer.WriteMessages(pctx, kafka.Message{
		Key:     []byte(key),
		Value:   value,
		Headers: []kafka.Header{{Key: TypeHeader, Value: []byte(typ)}},
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.ErrClosedPipe):
		return events.ErrClosed
	default:
		return fmt.Errorf("kafkabus: publish %s %s to %s: %w", typ, key, b.cfg.Topic, err)
	}
}

// Subscribe delivers every progress event published after it returns to
// h, one call at a time, until ctx is done, cancel is called or the Bus is
// closed. After cancel returns no new call of h starts (one already
// running finishes); cancel may be called from inside h.
func (b *Bus) Subscribe(ctx context.Context, h events.Handler) (func(), error) {
	if h == nil {
		return nil, fmt.Errorf("kafkabus: subscribe: nil handler")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kafkabus: subscribe: %w", err)
	}
	if b.isClosed() {
		return nil, events.ErrClosed
	}
	offsets, err := b.endOffsets(ctx)
	if err != nil {
		return nil, fmt.Errorf("kafkabus: subscribe to %s: %w", b.cfg.Topic, err)
	}
	sctx, stop := context.WithCancel(context.Background())
	s := &subscription{bus: b, h: h, ctx: sctx, stop: stop, ch: make(chan *ifcv1.ProgressEvent, handoffBuffer)}
	for _, p := range b.partitions {
		r := b.partitionReader(b.cfg.Topic, p, kafkaLogger(b.logger.With("partition", p), slog.LevelWarn))
		if err := r.SetOffset(offsets[p]); err != nil {
			_ = r.Close()
			for _, r := range s.readers {
				_ = r.Close()
			}
			stop()
			return nil, fmt.Errorf("kafkabus: subscribe: partition %d offset %d: %w", p, offsets[p], err)
		}
		s.readers = append(s.readers, r)
	}
	s.unwatch = context.AfterFunc(ctx, func() { stop(); b.forget(s) })
	// Only a fully set up subscription is visible to Close; the goroutines
	// join b.wg under b.mu so Close's Wait sees them.
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.unwatch()
		stop()
		for _, r := range s.readers {
			_ = r.Close()
		}
		return nil, events.ErrClosed
	}
	b.subs[s] = struct{}{}
	b.wg.Add(len(s.readers) + 1)
	b.mu.Unlock()
	s.readersDone.Add(len(s.readers))
	for _, r := range s.readers {
		go s.read(r)
	}
	go s.dispatch()
	return s.cancel, nil
}

// endOffsets reads the offset the next event of each partition will get.
// Retriable broker errors (a partition's leader moving or, just after the
// topic was created, not loaded yet) are retried until ctx or
// subscribeTimeout ends.
func (b *Bus) endOffsets(ctx context.Context) (map[int]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	for {
		offsets, err := b.listEndOffsets(ctx)
		var kerr kafka.Error
		if err == nil || !errors.As(err, &kerr) || !kerr.Temporary() {
			return offsets, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (still failing when %w)", err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (b *Bus) listEndOffsets(ctx context.Context) (map[int]int64, error) {
	reqs := make([]kafka.OffsetRequest, 0, len(b.partitions))
	for _, p := range b.partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	res, err := b.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics:         map[string][]kafka.OffsetRequest{b.cfg.Topic: reqs},
		IsolationLevel: kafka.ReadUncommitted,
	})
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	offsets := make(map[int]int64, len(b.partitions))
	for _, po := range res.Topics[b.cfg.Topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("end offset of partition %d: %w", po.Partition, po.Error)
		}
		offsets[po.Partition] = po.LastOffset
	}
	for _, p := range b.partitions {
		if _, ok := offsets[p]; !ok {
			return nil, fmt.Errorf("no end offset for partition %d", p)
		}
	}
	return offsets, nil
}

// Close stops every subscription, waits for their goroutines, flushes the
// writer and closes connections. It is idempotent and safe to call
// concurrently, but not from inside a handler.
func (b *Bus) Close() error {
	b.once.Do(func() {
		b.mu.Lock()
		b.closed = true
		subs := make([]*subscription, 0, len(b.subs))
		for s := range b.subs {
			subs = append(subs, s)
		}
		b.mu.Unlock()
		b.endLife()
		for _, s := range subs {
			s.cancel()
		}
		b.wg.Wait()
		if err := b.writer.Close(); err != nil {
			b.logger.Warn("close writer", "err", err)
		}
		b.transport.CloseIdleConnections()
	})
	return nil
}

// partitionReader reads one partition of topic, without a consumer group.
func (b *Bus) partitionReader(topic string, partition int, errLog kafka.Logger) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:         b.cfg.Brokers,
		Topic:           topic,
		Partition:       partition,
		Dialer:          b.dialer,
		MinBytes:        1,
		MaxBytes:        4 << 20,
		MaxWait:         readerMaxWait,
		ReadLagInterval: -1,
		ReadBackoffMin:  50 * time.Millisecond,
		ReadBackoffMax:  time.Second,
		ErrorLogger:     errLog,
	})
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

// subscription owns one reader goroutine per partition, which decode and
// hand events to the single dispatch goroutine that calls the handler.
type subscription struct {
	bus         *Bus
	h           events.Handler
	readers     []*kafka.Reader
	ch          chan *ifcv1.ProgressEvent
	ctx         context.Context // done when the subscription stops
	stop        context.CancelFunc
	unwatch     func() bool
	readersDone sync.WaitGroup
	once        sync.Once
}

func (s *subscription) read(r *kafka.Reader) {
	defer s.bus.wg.Done()
	defer s.readersDone.Done()
	defer r.Close()
	for {
		m, err := r.ReadMessage(s.ctx)
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			// The reader retries broker errors itself; what reaches here
			// is unexpected. Log and back off rather than spin.
			s.bus.logger.Error("read progress events", "partition", r.Config().Partition, "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		ev := &ifcv1.ProgressEvent{}
		if err := proto.Unmarshal(m.Value, ev); err != nil {
			s.bus.logger.Warn("dropping undecodable progress event",
				"partition", m.Partition, "offset", m.Offset, "err", err)
			continue
		}
		select {
		case s.ch <- ev:
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *subscription) dispatch() {
	defer s.bus.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case ev := <-s.ch:
			if s.ctx.Err() != nil {
				return
			}
			s.h(ev)
		}
	}
}

// cancel stops delivery and waits for the partition readers (not for the
// dispatcher, which may be the caller; Close waits for it).
func (s *subscription) cancel() {
	s.once.Do(func() {
		s.unwatch()
		s.stop()
	})
	s.readersDone.Wait()
	s.bus.forget(s)
}

// kafkaLogger adapts kafka-go's printf logging to slog at one level.
func kafkaLogger(l *slog.Logger, level slog.Level) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		l.Log(context.Background(), level, fmt.Sprintf(msg, args...))
	})
}
