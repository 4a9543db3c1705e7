package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func principal(ctx context.Context) auth.Principal {
	p, _ := auth.PrincipalFrom(ctx)
	return p
}

// readBody reads at most limit bytes of r's body; more is a 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, withStatus(http.StatusRequestEntityTooLarge, err, "body larger than %d bytes", limit)
		}
		return nil, badRequest("read body: %v", err)
	}
	return b, nil
}

// decodeJSON decodes a JSON object body strictly (unknown fields rejected).
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return withStatus(http.StatusUnsupportedMediaType, nil, "content type %q: want application/json", ct)
		}
	}
	b, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed JSON: %v", err)
	}
	if dec.More() {
		return badRequest("malformed JSON: trailing data after the object")
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	fail := func(name string, err error) {
		ready = false
		checks[name] = err.Error()
	}
	// A lookup of an id that cannot exist proves the store answers.
	if _, err := s.deps.Store.GetFile(ctx, "readyz-probe"); err != nil && !errors.Is(err, metadata.ErrNotFound) {
		fail("metadata", err)
	} else {
		checks["metadata"] = "ok"
	}
	if s.subscribed.Load() {
		checks["events"] = "ok"
	} else {
		fail("events", errors.New("not subscribed to the event bus"))
	}
	for _, c := range s.deps.ReadyChecks {
		if err := c.Check(ctx); err != nil {
			fail(c.Name, err)
		} else {
			checks[c.Name] = "ok"
		}
	}
	if !ready {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "not ready", "ready": false, "checks": checks})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ready": true, "checks": checks})
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.logins.allow(r) {
		w.Header().Set("Retry-After", "60")
		writeProblem(w, problem{Type: "about:blank", Title: http.StatusText(http.StatusTooManyRequests), Status: http.StatusTooManyRequests,
			Detail: "too many login attempts from this address; wait a minute", Instance: r.URL.Path})
		return
	}
	var req loginRequest
	if err := decodeJSON(w, r, 4<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Username == "" || req.Password == "" {
		s.writeError(w, r, badRequest("username and password are required"))
		return
	}
	tok, exp, err := s.deps.Auth.LoginWithExpiry(r.Context(), req.Username, req.Password)
	if errors.Is(err, auth.ErrInvalidCredentials) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ifc"`)
		s.writeError(w, r, withStatus(http.StatusUnauthorized, err, "invalid username or password"))
		return
	}
	if errors.Is(err, auth.ErrDisabled) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ifc"`)
		s.writeError(w, r, withStatus(http.StatusUnauthorized, err, "this account is disabled; ask an administrator"))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	claims, err := s.deps.Auth.Verify(tok)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expires_at": exp.UTC(), "username": claims.Username,
		"role": claims.Role, "permissions": auth.PermissionsOf(claims.Role)})
}

func (s *Server) listParts(w http.ResponseWriter, _ *http.Request) {
	parts := s.deps.Catalog.List()
	out := make([]partJSON, 0, len(parts))
	for _, p := range parts {
		out = append(out, partToJSON(p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"parts": out})
}

// pipelineFormat picks json or yaml from a media type.
func pipelineFormat(ct string) (string, bool) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", false
	}
	switch mt {
	case "application/json":
		return "json", true
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		return "yaml", true
	}
	return "", false
}

// readDefinition parses and validates a pipeline definition body.
func (s *Server) readDefinition(w http.ResponseWriter, r *http.Request) (*ifcv1.PipelineDefinition, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/json"
	}
	format, ok := pipelineFormat(ct)
	if !ok {
		return nil, withStatus(http.StatusUnsupportedMediaType, nil, "content type %q: want application/json or application/yaml", ct)
	}
	b, err := readBody(w, r, s.cfg.MaxPipelineBytes)
	if err != nil {
		return nil, err
	}
	def, err := s.deps.Pipelines.Parse(b, format)
	if err != nil {
		if errors.Is(err, errInvalidPipeline) || errors.Is(err, errPipelineTooBig) {
			return nil, err
		}
		// Anything else from Parse is a syntax error: 400, with the
		// position as a problem item when the codec gives one.
		return nil, &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("malformed %s: %v", strings.ToUpper(format), err), err: err}
	}
	if err := s.deps.Pipelines.Validate(def); err != nil {
		return nil, err
	}
	return def, nil
}

