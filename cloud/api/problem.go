package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/objectstore"
)

// problem is an RFC 9457 problem document.
type problem struct {
	Type     string        `json:"type"`
	Title    string        `json:"title"`
	Status   int           `json:"status"`
	Detail   string        `json:"detail,omitempty"`
	Instance string        `json:"instance,omitempty"`
	Problems []problemItem `json:"problems,omitempty"`
}

// Problem types beyond about:blank.
const (
	problemValidation = "urn:ifc:problem:validation"
	problemOverloaded = "urn:ifc:problem:overloaded"
	problemSyntax     = "urn:ifc:problem:syntax"
)

// httpError is an error that already knows its HTTP status (bad input
// detected by the API itself).
type httpError struct {
	status int
	msg    string
	err    error
}

func (e *httpError) Error() string { return e.msg }
func (e *httpError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func withStatus(status int, err error, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...), err: err}
}

// classify maps an error to its HTTP status, gRPC code and a message safe to
// show the caller. Unknown errors are internal and their text is not shown.
func classify(err error) (int, codes.Code, string) {
	var he *httpError
	var rp *requestProblems
	switch {
	case errors.As(err, &he):
		return he.status, grpcCodeFor(he.status), he.msg
	case errors.As(err, &rp):
		return http.StatusUnprocessableEntity, codes.InvalidArgument, rp.Error()
	case errors.Is(err, errOverloaded):
		return http.StatusTooManyRequests, codes.ResourceExhausted, "server is at capacity, retry later"
	case errors.Is(err, errInvalidPipeline):
		return http.StatusUnprocessableEntity, codes.InvalidArgument, err.Error()
	case errors.Is(err, errPipelineTooBig):
		return http.StatusRequestEntityTooLarge, codes.InvalidArgument, err.Error()
	case errors.Is(err, errPipelineSyntax):
		return http.StatusBadRequest, codes.InvalidArgument, err.Error()
	case errors.Is(err, errInvalidRequest):
		return http.StatusUnprocessableEntity, codes.InvalidArgument, err.Error()
	case errors.Is(err, errFinished):
		return http.StatusConflict, codes.FailedPrecondition, err.Error()
	case errors.Is(err, errNotLocal):
		return http.StatusConflict, codes.FailedPrecondition, err.Error()
	case errors.Is(err, errConductorClosed):
		return http.StatusServiceUnavailable, codes.Unavailable, "server shutting down"
	case errors.Is(err, errNoService):
		return http.StatusServiceUnavailable, codes.Unavailable, err.Error()
	case errors.Is(err, errFileInvalidArg):
		return http.StatusBadRequest, codes.InvalidArgument, err.Error()
	case errors.Is(err, errFileTooLarge):
		return http.StatusRequestEntityTooLarge, codes.InvalidArgument, err.Error()
	case errors.Is(err, errUnsupportedType):
		return http.StatusUnsupportedMediaType, codes.InvalidArgument, err.Error()
	case errors.Is(err, errTooManyPixels), errors.Is(err, errCorruptImage):
		return http.StatusUnprocessableEntity, codes.InvalidArgument, err.Error()
	case errors.Is(err, metadata.ErrNotFound), errors.Is(err, objectstore.ErrNotFound):
		return http.StatusNotFound, codes.NotFound, err.Error()
	case errors.Is(err, metadata.ErrInvalidArgument):
		return http.StatusBadRequest, codes.InvalidArgument, err.Error()
	case errors.Is(err, metadata.ErrConflict):
		return http.StatusConflict, codes.AlreadyExists, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, codes.DeadlineExceeded, "timed out"
	case errors.Is(err, context.Canceled):
		return 499, codes.Canceled, "cancelled"
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return httpStatusFor(st.Code()), st.Code(), st.Message()
	}
	return http.StatusInternalServerError, codes.Internal, "internal error"
}

func grpcCodeFor(status int) codes.Code {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return codes.InvalidArgument
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusConflict:
		return codes.FailedPrecondition
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	return codes.Internal
}

func httpStatusFor(c codes.Code) int {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// grpcError turns err into a gRPC status error.
func (s *Server) grpcError(ctx context.Context, op string, err error) error {
	_, code, msg := classify(err)
	if code == codes.Internal {
		s.log.ErrorContext(ctx, op+" failed", "err", err)
	}
	if code == codes.ResourceExhausted {
		s.metrics.admissionRejected.WithLabelValues("grpc").Inc()
	}
	return status.Error(code, msg)
}

// writeError writes err as a problem document.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st, _, msg := classify(err)
	p := problem{Type: "about:blank", Title: http.StatusText(st), Status: st, Detail: msg, Instance: r.URL.Path}
	switch st {
	case http.StatusInternalServerError:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	case http.StatusTooManyRequests:
		p.Type = problemOverloaded
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(s.cfg.RetryAfter.Seconds()))))
		s.metrics.admissionRejected.WithLabelValues("http").Inc()
	case 499:
		p.Title = "Client Closed Request"
	}
	var rp *requestProblems
	if errors.As(err, &rp) {
		p.Type = problemValidation
		p.Problems = rp.items
	} else if items := validationProblems(err); len(items) > 0 {
		p.Type = problemValidation
		if errors.Is(err, errPipelineSyntax) {
			p.Type = problemSyntax
		}
		p.Problems = items
	}
	writeProblem(w, p)
}

func writeProblem(w http.ResponseWriter, p problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// authError is the auth middleware's error writer.
func authError(w http.ResponseWriter, r *http.Request, status int, err error) {
	writeProblem(w, problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: err.Error(), Instance: r.URL.Path})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
