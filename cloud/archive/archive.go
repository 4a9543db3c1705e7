// Package archive copies Kafka topics (progress events, execution metrics)
// into the object store in compact batches: the job Kafka Connect's S3
// sink does in the seed design, as a consumer of the cloud tier.
//
// Decisions:
//
//   - One consumer group (Config.Group, default "ifc-archive") per cluster:
//     every process that archives joins it and Kafka splits the partitions
//     among them. Each assigned partition is read by its own goroutine of
//     the group generation; a rebalance ends the generation and with it
//     every partition goroutine.
//   - A batch is one partition's consecutive messages, written as one
//     object: newline-delimited JSON (one Line per message), gzip,
//     under Key(prefix, topic, partition, first, last, first message's
//     time). Progress events (protobuf on the wire) become protojson;
//     JSON values are kept as they are; anything else is base64.
//   - At-least-once: a partition's offset is committed only after its
//     object is stored, and the next batch is not stored before that
//     commit. A crash or rebalance between the two replays the batch from
//     the committed offset.
//   - Deterministic batches, so a replay rewrites the same key with the
//     same bytes instead of a second, overlapping object: a batch is cut
//     before the message that would take it past MaxBytes, or whose
//     timestamp (the producer's, stored in the log) is MaxAge or more
//     after the batch's first; both depend only on the log. While the
//     partition is idle the batch is written MaxAge+IdleGrace after its
//     first message's timestamp by the wall clock; a message arriving
//     later has a timestamp at or past the age cut as long as producer
//     and archiver clocks agree within IdleGrace. A batch not yet stored
//     when the generation ends is dropped (not committed; the next owner
//     replays it).
package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/imageflowcanvas/ifc/cloud/events/kafkabus"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Defaults for Config.
const (
	DefaultGroup     = "ifc-archive"
	DefaultPrefix    = "archive"
	DefaultMaxBytes  = 1 << 20
	DefaultMaxAge    = 30 * time.Second
	DefaultIdleGrace = 2 * time.Second
)

// idleWait is how long a partition must have nothing to read before its
// batch is written by the clock rather than by the next message.
const idleWait = 500 * time.Millisecond

// ContentType is the content type of every archive object.
const ContentType = "application/gzip"

// Store is where batches go (objectstore.Store satisfies it).
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
}

// Config configures an Archiver. Zero fields take the defaults.
type Config struct {
	Brokers []string // bootstrap host:port addresses
	Topics  []string // topics to archive; they must exist
	Group   string   // consumer group id; default DefaultGroup
	Prefix  string   // key prefix; default DefaultPrefix
	// MaxBytes bounds a batch's uncompressed NDJSON; a single larger
	// message is still archived, alone.
	MaxBytes int
	// MaxAge bounds the span of message timestamps in one batch.
	MaxAge time.Duration
	// IdleGrace is added to MaxAge before an idle partition's batch is
	// written (see the package comment).
	IdleGrace time.Duration
	// StartOffset is where a partition without a committed offset starts:
	// kafka.FirstOffset (default, everything retained) or kafka.LastOffset.
	StartOffset int64
}

func (c *Config) setDefaults() {
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.IdleGrace <= 0 {
		c.IdleGrace = DefaultIdleGrace
	}
	if c.StartOffset == 0 {
		c.StartOffset = kafka.FirstOffset
	}
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("archive: no broker")
	case len(c.Topics) == 0:
		return errors.New("archive: no topic")
	case c.MaxBytes < 0 || c.MaxBytes > 1<<30:
		return fmt.Errorf("archive: max bytes %d: want 0..1 GiB", c.MaxBytes)
	case c.MaxAge < 0 || c.MaxAge > 24*time.Hour:
		return fmt.Errorf("archive: max age %v: want 0..24h", c.MaxAge)
	case c.StartOffset != 0 && c.StartOffset != kafka.FirstOffset && c.StartOffset != kafka.LastOffset:
		return fmt.Errorf("archive: start offset %d: want kafka.FirstOffset or kafka.LastOffset", c.StartOffset)
	}
	return nil
}

// Archiver is one member of the archive consumer group.
type Archiver struct {
	cfg   Config
	store Store
	log   *slog.Logger
	now   func() time.Time
}

// New validates cfg; it connects to nothing (Run does).
func New(cfg Config, store Store, logger *slog.Logger) (*Archiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("archive: nil store")
	}
	cfg.setDefaults()
	if logger == nil {
		logger = slog.Default()
	}
	return &Archiver{cfg: cfg, store: store, log: logger.With("component", "archive", "group", cfg.Group), now: time.Now}, nil
}

