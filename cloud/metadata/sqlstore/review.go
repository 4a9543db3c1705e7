package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// defectColumn is the records.defect_type value for an effective
// verdict: its defect type when NG, else empty.
func defectColumn(v *ifcv1.Verdict) string {
	if v.GetResult() != ifcv1.VerdictResult_VERDICT_RESULT_NG {
		return ""
	}
	return v.GetDefectType()
}

// backfillDefectTypes fills records.defect_type of the records stored
// before migration 3 from each effective verdict.
func backfillDefectTypes(ctx context.Context, tx *txn) error {
	rows, err := tx.QueryContext(ctx, `SELECT record_id, body FROM records WHERE verdict = ?`, int32(ifcv1.VerdictResult_VERDICT_RESULT_NG))
	if err != nil {
		return fmt.Errorf("backfill defect types: %w", err)
	}
	bodies := map[string]string{}
	var ids []string
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			rows.Close()
			return fmt.Errorf("backfill defect types: %w", err)
		}
		bodies[id] = body
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("backfill defect types: %w", err)
	}
	for chunk := range slices.Chunk(ids, 500) {
		ovs, err := overridesOf(ctx, tx, chunk)
		if err != nil {
			return fmt.Errorf("backfill defect types: %w", err)
		}
		for _, id := range chunk {
			r := &ifcv1.InspectionRecord{}
			if err := unmarshal.Unmarshal([]byte(bodies[id]), r); err != nil {
				return fmt.Errorf("backfill defect types: decode record %s: %w", id, err)
			}
			if d := defectColumn(metadata.EffectiveVerdict(r, ovs[id])); d != "" {
				if _, err := tx.ExecContext(ctx, `UPDATE records SET defect_type = ? WHERE record_id = ?`, d, id); err != nil {
					return fmt.Errorf("backfill defect types: %w", err)
				}
			}
		}
	}
	return nil
}

