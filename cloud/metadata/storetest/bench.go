package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// BenchRecords is the number of records the record benchmarks query.
const BenchRecords = 10000

// benchStart is the first capture time of the seeded records.
var benchStart = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

// SeedRecords commits n records over 30 days from benchStart: 4 lines,
// 8 devices, 5 products, 8% NG over 4 defect types, 5% overridden NG by
// the cloud (deterministic seed).
func SeedRecords(tb testing.TB, s metadata.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	for p := range 5 {
		if _, err := s.PutMaster(ctx, &ifcv1.InspectionMaster{Product: &ifcv1.Product{Code: fmt.Sprintf("P-%d", p), Name: "p"}}); err != nil {
			tb.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	defects := []string{"SCR", "DENT", "CRK", "STN"}
	for i := range n {
		v := &ifcv1.Verdict{Result: vOK}
		if rng.IntN(100) < 8 {
			v = &ifcv1.Verdict{Result: vNG, DefectType: defects[rng.IntN(len(defects))]}
		}
		at := benchStart.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
		r := &ifcv1.InspectionRecord{RecordId: fmt.Sprintf("r-%06d", i), DeviceId: fmt.Sprintf("d-%d", i%8), Line: fmt.Sprintf("line-%d", i%4),
			ProductCode: fmt.Sprintf("P-%d", rng.IntN(5)), Lot: fmt.Sprintf("L-%d", i/500), Serial: fmt.Sprintf("SN-%d", i), Inspector: "inspector-1",
			CapturedAt: timestamppb.New(at), Verdict: v, ModelVersion: "1",
			Prefilter: &ifcv1.PrefilterResult{Score: rng.Float32(), Label: "ok", ModelName: "prefilter", ModelVersion: "1", Threshold: 0.5}}
		if _, err := s.CommitRecord(ctx, r, at.Add(time.Minute)); err != nil {
			tb.Fatal(err)
		}
		if rng.IntN(100) < 5 {
			if _, err := s.AddOverride(ctx, &ifcv1.VerdictOverride{OverrideId: fmt.Sprintf("o-%06d", i), RecordId: r.RecordId, Actor: "qa", Reason: "review",
				At: timestamppb.New(at.Add(time.Hour)), Origin: ifcv1.VerdictOrigin_VERDICT_ORIGIN_CLOUD,
				Verdict: &ifcv1.Verdict{Result: vNG, DefectType: "SCR"}}); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// BenchStats measures RecordStats over a store seeded by SeedRecords:
// everything by day, one line over a week by hour, a week by day, one
// product by day; shifts in Asia/Tokyo.
func BenchStats(b *testing.B, s metadata.Store) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		b.Fatal(err)
	}
	plan := metadata.ShiftPlan{Shifts: metadata.DefaultShifts(), Location: tokyo}
	week := metadata.RecordFilter{Shifts: plan, Since: benchStart.AddDate(0, 0, 7), Until: benchStart.AddDate(0, 0, 14)}
	lineWeek := week
	lineWeek.Line = "line-1"
	for _, bc := range []struct {
		name string
		f    metadata.StatsFilter
	}{
		{"all/day", metadata.StatsFilter{Bucket: metadata.BucketDay, RecordFilter: metadata.RecordFilter{Shifts: plan}}},
		{"line-week/hour", metadata.StatsFilter{Bucket: metadata.BucketHour, RecordFilter: lineWeek}},
		{"week/day", metadata.StatsFilter{Bucket: metadata.BucketDay, RecordFilter: week}},
		{"product/day", metadata.StatsFilter{Bucket: metadata.BucketDay, RecordFilter: metadata.RecordFilter{Shifts: plan, ProductCode: "P-2"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				st, err := s.RecordStats(context.Background(), bc.f)
				if err != nil || st.Total == 0 {
					b.Fatal(st.Total, err)
				}
			}
		})
	}
}

// BenchSearchRecords measures one page (50) of SearchRecords over a
// store seeded by SeedRecords: unfiltered, by effective verdict, by
// effective defect type, by shift, not acknowledged.
func BenchSearchRecords(b *testing.B, s metadata.Store) {
	plan := metadata.ShiftPlan{Shifts: metadata.DefaultShifts(), Location: time.UTC}
	no := false
	for _, bc := range []struct {
		name string
		f    metadata.RecordFilter
	}{
		{"all", metadata.RecordFilter{}},
		{"ng", metadata.RecordFilter{Verdict: vNG}},
		{"defect", metadata.RecordFilter{DefectType: "CRK"}},
		{"shift", metadata.RecordFilter{Shift: "C", Shifts: plan}},
		{"unacknowledged-ng", metadata.RecordFilter{Verdict: vNG, Acknowledged: &no}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				recs, _, err := s.SearchRecords(context.Background(), bc.f)
				if err != nil || len(recs) == 0 {
					b.Fatal(len(recs), err)
				}
			}
		})
	}
}
