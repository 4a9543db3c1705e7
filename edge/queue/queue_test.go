package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func TestSaveGetPendingOrder(t *testing.T) {
	ctx := context.Background()
	q, clk := open(t, queue.Options{})
	g := newGen(1)
	okNew, okNewImg := g.record(ok, t0.Add(3*time.Minute))
	ngNew, ngNewImg := g.record(ng, t0.Add(4*time.Minute), 500, 700)
	okOld, okOldImg := g.record(ok, t0.Add(1*time.Minute))
	ngOld, ngOldImg := g.record(ng, t0.Add(2*time.Minute))
	for _, r := range []struct {
		rec *ifcv1.InspectionRecord
		img [][]byte
	}{{okNew, okNewImg}, {ngNew, ngNewImg}, {okOld, okOldImg}, {ngOld, ngOldImg}} {
		mustSave(t, q, r.rec, r.img)
		clk.Advance(time.Second)
	}

	want := []string{ngOld.RecordId, ngNew.RecordId, okOld.RecordId, okNew.RecordId}
	if got := pendingIDs(t, q); !slices.Equal(got, want) {
		t.Fatalf("Pending order = %v, want %v (NG first, then oldest)", got, want)
	}
	items, err := q.Pending(ctx, 2)
	if err != nil || len(items) != 2 || items[0].Result != ng || !items[0].CapturedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("Pending(2) = %+v, %v", items, err)
	}
	if items[0].Bytes <= 1000 {
		t.Errorf("OutboxItem.Bytes = %d, want image bytes + record", items[0].Bytes)
	}

	got, err := q.Get(ctx, ngNew.RecordId)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.GetCreatedAt() == nil || !got.GetCreatedAt().AsTime().Equal(t0.Add(time.Hour+time.Second)) {
		t.Errorf("created_at = %v, want the injected clock", got.GetCreatedAt())
	}
	if ngNew.CreatedAt != nil {
		t.Errorf("Save modified the caller's record")
	}
	got.CreatedAt = nil
	if !proto.Equal(got, ngNew) {
		t.Errorf("Get = %v, want %v", got, ngNew)
	}
	for i, ref := range ngNew.Images {
		img, err := q.Image(ctx, ref.Sha256)
		if err != nil || !bytes.Equal(img, ngNewImg[i]) {
			t.Errorf("Image(%d) = %d bytes, %v", i, len(img), err)
		}
	}
	if _, err := q.Get(ctx, g.id()); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Get(unknown) err = %v, want ErrNotFound", err)
	}
	if _, err := q.Image(ctx, strings.Repeat("ab", 32)); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Image(unknown) err = %v, want ErrNotFound", err)
	}

	st, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 4 || st.Queued != 4 || !st.Oldest.Equal(t0.Add(time.Minute)) || st.Synced != 0 ||
		st.Bytes != 4*queue.RecordOverheadBytes+4200 || !st.LastSync.IsZero() {
		t.Errorf("Stats = %+v", st)
	}
	mustCheck(t, q)
}

func TestSaveIdempotent(t *testing.T) {
	ctx := context.Background()
	q, clk := open(t, queue.Options{})
	g := newGen(2)
	rec, img := g.record(ng, t0)
	mustSave(t, q, rec, img)
	before := digest(t, q)

	clk.Advance(time.Minute) // a retry later; created_at is still unset by the caller
	if err := q.Save(ctx, proto.CloneOf(rec), img); err != nil {
		t.Fatalf("second identical Save: %v", err)
	}
	if after := digest(t, q); after != before {
		t.Errorf("identical retry changed the store")
	}
	stored, _ := q.Get(ctx, rec.RecordId)
	if err := q.Save(ctx, stored, img); err != nil {
		t.Errorf("Save of the stored copy (created_at set): %v", err)
	}

	changed := proto.CloneOf(rec)
	changed.Verdict.Note = "another note"
	if err := q.Save(ctx, changed, img); !errors.Is(err, queue.ErrConflict) {
		t.Fatalf("Save with changed content err = %v, want ErrConflict", err)
	}
	other, otherImg := g.record(ng, t0)
	other.RecordId = rec.RecordId
	if err := q.Save(ctx, other, otherImg); !errors.Is(err, queue.ErrConflict) {
		t.Fatalf("Save with other images err = %v, want ErrConflict", err)
	}
	if after := digest(t, q); after != before {
		t.Errorf("conflicting Save changed the store")
	}
	if st, _ := q.Stats(ctx); st.Records != 1 || st.Queued != 1 {
		t.Errorf("Stats = %+v, want one record", st)
	}
}

