package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// commitDefect commits r with defect as its own verdict's defect type.
func commitDefect(t *testing.T, s metadata.Store, r rec, defect string) {
	t.Helper()
	p := r.proto()
	p.Verdict.DefectType = defect
	if created, err := s.CommitRecord(ctx, p, t0.Add(time.Hour)); err != nil || !created {
		t.Fatalf("commit %s: created=%v, %v", r.id, created, err)
	}
}

func utcShifts() metadata.ShiftPlan {
	return metadata.ShiftPlan{Shifts: metadata.DefaultShifts(), Location: time.UTC}
}

func ptr[T any](v T) *T { return &v }

func search(t *testing.T, s metadata.Store, f metadata.RecordFilter) string {
	t.Helper()
	got, _, err := s.SearchRecords(ctx, f)
	if err != nil {
		t.Fatalf("search %+v: %v", f, err)
	}
	return fmt.Sprint(recordIDs(got))
}

// testReviewFilters: defect type (effective), shift and acknowledged.
func testReviewFilters(t *testing.T, s metadata.Store) {
	putMaster(t, s, master("P-1", ""))
	day := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	commitDefect(t, s, rec{id: "r-a1", device: "d-1", line: "l", product: "P-1", at: day.Add(6 * time.Hour), verdict: vNG}, "SCR") // A starts
	commitDefect(t, s, rec{id: "r-a2", device: "d-1", line: "l", product: "P-1", at: day.Add(13*time.Hour + 59*time.Minute), verdict: vOK}, "")
	commitDefect(t, s, rec{id: "r-b1", device: "d-1", line: "l", product: "P-1", at: day.Add(14 * time.Hour), verdict: vNG}, "DENT")
	commitDefect(t, s, rec{id: "r-c1", device: "d-1", line: "l", product: "P-1", at: day.Add(23 * time.Hour), verdict: vOK}, "")
	commitDefect(t, s, rec{id: "r-c2", device: "d-1", line: "l", product: "P-1", at: day.Add(24*time.Hour + 5*time.Hour), verdict: vNG}, "SCR") // next day 05:00: still C

	plan := utcShifts()
	for _, tc := range []struct {
		name string
		f    metadata.RecordFilter
		want string
	}{
		{"defect", metadata.RecordFilter{DefectType: "SCR"}, "[r-c2 r-a1]"},
		{"defect and verdict", metadata.RecordFilter{DefectType: "DENT", Verdict: vNG}, "[r-b1]"},
		{"shift A", metadata.RecordFilter{Shift: "A", Shifts: plan}, "[r-a2 r-a1]"},
		{"shift B", metadata.RecordFilter{Shift: "B", Shifts: plan}, "[r-b1]"},
		{"shift C spans midnight", metadata.RecordFilter{Shift: "C", Shifts: plan}, "[r-c2 r-c1]"},
		{"shift C with since", metadata.RecordFilter{Shift: "C", Shifts: plan, Since: day.Add(24 * time.Hour)}, "[r-c2]"},
		{"shift in another zone", metadata.RecordFilter{Shift: "A", Shifts: metadata.ShiftPlan{Shifts: plan.Shifts, Location: time.FixedZone("JST", 9*3600)}},
			"[r-c1]"}, // 23:00 UTC is 08:00 JST
		{"not acknowledged", metadata.RecordFilter{Acknowledged: ptr(false)}, "[r-c2 r-c1 r-b1 r-a2 r-a1]"},
		{"acknowledged", metadata.RecordFilter{Acknowledged: ptr(true)}, "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := search(t, s, tc.f); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	if _, _, err := s.SearchRecords(ctx, metadata.RecordFilter{Shift: "Z", Shifts: plan}); !errors.Is(err, metadata.ErrInvalidArgument) {
		t.Errorf("unknown shift: %v, want ErrInvalidArgument", err)
	}

	// The defect type filter follows overrides: r-a1 turns OK (no defect),
	// r-c1 turns NG with DENT.
	if _, err := s.AddOverride(ctx, override("o-1", "r-a1", ifcv1.VerdictOrigin_VERDICT_ORIGIN_CLOUD, vOK, day)); err != nil {
		t.Fatal(err)
	}
	o := override("o-2", "r-c1", ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE, vNG, day)
	o.Verdict.DefectType = "DENT"
	if _, err := s.AddOverride(ctx, o); err != nil {
		t.Fatal(err)
	}
	if got := search(t, s, metadata.RecordFilter{DefectType: "SCR"}); got != "[r-c2]" {
		t.Errorf("SCR after overrides: %s, want [r-c2]", got)
	}
	if got := search(t, s, metadata.RecordFilter{DefectType: "DENT"}); got != "[r-c1 r-b1]" {
		t.Errorf("DENT after overrides: %s, want [r-c1 r-b1]", got)
	}

	if n, err := s.AcknowledgeRecords(ctx, []string{"r-b1", "r-c1"}, "qa", day); err != nil || n != 2 {
		t.Fatalf("acknowledge = %d, %v", n, err)
	}
	if got := search(t, s, metadata.RecordFilter{Acknowledged: ptr(true)}); got != "[r-c1 r-b1]" {
		t.Errorf("acknowledged: %s", got)
	}
	if got := search(t, s, metadata.RecordFilter{Acknowledged: ptr(false), Verdict: vNG}); got != "[r-c2]" {
		t.Errorf("unacknowledged NG: %s", got)
	}
}

func testAcknowledge(t *testing.T, s metadata.Store) {
	putMaster(t, s, master("P-1", ""))
	for i := range 3 {
		commit(t, s, rec{id: fmt.Sprintf("r-%d", i), device: "d-1", line: "l", product: "P-1", at: t0.Add(time.Duration(i) * time.Minute), verdict: vNG})
	}
	at1, at2 := t0.Add(time.Hour), t0.Add(2*time.Hour)

	// Unknown ids: every one named, nothing acknowledged.
	_, err := s.AcknowledgeRecords(ctx, []string{"r-0", "nope-2", "nope-1", "r-1"}, "qa", at1)
	var unknown *metadata.UnknownRecordsError
	if !errors.As(err, &unknown) || !errors.Is(err, metadata.ErrNotFound) || fmt.Sprint(unknown.IDs) != "[nope-1 nope-2]" {
		t.Fatalf("acknowledge with unknown ids = %v, want UnknownRecordsError naming nope-1 and nope-2", err)
	}
	if got, _ := s.GetRecord(ctx, "r-0"); !got.AcknowledgedAt.IsZero() || got.AcknowledgedBy != "" {
		t.Fatalf("refused acknowledgement changed r-0: %v %q", got.AcknowledgedAt, got.AcknowledgedBy)
	}

	if n, err := s.AcknowledgeRecords(ctx, []string{"r-0", "r-1", "r-0"}, "qa", at1); err != nil || n != 2 {
		t.Fatalf("acknowledge = %d, %v; want 2", n, err)
	}
	// Again, with r-2 new: only r-2 is counted; r-0 keeps the first time and user.
	if n, err := s.AcknowledgeRecords(ctx, []string{"r-0", "r-2"}, "lead", at2); err != nil || n != 1 {
		t.Fatalf("second acknowledge = %d, %v; want 1", n, err)
	}
	for id, want := range map[string]struct {
		at time.Time
		by string
	}{"r-0": {at1, "qa"}, "r-1": {at1, "qa"}, "r-2": {at2, "lead"}} {
		got, err := s.GetRecord(ctx, id)
		if err != nil || !got.AcknowledgedAt.Equal(want.at) || got.AcknowledgedBy != want.by {
			t.Errorf("%s acknowledged %v by %q (%v), want %v by %q", id, got.AcknowledgedAt, got.AcknowledgedBy, err, want.at, want.by)
		}
	}
	page, _, err := s.SearchRecords(ctx, metadata.RecordFilter{})
	if err != nil || len(page) != 3 || page[0].AcknowledgedBy != "lead" || !page[0].AcknowledgedAt.Equal(at2) {
		t.Errorf("search result lacks acknowledgement: %+v, %v", page, err)
	}
	for _, bad := range [][]string{nil, {""}} {
		if _, err := s.AcknowledgeRecords(ctx, bad, "qa", at1); !errors.Is(err, metadata.ErrInvalidArgument) {
			t.Errorf("acknowledge %q = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

func counts(total, ok, ng int64) metadata.Counts {
	return metadata.Counts{Total: total, OK: ok, NG: ng}
}

func kc(key string, c metadata.Counts) metadata.KeyCounts {
	return metadata.KeyCounts{Key: key, Counts: c}
}

func tp(start time.Time, c metadata.Counts) metadata.TrendPoint {
	return metadata.TrendPoint{Start: start, Counts: c}
}

func dc(defect string, n int64) metadata.DefectCount {
	return metadata.DefectCount{DefectType: defect, Count: n}
}

func testRecordStats(t *testing.T, s metadata.Store) {
	putMaster(t, s, master("P-1", ""))
	putMaster(t, s, master("P-2", ""))
	day := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	plan := utcShifts()

	// Empty store: zero counts, every shift listed, no trend.
	st, err := s.RecordStats(ctx, metadata.StatsFilter{RecordFilter: metadata.RecordFilter{Shifts: plan}})
	if err != nil || st.Total != 0 || len(st.ByShift) != 3 || len(st.Trend) != 0 || len(st.Pareto) != 0 || st.ByLine == nil {
		t.Fatalf("empty stats = %+v, %v", st, err)
	}

	type r struct {
		id, line, product string
		at                time.Duration // since day
		v                 ifcv1.VerdictResult
		defect            string
	}
	for _, x := range []r{
		{"s-1", "line-a", "P-1", 7 * time.Hour, vOK, ""},      // day 1, A
		{"s-2", "line-a", "P-1", 8 * time.Hour, vNG, "SCR"},   // day 1, A
		{"s-3", "line-a", "P-2", 15 * time.Hour, vNG, "DENT"}, // day 1, B
		{"s-4", "line-b", "P-1", 23 * time.Hour, vNG, "SCR"},  // day 1, C
		{"s-5", "line-b", "P-2", 26 * time.Hour, vOK, ""},     // day 2 02:00, C
		{"s-6", "line-b", "P-1", 50 * time.Hour, vNG, "CRK"},  // day 3 02:00, C
	} {
		commitDefect(t, s, rec{id: x.id, device: "d-1", line: x.line, product: x.product, at: day.Add(x.at), verdict: x.v}, x.defect)
	}
	// Statistics count effective verdicts: s-1 turns NG (SCR) by an edge override.
	o := override("o-1", "s-1", ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE, vNG, day)
	if _, err := s.AddOverride(ctx, o); err != nil {
		t.Fatal(err)
	}

	st, err = s.RecordStats(ctx, metadata.StatsFilter{RecordFilter: metadata.RecordFilter{Shifts: plan}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts != counts(6, 1, 5) {
		t.Errorf("counts %+v, want 6/1/5", st.Counts)
	}
	if got := fmt.Sprint(st.ByLine); got != fmt.Sprint([]metadata.KeyCounts{kc("line-a", counts(3, 0, 3)), kc("line-b", counts(3, 1, 2))}) {
		t.Errorf("by line %s", got)
	}
	if got := fmt.Sprint(st.ByProduct); got != fmt.Sprint([]metadata.KeyCounts{kc("P-1", counts(4, 0, 4)), kc("P-2", counts(2, 1, 1))}) {
		t.Errorf("by product %s", got)
	}
	if got := fmt.Sprint(st.ByShift); got != fmt.Sprint([]metadata.KeyCounts{kc("A", counts(2, 0, 2)), kc("B", counts(1, 0, 1)), kc("C", counts(3, 1, 2))}) {
		t.Errorf("by shift %s", got)
	}
	if got := fmt.Sprint(st.Pareto); got != fmt.Sprint([]metadata.DefectCount{dc("SCR", 3), dc("CRK", 1), dc("DENT", 1)}) {
		t.Errorf("pareto %s", got)
	}
	wantTrend := []metadata.TrendPoint{tp(day, counts(4, 0, 4)), tp(day.Add(24*time.Hour), counts(1, 1, 0)), tp(day.Add(48*time.Hour), counts(1, 0, 1))}
	if fmt.Sprint(st.Trend) != fmt.Sprint(wantTrend) {
		t.Errorf("trend %v, want %v", st.Trend, wantTrend)
	}

	// Filters, an hourly trend with empty hours filled, since/until bounds.
	st, err = s.RecordStats(ctx, metadata.StatsFilter{Bucket: metadata.BucketHour, RecordFilter: metadata.RecordFilter{
		Line: "line-a", Shifts: plan, Since: day.Add(6 * time.Hour), Until: day.Add(10 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	wantTrend = []metadata.TrendPoint{tp(day.Add(6*time.Hour), counts(0, 0, 0)), tp(day.Add(7*time.Hour), counts(1, 0, 1)),
		tp(day.Add(8*time.Hour), counts(1, 0, 1)), tp(day.Add(9*time.Hour), counts(0, 0, 0))}
	if st.Counts != counts(2, 0, 2) || fmt.Sprint(st.Trend) != fmt.Sprint(wantTrend) {
		t.Errorf("line-a 06-10h: %+v trend %v, want 2/0/2 and %v", st.Counts, st.Trend, wantTrend)
	}

	// Days and shifts are wall-clock days in the plan's zone: in JST
	// (UTC+9) s-4 (23:00 UTC) is 08:00 on day 2 and s-6 11:00 on day 3, both shift A.
	jst := time.FixedZone("JST", 9*3600)
	st, err = s.RecordStats(ctx, metadata.StatsFilter{RecordFilter: metadata.RecordFilter{ProductCode: "P-1", Line: "line-b",
		Shifts: metadata.ShiftPlan{Shifts: plan.Shifts, Location: jst}}})
	if err != nil {
		t.Fatal(err)
	}
	d2 := time.Date(2026, 5, 2, 0, 0, 0, 0, jst)
	wantTrend = []metadata.TrendPoint{tp(d2, counts(1, 0, 1)), tp(d2.Add(24*time.Hour), counts(1, 0, 1))}
	if fmt.Sprint(st.Trend) != fmt.Sprint(wantTrend) || st.ByShift[0] != kc("A", counts(2, 0, 2)) {
		t.Errorf("JST: trend %v by shift %v; want %v and both in A", st.Trend, st.ByShift, wantTrend)
	}

	for _, bad := range []metadata.StatsFilter{
		{Bucket: "week", RecordFilter: metadata.RecordFilter{Shifts: plan}},
		{RecordFilter: metadata.RecordFilter{}}, // no shift plan
		{Bucket: metadata.BucketHour, RecordFilter: metadata.RecordFilter{Shifts: plan, Since: day, Until: day.AddDate(2, 0, 0)}},
	} {
		if _, err := s.RecordStats(ctx, bad); !errors.Is(err, metadata.ErrInvalidArgument) {
			t.Errorf("stats %+v = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

// testStatsDST checks day buckets and shifts across a daylight saving
// change: wall-clock days, one of them 23 hours long.
func testStatsDST(t *testing.T, s metadata.Store) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	putMaster(t, s, master("P-1", ""))
	// 2026-03-08 02:00 EST → 03:00 EDT.
	for i, at := range []time.Time{
		time.Date(2026, 3, 7, 23, 30, 0, 0, ny), // C, Mar 7
		time.Date(2026, 3, 8, 1, 30, 0, 0, ny),  // C, Mar 8 (EST)
		time.Date(2026, 3, 8, 6, 30, 0, 0, ny),  // A, Mar 8 (EDT)
		time.Date(2026, 3, 8, 23, 59, 0, 0, ny), // C, Mar 8
		time.Date(2026, 3, 9, 0, 1, 0, 0, ny),   // C, Mar 9
	} {
		commit(t, s, rec{id: fmt.Sprintf("r-%d", i), device: "d", line: "l", product: "P-1", at: at, verdict: vOK})
	}
	plan := metadata.ShiftPlan{Shifts: metadata.DefaultShifts(), Location: ny}
	st, err := s.RecordStats(ctx, metadata.StatsFilter{RecordFilter: metadata.RecordFilter{Shifts: plan}})
	if err != nil {
		t.Fatal(err)
	}
	want := []metadata.TrendPoint{
		tp(time.Date(2026, 3, 7, 0, 0, 0, 0, ny), counts(1, 1, 0)),
		tp(time.Date(2026, 3, 8, 0, 0, 0, 0, ny), counts(3, 3, 0)),
		tp(time.Date(2026, 3, 9, 0, 0, 0, 0, ny), counts(1, 1, 0)),
	}
	if fmt.Sprint(st.Trend) != fmt.Sprint(want) {
		t.Errorf("trend %v, want %v", st.Trend, want)
	}
	if fmt.Sprint(st.ByShift) != fmt.Sprint([]metadata.KeyCounts{kc("A", counts(1, 1, 0)), kc("B", counts(0, 0, 0)), kc("C", counts(4, 4, 0))}) {
		t.Errorf("by shift %v", st.ByShift)
	}
	if got := search(t, s, metadata.RecordFilter{Shift: "A", Shifts: plan}); got != "[r-2]" {
		t.Errorf("shift A: %s", got)
	}
}
