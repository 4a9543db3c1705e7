package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/internal/confload"
)

func TestShiftConfig(t *testing.T) {
	cfg := DefaultConfig()
	p, err := cfg.ShiftPlan()
	if err != nil || len(p.Shifts) != 3 || p.Shifts[2].Name != "C" || p.Shifts[2].Start != 22*time.Hour || p.Location != time.Local {
		t.Fatalf("default plan %+v, %v", p, err)
	}

	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := "shifts:\n  - {name: Day, start: \"07:30\"}\n  - {name: Night, start: \"19:30\"}\nshift_timezone: Asia/Tokyo\nui_edge_url: http://box-1.local:8081\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = DefaultConfig()
	if err := confload.Load(path, "IFC_", &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Resolve()
	if err := cfg.Validate(ModeAllInOne); err != nil {
		t.Fatal(err)
	}
	p, err = cfg.ShiftPlan()
	if err != nil || len(p.Shifts) != 2 || p.Shifts[1].Start != 19*time.Hour+30*time.Minute || p.Location.String() != "Asia/Tokyo" {
		t.Fatalf("configured plan %+v, %v", p, err)
	}
	if ix := p.IndexAt(time.Date(2026, 5, 1, 23, 0, 0, 0, time.UTC)); ix != 0 { // 08:00 JST
		t.Errorf("shift at 08:00 JST = %d, want Day", ix)
	}

	for _, tc := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.ShiftTimezone = "Mars/Olympus" }, "shift_timezone"},
		{func(c *Config) { c.Shifts = []ShiftConfig{{"A", "6:00"}} }, "shifts"},
		{func(c *Config) { c.Shifts = []ShiftConfig{{"A", "24:00"}} }, "shifts"},
		{func(c *Config) { c.Shifts = []ShiftConfig{{"B", "14:00"}, {"A", "06:00"}} }, "shifts"},
		{func(c *Config) { c.Shifts = []ShiftConfig{{"A", "06:00"}, {"A", "14:00"}} }, "shifts"},
		{func(c *Config) { c.Shifts = []ShiftConfig{{"", "06:00"}} }, "shifts"},
		{func(c *Config) { c.UIEdgeURL = "box-1:8081" }, "ui_edge_url"},
		{func(c *Config) { c.UIEdgeURL = "ftp://box-1" }, "ui_edge_url"},
	} {
		c := DefaultConfig()
		c.Resolve()
		tc.mut(&c)
		if err := c.Validate(ModeAPI); err == nil || !strings.Contains(err.Error(), tc.want+":") {
			t.Errorf("want a %s error, got %v", tc.want, err)
		}
	}
}
