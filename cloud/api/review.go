package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
)

// downloadTTL is how long a download_url works.
const downloadTTL = 15 * time.Minute

// maxAcknowledge bounds the ids of one acknowledge request.
const maxAcknowledge = 500

// downloadURL returns a URL that serves a file without an Authorization
// header for downloadTTL: presigned by the object store when it can
// (sha256 is the file's; "" looks it up), else signed by the API with
// the token key. "" when none can be made (logged).
func (s *Server) downloadURL(ctx context.Context, fileID, sha256 string) string {
	if fileID == "" {
		return ""
	}
	if s.deps.PresignFile != nil {
		f := metadata.File{FileID: fileID, SHA256: sha256}
		if sha256 == "" {
			var err error
			if f, err = s.deps.Store.GetFile(ctx, fileID); err != nil {
				s.log.WarnContext(ctx, "no download URL: file lookup failed", "file_id", fileID, "err", err)
				return ""
			}
		}
		u, err := s.deps.PresignFile(ctx, f, downloadTTL)
		if err != nil {
			s.log.WarnContext(ctx, "no download URL: presign failed", "file_id", fileID, "err", err)
			return ""
		}
		return u
	}
	p := "/api/v1/files/" + url.PathEscape(fileID) + "/content"
	exp, sig := s.deps.Auth.Tokens().SignURL(p, downloadTTL)
	return p + "?" + url.Values{"exp": {exp}, "sig": {sig}}.Encode()
}

// withDownloads sets download_url on every node output with a file.
func (s *Server) withDownloads(ctx context.Context, e executionJSON) executionJSON {
	for i := range e.Nodes {
		if o := e.Nodes[i].Outputs; o != nil && o.FileID != "" {
			o.DownloadURL = s.downloadURL(ctx, o.FileID, "")
		}
	}
	return e
}

// allowSigned lets a request carrying exp and sig through to h when they
// sign its path (see auth.Tokens.SignURL); a bad or expired signature is
// 403. Requests without them go to authed (the bearer token route).
func (s *Server) allowSigned(h, authed http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !q.Has("sig") && !q.Has("exp") {
			authed.ServeHTTP(w, r)
			return
		}
		if err := s.deps.Auth.Tokens().VerifyURL(r.URL.EscapedPath(), q.Get("exp"), q.Get("sig")); err != nil {
			detail := "the download URL's signature is invalid; fetch a fresh download_url"
			if errors.Is(err, auth.ErrURLExpired) {
				detail = "the download URL has expired; fetch a fresh download_url"
			}
			writeProblem(w, problem{Type: "about:blank", Title: http.StatusText(http.StatusForbidden), Status: http.StatusForbidden, Detail: detail, Instance: r.URL.Path})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// uiOrNotFound serves the UI for GET paths no route matched, except the
// servers' own prefixes, which keep their problem 404.
func (s *Server) uiOrNotFound(ui http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		for _, prefix := range []string{"/api", "/healthz", "/readyz", "/metrics", "/whep"} {
			if p == prefix || strings.HasPrefix(p, prefix+"/") {
				s.notFound(w, r)
				return
			}
		}
		ui.ServeHTTP(w, r)
	})
}

type countsJSON struct {
	Total int64   `json:"total"`
	OK    int64   `json:"ok"`
	NG    int64   `json:"ng"`
	Yield float64 `json:"yield"`
}

type keyCountsJSON struct {
	Key string `json:"key"`
	countsJSON
}

type trendJSON struct {
	Start time.Time `json:"start"`
	countsJSON
}

type defectCountJSON struct {
	DefectType string `json:"defect_type"`
	Count      int64  `json:"count"`
}

type statsJSON struct {
	countsJSON
	ByLine    []keyCountsJSON   `json:"by_line"`
	ByProduct []keyCountsJSON   `json:"by_product"`
	ByShift   []keyCountsJSON   `json:"by_shift"`
	Trend     []trendJSON       `json:"trend"`
	Pareto    []defectCountJSON `json:"pareto"`
}