// AcknowledgeRecords marks records acknowledged; see metadata.InspectionStore.
func (s *Store) AcknowledgeRecords(ctx context.Context, ids []string, user string, at time.Time) (int, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 || slices.Contains(ids, "") || user == "" || at.IsZero() {
		return 0, fmt.Errorf("acknowledge records: %w: record ids, user and time are required", metadata.ErrInvalidArgument)
	}
	var n int64
	err := s.inTx(ctx, func(tx *txn) error {
		in, args := inList(ids)
		rows, err := tx.QueryContext(ctx, `SELECT record_id FROM records WHERE record_id IN (`+in+`)`, args...)
		if err != nil {
			return err
		}
		found := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			found[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(found) < len(ids) {
			unknown := &metadata.UnknownRecordsError{}
			for _, id := range ids {
				if !found[id] {
					unknown.IDs = append(unknown.IDs, id)
				}
			}
			return unknown
		}
		// acknowledged_at IS NULL keeps the first acknowledgement; under
		// PostgreSQL a concurrent one waits on the row lock and then
		// re-checks the condition, so it too keeps the first.
		res, err := tx.ExecContext(ctx, `UPDATE records SET acknowledged_at = ?, acknowledged_by = ?
			WHERE acknowledged_at IS NULL AND record_id IN (`+in+`)`, append([]any{nanos(at), user}, args...)...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("acknowledge records: %w", err)
	}
	return int(n), nil
}

// recordWhere returns the conditions and arguments of f's filters (not
// its page token).
func (s *Store) recordWhere(ctx context.Context, f metadata.RecordFilter) ([]string, []any, error) {
	var (
		where []string
		args  []any
	)
	for _, eq := range []struct {
		col, val string
	}{{"line", f.Line}, {"device_id", f.DeviceID}, {"product_code", f.ProductCode}, {"lot", f.Lot}, {"defect_type", f.DefectType}} {
		if eq.val != "" {
			where = append(where, eq.col+" = ?")
			args = append(args, eq.val)
		}
	}
	if f.Verdict != ifcv1.VerdictResult_VERDICT_RESULT_UNSPECIFIED {
		where = append(where, "verdict = ?")
		args = append(args, int32(f.Verdict))
	}
	if f.Acknowledged != nil {
		if *f.Acknowledged {
			where = append(where, "acknowledged_at IS NOT NULL")
		} else {
			where = append(where, "acknowledged_at IS NULL")
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "captured_at >= ?")
		args = append(args, nanos(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "captured_at < ?")
		args = append(args, nanos(f.Until))
	}
	if f.Shift != "" {
		i := f.Shifts.Index(f.Shift)
		if err := f.Shifts.Validate(); err != nil || i < 0 {
			return nil, nil, fmt.Errorf("%w: shift %q is not a configured shift", metadata.ErrInvalidArgument, f.Shift)
		}
		if len(f.Shifts.Shifts) > 1 {
			lt, err := s.localTime(ctx, f)
			if err != nil {
				return nil, nil, err
			}
			tod, todArgs := lt.timeOfDay()
			next := (i + 1) % len(f.Shifts.Shifts)
			op := "AND"
			if next == 0 {
				op = "OR" // the last shift runs past midnight
			}
			where = append(where, fmt.Sprintf("(%s >= ? %s %s < ?)", tod, op, tod))
			args = append(args, todArgs...)
			args = append(args, int64(f.Shifts.Shifts[i].Start))
			args = append(args, todArgs...)
			args = append(args, int64(f.Shifts.Shifts[next].Start))
		}
	}
	return where, args, nil
}

// localTime is SQL for captured_at as wall-clock Unix nanoseconds in a
// time zone (the instant plus the zone's offset then), exact for
// captured_at in the range it was built for.
type localTime struct {
	expr string
	args []any
}

const day = int64(24 * time.Hour)

// localTime builds the wall-clock expression for the records f can
// select: between f.Since and f.Until, or the oldest and newest record.
// It is a CASE over the zone's offset changes in that range (about two a
// year with daylight saving time, none without).
func (s *Store) localTime(ctx context.Context, f metadata.RecordFilter) (localTime, error) {
	lo, hi := f.Since, f.Until
	if lo.IsZero() || hi.IsZero() {
		var mn, mx sql.NullInt64
		if err := s.db.QueryRowContext(ctx, `SELECT MIN(captured_at), MAX(captured_at) FROM records`).Scan(&mn, &mx); err != nil {
			return localTime{}, fmt.Errorf("record time range: %w", err)
		}
		if lo.IsZero() {
			lo = fromNanos(mn.Int64)
		}
		if hi.IsZero() {
			hi = fromNanos(mx.Int64 + 1)
		}
	}
	loc := f.Shifts.Loc()
	var (
		b    strings.Builder
		args []any
	)
	t := lo.In(loc)
	for {
		_, off := t.Zone()
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(hi) {
			if len(args) == 0 {
				return localTime{expr: "(captured_at + CAST(? AS BIGINT))", args: []any{int64(off) * int64(time.Second)}}, nil
			}
			b.WriteString(" ELSE CAST(? AS BIGINT) END)")
			args = append(args, int64(off)*int64(time.Second))
			return localTime{expr: "(captured_at + CASE" + b.String(), args: args}, nil
		}
		b.WriteString(" WHEN captured_at < ? THEN CAST(? AS BIGINT)")
		args = append(args, nanos(end), int64(off)*int64(time.Second))
		t = end.In(loc)
	}
}

// timeOfDay is SQL for the wall-clock time of day in nanoseconds.
func (l localTime) timeOfDay() (string, []any) {
	return l.floorMod(day)
}

// floorMod is SQL for the wall-clock time modulo d (never negative).
func (l localTime) floorMod(d int64) (string, []any) {
	ds := strconv.FormatInt(d, 10)
	return "(((" + l.expr + " % " + ds + ") + " + ds + ") % " + ds + ")", slices.Clone(l.args)
}

// bucket is SQL for the index of the d-wide wall-clock bucket (floor division).
func (l localTime) bucket(d int64) (string, []any) {
	mod, modArgs := l.floorMod(d)
	return "((" + l.expr + " - " + mod + ") / " + strconv.FormatInt(d, 10) + ")", slices.Concat(l.args, modArgs)
}

// verdictSums counts a group's records by effective verdict.
const verdictSums = `COUNT(*), COALESCE(SUM(CASE WHEN verdict = 1 THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN verdict = 2 THEN 1 ELSE 0 END), 0)`

// RecordStats counts records by effective verdict, grouping in SQL; see
// metadata.InspectionStore. The time of day, shift and trend bucket are
// computed in SQL from the wall-clock expression (localTime), so the
// database returns one row per group, not per record.
func (s *Store) RecordStats(ctx context.Context, f metadata.StatsFilter) (metadata.Stats, error) {
	fail := func(err error) (metadata.Stats, error) { return metadata.Stats{}, fmt.Errorf("record stats: %w", err) }
	if err := f.Shifts.Validate(); err != nil {
		return fail(fmt.Errorf("%w: shifts: %v", metadata.ErrInvalidArgument, err))
	}
	width := int64(24 * time.Hour)
	switch f.Bucket {
	case metadata.BucketDay, "":
	case metadata.BucketHour:
		width = int64(time.Hour)
	default:
		return fail(fmt.Errorf("%w: bucket %q is not hour or day", metadata.ErrInvalidArgument, f.Bucket))
	}
	f.PageToken, f.Limit = "", 0
	where, args, err := s.recordWhere(ctx, f.RecordFilter)
	if err != nil {
		return fail(err)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	st := metadata.Stats{ByLine: []metadata.KeyCounts{}, ByProduct: []metadata.KeyCounts{}, Trend: []metadata.TrendPoint{}, Pareto: []metadata.DefectCount{}}
	st.ByShift = make([]metadata.KeyCounts, len(f.Shifts.Shifts))
	for i, sh := range f.Shifts.Shifts {
		st.ByShift[i].Key = sh.Name
	}
	lt, err := s.localTime(ctx, f.RecordFilter)
	if err != nil {
		return fail(err)
	}
	// Two GROUP BYs, each on a key SQLite groups cheaply: line and
	// product in the covering index's order (totals, by line, by
	// product), then the wall-clock time in steps of grain, a step that
	// divides both the trend bucket and every shift start, so each group
	// lies in one bucket and one shift, which Go adds up. (One GROUP BY
	// over all four keys sorts every row and measured several times slower.)
	rows, err := s.db.QueryContext(ctx, `SELECT line, product_code, `+verdictSums+` FROM records`+cond+` GROUP BY 1, 2`, args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	byLine, byProduct := map[string]metadata.Counts{}, map[string]metadata.Counts{}
	for rows.Next() {
		var (
			line, product string
			c             metadata.Counts
		)
		if err := rows.Scan(&line, &product, &c.Total, &c.OK, &c.NG); err != nil {
			return fail(err)
		}
		st.Counts.Add(c)
		l, p := byLine[line], byProduct[product]
		l.Add(c)
		p.Add(c)
		byLine[line], byProduct[product] = l, p
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	rows.Close()
	for _, g := range []struct {
		m   map[string]metadata.Counts
		dst *[]metadata.KeyCounts
	}{{byLine, &st.ByLine}, {byProduct, &st.ByProduct}} {
		for _, k := range slices.Sorted(maps.Keys(g.m)) {
			*g.dst = append(*g.dst, metadata.KeyCounts{Key: k, Counts: g.m[k]})
		}
	}

	grain := width
	for _, sh := range f.Shifts.Shifts {
		grain = gcd(grain, int64(sh.Start))
	}
	step, stepArgs := lt.bucket(grain)
	rows, err = s.db.QueryContext(ctx, `SELECT `+step+`, `+verdictSums+` FROM records`+cond+` GROUP BY 1`, slices.Concat(stepArgs, args)...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	byBucket := map[int64]metadata.Counts{}
	for rows.Next() {
		var (
			k int64
			c metadata.Counts
		)
		if err := rows.Scan(&k, &c.Total, &c.OK, &c.NG); err != nil {
			return fail(err)
		}
		wall := k * grain
		st.ByShift[f.Shifts.IndexOfTime(time.Duration(floorMod(wall, day)))].Add(c)
		b := byBucket[floorDiv(wall, width)]
		b.Add(c)
		byBucket[floorDiv(wall, width)] = b
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	rows.Close()
	if st.Trend, err = trend(f, width, byBucket); err != nil {
		return fail(err)
	}
	if st.NG == 0 {
		return st, nil
	}

	rows, err = s.db.QueryContext(ctx, `SELECT defect_type, COUNT(*) FROM records`+cond+andWord(cond)+`verdict = ? GROUP BY defect_type`,
		append(slices.Clone(args), int32(ifcv1.VerdictResult_VERDICT_RESULT_NG))...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var d metadata.DefectCount
		if err := rows.Scan(&d.DefectType, &d.Count); err != nil {
			return fail(err)
		}
		st.Pareto = append(st.Pareto, d)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	slices.SortFunc(st.Pareto, func(a, b metadata.DefectCount) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.DefectType, b.DefectType)
	})
	return st, nil
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func floorMod(a, b int64) int64 { return ((a % b) + b) % b }

func floorDiv(a, b int64) int64 { return (a - floorMod(a, b)) / b }

func andWord(cond string) string {
	if cond == "" {
		return " WHERE "
	}
	return " AND "
}

// trend turns bucket counts (keyed by wall-clock bucket index) into
// points from the first to the last bucket (since and until when given),
// empty buckets included; an hour that does not exist on the wall clock
// (the one skipped when daylight saving time starts) is left out.
func trend(f metadata.StatsFilter, width int64, byIdx map[int64]metadata.Counts) ([]metadata.TrendPoint, error) {
	loc := f.Shifts.Loc()
	wallBucket := func(t time.Time) int64 {
		_, off := t.In(loc).Zone()
		w := t.UnixNano() + int64(off)*int64(time.Second)
		return floorDiv(w, width)
	}
	lo, hi := int64(0), int64(-1)
	for i := range byIdx {
		if hi < lo || i < lo {
			lo = i
		}
		if i > hi {
			hi = i
		}
	}
	if !f.Since.IsZero() {
		lo = wallBucket(f.Since)
	}
	if !f.Until.IsZero() {
		hi = wallBucket(f.Until.Add(-1))
	}
	if hi < lo {
		return []metadata.TrendPoint{}, nil
	}
	if hi-lo+1 > metadata.MaxTrendPoints {
		return nil, fmt.Errorf("%w: %d trend points (at most %d); narrow since/until or use a wider bucket",
			metadata.ErrInvalidArgument, hi-lo+1, metadata.MaxTrendPoints)
	}
	out := make([]metadata.TrendPoint, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		wall := time.Unix(0, i*width).UTC()
		start := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), 0, 0, 0, loc)
		c := byIdx[i]
		if start.Hour() != wall.Hour() && c.Total == 0 {
			continue
		}
		out = append(out, metadata.TrendPoint{Start: start, Counts: c})
	}
	return out, nil
}
