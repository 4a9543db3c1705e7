package inspect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of uploaded JPEGs
	_ "image/png"  // DecodeConfig of uploaded PNGs
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gocv.io/x/gocv"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/edge/queue"
	"github.com/imageflowcanvas/ifc/models/infer"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// maxUploadPixels bounds an uploaded image's decoded size (a decompression bomb guard).
const maxUploadPixels = 64 << 20

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) {
	ms, err := s.opts.Store.Masters(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("list masters: %w", err))
		return
	}
	out := ProductListJSON{Products: []ProductJSON{}}
	for _, m := range ms {
		out.Products = append(out.Products, productJSON(m))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getProduct(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	m, err := s.opts.Store.Master(r.Context(), code)
	if errors.Is(err, queue.ErrNotFound) {
		s.fail(w, r, notFound("product %q is not in the master cache", code))
		return
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("get master %q: %w", code, err))
		return
	}
	writeJSON(w, http.StatusOK, productJSON(m))
}

func checkText(field, v string, required bool, max int) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return invalidField(field, "%s is required", field)
	case len(v) > max:
		return invalidField(field, "%s is %d bytes, limit %d", field, len(v), max)
	case !utf8.ValidString(v):
		return invalidField(field, "%s is not valid UTF-8", field)
	}
	return nil
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request) {
	var req SessionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, f := range []struct {
		name, v  string
		required bool
	}{{"product_code", req.ProductCode, true}, {"lot", req.Lot, false}, {"serial", req.Serial, false}, {"inspector", req.Inspector, true}} {
		if err := checkText(f.name, f.v, f.required, queue.MaxFieldLen); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	m, err := s.opts.Store.Master(r.Context(), req.ProductCode)
	if errors.Is(err, queue.ErrNotFound) {
		s.fail(w, r, invalidField("product_code", "unknown product %q: it is not in this edge's master cache (GET /api/v1/products lists the known products)", req.ProductCode))
		return
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("get master %q: %w", req.ProductCode, err))
		return
	}
	id, err := uuid.NewV7()
	if err != nil {
		s.fail(w, r, fmt.Errorf("session id: %w", err))
		return
	}
	sess := &session{ID: id.String(), Master: m, Lot: req.Lot, Serial: req.Serial, Inspector: req.Inspector, StartedAt: s.now().UTC()}
	s.mu.Lock()
	if len(s.sessions) >= DefaultMaxSessions {
		oldest := ""
		for k, v := range s.sessions {
			if oldest == "" || v.StartedAt.Before(s.sessions[oldest].StartedAt) {
				oldest = k
			}
		}
		delete(s.sessions, oldest)
	}
	s.sessions[sess.ID] = sess
	out := sessionJSON(sess)
	s.mu.Unlock()
	s.log.Info("inspection session started", "session_id", sess.ID, "product", req.ProductCode, "lot", req.Lot, "inspector", req.Inspector)
	w.Header().Set("Location", "/api/v1/sessions/"+sess.ID)
	writeJSON(w, http.StatusCreated, out)
}

func sessionJSON(s *session) SessionJSON {
	return SessionJSON{SessionID: s.ID, ProductCode: s.Master.GetProduct().GetCode(), ProductName: s.Master.GetProduct().GetName(),
		MasterVersion: s.Master.GetVersion(), Lot: s.Lot, Serial: s.Serial, Inspector: s.Inspector, StartedAt: s.StartedAt,
		Captures: s.Captures, Saved: s.Saved}
}

