package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/objectstore"
	"github.com/imageflowcanvas/ifc/ui"
)

// ShiftConfig is one shift in the configuration: its name and the
// wall-clock time it starts ("HH:MM"), in shift_timezone.
type ShiftConfig struct {
	Name  string `yaml:"name"`
	Start string `yaml:"start"`
}

// defaultShifts are A 06:00, B 14:00, C 22:00 (metadata.DefaultShifts).
func defaultShifts() []ShiftConfig {
	var out []ShiftConfig
	for _, s := range metadata.DefaultShifts() {
		out = append(out, ShiftConfig{Name: s.Name, Start: fmt.Sprintf("%02d:%02d", int(s.Start.Hours()), int(s.Start.Minutes())%60)})
	}
	return out
}

// ShiftPlan returns the configured shifts in their time zone
// (shift_timezone; empty: the server's local zone).
func (c *Config) ShiftPlan() (metadata.ShiftPlan, error) {
	p := metadata.ShiftPlan{Location: time.Local}
	if c.ShiftTimezone != "" {
		loc, err := time.LoadLocation(c.ShiftTimezone)
		if err != nil {
			return p, fmt.Errorf("shift_timezone: %w", err)
		}
		p.Location = loc
	}
	shifts := c.Shifts
	if len(shifts) == 0 {
		shifts = defaultShifts()
	}
	for _, s := range shifts {
		t, err := time.Parse("15:04", s.Start)
		if err != nil || len(s.Start) != 5 {
			return p, fmt.Errorf("shifts: shift %q: start %q is not HH:MM (00:00..23:59)", s.Name, s.Start)
		}
		p.Shifts = append(p.Shifts, metadata.Shift{Name: s.Name, Start: time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute})
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("shifts: %w", err)
	}
	return p, nil
}

// validateUI checks ui_edge_url, shifts and shift_timezone.
func (c *Config) validateUI() []error {
	var errs []error
	if c.UIEdgeURL != "" {
		u, err := url.Parse(c.UIEdgeURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("ui_edge_url: %q is not an http(s) URL", c.UIEdgeURL))
		}
	}
	if _, err := c.ShiftPlan(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// uiSwitch serves the web UI; the all-in-one sets the edge agent's URL
// once the agent listens (SetUIEdgeURL).
type uiSwitch struct {
	h atomic.Pointer[http.Handler]
}

func newUISwitch(edgeURL string) *uiSwitch {
	u := &uiSwitch{}
	u.set(edgeURL)
	return u
}

func (u *uiSwitch) set(edgeURL string) {
	h := ui.Handler(ui.Config{Mode: "cloud", EdgeURL: edgeURL})
	u.h.Store(&h)
}

func (u *uiSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*u.h.Load()).ServeHTTP(w, r) }

// SetUIEdgeURL tells the web UI where the local edge agent's UI is, when
// ui_edge_url is not configured (the all-in-one calls it with its edge
// agent's address). Safe while serving.
func (s *Server) SetUIEdgeURL(u string) {
	if s.ui != nil && s.cfg.UIEdgeURL == "" {
		s.ui.set(u)
	}
}

// presigner is the object store's Presign, when it has one (s3://), as
// the API's PresignFile; nil otherwise (the API signs download URLs).
func presigner(objects objectstore.Store) func(ctx context.Context, f metadata.File, ttl time.Duration) (string, error) {
	p, ok := objects.(interface {
		Presign(ctx context.Context, key string, ttl time.Duration) (string, error)
	})
	if !ok {
		return nil
	}
	return func(ctx context.Context, f metadata.File, ttl time.Duration) (string, error) {
		if f.SHA256 == "" {
			return "", errors.New("presign: file has no sha256")
		}
		return p.Presign(ctx, files.ObjectKey(f.SHA256), ttl)
	}
}
