// Package parts is the gRPC PartService shared by the resident part services: it
// dispatches each Process call to the Handler registered for the part, after checking
// what comes from outside (params re-validated through the catalogue — defence in depth
// behind the pipeline validator —, images decoded under pixel limits), and maps errors to
// gRPC status codes at this edge:
//
//	InvalidArgument  bad params, missing/corrupt/oversized image, image-dependent bounds
//	NotFound         a part id the catalogue does not know
//	Unimplemented    a known part that another service runs
//	DeadlineExceeded / Canceled  the caller's context ended
//	ResourceExhausted  more than MaxInFlight calls already running (admission control:
//	                   refused at once, the caller backs off and retries)
//	Internal         anything else (logged with execution_id and node_id)
//
// Images pass between nodes RAW (decoded once per execution); when encode_output is set
// the response also carries the JPEG (quality 90) for persistence.
//
// Image operations are short (milliseconds) and cannot be interrupted inside OpenCV, so
// Process runs them synchronously and checks the context between stages (before decode,
// before the part, before encoding) instead of abandoning work on another goroutine.
//
// A 1080p RAW_BGR8 image is 6.2 MB, above gRPC's 4 MB default; servers and clients
// carrying images must raise their limits to MaxMessageSize.
package parts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts/imageio"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// MaxMessageSize is the gRPC message size part servers and their clients should allow
// (grpc.MaxRecvMsgSize / grpc.MaxCallRecvMsgSize): room for a 4K RAW_BGR8 image and its JPEG.
const MaxMessageSize = 64 << 20

// MaxDetections bounds the detections accepted in one request.
const MaxDetections = 10000

// Server implements ifcv1.PartServiceServer for a set of Handlers.
type Server struct {
	ifcv1.UnimplementedPartServiceServer

	log      *slog.Logger
	catalog  *catalog.Catalog
	handlers map[string]Handler // by part id
	served   []*ifcv1.PartDescriptor
	services []string
	limits   imageio.Limits
	quality  int
	slots    chan struct{} // one token per call running
	waiting  atomic.Int64  // calls waiting for a token
	maxWait  int64         // calls allowed to wait; beyond it calls are refused
}

// NewServer returns a Server running the parts of handlers, checked against cat. It fails
// when a handler claims a part the catalogue does not have under its service, or when two
// handlers claim one part.
func NewServer(logger *slog.Logger, cat *catalog.Catalog, handlers ...Handler) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cat == nil {
		return nil, errors.New("new part server: nil catalog")
	}
	s := &Server{
		catalog:  cat,
		handlers: make(map[string]Handler),
		limits:   imageio.DefaultLimits,
		quality:  imageio.DefaultJPEGQuality,
		slots:    make(chan struct{}, DefaultMaxInFlight()),
		maxWait:  int64(DefaultMaxWaiting),
	}
	for _, h := range handlers {
		if h == nil {
			return nil, errors.New("new part server: nil handler")
		}
		s.services = append(s.services, h.Service())
		for _, id := range h.Parts() {
			d, ok := cat.Get(id)
			if !ok {
				return nil, fmt.Errorf("new part server: service %s: %w: %q", h.Service(), catalog.ErrUnknownPart, id)
			}
			if d.GetService() != h.Service() {
				return nil, fmt.Errorf("new part server: part %s belongs to service %s, not %s", id, d.GetService(), h.Service())
			}
			if _, dup := s.handlers[id]; dup {
				return nil, fmt.Errorf("new part server: part %s registered twice", id)
			}
			s.handlers[id] = h
		}
	}
	for _, d := range cat.List() {
		if _, ok := s.handlers[d.GetId()]; ok {
			s.served = append(s.served, d)
		}
	}
	sort.Strings(s.services)
	s.log = logger.With("component", "parts", "services", strings.Join(s.services, ","))
	return s, nil
}