func TestSaveInvalid(t *testing.T) {
	g := newGen(3)
	cases := []struct {
		name   string
		mutate func(*ifcv1.InspectionRecord, *[][]byte)
		nilRec bool
		want   string
	}{
		{name: "nil record", nilRec: true, want: "nil record"},
		{name: "bad uuid", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.RecordId = "not-a-uuid" }, want: "record_id"},
		{name: "uuid v4", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) {
			r.RecordId = "5f0c7a1e-3b4d-4c2a-9e8f-1a2b3c4d5e6f"
		}, want: "UUIDv7"},
		{name: "uppercase uuid", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) {
			r.RecordId = strings.ToUpper(r.RecordId)
		}, want: "canonical"},
		{name: "missing product", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.ProductCode = "" }, want: "product_code is required"},
		{name: "missing device", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.DeviceId = "" }, want: "device_id is required"},
		{name: "other device", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.DeviceId = "edge-line9" }, want: "not this device"},
		{name: "missing inspector", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.Inspector = "" }, want: "inspector is required"},
		{name: "missing captured_at", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.CapturedAt = nil }, want: "captured_at is required"},
		{name: "invalid captured_at", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) {
			r.CapturedAt = &timestamppb.Timestamp{Seconds: 1, Nanos: -5}
		}, want: "captured_at"},
		{name: "missing verdict", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.Verdict = nil }, want: "verdict is required"},
		{name: "unspecified verdict", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) {
			r.Verdict.Result = ifcv1.VerdictResult_VERDICT_RESULT_UNSPECIFIED
		}, want: "not OK or NG"},
		{name: "unknown verdict enum", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.Verdict.Result = 99 }, want: "not OK or NG"},
		{name: "NG without defect type", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) {
			r.Verdict.Result, r.Verdict.DefectType = ng, ""
		}, want: "defect_type is required"},
		{name: "note too long", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) {
			r.Verdict.Note = strings.Repeat("x", queue.MaxNoteLen+1)
		}, want: "verdict.note"},
		{name: "invalid utf8", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.Lot = "\xff\xfe" }, want: "UTF-8"},
		{name: "NaN score", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) {
			r.Prefilter.Score = float32(math.NaN())
		}, want: "prefilter.score"},
		{name: "sha mismatch", mutate: func(_ *ifcv1.InspectionRecord, imgs *[][]byte) {
			(*imgs)[0] = bytes.Clone((*imgs)[0])
			(*imgs)[0][10] ^= 1
		}, want: "sha256 mismatch"},
		{name: "sha not hex", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.Images[0].Sha256 = "zz" }, want: "64 lowercase hex"},
		{name: "sha uppercase", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) {
			r.Images[0].Sha256 = strings.ToUpper(r.Images[0].Sha256)
		}, want: "64 lowercase hex"},
		{name: "oversized image", mutate: func(r *ifcv1.InspectionRecord, imgs *[][]byte) {
			big := make([]byte, 4097)
			(*imgs)[0] = big
			r.Images[0].Size = int64(len(big))
		}, want: "limit 4096"},
		{name: "size mismatch", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.Images[0].Size++ }, want: "size"},
		{name: "empty image", mutate: func(r *ifcv1.InspectionRecord, imgs *[][]byte) {
			(*imgs)[0] = nil
			r.Images[0].Size = 0
		}, want: "empty"},
		{name: "missing content type", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.Images[0].ContentType = "" }, want: "content_type"},
		{name: "no images", mutate: func(r *ifcv1.InspectionRecord, imgs *[][]byte) {
			r.Images, *imgs = nil, nil
		}, want: "no images"},
		{name: "image count mismatch", mutate: func(_ *ifcv1.InspectionRecord, imgs *[][]byte) { *imgs = (*imgs)[:1] }, want: "2 images but 1"},
		{name: "too many images", mutate: func(r *ifcv1.InspectionRecord, imgs *[][]byte) {
			for range 3 {
				r.Images = append(r.Images, r.Images[0])
				*imgs = append(*imgs, (*imgs)[0])
			}
		}, want: "limit 4"},
		{name: "same image twice", mutate: func(r *ifcv1.InspectionRecord, imgs *[][]byte) {
			r.Images[1] = r.Images[0]
			(*imgs)[1] = (*imgs)[0]
		}, want: "twice"},
		{name: "unknown product", mutate: func(r *ifcv1.InspectionRecord, _ *[][]byte) { r.ProductCode = "P-404" }, want: "unknown product"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			q, _ := open(t, queue.Options{MaxImageBytes: 4096, MaxImages: 4, RequireKnownProduct: true})
			if err := q.PutMaster(ctx, master("P-100", 1)); err != nil {
				t.Fatal(err)
			}
			seed, seedImg := g.record(ok, t0, 100)
			mustSave(t, q, seed, seedImg)
			before := digest(t, q)

			rec, imgs := g.record(ok, t0.Add(time.Minute), 1000, 2000)
			var err error
			if tc.nilRec {
				err = q.Save(ctx, nil, imgs)
			} else {
				tc.mutate(rec, &imgs)
				err = q.Save(ctx, rec, imgs)
			}
			if !errors.Is(err, queue.ErrInvalid) {
				t.Fatalf("Save err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Save err = %q, want it to mention %q", err, tc.want)
			}
			if after := digest(t, q); after != before {
				t.Errorf("invalid Save changed the store")
			}
		})
	}
}

