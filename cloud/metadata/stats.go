package metadata

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Shift is one shift of the factory day: it starts at Start (wall-clock
// time since local midnight) and runs until the next shift starts.
type Shift struct {
	Name  string
	Start time.Duration
}

// ShiftPlan is the factory's shift pattern in one time zone. Shifts are
// sorted by Start; the last runs past midnight into the first (with the
// defaults, C runs 22:00-06:00). Times are wall-clock times, so a day
// with a DST change has one shift an hour longer or shorter.
type ShiftPlan struct {
	Shifts   []Shift
	Location *time.Location // nil: time.Local
}

// DefaultShifts are three eight-hour shifts: A 06:00, B 14:00, C 22:00.
func DefaultShifts() []Shift {
	return []Shift{{"A", 6 * time.Hour}, {"B", 14 * time.Hour}, {"C", 22 * time.Hour}}
}

// Validate reports a plan with no shift, a duplicate or empty name, a
// start outside 00:00..23:59 or starts not strictly increasing.
func (p ShiftPlan) Validate() error {
	if len(p.Shifts) == 0 {
		return errors.New("at least one shift is needed")
	}
	seen := map[string]bool{}
	for i, s := range p.Shifts {
		switch {
		case s.Name == "" || len(s.Name) > 64:
			return fmt.Errorf("shift %d: name must be 1..64 bytes", i+1)
		case seen[s.Name]:
			return fmt.Errorf("shift %q named twice", s.Name)
		case s.Start < 0 || s.Start >= 24*time.Hour || s.Start%time.Minute != 0:
			return fmt.Errorf("shift %q: start must be a whole minute in 00:00..23:59", s.Name)
		case i > 0 && s.Start <= p.Shifts[i-1].Start:
			return fmt.Errorf("shift %q: starts must increase (sort the shifts by start)", s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}

// Loc returns the plan's time zone.
func (p ShiftPlan) Loc() *time.Location {
	if p.Location == nil {
		return time.Local
	}
	return p.Location
}

// Index returns the position of the named shift, or -1.
func (p ShiftPlan) Index(name string) int {
	return slices.IndexFunc(p.Shifts, func(s Shift) bool { return s.Name == name })
}

// IndexAt returns the position of the shift t falls in (-1 for an empty plan).
func (p ShiftPlan) IndexAt(t time.Time) int {
	t = t.In(p.Loc())
	tod := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
		time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
	return p.IndexOfTime(tod)
}

// IndexOfTime returns the position of the shift a wall-clock time of day
// (since midnight) falls in (-1 for an empty plan).
func (p ShiftPlan) IndexOfTime(tod time.Duration) int {
	if len(p.Shifts) == 0 {
		return -1
	}
	i := len(p.Shifts) - 1 // before the first start: the last shift, from yesterday
	for j, s := range p.Shifts {
		if tod >= s.Start {
			i = j
		}
	}
	return i
}

// Bucket is the width of a statistics trend point.
type Bucket string

// Trend bucket widths, in the plan's time zone.
const (
	BucketHour Bucket = "hour"
	BucketDay  Bucket = "day"
)

// MaxTrendPoints bounds a statistics trend; a wider range is ErrInvalidArgument.
const MaxTrendPoints = 10000

// StatsFilter selects the records counted by RecordStats: the record
// filters (Limit and PageToken ignored), the trend bucket and the shift plan.
type StatsFilter struct {
	RecordFilter
	Bucket Bucket // default day
}

// Counts are records by effective verdict.
type Counts struct {
	Total, OK, NG int64
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Total += o.Total
	c.OK += o.OK
	c.NG += o.NG
}

// Yield is OK/Total, 0 when there is no record.
func (c Counts) Yield() float64 {
	if c.Total == 0 {
		return 0
	}
	return float64(c.OK) / float64(c.Total)
}

// KeyCounts are the counts of one line, product or shift.
type KeyCounts struct {
	Key string
	Counts
}

// TrendPoint are the counts of one bucket starting at Start (in the plan's zone).
type TrendPoint struct {
	Start time.Time
	Counts
}

// DefectCount is the number of NG records of one effective defect type.
type DefectCount struct {
	DefectType string
	Count      int64
}

// Stats summarise the records a StatsFilter selects, by effective verdict.
type Stats struct {
	Counts
	ByLine    []KeyCounts // by key
	ByProduct []KeyCounts // by key
	ByShift   []KeyCounts // every shift of the plan, in plan order
	// Trend has one point per bucket from the first to the last (since
	// and until when given), empty buckets included, oldest first.
	Trend  []TrendPoint
	Pareto []DefectCount // count descending, then defect type
}
