package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Bounds on override text.
const (
	maxReasonLen = 1000
	maxNoteLen   = 2000
)

var verdictWords = []string{"ok", "ng"}

type imageJSON struct {
	SHA256      string `json:"sha256"`
	FileID      string `json:"file_id,omitempty"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	Width       int32  `json:"width"`
	Height      int32  `json:"height"`
	URL         string `json:"url,omitempty"`
	DownloadURL string `json:"download_url,omitempty"`
}

type prefilterJSON struct {
	Score        float32 `json:"score"`
	Label        string  `json:"label"`
	ModelName    string  `json:"model_name"`
	ModelVersion string  `json:"model_version"`
	Threshold    float32 `json:"threshold"`
}

type verdictJSON struct {
	Result     string     `json:"result"`
	DefectType string     `json:"defect_type,omitempty"`
	Note       string     `json:"note,omitempty"`
	DecidedAt  *time.Time `json:"decided_at,omitempty"`
}

type overrideJSON struct {
	OverrideID string       `json:"override_id"`
	Actor      string       `json:"actor"`
	Reason     string       `json:"reason"`
	Verdict    *verdictJSON `json:"verdict"`
	At         *time.Time   `json:"at,omitempty"`
	Origin     string       `json:"origin"`
	DeviceID   string       `json:"device_id,omitempty"`
}

type recordCloudJSON struct {
	PipelineState string         `json:"pipeline_state"`
	ExecutionID   string         `json:"execution_id,omitempty"`
	Error         string         `json:"error,omitempty"`
	Execution     *executionJSON `json:"execution,omitempty"`
}

type recordJSON struct {
	RecordID         string          `json:"record_id"`
	DeviceID         string          `json:"device_id"`
	Line             string          `json:"line"`
	ProductCode      string          `json:"product_code"`
	Lot              string          `json:"lot,omitempty"`
	Serial           string          `json:"serial,omitempty"`
	Inspector        string          `json:"inspector,omitempty"`
	CapturedAt       *time.Time      `json:"captured_at,omitempty"`
	CommittedAt      *time.Time      `json:"committed_at,omitempty"`
	Images           []imageJSON     `json:"images"`
	Prefilter        *prefilterJSON  `json:"prefilter,omitempty"`
	Verdict          *verdictJSON    `json:"verdict"`
	EffectiveVerdict *verdictJSON    `json:"effective_verdict"`
	Overrides        []overrideJSON  `json:"overrides"`
	Cloud            recordCloudJSON `json:"cloud"`
	MasterVersion    int64           `json:"master_version"`
	ModelVersion     string          `json:"model_version,omitempty"`
	AcknowledgedAt   *time.Time      `json:"acknowledged_at,omitempty"`
	AcknowledgedBy   string          `json:"acknowledged_by,omitempty"`
}

func verdictWord(v ifcv1.VerdictResult) string { return enumWord(v.String(), "VERDICT_RESULT_") }

func originWord(o ifcv1.VerdictOrigin) string { return enumWord(o.String(), "VERDICT_ORIGIN_") }

// parseVerdict is the inverse of verdictWord.
func parseVerdict(w string) (ifcv1.VerdictResult, bool) {
	v, ok := ifcv1.VerdictResult_value["VERDICT_RESULT_"+strings.ToUpper(w)]
	if !ok || v == 0 || strings.ToLower(w) != w {
		return 0, false
	}
	return ifcv1.VerdictResult(v), true
}

func verdictToJSON(v *ifcv1.Verdict) *verdictJSON {
	if v == nil {
		return nil
	}
	return &verdictJSON{Result: verdictWord(v.GetResult()), DefectType: v.GetDefectType(), Note: v.GetNote(), DecidedAt: tsPtr(v.GetDecidedAt())}
}

// recordToJSON shows rec; ex is its cloud execution when known.
func recordToJSON(rec metadata.Record, ex *ifcv1.Execution) recordJSON {
	r := rec.Record
	j := recordJSON{
		RecordID: r.GetRecordId(), DeviceID: r.GetDeviceId(), Line: r.GetLine(), ProductCode: r.GetProductCode(),
		Lot: r.GetLot(), Serial: r.GetSerial(), Inspector: r.GetInspector(),
		CapturedAt: tsPtr(r.GetCapturedAt()), CommittedAt: timePtr(rec.CommittedAt),
		Images: make([]imageJSON, 0, len(r.GetImages())), Verdict: verdictToJSON(r.GetVerdict()),
		EffectiveVerdict: verdictToJSON(rec.Effective), Overrides: make([]overrideJSON, 0, len(rec.Overrides)),
		Cloud:         recordCloudJSON{PipelineState: rec.PipelineState, ExecutionID: rec.ExecutionID, Error: rec.PipelineError},
		MasterVersion: r.GetMasterVersion(), ModelVersion: r.GetModelVersion(),
		AcknowledgedAt: timePtr(rec.AcknowledgedAt), AcknowledgedBy: rec.AcknowledgedBy,
	}
	if j.EffectiveVerdict == nil {
		j.EffectiveVerdict = verdictToJSON(metadata.EffectiveVerdict(r, rec.Overrides))
	}
	files := make(map[string]string, len(rec.Images))
	for _, ri := range rec.Images {
		files[ri.SHA256] = ri.FileID
	}
	for _, im := range r.GetImages() {
		ij := imageJSON{SHA256: im.GetSha256(), FileID: files[im.GetSha256()], Size: im.GetSize(),
			ContentType: im.GetContentType(), Width: im.GetWidth(), Height: im.GetHeight()}
		if ij.FileID != "" {
			ij.URL = "/api/v1/files/" + ij.FileID + "/content"
		}
		j.Images = append(j.Images, ij)
	}
	if p := r.GetPrefilter(); p != nil {
		j.Prefilter = &prefilterJSON{Score: p.GetScore(), Label: p.GetLabel(), ModelName: p.GetModelName(), ModelVersion: p.GetModelVersion(), Threshold: p.GetThreshold()}
	}
	for _, o := range rec.Overrides {
		j.Overrides = append(j.Overrides, overrideJSON{OverrideID: o.GetOverrideId(), Actor: o.GetActor(), Reason: o.GetReason(),
			Verdict: verdictToJSON(o.GetVerdict()), At: tsPtr(o.GetAt()), Origin: originWord(o.GetOrigin()), DeviceID: o.GetDeviceId()})
	}
	if ex != nil {
		ej := executionToJSON(ex)
		j.Cloud.Execution = &ej
	}
	return j
}

// withImageDownloads sets download_url on every stored image of j.
func (s *Server) withImageDownloads(ctx context.Context, j recordJSON) recordJSON {
	for i := range j.Images {
		j.Images[i].DownloadURL = s.downloadURL(ctx, j.Images[i].FileID, j.Images[i].SHA256)
	}
	return j
}

// recordFilter reads the search query, listing every bad parameter.
func (s *Server) recordFilter(r *http.Request) (metadata.RecordFilter, error) {
	q := r.URL.Query()
	f := metadata.RecordFilter{Shifts: s.cfg.Shifts}
	var probs []problemItem
	for _, sf := range []struct {
		name string
		dst  *string
	}{{"line", &f.Line}, {"device_id", &f.DeviceID}, {"product_code", &f.ProductCode}, {"lot", &f.Lot}} {
		v := q.Get(sf.name)
		if v != "" && (len(v) > maxIDLen || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' })) {
			probs = append(probs, problemItem{Field: sf.name, Message: "at most 128 printable characters"})
		}
		*sf.dst = v
	}
	if v := q.Get("verdict"); v != "" {
		res, ok := parseVerdict(v)
		if !ok {
			probs = append(probs, problemItem{Field: "verdict", Message: "want one of " + strings.Join(verdictWords, ", ")})
		}
		f.Verdict = res
	}
	if v := q.Get("defect_type"); v != "" {
		if len(v) > maxIDLen || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' }) {
			probs = append(probs, problemItem{Field: "defect_type", Message: "at most 128 printable characters"})
		}
		f.DefectType = v
	}
	if v := q.Get("shift"); v != "" {
		if s.cfg.Shifts.Index(v) < 0 {
			names := make([]string, len(s.cfg.Shifts.Shifts))
			for i, sh := range s.cfg.Shifts.Shifts {
				names[i] = sh.Name
			}
			probs = append(probs, problemItem{Field: "shift", Message: "want one of the configured shifts: " + strings.Join(names, ", ")})
		}
		f.Shift = v
	}
	if v := q.Get("acknowledged"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil || (v != "true" && v != "false") {
			probs = append(probs, problemItem{Field: "acknowledged", Message: "want true or false"})
		}
		f.Acknowledged = &b
	}
	pq, more := parsePageQuery(q)
	probs = append(probs, more...)
	f.Since, f.Until, f.Limit, f.PageToken = pq.Since, pq.Until, pq.Limit, pq.PageToken
	if len(probs) > 0 {
		return f, &requestProblems{items: probs}
	}
	return f, nil
}

func (s *Server) searchRecords(w http.ResponseWriter, r *http.Request) {
	f, err := s.recordFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	recs, next, err := s.deps.Store.SearchRecords(r.Context(), f)
	if errors.Is(err, metadata.ErrInvalidArgument) && f.PageToken != "" {
		// The page token is the only argument the store can refuse here.
		err = &requestProblems{items: []problemItem{{Field: "page_token", Message: "not a next_page_token of this search"}}}
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("search records: %w", err))
		return
	}
	out := make([]recordJSON, 0, len(recs))
	for _, rec := range recs {
		out = append(out, s.withImageDownloads(r.Context(), recordToJSON(rec, nil)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out, "next_page_token": next})
}

// pathRecordID returns the {record_id} path value, or writes 404 when it
// cannot be a record id.
func (s *Server) pathRecordID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("record_id")
	if !validID(id) {
		s.writeError(w, r, withStatus(http.StatusNotFound, metadata.ErrNotFound, "record %q not found", id))
		return "", false
	}
	return id, true
}

// writeRecord loads a record with its cloud execution and writes it.
func (s *Server) writeRecord(w http.ResponseWriter, r *http.Request, status int, id string) {
	rec, err := s.deps.Store.GetRecord(r.Context(), id)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("record %q: %w", id, err))
		return
	}
	var ex *ifcv1.Execution
	if rec.ExecutionID != "" {
		ex, err = s.deps.Store.GetExecution(r.Context(), rec.ExecutionID)
		if err != nil && !errors.Is(err, metadata.ErrNotFound) {
			s.writeError(w, r, fmt.Errorf("execution %q of record %q: %w", rec.ExecutionID, id, err))
			return
		}
	}
	j := s.withImageDownloads(r.Context(), recordToJSON(rec, ex))
	if j.Cloud.Execution != nil {
		ej := s.withDownloads(r.Context(), *j.Cloud.Execution)
		j.Cloud.Execution = &ej
	}
	writeJSON(w, status, j)
}

func (s *Server) getRecord(w http.ResponseWriter, r *http.Request) {
	if id, ok := s.pathRecordID(w, r); ok {
		s.writeRecord(w, r, http.StatusOK, id)
	}
}

type overrideRequest struct {
	Result     string `json:"result"`
	DefectType string `json:"defect_type"`
	Note       string `json:"note"`
	Reason     string `json:"reason"`
}

// check lists every problem of req; defects are the product's defect
// type codes (none: any code is accepted).
func (req overrideRequest) check(defects []string) (ifcv1.VerdictResult, error) {
	var probs []problemItem
	add := func(field, msg string) { probs = append(probs, problemItem{Field: field, Message: msg}) }
	res, ok := parseVerdict(req.Result)
	if !ok {
		add("result", "want one of "+strings.Join(verdictWords, ", "))
	}
	switch {
	case res == ifcv1.VerdictResult_VERDICT_RESULT_NG && req.DefectType == "":
		add("defect_type", "required for an ng verdict")
	case res == ifcv1.VerdictResult_VERDICT_RESULT_NG && len(defects) > 0 && !slices.Contains(defects, req.DefectType):
		add("defect_type", fmt.Sprintf("%q is not a defect type of the product (want one of %s)", req.DefectType, strings.Join(defects, ", ")))
	case res == ifcv1.VerdictResult_VERDICT_RESULT_OK && req.DefectType != "":
		add("defect_type", "must be empty for an ok verdict")
	}
	if strings.TrimSpace(req.Reason) == "" || len(req.Reason) > maxReasonLen {
		add("reason", fmt.Sprintf("required, at most %d bytes: say why the verdict changes", maxReasonLen))
	}
	if len(req.Note) > maxNoteLen {
		add("note", fmt.Sprintf("at most %d bytes", maxNoteLen))
	}
	if len(probs) > 0 {
		return 0, &requestProblems{items: probs}
	}
	return res, nil
}

func (s *Server) overrideRecord(w http.ResponseWriter, r *http.Request) {
	id, ok := s.pathRecordID(w, r)
	if !ok {
		return
	}
	var req overrideRequest
	if err := decodeJSON(w, r, 8<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	rec, err := s.deps.Store.GetRecord(r.Context(), id)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("record %q: %w", id, err))
		return
	}
	var defects []string
	m, err := s.deps.Store.GetMaster(r.Context(), rec.Record.GetProductCode())
	switch {
	case err == nil:
		for _, d := range m.GetDefectTypes() {
			defects = append(defects, d.GetCode())
		}
	case !errors.Is(err, metadata.ErrNotFound):
		s.writeError(w, r, fmt.Errorf("master of product %q: %w", rec.Record.GetProductCode(), err))
		return
	}
	res, err := req.check(defects)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	oid, err := uuid.NewV7()
	if err != nil {
		s.writeError(w, r, fmt.Errorf("override id: %w", err))
		return
	}
	now := timestamppb.New(s.now())
	user := principal(r.Context()).Username
	o := &ifcv1.VerdictOverride{
		OverrideId: oid.String(), RecordId: id, Actor: user, Reason: req.Reason, At: now,
		Origin:  ifcv1.VerdictOrigin_VERDICT_ORIGIN_CLOUD,
		Verdict: &ifcv1.Verdict{Result: res, DefectType: req.DefectType, Note: req.Note, DecidedAt: now},
	}
	if _, err := s.deps.Store.AddOverride(r.Context(), o); err != nil {
		s.writeError(w, r, fmt.Errorf("override record %q: %w", id, err))
		return
	}
	s.log.InfoContext(r.Context(), "verdict overridden", "record_id", id, "override_id", o.OverrideId, "result", req.Result,
		"defect_type", req.DefectType, "user", user)
	w.Header().Set("Location", "/api/v1/records/"+id)
	s.writeRecord(w, r, http.StatusCreated, id)
}

// pageQuery is the time range and paging part of a list query.
type pageQuery struct {
	Since, Until time.Time
	Limit        int
	PageToken    string
}

// parsePageQuery reads since, until, limit and page_token (the same rules
// for every list route) and reports every bad value.
func parsePageQuery(q url.Values) (pageQuery, []problemItem) {
	var (
		p     pageQuery
		probs []problemItem
	)
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"since", &p.Since}, {"until", &p.Until}} {
		if v := q.Get(tf.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				probs = append(probs, problemItem{Field: tf.name, Message: "want an RFC 3339 time"})
			}
			*tf.dst = t
		}
	}
	if !p.Since.IsZero() && !p.Until.IsZero() && !p.Until.After(p.Since) {
		probs = append(probs, problemItem{Field: "until", Message: "must be after since"})
	}
	p.Limit = metadata.DefaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > metadata.MaxPageSize {
			probs = append(probs, problemItem{Field: "limit", Message: fmt.Sprintf("want 1..%d", metadata.MaxPageSize)})
		}
		p.Limit = n
	}
	if v := q.Get("page_token"); v != "" {
		if len(v) > 512 {
			probs = append(probs, problemItem{Field: "page_token", Message: "too long"})
		}
		p.PageToken = v
	}
	return p, probs
}