func countsToJSON(c metadata.Counts) countsJSON {
	return countsJSON{Total: c.Total, OK: c.OK, NG: c.NG, Yield: c.Yield()}
}

func keyCountsToJSON(in []metadata.KeyCounts) []keyCountsJSON {
	out := make([]keyCountsJSON, 0, len(in))
	for _, k := range in {
		out = append(out, keyCountsJSON{Key: k.Key, countsJSON: countsToJSON(k.Counts)})
	}
	return out
}

func statsToJSON(st metadata.Stats) statsJSON {
	j := statsJSON{countsJSON: countsToJSON(st.Counts), ByLine: keyCountsToJSON(st.ByLine), ByProduct: keyCountsToJSON(st.ByProduct),
		ByShift: keyCountsToJSON(st.ByShift), Trend: make([]trendJSON, 0, len(st.Trend)), Pareto: make([]defectCountJSON, 0, len(st.Pareto))}
	for _, p := range st.Trend {
		j.Trend = append(j.Trend, trendJSON{Start: p.Start, countsJSON: countsToJSON(p.Counts)})
	}
	for _, d := range st.Pareto {
		j.Pareto = append(j.Pareto, defectCountJSON{DefectType: d.DefectType, Count: d.Count})
	}
	return j
}

func (s *Server) recordStats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var probs []problemItem
	for _, name := range []string{"verdict", "defect_type", "shift", "acknowledged", "limit", "page_token"} {
		if q.Has(name) {
			probs = append(probs, problemItem{Field: name, Message: "not a statistics filter"})
		}
	}
	f, err := s.recordFilter(r)
	var rp *requestProblems
	if errors.As(err, &rp) {
		probs = append(probs, rp.items...)
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	sf := metadata.StatsFilter{RecordFilter: f, Bucket: metadata.BucketDay}
	switch v := q.Get("bucket"); v {
	case "", "day":
	case "hour":
		sf.Bucket = metadata.BucketHour
	default:
		probs = append(probs, problemItem{Field: "bucket", Message: "want hour or day"})
	}
	if len(probs) > 0 {
		s.writeError(w, r, &requestProblems{items: probs})
		return
	}
	st, err := s.deps.Store.RecordStats(r.Context(), sf)
	if errors.Is(err, metadata.ErrInvalidArgument) {
		// The range is the only thing left for the store to refuse.
		err = &requestProblems{items: []problemItem{{Field: "bucket", Message: fmt.Sprintf(
			"more than %d trend points: narrow since/until or use bucket=day", metadata.MaxTrendPoints)}}}
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("record stats: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, statsToJSON(st))
}

type acknowledgeRequest struct {
	RecordIDs []string `json:"record_ids"`
}

func (s *Server) acknowledgeRecords(w http.ResponseWriter, r *http.Request) {
	var req acknowledgeRequest
	if err := decodeJSON(w, r, 64<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	var probs []problemItem
	switch n := len(req.RecordIDs); {
	case n == 0 || n > maxAcknowledge:
		probs = append(probs, problemItem{Field: "record_ids", Message: fmt.Sprintf("want 1..%d record ids, got %d", maxAcknowledge, n)})
	default:
		for i, id := range req.RecordIDs {
			if !validID(id) {
				probs = append(probs, problemItem{Field: fmt.Sprintf("record_ids[%d]", i), Message: "not a record id"})
			}
		}
	}
	if len(probs) > 0 {
		s.writeError(w, r, &requestProblems{items: probs})
		return
	}
	user := principal(r.Context()).Username
	n, err := s.deps.Store.AcknowledgeRecords(r.Context(), req.RecordIDs, user, s.now())
	var unknown *metadata.UnknownRecordsError
	if errors.As(err, &unknown) {
		for _, id := range unknown.IDs {
			probs = append(probs, problemItem{Field: "record_ids", Message: fmt.Sprintf("record %q not found", id)})
		}
		err = &requestProblems{items: probs}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "records acknowledged", "count", len(req.RecordIDs), "newly", n, "user", user)
	writeJSON(w, http.StatusOK, map[string]int{"acknowledged": n})
}
