package kafkabus

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults for the URL options.
const (
	DefaultTopic          = "ifc.progress"
	DefaultPartitions     = 3
	DefaultReplication    = 1
	DefaultPublishTimeout = 5 * time.Second
	DefaultBatchTimeout   = time.Millisecond
	DefaultRetention      = 24 * time.Hour
	maxPartitions         = 1000
	maxTopicLen           = 249
)

// Config is what a kafka:// URL describes.
type Config struct {
	// Brokers are the bootstrap "host:port" addresses.
	Brokers []string
	// Topic carries the progress events (keyed by execution id).
	Topic string
	// Partitions, Replication and Retention are used only when Open
	// creates the topic; an existing topic keeps its settings. Progress is
	// live state (the execution record is the source of truth), so a day
	// of retention covers outages and late readers without growing forever.
	Partitions  int
	Replication int
	Retention   time.Duration
	// PublishTimeout bounds one Publish, including retries while the
	// broker is unreachable.
	PublishTimeout time.Duration
	// BatchTimeout is how long the writer waits to fill a batch before
	// sending it; it adds at most this much latency to every Publish.
	BatchTimeout time.Duration
}

// ParseURL reads "kafka://host:port[,host:port...][?options]". Every
// address may repeat the scheme ("kafka://a:9092,kafka://b:9092"), as the
// events registry passes server lists through whole. Options: topic,
// partitions, replication, retention (used when creating the topic),
// publish_timeout and batch_timeout (durations in Go syntax). Unknown options are an error.
func ParseURL(raw string) (Config, error) {
	c := Config{
		Topic:          DefaultTopic,
		Partitions:     DefaultPartitions,
		Replication:    DefaultReplication,
		Retention:      DefaultRetention,
		PublishTimeout: DefaultPublishTimeout,
		BatchTimeout:   DefaultBatchTimeout,
	}
	rest, query, _ := strings.Cut(raw, "?")
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if p, ok := strings.CutPrefix(part, Scheme+"://"); ok {
			part = p
		} else if strings.Contains(part, "://") {
			return Config{}, fmt.Errorf("kafkabus: address %q: want scheme %s://", part, Scheme)
		}
		part = strings.TrimSuffix(part, "/")
		if part == "" {
			continue
		}
		host, port, err := net.SplitHostPort(part)
		if err != nil || host == "" {
			return Config{}, fmt.Errorf("kafkabus: address %q: want host:port", part)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return Config{}, fmt.Errorf("kafkabus: address %q: bad port", part)
		}
		c.Brokers = append(c.Brokers, part)
	}
	if len(c.Brokers) == 0 {
		return Config{}, fmt.Errorf("kafkabus: %q names no broker", raw)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Config{}, fmt.Errorf("kafkabus: options %q: %w", query, err)
	}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "topic":
			c.Topic = v
		case "partitions":
			c.Partitions, err = strconv.Atoi(v)
		case "replication":
			c.Replication, err = strconv.Atoi(v)
		case "retention":
			c.Retention, err = time.ParseDuration(v)
		case "publish_timeout":
			c.PublishTimeout, err = time.ParseDuration(v)
		case "batch_timeout":
			c.BatchTimeout, err = time.ParseDuration(v)
		default:
			return Config{}, fmt.Errorf("kafkabus: unknown option %q (known: topic, partitions, replication, retention, publish_timeout, batch_timeout)", key)
		}
		if err != nil {
			return Config{}, fmt.Errorf("kafkabus: option %s=%q: %w", key, v, err)
		}
	}
	return c, c.Validate()
}

// Validate names the first field that is out of range.
func (c Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return fmt.Errorf("kafkabus: no broker")
	case !validTopic(c.Topic):
		return fmt.Errorf("kafkabus: topic %q: want 1..%d of [a-zA-Z0-9._-]", c.Topic, maxTopicLen)
	case c.Partitions < 1 || c.Partitions > maxPartitions:
		return fmt.Errorf("kafkabus: partitions %d: want 1..%d", c.Partitions, maxPartitions)
	case c.Replication < 1 || c.Replication > 32:
		return fmt.Errorf("kafkabus: replication %d: want 1..32", c.Replication)
	case c.Retention < time.Minute:
		return fmt.Errorf("kafkabus: retention %v: want at least 1m", c.Retention)
	case c.PublishTimeout <= 0 || c.PublishTimeout > 10*time.Minute:
		return fmt.Errorf("kafkabus: publish_timeout %v: want (0, 10m]", c.PublishTimeout)
	case c.BatchTimeout <= 0 || c.BatchTimeout > time.Second:
		return fmt.Errorf("kafkabus: batch_timeout %v: want (0, 1s]", c.BatchTimeout)
	}
	return nil
}

func validTopic(t string) bool {
	if t == "" || len(t) > maxTopicLen || t == "." || t == ".." {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