func TestMarkSynced(t *testing.T) {
	ctx := context.Background()
	q, _ := open(t, queue.Options{})
	g := newGen(4)
	a, aImg := g.record(ok, t0)
	b, bImg := g.record(ng, t0.Add(time.Minute))
	mustSave(t, q, a, aImg)
	mustSave(t, q, b, bImg)
	at := t0.Add(2 * time.Hour)
	if err := q.MarkSynced(ctx, b.RecordId, at); err != nil {
		t.Fatal(err)
	}
	before := digest(t, q)
	if err := q.MarkSynced(ctx, b.RecordId, at.Add(time.Hour)); err != nil {
		t.Fatalf("second MarkSynced: %v", err)
	}
	if digest(t, q) != before {
		t.Errorf("repeated MarkSynced changed the store")
	}
	if got := pendingIDs(t, q); !slices.Equal(got, []string{a.RecordId}) {
		t.Errorf("Pending = %v, want only %s", got, a.RecordId)
	}
	st, err := q.Status(ctx, b.RecordId)
	if err != nil || !st.Synced || !st.SyncedAt.Equal(at) || st.Evicted {
		t.Errorf("Status = %+v, %v", st, err)
	}
	if _, err := q.Image(ctx, b.Images[0].Sha256); err != nil {
		t.Errorf("synced record's image is gone: %v", err)
	}
	s, _ := q.Stats(ctx)
	if s.Queued != 1 || s.Synced != 1 || !s.LastSync.Equal(at) || !s.Oldest.Equal(t0) || s.EvictableBytes != 0 {
		t.Errorf("Stats = %+v", s)
	}
	if err := q.MarkSynced(ctx, g.id(), at); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("MarkSynced(unknown) = %v, want ErrNotFound", err)
	}
	if err := q.MarkSynced(ctx, "junk", at); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("MarkSynced(junk) = %v, want ErrInvalid", err)
	}
	if err := q.MarkSynced(ctx, a.RecordId, at); err != nil {
		t.Fatal(err)
	}
	if s, _ := q.Stats(ctx); s.Queued != 0 || !s.Oldest.IsZero() || s.QueuedBytes != 0 || s.EvictableBytes != 1000 {
		t.Errorf("Stats after draining = %+v", s)
	}
	mustCheck(t, q)
}

