package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// grpcPermissions is the permission each PipelineService method needs.
var grpcPermissions = auth.MethodPermissions{
	ifcv1.PipelineService_Execute_FullMethodName:        auth.PermExecutionsRun,
	ifcv1.PipelineService_ExecuteStream_FullMethodName:  auth.PermExecutionsRun,
	ifcv1.PipelineService_WatchExecution_FullMethodName: auth.PermExecutionsRead,
}

// GRPCService is another service hosted on the API's gRPC server that
// authenticates its callers itself (the device sync service).
type GRPCService struct {
	Desc *grpc.ServiceDesc
	Impl any
}

// methodPermissions is grpcPermissions plus every method of the hosted
// self-authenticating services.
func (s *Server) methodPermissions() auth.MethodPermissions {
	perms := make(auth.MethodPermissions, len(grpcPermissions))
	for m, p := range grpcPermissions {
		perms[m] = p
	}
	for _, svc := range s.deps.GRPCServices {
		for _, m := range svc.Desc.Methods {
			perms["/"+svc.Desc.ServiceName+"/"+m.MethodName] = auth.SelfAuthenticated
		}
		for _, m := range svc.Desc.Streams {
			perms["/"+svc.Desc.ServiceName+"/"+m.StreamName] = auth.SelfAuthenticated
		}
	}
	return perms
}

// GRPCServerOptions are the options the API's gRPC server needs: the auth
// interceptors, the receive-size bound and the OpenTelemetry stats handler.
func (s *Server) GRPCServerOptions() []grpc.ServerOption {
	perms := s.grpcPerms
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.metricsUnary, s.deps.Auth.UnaryInterceptor(perms)),
		grpc.ChainStreamInterceptor(s.metricsStream, s.deps.Auth.StreamInterceptor(perms)),
		grpc.MaxRecvMsgSize(s.cfg.GRPCMaxRecvBytes),
		grpc.StatsHandler(otelgrpc.NewServerHandler()), // a span per call; no-op while tracing is off
	}
}

// NewGRPCServer returns a gRPC server with GRPCServerOptions (plus extra)
// and the PipelineService registered.
func (s *Server) NewGRPCServer(extra ...grpc.ServerOption) *grpc.Server {
	gs := grpc.NewServer(append(s.GRPCServerOptions(), extra...)...)
	s.RegisterGRPC(gs)
	return gs
}

// RegisterGRPC registers the PipelineService on gs, which must have been
// built with GRPCServerOptions (without them calls are not authenticated
// and every method fails with Unauthenticated).
func (s *Server) RegisterGRPC(gs *grpc.Server) {
	ifcv1.RegisterPipelineServiceServer(gs, &pipelineService{s: s})
	for _, svc := range s.deps.GRPCServices {
		gs.RegisterService(svc.Desc, svc.Impl)
	}
}

// metricsUnary counts and times unary calls, rejected ones included.
func (s *Server) metricsUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	res, err := h(ctx, req)
	s.observeGRPC(info.FullMethod, start, err)
	return res, err
}

// metricsStream counts and times streaming calls, rejected ones included.
func (s *Server) metricsStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	s.observeGRPC(info.FullMethod, start, err)
	return err
}

func (s *Server) observeGRPC(method string, start time.Time, err error) {
	if _, known := s.grpcPerms[method]; !known {
		method = "other" // bound label cardinality
	}
	s.metrics.grpcRequests.WithLabelValues(method, status.Code(err).String()).Inc()
	s.metrics.grpcLatency.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

type pipelineService struct {
	ifcv1.UnimplementedPipelineServiceServer
	s *Server
}

func callerOf(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return auth.Principal{}, status.Error(codes.Unauthenticated, "no principal: server built without the auth interceptors")
	}
	return p, nil
}