// Run joins the consumer group and archives the partitions it is assigned
// until ctx is done; then it leaves the group and returns nil.
func (a *Archiver) Run(ctx context.Context) error {
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                a.cfg.Group,
		Brokers:           a.cfg.Brokers,
		Topics:            a.cfg.Topics,
		StartOffset:       a.cfg.StartOffset,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  time.Second,
		Timeout:           5 * time.Second,
		ErrorLogger:       kafkaLogger(a.log, slog.LevelWarn),
	})
	if err != nil {
		return fmt.Errorf("archive: consumer group %s: %w", a.cfg.Group, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = group.Close() })
	defer stop()
	defer group.Close()
	a.log.Info("archiving", "topics", a.cfg.Topics, "max_bytes", a.cfg.MaxBytes, "max_age", a.cfg.MaxAge)
	for {
		gen, err := group.Next(ctx)
		switch {
		case ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed):
			return nil
		case err != nil:
			// Next reports join/sync failures and keeps retrying itself.
			a.log.Warn("consumer group", "err", err)
			continue
		}
		var n int
		for topic, parts := range gen.Assignments {
			for _, p := range parts {
				n++
				gen.Start(func(gctx context.Context) { a.partition(gctx, gen, topic, p.ID, p.Offset) })
			}
		}
		a.log.Info("generation", "id", gen.ID, "partitions", n)
	}
}

// batch is one partition's messages not yet stored.
type batch struct {
	lines       bytes.Buffer
	first, last int64
	firstTime   time.Time
	n           int
}

func (b *batch) reset() { b.lines.Reset(); b.n = 0 }

// partition archives one assigned partition until the generation ends.
func (a *Archiver) partition(ctx context.Context, gen *kafka.Generation, topic string, partition int, offset int64) {
	log := a.log.With("topic", topic, "partition", partition)
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:         a.cfg.Brokers,
		Topic:           topic,
		Partition:       partition,
		MinBytes:        1,
		MaxBytes:        8 << 20,
		MaxWait:         500 * time.Millisecond,
		ReadLagInterval: -1,
		ReadBackoffMin:  50 * time.Millisecond,
		ReadBackoffMax:  time.Second,
		ErrorLogger:     kafkaLogger(log, slog.LevelWarn),
	})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		log.Error("set offset", "offset", offset, "err", err)
		return
	}
	log.Debug("partition assigned", "offset", offset)
	var b batch
	for {
		fctx, cancel := ctx, context.CancelFunc(func() {})
		if b.n > 0 {
			// Wait at least idleWait even past the age cut: a partition
			// being caught up has its next message at hand, and only one
			// with nothing to read may end a batch by the clock.
			deadline := b.firstTime.Add(a.cfg.MaxAge + a.cfg.IdleGrace)
			if soon := a.now().Add(idleWait); deadline.Before(soon) {
				deadline = soon
			}
			fctx, cancel = context.WithDeadline(ctx, deadline)
		}
		m, err := r.FetchMessage(fctx)
		cancel()
		if ctx.Err() != nil {
			return // generation over: the unstored batch is replayed by the next owner
		}
		if err != nil {
			if fctx.Err() != nil { // idle: the age cut passed with nothing new
				if !a.flush(ctx, gen, log, topic, partition, &b) {
					return
				}
				continue
			}
			log.Warn("fetch", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		line, err := EncodeLine(m)
		if err != nil {
			log.Warn("encode message", "offset", m.Offset, "err", err)
			continue
		}
		if b.n > 0 && (b.lines.Len()+len(line)+1 > a.cfg.MaxBytes || !m.Time.Before(b.firstTime.Add(a.cfg.MaxAge))) {
			if !a.flush(ctx, gen, log, topic, partition, &b) {
				return
			}
		}
		if b.n == 0 {
			b.first, b.firstTime = m.Offset, m.Time
		}
		b.last = m.Offset
		b.lines.Write(line)
		b.lines.WriteByte('\n')
		b.n++
	}
}

// flush stores b and then commits its last offset, retrying both until
// they succeed or ctx ends; false means the generation is over.
func (a *Archiver) flush(ctx context.Context, gen *kafka.Generation, log *slog.Logger, topic string, partition int, b *batch) bool {
	if b.n == 0 {
		return true
	}
	key := Key(a.cfg.Prefix, topic, partition, b.first, b.last, b.firstTime)
	data, err := gzipBytes(b.lines.Bytes())
	if err != nil {
		log.Error("compress batch", "err", err)
		return false
	}
	for attempt := 1; ; attempt++ {
		err := a.store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), ContentType)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		log.Warn("store batch", "key", key, "attempt", attempt, "err", err)
		sleep(ctx, backoff(attempt))
	}
	for attempt := 1; ; attempt++ {
		err := gen.CommitOffsets(map[string]map[int]int64{topic: {partition: b.last + 1}})
		if err == nil {
			break
		}
		if ctx.Err() != nil || attempt == 5 {
			// The object stays; the next owner replays the same batch to
			// the same key.
			log.Warn("commit offset; leaving the batch to be replayed", "key", key, "err", err)
			return false
		}
		sleep(ctx, backoff(attempt))
	}
	log.Debug("archived batch", "key", key, "messages", b.n, "bytes", len(data))
	b.reset()
	return true
}

