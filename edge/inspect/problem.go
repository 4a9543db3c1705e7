package inspect

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/imageflowcanvas/ifc/edge/queue"
)

// Problem is an RFC 9457 problem document, the body of every error answer.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Field  string `json:"field,omitempty"` // the request field at fault, when there is one
}

// Problem types the inspector app branches on.
const (
	ProblemValidation  = "urn:ifc:edge:problem:validation"
	ProblemNoCamera    = "urn:ifc:edge:problem:no-camera"
	ProblemDiskFull    = "urn:ifc:edge:problem:disk-full"
	ProblemTooLarge    = "urn:ifc:edge:problem:too-large"
	ProblemNotFound    = "urn:ifc:edge:problem:not-found"
	ProblemConflict    = "urn:ifc:edge:problem:conflict"
	ProblemUnsupported = "urn:ifc:edge:problem:unsupported-media-type"
	ProblemInternal    = "urn:ifc:edge:problem:internal"
)

// apiError is an error that knows its answer.
type apiError struct {
	status int
	typ    string
	field  string
	msg    string
	err    error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

func invalidField(field, format string, args ...any) error {
	return &apiError{status: http.StatusUnprocessableEntity, typ: ProblemValidation, field: field, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{status: http.StatusNotFound, typ: ProblemNotFound, msg: fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) error {
	return &apiError{status: http.StatusRequestEntityTooLarge, typ: ProblemTooLarge, msg: fmt.Sprintf(format, args...)}
}

// problemFor maps an error to its answer. Errors of unknown kind are
// internal and their text is logged, not shown.
func problemFor(err error) Problem {
	var ae *apiError
	var df *queue.DiskFullError
	switch {
	case errors.As(err, &ae):
		return Problem{Type: ae.typ, Title: http.StatusText(ae.status), Status: ae.status, Detail: ae.msg, Field: ae.field}
	case errors.As(err, &df):
		return Problem{Type: ProblemDiskFull, Title: http.StatusText(http.StatusInsufficientStorage), Status: http.StatusInsufficientStorage, Detail: df.Error()}
	case errors.Is(err, ErrNoCamera):
		return Problem{Type: ProblemNoCamera, Title: http.StatusText(http.StatusServiceUnavailable), Status: http.StatusServiceUnavailable,
			Detail: "no camera: " + err.Error() + "; check that the camera is plugged in — capture resumes by itself when it returns"}
	case errors.Is(err, queue.ErrInvalid):
		return Problem{Type: ProblemValidation, Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity, Detail: err.Error()}
	case errors.Is(err, queue.ErrConflict):
		return Problem{Type: ProblemConflict, Title: http.StatusText(http.StatusConflict), Status: http.StatusConflict, Detail: err.Error()}
	case errors.Is(err, queue.ErrNotFound):
		return Problem{Type: ProblemNotFound, Title: http.StatusText(http.StatusNotFound), Status: http.StatusNotFound, Detail: err.Error()}
	default:
		return Problem{Type: ProblemInternal, Title: http.StatusText(http.StatusInternalServerError), Status: http.StatusInternalServerError,
			Detail: "internal error; see the agent log"}
	}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	if p.Status >= 500 && p.Type == ProblemInternal {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", p.Status, "detail", p.Detail)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON reads a bounded JSON body into dst, refusing unknown fields
// and trailing data.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	// Content-Type: application/json is required, not assumed: it makes every
	// cross-origin write a CORS-preflighted request, so a web page in a
	// browser on the box cannot submit verdicts to this unauthenticated API.
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return &apiError{status: http.StatusUnsupportedMediaType, typ: ProblemUnsupported, msg: fmt.Sprintf("content type %q: want application/json", ct)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return tooLarge("request body is larger than %d bytes", maxJSONBody)
		case errors.Is(err, io.EOF):
			return invalidField("", "request body is empty; want a JSON object")
		case errors.As(err, &ute):
			return invalidField(ute.Field, "field %q: want %s, got JSON %s", ute.Field, ute.Type, ute.Value)
		default:
			return invalidField("", "malformed JSON: %v", err)
		}
	}
	if dec.More() {
		return invalidField("", "trailing data after the JSON object")
	}
	return nil
}