// Execute runs a pipeline on one image (bytes, ingested first, or a stored
// file) and returns the finished execution.
func (ps *pipelineService) Execute(ctx context.Context, req *ifcv1.ExecuteRequest) (*ifcv1.ExecuteResponse, error) {
	s := ps.s
	p, err := callerOf(ctx)
	if err != nil {
		return nil, err
	}
	if !validID(req.GetPipelineId()) {
		return nil, status.Error(codes.InvalidArgument, "pipeline_id required")
	}
	if req.GetVersion() < 0 {
		return nil, status.Error(codes.InvalidArgument, "version must be >= 0")
	}
	if len(req.GetCorrelationId()) > maxCorrIDLen {
		return nil, status.Error(codes.InvalidArgument, "correlation_id longer than 256 bytes")
	}
	var fileID string
	switch in := req.GetInput().(type) {
	case *ifcv1.ExecuteRequest_Image:
		if len(in.Image) == 0 {
			return nil, status.Error(codes.InvalidArgument, "image is empty")
		}
		f, err := s.deps.Files.Ingest(ctx, bytes.NewReader(in.Image), IngestOptions{Filename: "grpc-execute", CreatedBy: p.Username, MaxBytes: s.cfg.MaxUploadBytes, HeaderOnly: true})
		if err != nil {
			return nil, s.grpcError(ctx, "ingest image", err)
		}
		fileID = f.FileID
	case *ifcv1.ExecuteRequest_FileId:
		if !validID(in.FileId) {
			return nil, status.Error(codes.InvalidArgument, "file_id invalid")
		}
		if _, err := s.deps.Store.GetFile(ctx, in.FileId); err != nil {
			return nil, s.grpcError(ctx, "get file", fmt.Errorf("file %q: %w", in.FileId, err))
		}
		fileID = in.FileId
	default:
		return nil, status.Error(codes.InvalidArgument, "image or file_id required")
	}
	ex, err := s.deps.Conductor.Submit(ctx, SubmitRequest{
		PipelineID: req.GetPipelineId(), Version: req.GetVersion(), Inputs: []string{fileID},
		CorrelationID: req.GetCorrelationId(), ClientID: p.Username, CreatedBy: p.Username,
	})
	if err != nil {
		return nil, s.grpcError(ctx, "submit", fmt.Errorf("submit %q: %w", req.GetPipelineId(), err))
	}
	done, finished, err := s.waitBounded(ctx, ex.GetExecutionId())
	if err != nil {
		return nil, s.grpcError(ctx, "wait", fmt.Errorf("wait for %s: %w", ex.GetExecutionId(), err))
	}
	if !finished {
		return nil, status.Errorf(codes.DeadlineExceeded, "execution %s still %s after %s; watch it with WatchExecution",
			ex.GetExecutionId(), statusWord(done.GetStatus()), s.cfg.WaitTimeout)
	}
	return &ifcv1.ExecuteResponse{Execution: done}, nil
}

// ExecuteStream takes a StreamConfig, then frames, answering each frame in
// order. A frame that fails is answered with its error and the stream goes
// on; protocol mistakes end the stream with InvalidArgument.
func (ps *pipelineService) ExecuteStream(stream grpc.BidiStreamingServer[ifcv1.ExecuteStreamRequest, ifcv1.ProcessedFrame]) error {
	s := ps.s
	ctx := stream.Context()
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg := first.GetConfig()
	if cfg == nil {
		return status.Error(codes.InvalidArgument, "first message must be a StreamConfig")
	}
	if !validID(cfg.GetPipelineId()) || cfg.GetVersion() < 0 {
		return status.Error(codes.InvalidArgument, "config: pipeline_id required and version >= 0")
	}
	p, err := s.deps.Store.GetPipeline(ctx, cfg.GetPipelineId(), cfg.GetVersion())
	if err != nil {
		return s.grpcError(ctx, "get pipeline", fmt.Errorf("pipeline %q version %d: %w", cfg.GetPipelineId(), cfg.GetVersion(), err))
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		fr := msg.GetFrame()
		if fr == nil {
			return status.Error(codes.InvalidArgument, "only frames may follow the StreamConfig")
		}
		out := s.processStreamFrame(ctx, p, fr)
		if err := stream.Send(out); err != nil {
			return err
		}
	}
}

func (s *Server) processStreamFrame(ctx context.Context, p *ifcv1.Pipeline, fr *ifcv1.VideoFrame) *ifcv1.ProcessedFrame {
	img := fr.GetImage()
	if img == nil || len(img.GetData()) == 0 {
		return &ifcv1.ProcessedFrame{Seq: fr.GetSeq(), Error: "frame without image"}
	}
	if f := img.GetFormat(); f == ifcv1.ImageFormat_IMAGE_FORMAT_JPEG || f == ifcv1.ImageFormat_IMAGE_FORMAT_PNG || f == ifcv1.ImageFormat_IMAGE_FORMAT_UNSPECIFIED {
		checked, err := s.frameImage(img.GetData())
		if err != nil {
			_, _, msg := classify(err)
			return &ifcv1.ProcessedFrame{Seq: fr.GetSeq(), Error: msg}
		}
		img = checked
	} else if err := s.checkRaw(img); err != nil {
		return &ifcv1.ProcessedFrame{Seq: fr.GetSeq(), Error: err.Error()}
	}
	fctx, cancel := context.WithTimeout(ctx, s.cfg.WaitTimeout)
	defer cancel()
	out, err := s.deps.Conductor.ProcessFrame(fctx, p, img)
	if err != nil {
		_, code, msg := classify(err)
		if code == codes.ResourceExhausted {
			s.metrics.admissionRejected.WithLabelValues("grpc").Inc()
		}
		if code == codes.Internal {
			s.log.ErrorContext(ctx, "process frame", "pipeline_id", p.GetId(), "err", err)
		}
		return &ifcv1.ProcessedFrame{Seq: fr.GetSeq(), Error: code.String() + ": " + msg}
	}
	out.Seq = fr.GetSeq()
	return out
}

