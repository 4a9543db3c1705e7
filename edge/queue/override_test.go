package queue_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func overrideIDs(os []*ifcv1.VerdictOverride) []string {
	ids := make([]string, len(os))
	for i, o := range os {
		ids[i] = o.GetOverrideId()
	}
	return ids
}

func TestOverrideSaveListSync(t *testing.T) {
	ctx := context.Background()
	q, _ := open(t, queue.Options{})
	g := newGen(40)
	a, aImg := g.record(ok, t0, 1000)
	b, bImg := g.record(ng, t0.Add(time.Minute), 1000)
	mustSave(t, q, a, aImg)
	mustSave(t, q, b, bImg)

	// Saved out of time order: lists come back oldest first.
	a2 := g.override(a, t0.Add(3*time.Hour))
	a1 := g.override(a, t0.Add(2*time.Hour))
	b1 := g.override(b, t0.Add(150*time.Minute))
	for _, o := range []*ifcv1.VerdictOverride{a2, a1, b1} {
		if err := q.SaveOverride(ctx, o); err != nil {
			t.Fatalf("SaveOverride: %v", err)
		}
	}
	got, err := q.Overrides(ctx, a.RecordId)
	if err != nil {
		t.Fatal(err)
	}
	if ids := overrideIDs(got); strings.Join(ids, ",") != a1.OverrideId+","+a2.OverrideId {
		t.Errorf("Overrides(a) = %v, want a1, a2", ids)
	}
	if !proto.Equal(got[0], a1) {
		t.Errorf("stored override differs: %v, want %v", got[0], a1)
	}
	pending, err := q.PendingOverrides(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids := overrideIDs(pending); strings.Join(ids, ",") != a1.OverrideId+","+b1.OverrideId+","+a2.OverrideId {
		t.Errorf("PendingOverrides = %v, want a1, b1, a2 (oldest first)", ids)
	}
	if p, _ := q.PendingOverrides(ctx, 1); len(p) != 1 {
		t.Errorf("PendingOverrides(limit 1) = %d items", len(p))
	}

	// The record itself is never rewritten.
	if rec, err := q.Get(ctx, a.RecordId); err != nil || rec.GetVerdict().GetResult() != ok {
		t.Errorf("record after override: %v %v", rec, err)
	}

	for range 2 { // idempotent
		if err := q.MarkOverrideSynced(ctx, a1.OverrideId, t0.Add(4*time.Hour)); err != nil {
			t.Fatalf("MarkOverrideSynced: %v", err)
		}
	}
	pending, _ = q.PendingOverrides(ctx, 0)
	if ids := overrideIDs(pending); strings.Join(ids, ",") != b1.OverrideId+","+a2.OverrideId {
		t.Errorf("PendingOverrides after sync = %v", ids)
	}
	if got, _ := q.Overrides(ctx, a.RecordId); len(got) != 2 {
		t.Errorf("a synced override left the record's history: %d", len(got))
	}
	if err := q.MarkOverrideSynced(ctx, g.id(), time.Time{}); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("MarkOverrideSynced(unknown) = %v, want ErrNotFound", err)
	}
	if got, err := q.Overrides(ctx, g.id()); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Overrides(unknown record) = %v, %v, want ErrNotFound", got, err)
	}
	if got, err := q.Overrides(ctx, b.RecordId); err != nil || len(got) != 1 {
		t.Errorf("Overrides(b) = %v, %v", got, err)
	}
	mustCheck(t, q)
}

func TestOverrideIdempotent(t *testing.T) {
	ctx := context.Background()
	q, clk := open(t, queue.Options{})
	g := newGen(41)
	rec, img := g.record(ok, t0, 1000)
	mustSave(t, q, rec, img)
	o := g.override(rec, t0.Add(time.Hour))
	o.At = nil // filled from the clock
	if err := q.SaveOverride(ctx, o); err != nil {
		t.Fatal(err)
	}
	before := digest(t, q)
	clk.Advance(time.Minute)
	if err := q.SaveOverride(ctx, o); err != nil {
		t.Errorf("same override again = %v, want nil", err)
	}
	if digest(t, q) != before {
		t.Errorf("a repeated override changed the store")
	}
	got, _ := q.Overrides(ctx, rec.RecordId)
	if len(got) != 1 || !got[0].GetAt().AsTime().Equal(t0.Add(time.Hour)) {
		t.Errorf("stored overrides %v, want one at the clock's time", got)
	}
	diff := proto.CloneOf(o)
	diff.Reason = "changed my mind"
	if err := q.SaveOverride(ctx, diff); !errors.Is(err, queue.ErrConflict) {
		t.Errorf("different override under the same id = %v, want ErrConflict", err)
	}
	if digest(t, q) != before {
		t.Errorf("a conflicting override changed the store")
	}
}

