package archive_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/archive"
	"github.com/imageflowcanvas/ifc/cloud/events/kafkabus"
	"github.com/imageflowcanvas/ifc/cloud/objectstore/s3store"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// env is one test's real Kafka topic and MinIO bucket.
type env struct {
	t      *testing.T
	kcfg   kafkabus.Config
	bus    *kafkabus.Bus
	store  *s3store.Store
	minio  *minio.Client
	bucket string
}

// newEnv needs IFC_TEST_KAFKA_URL and IFC_TEST_MINIO_URL (deploy/dev/backends
// start); without them the test skips, or fails with IFC_REQUIRE_BACKENDS=1.
func newEnv(t *testing.T) *env {
	t.Helper()
	kURL, mURL := os.Getenv("IFC_TEST_KAFKA_URL"), os.Getenv("IFC_TEST_MINIO_URL")
	if kURL == "" || mURL == "" {
		msg := "IFC_TEST_KAFKA_URL and IFC_TEST_MINIO_URL needed; start the servers with: eval \"$(deploy/dev/backends start)\""
		if os.Getenv("IFC_REQUIRE_BACKENDS") == "1" {
			t.Fatal(msg + " (IFC_REQUIRE_BACKENDS=1)")
		}
		t.Skip(msg)
	}
	e := &env{t: t}
	var err error
	if e.kcfg, err = kafkabus.ParseURL(kURL); err != nil {
		t.Fatal(err)
	}
	e.kcfg.Topic = "ifc.archive-test." + uuid.Must(uuid.NewV7()).String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if e.bus, err = kafkabus.Open(ctx, e.kcfg, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.bus.Close()
		if conn, err := kafka.Dial("tcp", e.kcfg.Brokers[0]); err == nil {
			_ = conn.DeleteTopics(e.kcfg.Topic)
			conn.Close()
		}
	})
	u, err := url.Parse(mURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/ifc-archive-" + fmt.Sprint(time.Now().UnixNano())
	scfg, err := s3store.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	e.bucket = scfg.Bucket
	if e.store, err = s3store.New(ctx, scfg, nil); err != nil {
		t.Fatal(err)
	}
	if e.minio, err = minio.New(scfg.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(scfg.AccessKey, scfg.SecretKey, ""), Secure: scfg.Secure, Region: scfg.Region}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = e.minio.RemoveBucketWithOptions(ctx, e.bucket, minio.RemoveBucketOptions{ForceDelete: true})
		e.store.Close()
	})
	return e
}

// publish sends n progress events spread over a few executions and
// returns them per execution, in publish order.
func (e *env) publish(n int) map[string][]*ifcv1.ProgressEvent {
	e.t.Helper()
	execs := make([]string, 5)
	for i := range execs {
		execs[i] = uuid.Must(uuid.NewV7()).String()
	}
	out := map[string][]*ifcv1.ProgressEvent{}
	for i := range n {
		id := execs[i%len(execs)]
		ev := &ifcv1.ProgressEvent{ExecutionId: id, NodeId: fmt.Sprintf("node-%d", i%3), Seq: uint64(len(out[id]) + 1),
			State: ifcv1.NodeState_NODE_STATE_RUNNING, Progress: float32(i%10) / 10, Ts: timestamppb.Now(),
			Error: strings.Repeat("x", i%40)}
		if err := e.bus.Publish(context.Background(), ev); err != nil {
			e.t.Fatal(err)
		}
		out[id] = append(out[id], ev)
	}
	return out
}

// endOffsets returns the topic's end offset per partition.
func (e *env) endOffsets() map[int]int64 {
	e.t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(e.kcfg.Brokers...)}
	var reqs []kafka.OffsetRequest
	for _, p := range e.bus.Partitions() {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	res, err := c.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{e.kcfg.Topic: reqs}})
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[int]int64{}
	for _, po := range res.Topics[e.kcfg.Topic] {
		out[po.Partition] = po.LastOffset
	}
	return out
}