// Key is the object key of a batch: <prefix>/<topic>/<yyyy>/<mm>/<dd>/<hh>/
// <partition>-<first>-<last>.ndjson.gz, the hour being the UTC hour of the
// first message's timestamp and the offsets zero-padded to 20 digits, so a
// listing sorts by offset. The partition is in the name because offsets
// are per partition.
func Key(prefix, topic string, partition int, first, last int64, firstTime time.Time) string {
	t := firstTime.UTC()
	return fmt.Sprintf("%s/%s/%04d/%02d/%02d/%02d/%d-%020d-%020d.ndjson.gz",
		strings.TrimSuffix(prefix, "/"), topic, t.Year(), t.Month(), t.Day(), t.Hour(), partition, first, last)
}

// Line is one archived message, one JSON object per line.
type Line struct {
	Topic     string    `json:"topic"`
	Partition int       `json:"partition"`
	Offset    int64     `json:"offset"`
	Time      time.Time `json:"time"`
	Key       string    `json:"key,omitempty"`
	Type      string    `json:"type,omitempty"`
	// Value is the message as JSON: protojson for progress events, the
	// value itself when it is JSON; ValueBase64 holds anything else.
	Value       json.RawMessage `json:"value,omitempty"`
	ValueBase64 string          `json:"value_base64,omitempty"`
}

// EncodeLine turns a message into its archive line (without the newline).
func EncodeLine(m kafka.Message) ([]byte, error) {
	l := Line{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Time: m.Time.UTC(), Key: string(m.Key)}
	for _, h := range m.Headers {
		if h.Key == kafkabus.TypeHeader {
			l.Type = string(h.Value)
		}
	}
	switch {
	case l.Type == kafkabus.ProgressType:
		ev := &ifcv1.ProgressEvent{}
		if err := proto.Unmarshal(m.Value, ev); err != nil {
			return nil, fmt.Errorf("decode progress event: %w", err)
		}
		raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ev)
		if err != nil {
			return nil, err
		}
		// protojson varies its whitespace on purpose; compact it so a
		// replayed batch has the same bytes (and the same size cut).
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, err
		}
		l.Value = buf.Bytes()
	case json.Valid(m.Value):
		var buf bytes.Buffer
		if err := json.Compact(&buf, m.Value); err != nil {
			return nil, err
		}
		l.Value = buf.Bytes()
	default:
		l.ValueBase64 = base64.StdEncoding.EncodeToString(m.Value)
	}
	return json.Marshal(l)
}

// ProgressEvent decodes the value of a progress event line.
func (l Line) ProgressEvent() (*ifcv1.ProgressEvent, error) {
	if l.Type != kafkabus.ProgressType {
		return nil, fmt.Errorf("line at offset %d holds %q, not a progress event", l.Offset, l.Type)
	}
	ev := &ifcv1.ProgressEvent{}
	if err := protojson.Unmarshal(l.Value, ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// DecodeObject reads an archive object back into its lines.
func DecodeObject(r io.Reader) ([]Line, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	dec := json.NewDecoder(zr)
	var lines []Line
	for {
		var l Line
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			return lines, nil
		} else if err != nil {
			return lines, err
		}
		lines = append(lines, l)
	}
}

// gzipBytes compresses data; the header has no name or time, so the same
// lines always give the same bytes.
func gzipBytes(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func backoff(attempt int) time.Duration {
	return min(time.Duration(attempt)*200*time.Millisecond, 5*time.Second)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// kafkaLogger adapts kafka-go's printf logging to slog at one level.
func kafkaLogger(l *slog.Logger, level slog.Level) kafka.Logger {
	return kafka.LoggerFunc(func(msg string, args ...any) {
		l.Log(context.Background(), level, fmt.Sprintf(msg, args...))
	})
}