func (s *Server) createPipeline(w http.ResponseWriter, r *http.Request) {
	def, err := s.readDefinition(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.deps.Store.CreatePipelineVersion(r.Context(), "", def, principal(r.Context()).Username)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("create pipeline: %w", err))
		return
	}
	s.log.InfoContext(r.Context(), "pipeline created", "pipeline_id", p.GetId(), "version", p.GetVersion(), "user", p.GetCreatedBy())
	w.Header().Set("Location", "/api/v1/pipelines/"+p.GetId()+"?version="+strconv.Itoa(int(p.GetVersion())))
	writeJSON(w, http.StatusCreated, pipelineToJSON(p))
}

func (s *Server) createPipelineVersion(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.deps.Store.GetPipeline(r.Context(), id, 0); err != nil {
		s.writeError(w, r, fmt.Errorf("pipeline %q: %w", id, err))
		return
	}
	def, err := s.readDefinition(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.deps.Store.CreatePipelineVersion(r.Context(), id, def, principal(r.Context()).Username)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("save pipeline %q: %w", id, err))
		return
	}
	s.log.InfoContext(r.Context(), "pipeline version saved", "pipeline_id", p.GetId(), "version", p.GetVersion(), "user", p.GetCreatedBy())
	w.Header().Set("Location", "/api/v1/pipelines/"+p.GetId()+"?version="+strconv.Itoa(int(p.GetVersion())))
	writeJSON(w, http.StatusCreated, pipelineToJSON(p))
}

func (s *Server) listPipelines(w http.ResponseWriter, r *http.Request) {
	ps, err := s.deps.Store.ListPipelines(r.Context())
	if err != nil {
		s.writeError(w, r, fmt.Errorf("list pipelines: %w", err))
		return
	}
	out := make([]pipelineJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, pipelineToJSON(p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"pipelines": out})
}

// wantsYAML reports whether the Accept header prefers YAML over JSON.
func wantsYAML(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if f, ok := pipelineFormat(mt); ok {
			return f == "yaml"
		}
	}
	return false
}

func (s *Server) getPipeline(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var version int32
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			s.writeError(w, r, badRequest("version %q: want a positive integer", v))
			return
		}
		version = int32(n)
	}
	p, err := s.deps.Store.GetPipeline(r.Context(), id, version)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("pipeline %q version %d: %w", id, version, err))
		return
	}
	if wantsYAML(r.Header.Get("Accept")) {
		b, err := s.deps.Pipelines.Export(p.GetDefinition(), "yaml")
		if err != nil {
			s.writeError(w, r, fmt.Errorf("export pipeline %q: %w", id, err))
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-v%d.yaml"`, safeName(p.GetId()), p.GetVersion()))
		_, _ = w.Write(b)
		return
	}
	writeJSON(w, http.StatusOK, pipelineToJSON(p))
}

// safeName keeps letters, digits, '-' and '_' for use in a header value.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}

func (s *Server) listPipelineVersions(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ps, err := s.deps.Store.ListPipelineVersions(r.Context(), id)
	if err == nil && len(ps) == 0 {
		err = metadata.ErrNotFound
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("pipeline %q versions: %w", id, err))
		return
	}
	out := make([]pipelineJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, pipelineToJSON(p))
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": out})
}

func (s *Server) deletePipeline(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.deps.Store.DeletePipeline(r.Context(), id); err != nil {
		s.writeError(w, r, fmt.Errorf("delete pipeline %q: %w", id, err))
		return
	}
	s.log.InfoContext(r.Context(), "pipeline deleted", "pipeline_id", id, "user", principal(r.Context()).Username)
	w.WriteHeader(http.StatusNoContent)
}