// checkRaw checks a raw frame's size matches its dimensions.
func (s *Server) checkRaw(img *ifcv1.Image) error {
	w, h := int64(img.GetWidth()), int64(img.GetHeight())
	if w <= 0 || h <= 0 || w*h > s.cfg.MaxFramePixels {
		return fmt.Errorf("raw frame %dx%d: bad dimensions", w, h)
	}
	ch := int64(3)
	switch img.GetFormat() {
	case ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8:
		ch = 1
	case ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8:
	default:
		return fmt.Errorf("unknown image format %v", img.GetFormat())
	}
	if int64(len(img.GetData())) != w*h*ch {
		return fmt.Errorf("raw frame %dx%d: %d bytes, want %d", w, h, len(img.GetData()), w*h*ch)
	}
	return nil
}

// watchSink is a gRPC watcher's queue of events.
type watchSink struct {
	ch   chan *ifcv1.ProgressEvent
	gone chan dropReason
}

func (w *watchSink) deliver(ev *hubEvent) bool {
	select {
	case w.ch <- ev.ev:
		return true
	default:
		return false
	}
}

func (w *watchSink) dropped(r dropReason) {
	select {
	case w.gone <- r:
	default:
	}
}

// WatchExecution streams the progress of one execution until it ends. A
// watcher first gets the current state (one event per node and one for
// the execution, seq 0, ts now) and the events this instance kept, then
// live events, and the stream ends after the execution-level terminal event.
func (ps *pipelineService) WatchExecution(req *ifcv1.WatchExecutionRequest, stream grpc.ServerStreamingServer[ifcv1.ProgressEvent]) error {
	s := ps.s
	ctx := stream.Context()
	id := req.GetExecutionId()
	if !validID(id) {
		return status.Error(codes.InvalidArgument, "execution_id required")
	}
	ex, err := s.deps.Store.GetExecution(ctx, id)
	if err != nil {
		return s.grpcError(ctx, "get execution", fmt.Errorf("execution %q: %w", id, err))
	}
	sink := &watchSink{ch: make(chan *ifcv1.ProgressEvent, s.cfg.WSSendBuffer+s.cfg.ReplayEvents), gone: make(chan dropReason, 1)}
	var replay []*ifcv1.ProgressEvent
	ok := s.hub.subscribe(id, sink, func(evs []*hubEvent) bool {
		for _, e := range evs {
			replay = append(replay, e.ev)
		}
		return true
	})
	if !ok {
		return status.Error(codes.Unavailable, "server shutting down")
	}
	defer s.hub.unsubscribe(id, sink)

	for _, ev := range snapshotEvents(ex, s.now()) {
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
	if isTerminal(ex.GetStatus()) {
		return nil
	}
	var lastSeq uint64
	send := func(ev *ifcv1.ProgressEvent) (bool, error) {
		if ev.GetSeq() != 0 && ev.GetSeq() <= lastSeq {
			return false, nil
		}
		lastSeq = max(lastSeq, ev.GetSeq())
		if err := stream.Send(ev); err != nil {
			return false, err
		}
		return ev.GetNodeId() == "" && isTerminal(ev.GetExecutionStatus()), nil
	}
	for _, ev := range replay {
		if end, err := send(ev); end || err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case r := <-sink.gone:
			if r == dropShutdown {
				return status.Error(codes.Unavailable, "server shutting down")
			}
			return status.Error(codes.ResourceExhausted, "watcher too slow; events were dropped, watch again")
		case ev := <-sink.ch:
			if end, err := send(ev); end || err != nil {
				return err
			}
		}
	}
}

// snapshotEvents describes an execution's current state as progress events.
func snapshotEvents(ex *ifcv1.Execution, now time.Time) []*ifcv1.ProgressEvent {
	ts := timestamppb.New(now)
	out := make([]*ifcv1.ProgressEvent, 0, len(ex.GetNodes())+1)
	done := 0
	for _, n := range ex.GetNodes() {
		switch n.GetState() {
		case ifcv1.NodeState_NODE_STATE_SUCCEEDED, ifcv1.NodeState_NODE_STATE_FAILED, ifcv1.NodeState_NODE_STATE_SKIPPED, ifcv1.NodeState_NODE_STATE_CANCELLED:
			done++
		}
	}
	var progress float32
	if len(ex.GetNodes()) > 0 {
		progress = float32(done) / float32(len(ex.GetNodes()))
	}
	if isTerminal(ex.GetStatus()) {
		progress = 1
	}
	for _, n := range ex.GetNodes() {
		out = append(out, &ifcv1.ProgressEvent{
			ExecutionId: ex.GetExecutionId(), NodeId: n.GetNodeId(), State: n.GetState(), Progress: progress,
			Ts: ts, ExecutionStatus: ex.GetStatus(), Error: n.GetError(), Outputs: n.GetOutputs(),
		})
	}
	out = append(out, &ifcv1.ProgressEvent{
		ExecutionId: ex.GetExecutionId(), Progress: progress, Ts: ts, ExecutionStatus: ex.GetStatus(), Error: ex.GetError(),
	})
	return out
}
