package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/sync/device"
)

// Enrollment and fleet bounds.
const (
	defaultTokenTTL = 24 * time.Hour
	minTokenTTL     = time.Minute
	maxTokenTTL     = 30 * 24 * time.Hour
	// onlineWindow is how recent a device's last call must be for it to count as online.
	onlineWindow = 2 * time.Minute
)

type enrollmentTokenRequest struct {
	Line       string `json:"line"`
	TTLSeconds *int64 `json:"ttl_seconds"`
}

type enrollmentTokenJSON struct {
	Token     string    `json:"token"`
	Line      string    `json:"line"`
	ExpiresAt time.Time `json:"expires_at"`
}

// enrollmentTokenInfoJSON describes an issued token; it never carries the
// token text (the store does not have it).
type enrollmentTokenInfoJSON struct {
	TokenID   string     `json:"token_id"`
	Line      string     `json:"line"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	DeviceID  string     `json:"device_id,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	State     string     `json:"state"`
}

// tokenToJSON shows t as of now: revoked, used, expired or active.
func tokenToJSON(t metadata.EnrollmentToken, now time.Time) enrollmentTokenInfoJSON {
	state := "active"
	switch {
	case !t.RevokedAt.IsZero():
		state = "revoked"
	case !t.UsedAt.IsZero():
		state = "used"
	case !now.Before(t.ExpiresAt):
		state = "expired"
	}
	return enrollmentTokenInfoJSON{
		TokenID: t.ID(), Line: t.Line, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		UsedAt: timePtr(t.UsedAt), DeviceID: t.DeviceID, RevokedAt: timePtr(t.RevokedAt), State: state,
	}
}

type deviceJSON struct {
	DeviceID     string     `json:"device_id"`
	Name         string     `json:"name"`
	Line         string     `json:"line"`
	EnrolledAt   *time.Time `json:"enrolled_at,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	LastSeen     *time.Time `json:"last_seen,omitempty"`
	Online       bool       `json:"online"`
	Queued       int64      `json:"queued"`
	QueuedBytes  int64      `json:"queued_bytes"`
	OldestQueued *time.Time `json:"oldest_queued,omitempty"`
	AgentVersion string     `json:"agent_version,omitempty"`
	ModelVersion string     `json:"model_version,omitempty"`
}

// deviceToJSON shows d as of now: online means not revoked and heard from
// within onlineWindow.
func deviceToJSON(d metadata.Device, now time.Time) deviceJSON {
	return deviceJSON{
		DeviceID: d.DeviceID, Name: d.Name, Line: d.Line,
		EnrolledAt: timePtr(d.EnrolledAt), RevokedAt: timePtr(d.RevokedAt), LastSeen: timePtr(d.LastSeen),
		Online: !d.Revoked() && !d.LastSeen.IsZero() && now.Sub(d.LastSeen) <= onlineWindow,
		Queued: d.Queued, QueuedBytes: d.QueuedBytes, OldestQueued: timePtr(d.OldestQueued),
		AgentVersion: d.AgentVersion, ModelVersion: d.ModelVersion,
	}
}

func (s *Server) createEnrollmentToken(w http.ResponseWriter, r *http.Request) {
	var req enrollmentTokenRequest
	if err := decodeJSON(w, r, 4<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ttl := defaultTokenTTL
	var probs []problemItem
	if !validID(req.Line) {
		probs = append(probs, problemItem{Field: "line", Message: "required, at most 128 printable characters without spaces or slashes"})
	}
	if req.TTLSeconds != nil {
		ttl = time.Duration(*req.TTLSeconds) * time.Second
		if *req.TTLSeconds < int64(minTokenTTL/time.Second) || *req.TTLSeconds > int64(maxTokenTTL/time.Second) {
			probs = append(probs, problemItem{Field: "ttl_seconds", Message: fmt.Sprintf("want %d..%d (1 minute to 30 days)", int64(minTokenTTL/time.Second), int64(maxTokenTTL/time.Second))})
		}
	}
	if len(probs) > 0 {
		s.writeError(w, r, &requestProblems{items: probs})
		return
	}
	token, hash, err := device.NewToken()
	if err != nil {
		s.writeError(w, r, fmt.Errorf("new enrollment token: %w", err))
		return
	}
	now := s.now().UTC()
	user := principal(r.Context()).Username
	t := metadata.EnrollmentToken{TokenHash: hash, Line: req.Line, CreatedBy: user, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.deps.Store.CreateEnrollmentToken(r.Context(), t); err != nil {
		s.writeError(w, r, fmt.Errorf("store enrollment token: %w", err))
		return
	}
	s.log.InfoContext(r.Context(), "enrollment token created", "line", t.Line, "expires_at", t.ExpiresAt, "user", user)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, enrollmentTokenJSON{Token: token, Line: t.Line, ExpiresAt: t.ExpiresAt})
}

func (s *Server) listEnrollmentTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.deps.Store.ListEnrollmentTokens(r.Context())
	if err != nil {
		s.writeError(w, r, fmt.Errorf("list enrollment tokens: %w", err))
		return
	}
	now := s.now()
	out := make([]enrollmentTokenInfoJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenToJSON(t, now))
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (s *Server) revokeEnrollmentToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("token_id")
	t, err := s.deps.Store.RevokeEnrollmentToken(r.Context(), id, s.now().UTC())
	switch {
	case errors.Is(err, metadata.ErrNotFound):
		s.writeError(w, r, withStatus(http.StatusNotFound, metadata.ErrNotFound, "enrollment token not found"))
		return
	case errors.Is(err, metadata.ErrTokenUsed):
		s.writeError(w, r, withStatus(http.StatusConflict, metadata.ErrConflict, "enrollment token %q was already used; revoke the device it enrolled instead", id))
		return
	case err != nil:
		s.writeError(w, r, fmt.Errorf("revoke enrollment token %q: %w", id, err))
		return
	}
	s.log.InfoContext(r.Context(), "enrollment token revoked", "token_id", t.ID(), "line", t.Line, "user", principal(r.Context()).Username)
	writeJSON(w, http.StatusOK, tokenToJSON(t, s.now()))
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	ds, err := s.deps.Store.ListDevices(r.Context())
	if err != nil {
		s.writeError(w, r, fmt.Errorf("list devices: %w", err))
		return
	}
	now := s.now()
	out := make([]deviceJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, deviceToJSON(d, now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

// pathDeviceID returns the {device_id} path value, or writes 404 when it
// cannot be a device id.
func (s *Server) pathDeviceID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("device_id")
	if device.ValidID(id) != nil {
		s.writeError(w, r, withStatus(http.StatusNotFound, metadata.ErrNotFound, "device %q not found", id))
		return "", false
	}
	return id, true
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathDeviceID(w, r)
	if !ok {
		return
	}
	d, err := s.deps.Store.GetDevice(r.Context(), id)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("device %q: %w", id, err))
		return
	}
	writeJSON(w, http.StatusOK, deviceToJSON(d, s.now()))
}

func (s *Server) revokeDevice(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathDeviceID(w, r)
	if !ok {
		return
	}
	if err := s.deps.Store.RevokeDevice(r.Context(), id, s.now().UTC()); err != nil {
		s.writeError(w, r, fmt.Errorf("revoke device %q: %w", id, err))
		return
	}
	d, err := s.deps.Store.GetDevice(r.Context(), id)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("device %q: %w", id, err))
		return
	}
	s.log.InfoContext(r.Context(), "device revoked", "device_id", id, "line", d.Line, "user", principal(r.Context()).Username)
	writeJSON(w, http.StatusOK, deviceToJSON(d, s.now()))
}
