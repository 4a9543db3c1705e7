package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Bounds on identifiers and lists taken from clients.
const (
	maxIDLen     = 128
	maxInputs    = 64
	maxCorrIDLen = 256
)

// validID reports whether s is a plausible identifier: 1..maxIDLen printable
// characters without spaces or slashes.
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for _, r := range s {
		if r == '/' || r == '\\' || !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// cleanFilename keeps the base name, printable and at most 255 bytes.
func cleanFilename(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" {
		name = ""
	}
	if len(name) > 255 {
		name = name[:255]
	}
	return name
}

func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "multipart/form-data" {
		s.writeError(w, r, withStatus(http.StatusUnsupportedMediaType, nil, "content type %q: want multipart/form-data with a \"file\" field", ct))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes+64<<10) // room for multipart framing
	mr, err := r.MultipartReader()
	if err != nil {
		s.writeError(w, r, badRequest("multipart: %v", err))
		return
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			s.writeError(w, r, badRequest("multipart: no \"file\" field"))
			return
		}
		if err != nil {
			s.writeError(w, r, uploadError(err))
			return
		}
		if part.FormName() != "file" {
			_, _ = io.Copy(io.Discard, part)
			_ = part.Close()
			continue
		}
		f, err := s.deps.Files.Ingest(r.Context(), part, IngestOptions{
			Filename:  cleanFilename(part.FileName()),
			CreatedBy: principal(r.Context()).Username,
			MaxBytes:  s.cfg.MaxUploadBytes,
		})
		_ = part.Close()
		if err != nil {
			s.writeError(w, r, uploadError(fmt.Errorf("ingest upload: %w", err)))
			return
		}
		s.log.InfoContext(r.Context(), "file uploaded", "file_id", f.FileID, "size", f.Size, "content_type", f.ContentType)
		w.Header().Set("Location", "/api/v1/files/"+f.FileID)
		j := fileToJSON(f)
		j.DownloadURL = s.downloadURL(r.Context(), f.FileID, f.SHA256)
		writeJSON(w, http.StatusCreated, j)
		return
	}
}

// uploadError maps a body-limit error to 413; others pass through.
func uploadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return withStatus(http.StatusRequestEntityTooLarge, err, "upload larger than %d bytes", mbe.Limit)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return withStatus(http.StatusBadRequest, err, "multipart body ended early")
	}
	return err
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("file_id")
	if !validID(id) {
		s.writeError(w, r, withStatus(http.StatusNotFound, metadata.ErrNotFound, "file %q not found", id))
		return
	}
	f, err := s.deps.Store.GetFile(r.Context(), id)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("file %q: %w", id, err))
		return
	}
	j := fileToJSON(f)
	j.DownloadURL = s.downloadURL(r.Context(), f.FileID, f.SHA256)
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) getFileContent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("file_id")
	if !validID(id) {
		s.writeError(w, r, withStatus(http.StatusNotFound, metadata.ErrNotFound, "file %q not found", id))
		return
	}
	rc, f, err := s.deps.Files.Open(r.Context(), id)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("open file %q: %w", id, err))
		return
	}
	defer rc.Close()
	etag := `"` + f.SHA256 + `"`
	if f.SHA256 != "" && r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	if f.Size > 0 {
		h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	}
	if f.SHA256 != "" {
		h.Set("ETag", etag)
	}
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	if _, err := io.Copy(w, rc); err != nil {
		s.log.WarnContext(r.Context(), "file download interrupted", "file_id", id, "err", err)
	}
}

type executionRequest struct {
	PipelineID    string   `json:"pipeline_id"`
	Version       int32    `json:"version"`
	Inputs        []string `json:"inputs"`
	CorrelationID string   `json:"correlation_id"`
}

func (req executionRequest) check() error {
	var probs []problemItem
	if !validID(req.PipelineID) {
		probs = append(probs, problemItem{Field: "pipeline_id", Message: "required, at most 128 printable characters"})
	}
	if req.Version < 0 {
		probs = append(probs, problemItem{Field: "version", Message: "must be >= 0 (0 = latest)"})
	}
	if len(req.Inputs) == 0 || len(req.Inputs) > maxInputs {
		probs = append(probs, problemItem{Field: "inputs", Message: fmt.Sprintf("need 1..%d file ids", maxInputs)})
	}
	for i, in := range req.Inputs {
		if !validID(in) {
			probs = append(probs, problemItem{Field: fmt.Sprintf("inputs[%d]", i), Message: "not a valid file id"})
		}
	}
	if len(req.CorrelationID) > maxCorrIDLen {
		probs = append(probs, problemItem{Field: "correlation_id", Message: "at most 256 bytes"})
	}
	if len(probs) > 0 {
		return &requestProblems{items: probs}
	}
	return nil
}

// requestProblems lists what is wrong with a request body (422).
type requestProblems struct{ items []problemItem }

func (e *requestProblems) Error() string {
	msgs := make([]string, len(e.items))
	for i, p := range e.items {
		msgs[i] = p.Field + ": " + p.Message
	}
	return "invalid request: " + strings.Join(msgs, "; ")
}