func TestOverrideInvalid(t *testing.T) {
	g := newGen(42)
	cases := []struct {
		name    string
		mutate  func(*ifcv1.VerdictOverride)
		nil     bool
		want    string
		wantErr error
	}{
		{name: "nil", nil: true, want: "nil override"},
		{name: "bad id", mutate: func(o *ifcv1.VerdictOverride) { o.OverrideId = "x" }, want: "override_id"},
		{name: "uppercase id", mutate: func(o *ifcv1.VerdictOverride) { o.OverrideId = strings.ToUpper(o.OverrideId) }, want: "override_id"},
		{name: "bad record id", mutate: func(o *ifcv1.VerdictOverride) { o.RecordId = "" }, want: "record_id"},
		{name: "no verdict", mutate: func(o *ifcv1.VerdictOverride) { o.Verdict = nil }, want: "verdict is required"},
		{name: "unspecified result", mutate: func(o *ifcv1.VerdictOverride) { o.Verdict.Result = 0 }, want: "not OK or NG"},
		{name: "NG without defect", mutate: func(o *ifcv1.VerdictOverride) {
			o.Verdict = &ifcv1.Verdict{Result: ng}
		}, want: "verdict.defect_type is required"},
		{name: "no reason", mutate: func(o *ifcv1.VerdictOverride) { o.Reason = "" }, want: "reason is required"},
		{name: "no actor", mutate: func(o *ifcv1.VerdictOverride) { o.Actor = "" }, want: "actor is required"},
		{name: "cloud origin", mutate: func(o *ifcv1.VerdictOverride) { o.Origin = ifcv1.VerdictOrigin_VERDICT_ORIGIN_CLOUD }, want: "origin"},
		{name: "no origin", mutate: func(o *ifcv1.VerdictOverride) { o.Origin = 0 }, want: "origin"},
		{name: "other device", mutate: func(o *ifcv1.VerdictOverride) { o.DeviceId = "edge-line9" }, want: "not this device"},
		{name: "bad time", mutate: func(o *ifcv1.VerdictOverride) { o.At = &timestamppb.Timestamp{Nanos: -1} }, want: "at"},
		{name: "unknown record", mutate: func(o *ifcv1.VerdictOverride) { o.RecordId = g.id() }, want: "not found", wantErr: queue.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			q, _ := open(t, queue.Options{})
			rec, img := g.record(ok, t0, 1000)
			mustSave(t, q, rec, img)
			before := digest(t, q)
			o := g.override(rec, t0.Add(time.Hour))
			if tc.nil {
				o = nil
			} else {
				tc.mutate(o)
			}
			err := q.SaveOverride(ctx, o)
			want := tc.wantErr
			if want == nil {
				want = queue.ErrInvalid
			}
			if !errors.Is(err, want) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SaveOverride = %v, want %v mentioning %q", err, want, tc.want)
			}
			if digest(t, q) != before {
				t.Errorf("a refused override changed the store")
			}
		})
	}
}

// TestOverrideSurvivesEvictionAndReopen: evicting a record's images keeps
// its overrides, and everything is still there after a reopen.
func TestOverrideSurvivesEvictionAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "queue.db")
	opts := queue.Options{DeviceID: testDevice, SoftLimitBytes: 2 * cost(3000), HardLimitBytes: 4 * cost(3000), Logger: quietLogger()}
	q, err := queue.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(43)
	a, aImg := g.record(ok, t0, 3000)
	mustSave(t, q, a, aImg)
	o := g.override(a, t0.Add(time.Hour))
	if err := q.SaveOverride(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := q.MarkSynced(ctx, a.RecordId, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // pushes the budget over the soft limit: a's images go
		r, img := g.record(ok, t0.Add(time.Duration(i+1)*time.Minute), 3000)
		mustSave(t, q, r, img)
	}
	if st, _ := q.Status(ctx, a.RecordId); !st.Evicted {
		t.Fatalf("record a was not evicted; the test proves nothing")
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q, err = queue.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	mustCheck(t, q)
	got, err := q.Overrides(ctx, a.RecordId)
	if err != nil || len(got) != 1 || !proto.Equal(got[0], o) {
		t.Errorf("overrides after eviction and reopen = %v, %v", got, err)
	}
	if p, _ := q.PendingOverrides(ctx, 0); len(p) != 1 {
		t.Errorf("pending overrides after reopen = %d, want 1", len(p))
	}
}