func (s *Server) session(id string) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[id]
	if sess == nil {
		return nil, notFound("session %q not found: it was never started here or the agent restarted; start a new session", id)
	}
	return sess, nil
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	sess, err := s.session(r.PathValue("session_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.mu.Lock()
	out := sessionJSON(sess)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// capture takes a still (or reads an uploaded image), runs the pre-filter
// and keeps the capture in memory until the verdict arrives.
func (s *Server) capture(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sess, err := s.session(r.PathValue("session_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Refuse before taking the picture when even an empty record would not fit.
	if err := s.opts.Store.CanCapture(r.Context(), 0); err != nil {
		s.opts.Metrics.Capture("disk_full")
		s.fail(w, r, err)
		return
	}
	var (
		c     *capture
		mat   gocv.Mat
		still time.Duration
		enc   time.Duration
	)
	// An empty body (or an empty JSON object) takes a still; a body of
	// another type is an uploaded image.
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.ContentLength != 0 && mt != "" && mt != "application/json" {
		c, mat, err = s.readUpload(w, r)
	} else {
		c, mat, still, enc, err = s.takeStill(r.Context())
	}
	if err != nil {
		s.opts.Metrics.Capture(captureOutcome(err))
		s.fail(w, r, err)
		return
	}
	defer mat.Close()
	if err := s.opts.Store.CanCapture(r.Context(), int64(len(c.Image))); err != nil {
		s.opts.Metrics.Capture("disk_full")
		s.fail(w, r, err)
		return
	}
	pfStart := time.Now()
	res, err := s.opts.Prefilter.Classify(mat, s.threshold(sess.Master))
	if err != nil {
		s.opts.Metrics.Capture("error")
		s.fail(w, r, fmt.Errorf("pre-filter: %w", err))
		return
	}
	pf := time.Since(pfStart)
	s.opts.Metrics.Prefilter(pf, res)
	id, err := uuid.NewV7()
	if err != nil {
		s.fail(w, r, fmt.Errorf("capture id: %w", err))
		return
	}
	c.ID, c.SessionID, c.Prefilter, c.TakenAt = id.String(), sess.ID, res, s.now()
	s.captures.put(c, c.TakenAt)
	s.mu.Lock()
	sess.Captures++
	s.mu.Unlock()
	s.opts.Metrics.Capture("ok")
	out := CaptureJSON{
		CaptureID: c.ID, SessionID: sess.ID, CapturedAt: c.CapturedAt, ImageURL: "/api/v1/captures/" + c.ID + "/image",
		ContentType: c.ContentType, Width: c.Width, Height: c.Height, ImageBytes: len(c.Image), ImageSHA256: c.Sha256,
		Prefilter: prefilterJSON(res),
		Timings:   TimingsJSON{StillMS: ms(still), EncodeMS: ms(enc), PrefilterMS: ms(pf), TotalMS: ms(time.Since(start))},
	}
	s.log.Debug("captured", "capture_id", c.ID, "session_id", sess.ID, "score", res.Score, "label", res.Label, "bytes", len(c.Image))
	w.Header().Set("Location", out.ImageURL)
	writeJSON(w, http.StatusCreated, out)
}

func captureOutcome(err error) string {
	var ae *apiError
	switch {
	case errors.Is(err, ErrNoCamera):
		return "no_camera"
	case errors.As(err, &ae) && ae.status == http.StatusRequestEntityTooLarge:
		return "too_large"
	case errors.As(err, &ae):
		return "invalid"
	}
	return "error"
}

// threshold is the master's pre-filter threshold when the master names the
// model in use (or names none), else 0: the model's own threshold.
func (s *Server) threshold(m *ifcv1.InspectionMaster) float32 {
	t := m.GetPrefilterThreshold()
	if t <= 0 {
		return 0
	}
	cur := s.opts.Prefilter.Model()
	if (m.GetPrefilterModelName() != "" && m.GetPrefilterModelName() != cur.Name) ||
		(m.GetPrefilterModelVersion() != "" && m.GetPrefilterModelVersion() != cur.Version) {
		return 0
	}
	return t
}

// takeStill asks the camera for a full-resolution still and encodes it as JPEG.
func (s *Server) takeStill(ctx context.Context) (*capture, gocv.Mat, time.Duration, time.Duration, error) {
	t0 := time.Now()
	f, err := s.opts.Camera.Still(ctx)
	if err != nil {
		return nil, gocv.Mat{}, 0, 0, fmt.Errorf("still: %w", err)
	}
	t1 := time.Now()
	mat, err := infer.MatFromImage(f.Image)
	if err != nil {
		return nil, gocv.Mat{}, 0, 0, fmt.Errorf("still to Mat: %w", err)
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, mat, []int{gocv.IMWriteJpegQuality, s.opts.JPEGQuality})
	if err != nil {
		mat.Close()
		return nil, gocv.Mat{}, 0, 0, fmt.Errorf("encode still: %w", err)
	}
	data := bytes.Clone(buf.GetBytes())
	buf.Close()
	enc := time.Since(t1)
	if int64(len(data)) > s.opts.MaxImageBytes {
		mat.Close()
		return nil, gocv.Mat{}, 0, 0, tooLarge("the captured image is %d bytes, limit %d (max_image_bytes): lower the camera resolution or raise the limit", len(data), s.opts.MaxImageBytes)
	}
	at := f.CapturedAt
	if at.IsZero() {
		at = s.now()
	}
	sum := sha256.Sum256(data)
	c := &capture{CapturedAt: at.UTC(), Image: data, ContentType: "image/jpeg", Sha256: hex.EncodeToString(sum[:]),
		Width: mat.Cols(), Height: mat.Rows()}
	return c, mat, t1.Sub(t0), enc, nil
}

// readUpload reads an uploaded JPEG or PNG (an image imported by the
// inspector instead of a camera still), bounded by MaxImageBytes.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request) (*capture, gocv.Mat, error) {
	// The declared type must be an image type: that keeps uploads out of
	// reach of cross-origin "simple" requests (text/plain, forms).
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != "image/jpeg" && mt != "image/png") {
		return nil, gocv.Mat{}, &apiError{status: http.StatusUnsupportedMediaType, typ: ProblemUnsupported,
			msg: fmt.Sprintf("content type %q: upload a JPEG or PNG as image/jpeg or image/png, or send an empty body to take a still", r.Header.Get("Content-Type"))}
	}
	if r.ContentLength > s.opts.MaxImageBytes {
		return nil, gocv.Mat{}, tooLarge("the uploaded image is %d bytes, limit %d (max_image_bytes)", r.ContentLength, s.opts.MaxImageBytes)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxImageBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, gocv.Mat{}, tooLarge("the uploaded image is larger than %d bytes (max_image_bytes)", s.opts.MaxImageBytes)
	}
	if err != nil {
		return nil, gocv.Mat{}, fmt.Errorf("read upload: %w", err)
	}
	ct := http.DetectContentType(data)
	if ct != "image/jpeg" && ct != "image/png" {
		return nil, gocv.Mat{}, &apiError{status: http.StatusUnsupportedMediaType, typ: ProblemUnsupported,
			msg: fmt.Sprintf("the uploaded body is %s; want a JPEG or PNG image", ct)}
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, gocv.Mat{}, invalidField("", "the uploaded image header is corrupt: %v", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > infer.MaxImageSide || cfg.Height > infer.MaxImageSide || cfg.Width*cfg.Height > maxUploadPixels {
		return nil, gocv.Mat{}, tooLarge("the uploaded image is %dx%d pixels; limit %d per side and %d pixels", cfg.Width, cfg.Height, infer.MaxImageSide, maxUploadPixels)
	}
	mat, err := gocv.IMDecode(data, gocv.IMReadColor)
	if err != nil || mat.Empty() {
		if err == nil {
			mat.Close()
		}
		return nil, gocv.Mat{}, invalidField("", "the uploaded image could not be decoded (corrupt or truncated data)")
	}
	sum := sha256.Sum256(data)
	c := &capture{CapturedAt: s.now().UTC(), Image: data, ContentType: ct, Sha256: hex.EncodeToString(sum[:]), Width: mat.Cols(), Height: mat.Rows()}
	return c, mat, nil
}

func (s *Server) captureImage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("capture_id")
	c := s.captures.get(id, s.now())
	if c == nil {
		s.fail(w, r, notFound("capture %q not found: it expired or the agent restarted", id))
		return
	}
	c.mu.Lock()
	data, ct, sha := c.Image, c.ContentType, c.Sha256
	c.mu.Unlock()
	if data == nil { // saved: the bytes live in the queue now
		var err error
		if data, err = s.opts.Store.Image(r.Context(), sha); err != nil {
			s.fail(w, r, fmt.Errorf("capture image: %w", err))
			return
		}
	}
	serveImage(w, r, data, ct, sha)
}

func serveImage(w http.ResponseWriter, r *http.Request, data []byte, ct, sha string) {
	w.Header().Set("Content-Type", ct)
	w.Header().Set("ETag", `"`+sha+`"`)
	w.Header().Set("Cache-Control", "private, max-age=3600, immutable")
	if r.Header.Get("If-None-Match") == `"`+sha+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}

// parseVerdict validates a verdict request against the product's master.
func parseVerdict(req VerdictRequest, m *ifcv1.InspectionMaster) (*ifcv1.Verdict, error) {
	v := &ifcv1.Verdict{DefectType: req.DefectType, Note: req.Note}
	switch req.Result {
	case "OK":
		v.Result = ifcv1.VerdictResult_VERDICT_RESULT_OK
		if req.DefectType != "" {
			return nil, invalidField("defect_type", "an OK verdict takes no defect_type (got %q)", req.DefectType)
		}
	case "NG":
		v.Result = ifcv1.VerdictResult_VERDICT_RESULT_NG
		if req.DefectType == "" {
			return nil, invalidField("defect_type", "an NG verdict needs a defect_type, one of %s", defectCodes(m))
		}
		if !slices.ContainsFunc(m.GetDefectTypes(), func(d *ifcv1.DefectType) bool { return d.GetCode() == req.DefectType }) {
			return nil, invalidField("defect_type", "defect type %q is not defined for product %s; want one of %s", req.DefectType, m.GetProduct().GetCode(), defectCodes(m))
		}
	case "":
		return nil, invalidField("result", "result is required: \"OK\" or \"NG\"")
	default:
		return nil, invalidField("result", "result %q: want \"OK\" or \"NG\"", req.Result)
	}
	if err := checkText("note", req.Note, false, queue.MaxNoteLen); err != nil {
		return nil, err
	}
	if req.Serial != nil {
		if err := checkText("serial", *req.Serial, false, queue.MaxFieldLen); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func defectCodes(m *ifcv1.InspectionMaster) string {
	var codes []string
	for _, d := range m.GetDefectTypes() {
		codes = append(codes, strconv.Quote(d.GetCode()))
	}
	if len(codes) == 0 {
		return "(none defined)"
	}
	return strings.Join(codes, ", ")
}

// submitVerdict builds the InspectionRecord and commits it with its image
// in one fsynced transaction BEFORE answering 201.
func (s *Server) submitVerdict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.PathValue("capture_id")
	var req VerdictRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.opts.Metrics.Verdict(req.Result, "rejected", time.Since(start))
		s.fail(w, r, err)
		return
	}
	c := s.captures.get(id, s.now())
	if c == nil {
		s.verdictForLostCapture(w, r, id, req)
		return
	}
	sess, err := s.session(c.SessionID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := parseVerdict(req, sess.Master)
	if err != nil {
		s.opts.Metrics.Verdict(req.Result, "rejected", time.Since(start))
		s.fail(w, r, err)
		return
	}

	s.mu.Lock()
	serial := sess.Serial
	s.mu.Unlock()
	if req.Serial != nil {
		serial = *req.Serial
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.saved != nil {
		prev := c.saved
		if prev.GetVerdict().GetResult() != v.GetResult() || prev.GetVerdict().GetDefectType() != v.GetDefectType() ||
			prev.GetVerdict().GetNote() != v.GetNote() || serial != prev.GetSerial() {
			s.fail(w, r, &apiError{status: http.StatusConflict, typ: ProblemConflict,
				msg: fmt.Sprintf("capture %s already has a saved verdict (%s); a saved record is never rewritten — ask QA for an override", id, resultString(prev.GetVerdict().GetResult()))})
			return
		}
		s.opts.Metrics.Verdict(req.Result, "duplicate", time.Since(start))
		writeJSON(w, http.StatusOK, SavedJSON{Saved: true, Duplicate: true, Record: recordJSON(prev, queue.RecordStatus{})})
		return
	}

	m := sess.Master
	v.DecidedAt = timestamppb.New(s.now())
	rec := &ifcv1.InspectionRecord{
		RecordId: c.ID, DeviceId: s.opts.DeviceID, Line: s.opts.Line,
		ProductCode: m.GetProduct().GetCode(), Lot: sess.Lot, Serial: serial, Inspector: sess.Inspector,
		CapturedAt: timestamppb.New(c.CapturedAt),
		Images: []*ifcv1.ImageRef{{Sha256: c.Sha256, Size: int64(len(c.Image)), ContentType: c.ContentType,
			Width: int32(c.Width), Height: int32(c.Height)}},
		Prefilter: &ifcv1.PrefilterResult{Score: c.Prefilter.Score, Label: c.Prefilter.Label,
			ModelName: c.Prefilter.ModelName, ModelVersion: c.Prefilter.ModelVersion, Threshold: c.Prefilter.Threshold},
		Verdict:         v,
		MasterVersion:   m.GetVersion(),
		PipelineId:      m.GetPipelineId(),
		PipelineVersion: m.GetPipelineVersion(),
		ModelVersion:    c.Prefilter.ModelName + "@" + c.Prefilter.ModelVersion,
	}
	if err := s.opts.Store.Save(r.Context(), rec, [][]byte{c.Image}); err != nil {
		s.opts.Metrics.Verdict(req.Result, "error", time.Since(start))
		s.fail(w, r, fmt.Errorf("save verdict: %w", err))
		return
	}
	// Durable from here on: answer "saved".
	c.saved = rec
	c.Image = nil // served from the queue from now on
	s.mu.Lock()
	sess.Saved++
	s.mu.Unlock()
	s.hub.kick()
	s.opts.Metrics.Verdict(req.Result, "saved", time.Since(start))
	s.log.Info("verdict saved", "record_id", rec.GetRecordId(), "result", req.Result, "defect_type", req.DefectType,
		"product", rec.GetProductCode(), "inspector", rec.GetInspector())
	w.Header().Set("Location", "/api/v1/records/"+rec.GetRecordId())
	writeJSON(w, http.StatusCreated, SavedJSON{Saved: true, Record: recordJSON(rec, queue.RecordStatus{})})
}

// verdictForLostCapture answers a verdict whose capture is no longer in
// memory. The capture_id is the record_id, so a retry after the agent
// restarted finds the saved record: the same verdict answers 200, another
// 409. With no record, the part has to be captured again.
func (s *Server) verdictForLostCapture(w http.ResponseWriter, r *http.Request, id string, req VerdictRequest) {
	if _, err := uuid.Parse(id); err == nil {
		rec, err := s.opts.Store.Get(r.Context(), id)
		if err == nil {
			v := rec.GetVerdict()
			serialOK := req.Serial == nil || *req.Serial == rec.GetSerial()
			if resultString(v.GetResult()) == req.Result && v.GetDefectType() == req.DefectType && v.GetNote() == req.Note && serialOK {
				st, _ := s.opts.Store.Status(r.Context(), id)
				writeJSON(w, http.StatusOK, SavedJSON{Saved: true, Duplicate: true, Record: recordJSON(rec, st)})
				return
			}
			s.fail(w, r, &apiError{status: http.StatusConflict, typ: ProblemConflict,
				msg: fmt.Sprintf("capture %s already has a saved verdict (%s); a saved record is never rewritten — ask QA for an override", id, resultString(v.GetResult()))})
			return
		}
		if !errors.Is(err, queue.ErrNotFound) {
			s.fail(w, r, fmt.Errorf("look up record %s: %w", id, err))
			return
		}
	}
	s.fail(w, r, notFound("capture %q not found: it expired or the agent restarted before the verdict was saved; capture the part again", id))
}

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := queue.HistoryFilter{ProductCode: q.Get("product_code"), Lot: q.Get("lot"), Serial: q.Get("serial"), Inspector: q.Get("inspector")}
	switch res := q.Get("result"); res {
	case "":
	case "OK":
		f.Result = ifcv1.VerdictResult_VERDICT_RESULT_OK
	case "NG":
		f.Result = ifcv1.VerdictResult_VERDICT_RESULT_NG
	default:
		s.fail(w, r, invalidField("result", "result %q: want OK or NG", res))
		return
	}
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > queue.MaxHistoryLimit {
			s.fail(w, r, invalidField("limit", "limit %q: want 1..%d", l, queue.MaxHistoryLimit))
			return
		}
		limit = n
	}
	items, next, err := s.opts.Store.History(r.Context(), f, limit, q.Get("cursor"))
	if err != nil {
		if errors.Is(err, queue.ErrInvalid) {
			err = invalidField("cursor", "cursor is not one this agent issued")
		}
		s.fail(w, r, err)
		return
	}
	out := HistoryJSON{Records: []RecordJSON{}, NextCursor: next}
	for _, it := range items {
		out.Records = append(out.Records, recordJSON(it.Record, it.Status))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) record(ctx context.Context, id string) (*ifcv1.InspectionRecord, queue.RecordStatus, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, queue.RecordStatus{}, notFound("record %q not found", id)
	}
	rec, err := s.opts.Store.Get(ctx, id)
	if errors.Is(err, queue.ErrNotFound) || errors.Is(err, queue.ErrInvalid) {
		return nil, queue.RecordStatus{}, notFound("record %q not found", id)
	}
	if err != nil {
		return nil, queue.RecordStatus{}, err
	}
	st, err := s.opts.Store.Status(ctx, id)
	if err != nil {
		return nil, queue.RecordStatus{}, err
	}
	return rec, st, nil
}

func (s *Server) getRecord(w http.ResponseWriter, r *http.Request) {
	rec, st, err := s.record(r.Context(), r.PathValue("record_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ovs, err := s.opts.Store.Overrides(r.Context(), rec.GetRecordId())
	if err != nil {
		s.fail(w, r, fmt.Errorf("overrides of %s: %w", rec.GetRecordId(), err))
		return
	}
	writeJSON(w, http.StatusOK, recordDetailJSON(rec, st, ovs))
}

func (s *Server) recordImage(w http.ResponseWriter, r *http.Request) {
	rec, st, err := s.record(r.Context(), r.PathValue("record_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if st.Evicted || len(rec.GetImages()) == 0 {
		s.fail(w, r, notFound("the image of record %s was evicted after it was synced to the cloud", rec.GetRecordId()))
		return
	}
	im := rec.GetImages()[0]
	data, err := s.opts.Store.Image(r.Context(), im.GetSha256())
	if err != nil {
		s.fail(w, r, fmt.Errorf("record image: %w", err))
		return
	}
	serveImage(w, r, data, im.GetContentType(), im.GetSha256())
}

// status assembles the queue and sync status.
func (s *Server) status(ctx context.Context) (StatusJSON, error) {
	st, err := s.opts.Store.Stats(ctx)
	if err != nil {
		return StatusJSON{}, fmt.Errorf("queue stats: %w", err)
	}
	m := s.opts.Prefilter.Model()
	out := StatusJSON{
		DeviceID: s.opts.DeviceID, Line: s.opts.Line,
		Queued: st.Queued, QueuedBytes: st.QueuedBytes, OldestQueuedAt: tptr(st.Oldest), LastSync: tptr(st.LastSync),
		Records: st.Records, BudgetBytes: st.Bytes, SoftLimitBytes: st.SoftLimitBytes, HardLimitBytes: st.HardLimitBytes,
		CaptureAllowed: true,
		Model:          ModelJSON{Name: m.Name, Version: m.Version, SHA256: m.SHA256, Threshold: m.Threshold, Source: m.Source},
	}
	if err := s.opts.Store.CanCapture(ctx, 0); err != nil {
		out.CaptureAllowed, out.CaptureRefusal = false, problemFor(err).Detail
	}
	s.mu.Lock()
	rep := s.sync
	s.mu.Unlock()
	if rep != nil {
		ss := rep.SyncState()
		out.SyncRunning, out.SyncConnected, out.LastError, out.LastErrorAt = true, ss.Connected, ss.LastError, tptr(ss.LastErrorAt)
		out.Sync = syncJSON(ss)
	}
	if s.opts.CameraState != nil {
		out.Camera = s.opts.CameraState()
	}
	return out, nil
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.status(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.OpenAPI())
}
