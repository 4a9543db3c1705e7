package kafkabus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
	"go.uber.org/goleak"

	"github.com/imageflowcanvas/ifc/cloud/events"
	"github.com/imageflowcanvas/ifc/cloud/events/bustest"
	"github.com/imageflowcanvas/ifc/cloud/events/kafkabus"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// brokerURL returns the real broker's URL from IFC_TEST_KAFKA_URL. Unset,
// the test fails under IFC_REQUIRE_BACKENDS=1 (CI) and skips otherwise.
func brokerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("IFC_TEST_KAFKA_URL")
	if u != "" {
		return u
	}
	const msg = "IFC_TEST_KAFKA_URL is unset; run `eval $(deploy/dev/kafka start)` first"
	if os.Getenv("IFC_REQUIRE_BACKENDS") == "1" {
		tb.Fatal(msg + " (IFC_REQUIRE_BACKENDS=1)")
	}
	tb.Skip(msg)
	return ""
}

// withOptions appends URL options to u.
func withOptions(u string, opts ...string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + strings.Join(opts, "&")
}

// testTopic is a topic name of the test's own, so runs and tests share
// nothing but the broker.
func testTopic() string { return "ifc.test." + uuid.Must(uuid.NewV7()).String() }

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func open(tb testing.TB, rawURL string) *kafkabus.Bus {
	tb.Helper()
	b, err := events.Open(rawURL, quietLogger())
	if err != nil {
		tb.Fatalf("Open(%s): %v", rawURL, err)
	}
	tb.Cleanup(func() { b.Close() })
	return b.(*kafkabus.Bus)
}

// TestContract runs the shared suite, every client on its own connections
// through the registry, as separate API replicas and conductors would.
func TestContract(t *testing.T) {
	u := withOptions(brokerURL(t), "topic="+testTopic())
	bustest.Run(t, func(t *testing.T) events.Bus { return open(t, u) })
}

