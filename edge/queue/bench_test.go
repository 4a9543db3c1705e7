package queue_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/imageflowcanvas/ifc/edge/queue"
)

// BenchmarkSave measures one durable Save: a record with a 200 KB image,
// validated (sha256), written and fsynced. The number is dominated by the
// disk's fsync latency.
func BenchmarkSave(b *testing.B) {
	ctx := context.Background()
	q, _ := open(b, queue.Options{})
	g := newGen(42)
	tmpl, img := g.record(ok, t0, 200<<10)
	b.SetBytes(200 << 10)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := proto.CloneOf(tmpl)
		r.RecordId = g.id()
		r.CapturedAt.Seconds += int64(i)
		i++
		if err := q.Save(ctx, r, img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPending measures reading the first 100 outbox entries (sync
// order) from a backlog of 10,000 records.
func BenchmarkPending(b *testing.B) {
	ctx := context.Background()
	q, _ := open(b, queue.NoSync(queue.Options{}))
	g := newGen(43)
	for i := range 10000 {
		res := ok
		if i%7 == 0 {
			res = ng
		}
		r, im := g.record(res, t0.Add(time.Duration(i)*time.Second), 256)
		mustSave(b, q, r, im)
	}
	b.ReportAllocs()
	for b.Loop() {
		items, err := q.Pending(ctx, 100)
		if err != nil || len(items) != 100 {
			b.Fatal(len(items), err)
		}
	}
}