// cost is the budget one record with one image of n bytes takes.
func cost(n int) int64 { return queue.RecordOverheadBytes + int64(n) }

func TestEvictionOrder(t *testing.T) {
	ctx := context.Background()
	const img = 10000
	q, _ := open(t, queue.Options{SoftLimitBytes: 5 * cost(img), HardLimitBytes: 8 * cost(img)})
	g := newGen(5)
	var recs []*ifcv1.InspectionRecord
	// r0..r3 OK, r4 NG; all but r3 synced. Synced out of captured order to
	// show eviction follows captured_at, not sync time.
	for i := range 5 {
		res := ok
		if i == 4 {
			res = ng
		}
		r, im := g.record(res, t0.Add(time.Duration(i)*time.Minute), img)
		mustSave(t, q, r, im)
		recs = append(recs, r)
	}
	for _, i := range []int{2, 0, 1, 4} {
		if err := q.MarkSynced(ctx, recs[i].RecordId, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := q.Stats(ctx)
	if s.Bytes != 5*cost(img) || s.EvictableBytes != 3*img {
		t.Fatalf("Stats before eviction = %+v", s)
	}

	// The sixth record crosses the soft limit by one record's cost; only image
	// bytes are freed, so the two oldest synced OK records are evicted.
	r5, im5 := g.record(ok, t0.Add(10*time.Minute), img)
	mustSave(t, q, r5, im5)
	wantEvicted := map[int]bool{0: true, 1: true}
	for i, r := range recs {
		st, err := q.Status(ctx, r.RecordId)
		if err != nil {
			t.Fatal(err)
		}
		if st.Evicted != wantEvicted[i] {
			t.Errorf("record %d evicted = %v, want %v", i, st.Evicted, wantEvicted[i])
		}
		_, err = q.Image(ctx, r.Images[0].Sha256)
		if wantEvicted[i] != errors.Is(err, queue.ErrNotFound) {
			t.Errorf("record %d image err = %v", i, err)
		}
		if _, err := q.Get(ctx, r.RecordId); err != nil {
			t.Errorf("record %d itself is gone after eviction: %v", i, err)
		}
	}
	s, _ = q.Stats(ctx)
	if s.Bytes != 6*cost(img)-2*img || s.Evicted != 2 || s.EvictableBytes != img {
		t.Errorf("Stats after eviction = %+v", s)
	}
	if s.Bytes > 5*cost(img) {
		t.Errorf("budget %d still above the soft limit %d", s.Bytes, 5*cost(img))
	}
	h, _, err := q.History(ctx, queue.HistoryFilter{}, 10, "")
	if err != nil || len(h) != 6 || !h[5].Status.Evicted || h[5].Record.GetRecordId() != recs[0].RecordId {
		t.Errorf("History after eviction = %d items, %v", len(h), err)
	}
	mustCheck(t, q)
}

func TestHardLimitRefusal(t *testing.T) {
	ctx := context.Background()
	const img = 10000
	q, _ := open(t, queue.Options{SoftLimitBytes: 2 * cost(img), HardLimitBytes: 3 * cost(img)})
	g := newGen(6)
	var recs []*ifcv1.InspectionRecord
	for i := range 3 {
		r, im := g.record(ok, t0.Add(time.Duration(i)*time.Minute), img)
		mustSave(t, q, r, im)
		recs = append(recs, r)
	}
	if err := q.CanCapture(ctx, img); !errors.Is(err, queue.ErrDiskFull) {
		t.Fatalf("CanCapture at the hard limit = %v, want ErrDiskFull", err)
	}
	before := digest(t, q)
	r, im := g.record(ok, t0.Add(time.Hour), img)
	err := q.Save(ctx, r, im)
	if !errors.Is(err, queue.ErrDiskFull) {
		t.Fatalf("Save over the hard limit = %v, want ErrDiskFull", err)
	}
	var full *queue.DiskFullError
	if !errors.As(err, &full) || full.Unsynced != 3 {
		t.Fatalf("err = %#v, want *DiskFullError with 3 unsynced", err)
	}
	msg := "storage full: 3 unsynced records waiting for the network; captures are refused until sync frees space"
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("message %q does not tell the inspector %q", err, msg)
	}
	if digest(t, q) != before {
		t.Errorf("refused Save changed the store")
	}
	if _, err := q.Get(ctx, r.RecordId); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("refused record is stored: %v", err)
	}
	// A retried submit of an already saved record still succeeds when full.
	if err := q.Save(ctx, recs[2], nil); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("retry without its images = %v, want ErrInvalid", err)
	}
	retryImg, _ := q.Image(ctx, recs[2].Images[0].Sha256)
	if err := q.Save(ctx, recs[2], [][]byte{retryImg}); err != nil {
		t.Errorf("identical retry at the hard limit = %v, want nil", err)
	}

	// One synced record is not enough: eviction frees its image bytes, but
	// the record itself (RecordOverheadBytes) stays.
	if err := q.MarkSynced(ctx, recs[0].RecordId, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := q.CanCapture(ctx, img); !errors.Is(err, queue.ErrDiskFull) || !strings.Contains(err.Error(), "2 unsynced") {
		t.Fatalf("CanCapture after one sync = %v, want ErrDiskFull with 2 unsynced", err)
	}
	// Syncing a second frees enough: the refused capture is accepted, evicting both.
	if err := q.MarkSynced(ctx, recs[1].RecordId, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := q.CanCapture(ctx, img); err != nil {
		t.Fatalf("CanCapture after sync: %v", err)
	}
	mustSave(t, q, r, im)
	for i := range 3 {
		if st, _ := q.Status(ctx, recs[i].RecordId); st.Evicted != (i < 2) {
			t.Errorf("record %d evicted = %v, want %v", i, st.Evicted, i < 2)
		}
	}
	if err := q.CanCapture(ctx, -1); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("CanCapture(-1) = %v", err)
	}
	mustCheck(t, q)
}