// TestReplicasReceiveEverything is the distributed shape: one conductor
// publishes the progress of many executions, interleaved, and each of two
// API replicas receives all of it, every execution in order.
func TestReplicasReceiveEverything(t *testing.T) {
	u := withOptions(brokerURL(t), "topic="+testTopic(), "partitions=3")
	conductor := open(t, u)
	replicas := []*kafkabus.Bus{open(t, u), open(t, u)}
	if got := len(conductor.Partitions()); got != 3 {
		t.Fatalf("topic has %d partitions, want 3", got)
	}
	const execs, perExec = 12, 50
	ids := make([]string, execs)
	used := map[int]bool{}
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7()).String()
		used[(&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte(ids[i])}, 0, 1, 2)] = true
	}
	if len(used) < 2 {
		t.Fatalf("executions landed on %d partition(s); the test needs several", len(used))
	}
	type seen struct {
		mu  sync.Mutex
		seq map[string][]uint64
		n   int
	}
	got := []*seen{{seq: map[string][]uint64{}}, {seq: map[string][]uint64{}}}
	for i, r := range replicas {
		s := got[i]
		cancel, err := r.Subscribe(context.Background(), func(ev *ifcv1.ProgressEvent) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.seq[ev.ExecutionId] = append(s.seq[ev.ExecutionId], ev.Seq)
			s.n++
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cancel)
	}
	// Round-robin over executions so partitions interleave.
	for seq := uint64(1); seq <= perExec; seq++ {
		for _, id := range ids {
			ev := &ifcv1.ProgressEvent{ExecutionId: id, NodeId: "resize", State: ifcv1.NodeState_NODE_STATE_RUNNING, Seq: seq}
			if err := conductor.Publish(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(bustest.Timeout)
	for i, s := range got {
		for {
			s.mu.Lock()
			n := s.n
			s.mu.Unlock()
			if n >= execs*perExec {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d received %d of %d events", i, n, execs*perExec)
			}
			time.Sleep(5 * time.Millisecond)
		}
		s.mu.Lock()
		if s.n != execs*perExec {
			t.Errorf("replica %d received %d events, want %d (duplicates?)", i, s.n, execs*perExec)
		}
		for _, id := range ids {
			seqs := s.seq[id]
			for j, q := range seqs {
				if q != uint64(j+1) {
					t.Fatalf("replica %d, execution %s: event %d has seq %d", i, id, j, q)
				}
			}
		}
		s.mu.Unlock()
	}
}

// TestOpenCreatesOrReusesTopic checks Open creates a missing topic with the
// requested partitions and that a second Open (another replica starting
// at the same time, or later) keeps the existing one.
func TestOpenCreatesOrReusesTopic(t *testing.T) {
	topic := testTopic()
	u := brokerURL(t)
	var wg sync.WaitGroup
	buses := make([]events.Bus, 3)
	errs := make([]error, 3)
	for i := range buses {
		wg.Go(func() { buses[i], errs[i] = events.Open(withOptions(u, "topic="+topic, "partitions=5"), quietLogger()) })
	}
	wg.Wait()
	for _, b := range buses {
		if b != nil {
			t.Cleanup(func() { b.Close() })
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open %d: %v", i, err)
		}
	}
	for i, b := range buses {
		if got := b.(*kafkabus.Bus).Partitions(); len(got) != 5 {
			t.Errorf("bus %d reads partitions %v, want 5", i, got)
		}
	}
	// The topic was created with the bus's retention, so it does not grow
	// forever.
	cfg, err := kafkabus.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: transport, Timeout: 10 * time.Second}
	res, err := client.DescribeConfigs(context.Background(), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"retention.ms"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint(kafkabus.DefaultRetention.Milliseconds())
	if r := res.Resources; len(r) != 1 || r[0].Error != nil || len(r[0].ConfigEntries) != 1 || r[0].ConfigEntries[0].ConfigValue != want {
		t.Errorf("topic retention.ms: %+v, want %s", r, want)
	}
	// Asking for another count later does not change an existing topic.
	if got := open(t, withOptions(u, "topic="+topic, "partitions=2")).Partitions(); len(got) != 5 {
		t.Errorf("reopened with partitions=2: reads %v, want the existing 5", got)
	}
}

func TestOpenFailsFastOnClosedPort(t *testing.T) {
	start := time.Now()
	_, err := events.Open("kafka://127.0.0.1:1?topic="+testTopic(), quietLogger())
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q does not name the address", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("Open took %v to fail", d)
	}
}

func TestParseURL(t *testing.T) {
	c, err := kafkabus.ParseURL("kafka://a:9092,kafka://b:9093/?topic=p.x&partitions=6&replication=2&retention=2h&publish_timeout=2s&batch_timeout=2ms")
	if err != nil {
		t.Fatal(err)
	}
	want := kafkabus.Config{Brokers: []string{"a:9092", "b:9093"}, Topic: "p.x", Partitions: 6, Replication: 2, Retention: 2 * time.Hour,
		PublishTimeout: 2 * time.Second, BatchTimeout: 2 * time.Millisecond}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("ParseURL = %+v, want %+v", c, want)
	}
	c, err = kafkabus.ParseURL("kafka://127.0.0.1:59092")
	if err != nil || c.Topic != kafkabus.DefaultTopic || c.Partitions != kafkabus.DefaultPartitions || c.PublishTimeout != kafkabus.DefaultPublishTimeout {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	for _, bad := range []string{
		"kafka://",
		"kafka://host",
		"kafka://host:0",
		"kafka://host:99999",
		"kafka://a:1,nats://b:2",
		"kafka://a:1?topic=",
		"kafka://a:1?topic=has space",
		"kafka://a:1?topic=" + strings.Repeat("t", 250),
		"kafka://a:1?partitions=0",
		"kafka://a:1?partitions=x",
		"kafka://a:1?replication=0",
		"kafka://a:1?publish_timeout=-1s",
		"kafka://a:1?retention=1s",
		"kafka://a:1?batch_timeout=5s",
		"kafka://a:1?acks=0",
	} {
		if _, err := kafkabus.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) succeeded", bad)
		}
		if _, err := events.Open(bad, quietLogger()); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestPublishHonoursCallerContext(t *testing.T) {
	b := open(t, withOptions(brokerURL(t), "topic="+testTopic()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.Publish(ctx, &ifcv1.ProgressEvent{ExecutionId: "e1"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with a cancelled context = %v, want context.Canceled", err)
	}
}

// BenchmarkPublishToHandler measures the latency from Publish on one
// client (a conductor) to the handler running on another (an API replica)
// through the real broker, one event in flight at a time, and reports
// p50/p99 in microseconds.
func BenchmarkPublishToHandler(b *testing.B) {
	u := withOptions(brokerURL(b), "topic="+testTopic())
	pub, sub := open(b, u), open(b, u)
	got := make(chan time.Time, 1)
	cancel, err := sub.Subscribe(context.Background(), func(*ifcv1.ProgressEvent) { got <- time.Now() })
	if err != nil {
		b.Fatal(err)
	}
	defer cancel()
	exec := uuid.Must(uuid.NewV7()).String()
	lat := make([]time.Duration, 0, b.N)
	ev := &ifcv1.ProgressEvent{ExecutionId: exec, NodeId: "resize", State: ifcv1.NodeState_NODE_STATE_RUNNING}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Seq = uint64(i)
		start := time.Now()
		if err := pub.Publish(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-got).Sub(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func TestFallbackQueue(t *testing.T) {
	u := withOptions(brokerURL(t), "topic="+testTopic())
	a, b := open(t, u), open(t, u)
	bustest.RunFallback(t, a, b, 60*time.Second)
}
