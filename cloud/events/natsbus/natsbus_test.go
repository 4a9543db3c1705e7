package natsbus_test

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/imageflowcanvas/ifc/cloud/events"
	"github.com/imageflowcanvas/ifc/cloud/events/bustest"
	"github.com/imageflowcanvas/ifc/cloud/events/natsbus"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func startServer(tb testing.TB) *natsbus.EmbeddedServer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := natsbus.StartEmbedded(ctx, natsbus.EmbeddedOptions{}, quietLogger())
	if err != nil {
		tb.Fatalf("StartEmbedded: %v", err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv
}

// TestContractTCP runs the suite with every client on its own TCP
// connection through the registry, as separate processes would connect.
func TestContractTCP(t *testing.T) {
	srv := startServer(t)
	bustest.Run(t, func(t *testing.T) events.Bus {
		b, err := events.Open(srv.ClientURL(), quietLogger())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	})
}

// TestContractInProcess runs the suite over in-process connections, as
// the all-in-one wires it.
func TestContractInProcess(t *testing.T) {
	srv := startServer(t)
	bustest.Run(t, func(t *testing.T) events.Bus {
		b, err := srv.Connect(quietLogger())
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	})
}

func TestEmbeddedListensOnLoopbackRandomPort(t *testing.T) {
	a, b := startServer(t), startServer(t)
	if a.ClientURL() == b.ClientURL() {
		t.Fatalf("two servers share %s", a.ClientURL())
	}
	for _, s := range []*natsbus.EmbeddedServer{a, b} {
		if got := s.Server().Addr().String(); got[:10] != "127.0.0.1:" || got == "127.0.0.1:4222" {
			t.Errorf("listening on %s, want 127.0.0.1 and a random port", got)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEmbeddedJetStreamDir(t *testing.T) {
	ctx := context.Background()
	srv, err := natsbus.StartEmbedded(ctx, natsbus.EmbeddedOptions{StoreDir: t.TempDir()}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !srv.Server().JetStreamEnabled() {
		t.Fatal("JetStream not enabled with a store dir")
	}
}

func TestConnectFailsFast(t *testing.T) {
	start := time.Now()
	if _, err := natsbus.Connect("nats://127.0.0.1:1", quietLogger()); err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Connect took %v to fail", d)
	}
}

// BenchmarkPublishToHandler measures the latency from Publish to the
// handler running on another client, one event in flight at a time, and
// reports p50/p99 in microseconds.
func BenchmarkPublishToHandler(b *testing.B) {
	for _, mode := range []string{"tcp", "inprocess"} {
		b.Run(mode, func(b *testing.B) {
			srv := startServer(b)
			connect := func() *natsbus.Bus {
				var (
					bus *natsbus.Bus
					err error
				)
				if mode == "tcp" {
					bus, err = natsbus.Connect(srv.ClientURL(), quietLogger())
				} else {
					bus, err = srv.Connect(quietLogger())
				}
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { bus.Close() })
				return bus
			}
			pub, sub := connect(), connect()
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
		})
	}
}

func TestOpenRegistry(t *testing.T) {
	srv := startServer(t)
	b, err := events.Open(srv.ClientURL()+","+srv.ClientURL(), quietLogger())
	if err != nil {
		t.Fatalf("Open with a server list: %v", err)
	}
	b.Close()
	if _, err := events.Open("kafka://127.0.0.1:9092", quietLogger()); err == nil {
		t.Fatal("Open of an unregistered scheme succeeded")
	}
	if _, err := events.Open("nats://127.0.0.1:1", quietLogger()); err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
}

func TestFallbackQueue(t *testing.T) {
	srv, err := natsbus.StartEmbedded(context.Background(), natsbus.EmbeddedOptions{StoreDir: t.TempDir()}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	a, err := natsbus.Connect(srv.ClientURL(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	b, err := srv.Connect(quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	bustest.RunFallback(t, a, b, 20*time.Second)
}

func TestFallbackQueueWithoutJetStream(t *testing.T) {
	srv := startServer(t)
	b, err := srv.Connect(quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.EnqueueFallback(context.Background(), "x", []byte("job")); !errors.Is(err, natsbus.ErrNoJetStream) {
		t.Fatalf("enqueue without JetStream: %v, want ErrNoJetStream", err)
	}
}