func TestDiskFullAllSyncedNG(t *testing.T) {
	ctx := context.Background()
	const img = 10000
	q, _ := open(t, queue.Options{HardLimitBytes: 2 * cost(img)})
	g := newGen(7)
	for i := range 2 {
		r, im := g.record(ng, t0.Add(time.Duration(i)*time.Minute), img)
		mustSave(t, q, r, im)
		if err := q.MarkSynced(ctx, r.RecordId, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	err := q.CanCapture(ctx, img)
	if !errors.Is(err, queue.ErrDiskFull) || !strings.Contains(err.Error(), "NG images") {
		t.Fatalf("CanCapture = %v, want ErrDiskFull explaining that NG images fill the budget", err)
	}
}

// TestEvictionNeverTouchesUnsyncedOrNG runs a random mix of saves and syncs
// under a tight budget and checks, after every step, that every unsynced
// record and every NG record still has all its images.
func TestEvictionNeverTouchesUnsyncedOrNG(t *testing.T) {
	ctx := context.Background()
	q, _ := open(t, queue.Options{SoftLimitBytes: 200_000, HardLimitBytes: 400_000})
	g := newGen(8)
	type saved struct {
		rec    *ifcv1.InspectionRecord
		imgs   [][]byte
		synced bool
	}
	var all []*saved
	refused := 0
	for step := range 300 {
		if len(all) > 0 && g.rng.IntN(3) == 0 {
			s := all[g.rng.IntN(len(all))]
			if err := q.MarkSynced(ctx, s.rec.RecordId, t0.Add(time.Duration(step)*time.Second)); err != nil {
				t.Fatal(err)
			}
			s.synced = true
			continue
		}
		res := ok
		if g.rng.IntN(4) == 0 {
			res = ng
		}
		sizes := make([]int, 1+g.rng.IntN(2))
		for i := range sizes {
			sizes[i] = 1000 + g.rng.IntN(20000)
		}
		r, im := g.record(res, t0.Add(time.Duration(g.rng.IntN(100000))*time.Second), sizes...)
		err := q.Save(ctx, r, im)
		switch {
		case errors.Is(err, queue.ErrDiskFull):
			refused++
			continue
		case err != nil:
			t.Fatal(err)
		}
		all = append(all, &saved{rec: r, imgs: im})
		for _, s := range all {
			if s.synced && s.rec.Verdict.Result == ok {
				continue
			}
			for i, ref := range s.rec.Images {
				got, err := q.Image(ctx, ref.Sha256)
				if err != nil || !bytes.Equal(got, s.imgs[i]) {
					t.Fatalf("step %d: image %d of protected record %s (synced=%v %v): %v",
						step, i, s.rec.RecordId, s.synced, s.rec.Verdict.Result, err)
				}
			}
		}
		if s, _ := q.Stats(ctx); s.Bytes > 400_000 {
			t.Fatalf("budget %d above the hard limit", s.Bytes)
		}
	}
	s, _ := q.Stats(ctx)
	if s.Evicted == 0 || refused == 0 {
		t.Errorf("the mix did not exercise eviction (%d) and refusal (%d)", s.Evicted, refused)
	}
	t.Logf("%d records, %d evicted, %d refused, %d budget bytes", s.Records, s.Evicted, refused, s.Bytes)
	mustCheck(t, q)
}

func master(code string, version int64) *ifcv1.InspectionMaster {
	return &ifcv1.InspectionMaster{
		Product: &ifcv1.Product{Code: code, Name: "Bracket " + code},
		Items:   []*ifcv1.InspectionItem{{Id: "surface", Name: "Surface", Description: "no scratches"}},
		DefectTypes: []*ifcv1.DefectType{
			{Code: "scratch", Name: "Scratch"}, {Code: "dent", Name: "Dent"},
		},
		PrefilterModelName: "prefilter", PrefilterModelVersion: "1.0.0", PrefilterThreshold: 0.5,
		PipelineId: "standard", PipelineVersion: 2,
		Version: version,
	}
}

func TestMasters(t *testing.T) {
	ctx := context.Background()
	q, _ := open(t, queue.Options{})
	for _, m := range []*ifcv1.InspectionMaster{master("P-200", 1), master("P-100", 2), master("P-100", 5)} {
		if err := q.PutMaster(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	older := master("P-100", 4)
	older.Product.Name = "old name"
	if err := q.PutMaster(ctx, older); err != nil {
		t.Fatalf("older master: %v", err)
	}
	got, err := q.Master(ctx, "P-100")
	if err != nil || got.GetVersion() != 5 || got.GetProduct().GetName() != "Bracket P-100" {
		t.Fatalf("Master = %v, %v; want version 5 kept", got, err)
	}
	same := master("P-100", 5)
	same.PrefilterThreshold = 0.7
	if err := q.PutMaster(ctx, same); !errors.Is(err, queue.ErrConflict) {
		t.Errorf("same version, other content = %v, want ErrConflict", err)
	}
	if err := q.PutMaster(ctx, master("P-100", 5)); err != nil {
		t.Errorf("identical master again: %v", err)
	}
	all, err := q.Masters(ctx)
	if err != nil || len(all) != 2 || all[0].GetProduct().GetCode() != "P-100" || all[1].GetProduct().GetCode() != "P-200" {
		t.Fatalf("Masters = %v, %v", all, err)
	}
	if _, err := q.Master(ctx, "P-404"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Master(unknown) = %v", err)
	}
	before := digest(t, q)
	for name, m := range map[string]*ifcv1.InspectionMaster{
		"nil":       nil,
		"no code":   {Version: 1},
		"version 0": master("P-300", 0),
		"dup defect": func() *ifcv1.InspectionMaster {
			m := master("P-300", 1)
			m.DefectTypes = append(m.DefectTypes, m.DefectTypes[0])
			return m
		}(),
	} {
		if err := q.PutMaster(ctx, m); !errors.Is(err, queue.ErrInvalid) {
			t.Errorf("PutMaster(%s) = %v, want ErrInvalid", name, err)
		}
	}
	if digest(t, q) != before {
		t.Errorf("invalid masters changed the store")
	}
}

func TestCursor(t *testing.T) {
	ctx := context.Background()
	q, _ := open(t, queue.Options{})
	if v, val, err := q.Cursor(ctx, "masters"); err != nil || v != 0 || val != nil {
		t.Fatalf("empty Cursor = %d %q %v", v, val, err)
	}
	steps := []struct {
		v   int64
		val string
	}{{3, "c3"}, {7, "c7"}, {5, "c5"}, {7, "other"}}
	for _, s := range steps {
		if err := q.PutCursor(ctx, "masters", s.v, []byte(s.val)); err != nil {
			t.Fatal(err)
		}
	}
	if v, val, err := q.Cursor(ctx, "masters"); err != nil || v != 7 || string(val) != "c7" {
		t.Errorf("Cursor = %d %q %v, want 7 c7 (never backwards)", v, val, err)
	}
	if err := q.PutCursor(ctx, "", 1, nil); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("empty name = %v", err)
	}
	if err := q.PutCursor(ctx, "big", 1, make([]byte, queue.MaxCursorValueBytes+1)); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("big value = %v", err)
	}
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	q, _ := open(t, queue.Options{})
	g := newGen(9)
	var ids []string // in captured order
	for i := range 25 {
		res := ok
		if i%5 == 0 {
			res = ng
		}
		r, im := g.record(res, t0.Add(time.Duration(i)*time.Minute), 100)
		if i%2 == 1 {
			r.Lot = "LOT-odd"
		}
		mustSave(t, q, r, im)
		ids = append(ids, r.RecordId)
	}
	var got []string
	cursor := ""
	for page := 0; ; page++ {
		items, next, err := q.History(ctx, queue.HistoryFilter{}, 10, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			got = append(got, it.Record.GetRecordId())
		}
		if next == "" {
			break
		}
		if page > 5 {
			t.Fatal("History does not terminate")
		}
		cursor = next
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Errorf("History pages = %v, want newest first %v", got, want)
	}

	items, _, err := q.History(ctx, queue.HistoryFilter{Result: ng}, 0, "")
	if err != nil || len(items) != 5 || items[0].Record.GetRecordId() != ids[20] {
		t.Errorf("History(NG) = %d items, %v", len(items), err)
	}
	items, _, err = q.History(ctx, queue.HistoryFilter{
		Lot: "LOT-odd", Since: t0.Add(10 * time.Minute), Until: t0.Add(20 * time.Minute),
	}, 0, "")
	var lots []string
	for _, it := range items {
		lots = append(lots, it.Record.GetRecordId())
	}
	if wantLots := []string{ids[19], ids[17], ids[15], ids[13], ids[11]}; err != nil || !slices.Equal(lots, wantLots) {
		t.Errorf("History(lot, range) = %v, %v; want %v", lots, err, wantLots)
	}
	if _, _, err := q.History(ctx, queue.HistoryFilter{}, 10, "!!"); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("bad cursor = %v", err)
	}
}

func TestReopenPersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "queue.db")
	opts := queue.Options{DeviceID: testDevice, Logger: quietLogger()}
	q, err := queue.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(10)
	a, aImg := g.record(ng, t0, 3000)
	b, bImg := g.record(ok, t0.Add(time.Minute), 4000)
	mustSave(t, q, a, aImg)
	mustSave(t, q, b, bImg)
	if err := q.MarkSynced(ctx, b.RecordId, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := q.PutMaster(ctx, master("P-100", 3)); err != nil {
		t.Fatal(err)
	}
	if err := q.PutCursor(ctx, "masters", 3, []byte("x")); err != nil {
		t.Fatal(err)
	}
	before := digest(t, q)
	statsBefore, _ := q.Stats(ctx)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := q.Stats(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Stats after Close = %v, want ErrClosed", err)
	}

	q, err = queue.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if digest(t, q) != before {
		t.Errorf("reopened store differs")
	}
	if s, _ := q.Stats(ctx); s != statsBefore {
		t.Errorf("Stats after reopen = %+v, want %+v", s, statsBefore)
	}
	if got := pendingIDs(t, q); !slices.Equal(got, []string{a.RecordId}) {
		t.Errorf("Pending after reopen = %v", got)
	}
	img, err := q.Image(ctx, a.Images[0].Sha256)
	if err != nil || !bytes.Equal(img, aImg[0]) {
		t.Errorf("image after reopen: %v", err)
	}
	if m, err := q.Master(ctx, "P-100"); err != nil || m.GetVersion() != 3 {
		t.Errorf("master after reopen: %v %v", m, err)
	}
	mustCheck(t, q)
}