// committed returns the group's committed offset per partition (-1: none).
func (e *env) committed(group string) map[int]int64 {
	e.t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(e.kcfg.Brokers...)}
	res, err := c.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group,
		Topics: map[string][]int{e.kcfg.Topic: e.bus.Partitions()}})
	if err != nil {
		return nil
	}
	out := map[int]int64{}
	for _, p := range res.Topics[e.kcfg.Topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// object is one archived batch.
type object struct {
	key   string
	lines []archive.Line
}

// objects lists and decodes every archive object of the bucket, by key.
func (e *env) objects() []object {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []object
	for oi := range e.minio.ListObjects(ctx, e.bucket, minio.ListObjectsOptions{Prefix: "archive/", Recursive: true}) {
		if oi.Err != nil {
			e.t.Fatal(oi.Err)
		}
		rc, _, err := e.store.Get(ctx, oi.Key)
		if err != nil {
			e.t.Fatal(err)
		}
		lines, err := archive.DecodeObject(rc)
		rc.Close()
		if err != nil {
			e.t.Fatalf("decode %s: %v", oi.Key, err)
		}
		out = append(out, object{key: oi.Key, lines: lines})
	}
	slices.SortFunc(out, func(a, b object) int { return strings.Compare(a.key, b.key) })
	return out
}

// run starts an archiver of group over the topic and returns its stop.
func (e *env) run(group string, store archive.Store, ctxp *context.Context) (stop func()) {
	e.t.Helper()
	a, err := archive.New(archive.Config{Brokers: e.kcfg.Brokers, Topics: []string{e.kcfg.Topic}, Group: group,
		MaxBytes: 2048, MaxAge: time.Second, IdleGrace: 300 * time.Millisecond}, store, slog.New(slog.DiscardHandler))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if ctxp != nil {
		*ctxp = ctx
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.t.Errorf("archiver Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				e.t.Error("archiver did not stop within 30s")
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

// waitCommitted polls until the group committed every partition's end.
func (e *env) waitCommitted(group string) {
	e.t.Helper()
	end := e.endOffsets()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c := e.committed(group)
		ok := true
		for p, off := range end {
			if c[p] != off && !(off == 0 && c[p] < 0) { // an empty partition has nothing to commit
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("group %s committed %v, want %v", group, c, end)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// check asserts the objects hold exactly the published events: every
// partition's offsets 0..end-1 once each, in key order, each execution's
// events equal to and in the order they were published, and keys of the
// documented form.
func (e *env) check(objs []object, want map[string][]*ifcv1.ProgressEvent) {
	e.t.Helper()
	end := e.endOffsets()
	next := map[int]int64{}
	got := map[string][]*ifcv1.ProgressEvent{}
	for _, o := range objs {
		if len(o.lines) == 0 {
			e.t.Fatalf("%s is empty", o.key)
		}
		first, last := o.lines[0], o.lines[len(o.lines)-1]
		wantKey := archive.Key("archive", e.kcfg.Topic, first.Partition, first.Offset, last.Offset, first.Time)
		if o.key != wantKey {
			e.t.Errorf("object %s, want key %s", o.key, wantKey)
		}
		for _, l := range o.lines {
			if l.Topic != e.kcfg.Topic || l.Offset != next[l.Partition] {
				e.t.Fatalf("%s: line %s/%d@%d, want offset %d (gap or duplicate)", o.key, l.Topic, l.Partition, l.Offset, next[l.Partition])
			}
			next[l.Partition]++
			ev, err := l.ProgressEvent()
			if err != nil {
				e.t.Fatal(err)
			}
			got[ev.ExecutionId] = append(got[ev.ExecutionId], ev)
		}
	}
	for p, off := range end {
		if next[p] != off {
			e.t.Errorf("partition %d archived up to %d, end is %d", p, next[p], off)
		}
	}
	for id, evs := range want {
		if len(got[id]) != len(evs) {
			e.t.Fatalf("execution %s: %d events archived, %d published", id, len(got[id]), len(evs))
		}
		for i := range evs {
			if !proto.Equal(got[id][i], evs[i]) {
				e.t.Fatalf("execution %s event %d: archived %v, published %v", id, i, got[id][i], evs[i])
			}
		}
	}
}

// TestArchiveRoundTrip: N events on a real topic end up in MinIO as
// gzipped NDJSON batches that decode back to exactly those events, in
// order, with the group's offsets committed to the end.
func TestArchiveRoundTrip(t *testing.T) {
	e := newEnv(t)
	want := e.publish(200)
	group := "ifc-archive-test-" + uuid.NewString()
	stop := e.run(group, e.store, nil)
	e.waitCommitted(group)
	stop()
	objs := e.objects()
	if len(objs) < 4 { // 200 events of ~250 bytes with 2 KiB batches
		t.Errorf("%d objects; want several batches per partition", len(objs))
	}
	e.check(objs, want)
	t.Logf("%d events in %d objects, e.g. %s", 200, len(objs), objs[0].key)

	// Events published while it runs are archived too (the idle flush).
	more := e.publish(30)
	stop = e.run(group, e.store, nil)
	e.waitCommitted(group)
	stop()
	for id, evs := range more {
		want[id] = append(want[id], evs...)
	}
	e.check(e.objects(), want)
}

// crashingStore stores the first batch, then "crashes" the archiver
// (cancels its context) before the offset is committed.
type crashingStore struct {
	archive.Store
	mu      sync.Mutex
	crash   context.CancelFunc
	crashed string // key stored before the crash
}

func (s *crashingStore) Put(ctx context.Context, key string, r io.Reader, size int64, ct string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed != "" {
		return context.Canceled // dead process: nothing more is stored
	}
	if err := s.Store.Put(ctx, key, r, size, ct); err != nil {
		return err
	}
	s.crashed = key
	s.crash()
	return context.Canceled
}

// TestArchiveCrashBeforeCommit: an archiver dies after storing a batch
// but before committing it; a new member of the group replays from the
// committed offset, rewrites the same key, and the archive holds every
// event exactly once.
func TestArchiveCrashBeforeCommit(t *testing.T) {
	e := newEnv(t)
	want := e.publish(120)
	group := "ifc-archive-test-" + uuid.NewString()
	cs := &crashingStore{Store: e.store}
	var ctx context.Context
	var stopFirst func()
	cs.mu.Lock()
	stopFirst = e.run(group, cs, &ctx)
	cs.crash = func() { go stopFirst() } // Put runs inside the archiver: do not wait for it here
	cs.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("the first archiver never stored a batch")
	}
	stopFirst()
	cs.mu.Lock()
	crashed := cs.crashed
	cs.mu.Unlock()
	before := e.objects()
	if len(before) != 1 || before[0].key != crashed {
		t.Fatalf("after the crash the bucket holds %d objects, want only %s", len(before), crashed)
	}
	p := before[0].lines[0].Partition
	if c := e.committed(group); c[p] > before[0].lines[0].Offset {
		t.Fatalf("partition %d committed at %d although its batch from %d was never committed", p, c[p], before[0].lines[0].Offset)
	}

	stop := e.run(group, e.store, nil)
	e.waitCommitted(group)
	stop()
	objs := e.objects()
	e.check(objs, want) // no gap, no duplicate: the replay rewrote the crashed key
	var rewritten bool
	for _, o := range objs {
		if o.key == crashed {
			rewritten = true
			if !slices.EqualFunc(o.lines, before[0].lines, func(a, b archive.Line) bool { return a.Offset == b.Offset && string(a.Value) == string(b.Value) }) {
				t.Errorf("replayed %s differs from the object stored before the crash", crashed)
			}
		}
	}
	if !rewritten {
		t.Errorf("the replay did not produce the crashed key %s", crashed)
	}
}