// ParseServices splits a comma-separated list of service names (the --parts flag of
// `ifc cloud worker`), checking each against cat; empty means all of cat's services.
func ParseServices(list string, cat *catalog.Catalog) ([]string, error) {
	known := cat.Services()
	if strings.TrimSpace(list) == "" {
		return known, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("unknown part service %q (known: %s)", name, strings.Join(known, ", "))
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out, nil
}

// SetImageLimits replaces the decode limits (default imageio.DefaultLimits); call before serving.
func (s *Server) SetImageLimits(l imageio.Limits) { s.limits = l }

// SetMaxInFlight sets how many Process calls may run at once (default DefaultMaxInFlight).
// Calls beyond it wait for a turn (see SetMaxWaiting). Call before serving.
func (s *Server) SetMaxInFlight(n int) { s.slots = make(chan struct{}, max(1, n)) }

// SetMaxWaiting sets how many calls may wait for a turn (default DefaultMaxWaiting); calls
// beyond it are refused at once with ResourceExhausted. Call before serving.
func (s *Server) SetMaxWaiting(n int) { s.maxWait = int64(max(0, n)) }

// DefaultMaxWaiting bounds the calls queued behind the running ones. The conductor's own
// admission control bounds executions, so a worker shared by a few API replicas rarely
// queues more than their combined limits; the bound keeps a misbehaving client from
// holding unbounded memory.
const DefaultMaxWaiting = 512

// DefaultMaxInFlight is 4 calls per CPU: image ops take milliseconds, so this bounds memory
// (each call holds its decoded images) while keeping the cores busy.
func DefaultMaxInFlight() int { return 4 * runtime.GOMAXPROCS(0) }

// Services returns the names of the services this server runs, sorted.
func (s *Server) Services() []string { return append([]string(nil), s.services...) }

// ListParts returns the descriptors of the parts this server runs.
func (s *Server) ListParts(ctx context.Context, _ *ifcv1.ListPartsRequest) (*ifcv1.ListPartsResponse, error) {
	out := make([]*ifcv1.PartDescriptor, len(s.served))
	for i, d := range s.served {
		out[i], _ = s.catalog.Get(d.GetId())
	}
	return &ifcv1.ListPartsResponse{Parts: out}, nil
}

// Process runs one part once.
func (s *Server) Process(ctx context.Context, req *ifcv1.ProcessRequest) (*ifcv1.ProcessResponse, error) {
	start := time.Now()
	log := s.log.With("part", req.GetPart(), "execution_id", req.GetExecutionId(), "node_id", req.GetNodeId())
	resp, err := s.process(ctx, req)
	if err != nil {
		st := toStatus(err)
		if st.Code() == codes.Internal {
			log.Error("part failed", "err", err)
		} else {
			log.Debug("part refused", "code", st.Code().String(), "err", err)
		}
		return nil, st.Err()
	}
	log.Debug("part done", "duration", time.Since(start))
	return resp, nil
}

// acquire takes a running token, waiting for one (bounded by ctx and by
// maxWait waiters) when all are taken. Waiting rather than refusing keeps
// executions the conductor already admitted from failing under a burst: the
// cores are busy either way, and a refused call would only be retried.
func (s *Server) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	if s.waiting.Add(1) > s.maxWait {
		s.waiting.Add(-1)
		return errBusy{inFlight: cap(s.slots)}
	}
	defer s.waiting.Add(-1)
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// process does the work of Process with plain Go errors.
func (s *Server) process(ctx context.Context, req *ifcv1.ProcessRequest) (*ifcv1.ProcessResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-s.slots }()
	h, ok := s.handlers[req.GetPart()]
	if !ok {
		d, known := s.catalog.Get(req.GetPart())
		if !known {
			return nil, fmt.Errorf("%w: %q", catalog.ErrUnknownPart, req.GetPart())
		}
		return nil, &notServedError{part: d.GetId(), service: d.GetService(), served: s.services}
	}
	params, err := s.catalog.ValidateParams(req.GetPart(), req.GetParams().AsMap())
	if err != nil {
		return nil, err
	}
	desc, _ := s.catalog.Get(req.GetPart())
	wantImages := 0
	for _, in := range desc.GetInputs() {
		if in == ifcv1.PortType_PORT_TYPE_IMAGE {
			wantImages++
		}
	}
	if got := len(req.GetImages()); got != wantImages {
		return nil, fmt.Errorf("%w: part %s takes %d image(s), got %d", errBadRequest, req.GetPart(), wantImages, got)
	}
	if got := len(req.GetDetections()); got > MaxDetections {
		return nil, fmt.Errorf("%w: %d detections, limit %d", errBadRequest, got, MaxDetections)
	}

	images := make([]gocv.Mat, 0, len(req.GetImages()))
	defer func() {
		for i := range images {
			images[i].Close()
		}
	}()
	for i, img := range req.GetImages() {
		m, err := imageio.Decode(img, s.limits)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		images = append(images, m)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res, err := h.Process(ctx, &Request{
		Part:        req.GetPart(),
		Params:      Params(params),
		Images:      images,
		Detections:  req.GetDetections(),
		ExecutionID: req.GetExecutionId(),
		NodeID:      req.GetNodeId(),
	})
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", req.GetPart(), err)
	}
	if res == nil {
		return nil, fmt.Errorf("run %s: handler returned no result", req.GetPart())
	}
	out := res.Image
	passthrough := -1
	for i := range images {
		if out.Ptr() != nil && out.Ptr() == images[i].Ptr() {
			passthrough = i
		}
	}
	if passthrough < 0 && out.Ptr() != nil {
		defer out.Close()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	resp := &ifcv1.ProcessResponse{Detections: res.Detections}
	if out.Ptr() == nil || out.Empty() {
		return resp, nil
	}
	if req.GetOmitRaw() && req.GetEncodeOutput() {
		// Nobody downstream reads the raw image: skip its copy and transfer.
	} else if in := req.GetImages(); passthrough >= 0 && isRaw(in[passthrough].GetFormat()) {
		resp.Image = in[passthrough] // unchanged raw input: no copy
	} else if resp.Image, err = imageio.ToRaw(out); err != nil {
		return nil, fmt.Errorf("run %s: output: %w", req.GetPart(), err)
	}
	if req.GetEncodeOutput() {
		if resp.Encoded, err = imageio.EncodeJPEG(out, s.quality); err != nil {
			return nil, fmt.Errorf("run %s: output: %w", req.GetPart(), err)
		}
	}
	return resp, nil
}

// isRaw reports whether f is an unencoded pixel format.
func isRaw(f ifcv1.ImageFormat) bool {
	return f == ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8 || f == ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8
}

// errBadRequest marks request-shape problems (wrong number of images and the like).
var errBadRequest = errors.New("bad request")

// ErrBadInput marks handler errors caused by the input (for example a crop rectangle
// outside the image); the Server reports them as InvalidArgument.
var ErrBadInput = errors.New("bad input")

// notServedError says a known part runs on another service.
type notServedError struct {
	part, service string
	served        []string
}

// Error names the service that runs the part.
func (e *notServedError) Error() string {
	return fmt.Sprintf("part %s runs on the %s service; this server runs %s", e.part, e.service, strings.Join(e.served, ", "))
}

// errBusy refuses a call beyond the in-flight limit.
type errBusy struct{ inFlight int }

// Error says why the call was refused.
func (e errBusy) Error() string {
	return fmt.Sprintf("part service busy: %d calls in flight, retry later", e.inFlight)
}

// toStatus maps an error to the gRPC status the caller sees.
func toStatus(err error) *status.Status {
	var ns *notServedError
	var busy errBusy
	switch {
	case errors.As(err, &busy):
		return status.New(codes.ResourceExhausted, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, err.Error())
	case errors.Is(err, catalog.ErrUnknownPart):
		return status.New(codes.NotFound, err.Error())
	case errors.As(err, &ns):
		return status.New(codes.Unimplemented, err.Error())
	case errors.Is(err, catalog.ErrInvalidParams), errors.Is(err, imageio.ErrInvalidImage),
		errors.Is(err, imageio.ErrTooLarge), errors.Is(err, errBadRequest), errors.Is(err, ErrBadInput):
		return status.New(codes.InvalidArgument, err.Error())
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return s
	}
	return status.New(codes.Internal, err.Error())
}

// Waiting returns how many calls are waiting for a turn.
func (s *Server) Waiting() int { return int(s.waiting.Load()) }