// clientID names the submitting client for admission fairness: the
// X-Client-ID header when it is a valid id, else the user.
func clientID(r *http.Request, user string) string {
	if c := r.Header.Get("X-Client-ID"); validID(c) {
		return c
	}
	return user
}

func (s *Server) createExecution(w http.ResponseWriter, r *http.Request) {
	wait := false
	if v := r.URL.Query().Get("wait"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.writeError(w, r, badRequest("wait %q: want true or false", v))
			return
		}
		wait = b
	}
	var req executionRequest
	if err := decodeJSON(w, r, 64<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := req.check(); err != nil {
		s.writeError(w, r, err)
		return
	}
	user := principal(r.Context()).Username
	ex, err := s.deps.Conductor.Submit(r.Context(), SubmitRequest{
		PipelineID: req.PipelineID, Version: req.Version, Inputs: req.Inputs,
		CorrelationID: req.CorrelationID, ClientID: clientID(r, user), CreatedBy: user,
	})
	if err != nil {
		s.writeError(w, r, fmt.Errorf("submit execution of %q: %w", req.PipelineID, err))
		return
	}
	s.log.InfoContext(r.Context(), "execution submitted", "execution_id", ex.GetExecutionId(), "pipeline_id", ex.GetPipelineId(), "version", ex.GetPipelineVersion(), "user", user)
	w.Header().Set("Location", "/api/v1/executions/"+ex.GetExecutionId())
	if !wait {
		writeJSON(w, http.StatusAccepted, s.withDownloads(r.Context(), executionToJSON(ex)))
		return
	}
	done, finished, err := s.waitBounded(r.Context(), ex.GetExecutionId())
	if err != nil {
		s.writeError(w, r, fmt.Errorf("wait for execution %s: %w", ex.GetExecutionId(), err))
		return
	}
	if !finished {
		writeJSON(w, http.StatusAccepted, s.withDownloads(r.Context(), executionToJSON(done)))
		return
	}
	writeJSON(w, http.StatusOK, s.withDownloads(r.Context(), executionToJSON(done)))
}

// waitBounded waits for an execution to end, at most the configured wait
// timeout. When the timeout passes first it returns the current state and
// finished=false.
func (s *Server) waitBounded(ctx context.Context, id string) (*ifcv1.Execution, bool, error) {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.WaitTimeout)
	defer cancel()
	ex, err := s.deps.Conductor.Wait(wctx, id)
	if err == nil {
		return ex, true, nil
	}
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		cur, gerr := s.deps.Store.GetExecution(ctx, id)
		if gerr != nil {
			return nil, false, gerr
		}
		return cur, isTerminal(cur.GetStatus()), nil
	}
	return nil, false, err
}

func isTerminal(st ifcv1.ExecutionStatus) bool {
	switch st {
	case ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED, ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED, ifcv1.ExecutionStatus_EXECUTION_STATUS_CANCELLED:
		return true
	}
	return false
}

func (s *Server) getExecution(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		s.writeError(w, r, withStatus(http.StatusNotFound, metadata.ErrNotFound, "execution %q not found", id))
		return
	}
	ex, err := s.deps.Store.GetExecution(r.Context(), id)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("execution %q: %w", id, err))
		return
	}
	writeJSON(w, http.StatusOK, s.withDownloads(r.Context(), executionToJSON(ex)))
}

func (s *Server) listExecutions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f metadata.ExecutionFilter
	var probs []problemItem
	if v := q.Get("pipeline_id"); v != "" {
		if !validID(v) {
			probs = append(probs, problemItem{Field: "pipeline_id", Message: "not a valid id"})
		}
		f.PipelineID = v
	}
	if v := q.Get("status"); v != "" {
		st, ok := parseStatus(v)
		if !ok {
			probs = append(probs, problemItem{Field: "status", Message: "want one of " + strings.Join(executionStatuses, ", ")})
		}
		f.Status = st
	}
	pq, more := parsePageQuery(q)
	probs = append(probs, more...)
	f.Since, f.Until, f.Limit, f.PageToken = pq.Since, pq.Until, pq.Limit, pq.PageToken
	if len(probs) > 0 {
		s.writeError(w, r, &requestProblems{items: probs})
		return
	}
	exs, next, err := s.deps.Store.ListExecutions(r.Context(), f)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("list executions: %w", err))
		return
	}
	out := make([]executionJSON, 0, len(exs))
	for _, e := range exs {
		out = append(out, executionToJSON(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"executions": out, "next_page_token": next})
}

func (s *Server) cancelExecution(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		s.writeError(w, r, withStatus(http.StatusNotFound, metadata.ErrNotFound, "execution %q not found", id))
		return
	}
	if err := s.deps.Conductor.Cancel(r.Context(), id); err != nil {
		s.writeError(w, r, fmt.Errorf("cancel execution %q: %w", id, err))
		return
	}
	s.log.InfoContext(r.Context(), "execution cancel requested", "execution_id", id, "user", principal(r.Context()).Username)
	ex, err := s.deps.Store.GetExecution(r.Context(), id)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("execution %q: %w", id, err))
		return
	}
	writeJSON(w, http.StatusOK, s.withDownloads(r.Context(), executionToJSON(ex)))
}