func TestOpenLockedAndBadOptions(t *testing.T) {
	q, _ := open(t, queue.Options{})
	_, err := queue.Open(q.Path(), queue.Options{LockTimeout: 50 * time.Millisecond, Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("second Open = %v, want a lock error", err)
	}
	_, err = queue.Open(filepath.Join(t.TempDir(), "q.db"), queue.Options{SoftLimitBytes: 10, HardLimitBytes: 5})
	if !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("soft > hard = %v, want ErrInvalid", err)
	}
}

func TestConcurrentSaves(t *testing.T) {
	ctx := context.Background()
	q, _ := open(t, queue.Options{SoftLimitBytes: 300_000, HardLimitBytes: 10 << 20})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			g := newGen(uint64(100 + w))
			for i := range 15 {
				r, im := g.record(ok, t0.Add(time.Duration(i)*time.Second), 5000)
				if err := q.Save(ctx, r, im); err != nil {
					errs <- fmt.Errorf("worker %d: %w", w, err)
					return
				}
				if i%2 == 0 {
					if err := q.MarkSynced(ctx, r.RecordId, t0); err != nil {
						errs <- err
						return
					}
				}
				if _, err := q.Pending(ctx, 10); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s, _ := q.Stats(ctx); s.Records != 60 || s.Queued != 28 {
		t.Errorf("Stats = %+v", s)
	}
	mustCheck(t, q)
}

func TestCanceledContext(t *testing.T) {
	q, _ := open(t, queue.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, im := newGen(11).record(ok, t0)
	if err := q.Save(ctx, r, im); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with canceled ctx = %v", err)
	}
	if s, _ := q.Stats(context.Background()); s.Records != 0 {
		t.Errorf("canceled Save stored a record")
	}
}

// A master pulled from the cloud replaces a seeded one whatever the
// version numbers say (the two numberings are unrelated); an invalid one
// changes nothing.
func TestReplaceMasterFromCloud(t *testing.T) {
	ctx := context.Background()
	q, _ := open(t, queue.Options{})
	if err := q.PutMaster(ctx, master("P-100", 5)); err != nil {
		t.Fatal(err)
	}
	pulled := master("P-100", 2)
	pulled.Product.Name = "from cloud"
	if err := q.ReplaceMaster(ctx, pulled); err != nil {
		t.Fatal(err)
	}
	got, err := q.Master(ctx, "P-100")
	if err != nil || got.GetVersion() != 2 || got.GetProduct().GetName() != "from cloud" {
		t.Fatalf("Master = %v, %v; want the pulled version 2", got, err)
	}
	before := digest(t, q)
	bad := master("P-100", 0)
	if err := q.ReplaceMaster(ctx, bad); !errors.Is(err, queue.ErrInvalid) {
		t.Fatalf("invalid master = %v, want ErrInvalid", err)
	}
	if digest(t, q) != before {
		t.Fatal("a refused master changed the queue")
	}
}
