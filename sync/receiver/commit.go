package receiver

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Bounds of PullMasters pages.
const (
	defaultPullLimit = 100
	maxPullLimit     = 500
)

var sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// validRecord checks the fields the cloud relies on, naming the bad one.
func validRecord(r *ifcv1.InspectionRecord) error {
	if !validUUID(r.GetRecordId()) {
		return invalid("record.record_id %q is not a UUID", r.GetRecordId())
	}
	if r.GetProductCode() == "" {
		return invalid("record.product_code is required")
	}
	if len(r.GetImages()) == 0 {
		return invalid("record.images: at least one image is required")
	}
	for i, im := range r.GetImages() {
		if !sha256Re.MatchString(im.GetSha256()) {
			return invalid("record.images[%d].sha256 %q is not 64 lowercase hex digits", i, im.GetSha256())
		}
	}
	if r.GetVerdict().GetResult() == ifcv1.VerdictResult_VERDICT_RESULT_UNSPECIFIED {
		return invalid("record.verdict.result is required")
	}
	return validTime("record.captured_at", r.GetCapturedAt())
}

// validTime refuses a missing, malformed or implausible timestamp (before
// 2000 or after 2200): it orders search results and the override rule.
func validTime(name string, ts *timestamppb.Timestamp) error {
	if ts == nil {
		return invalid("%s is required", name)
	}
	if err := ts.CheckValid(); err != nil {
		return invalid("%s: %v", name, err)
	}
	if y := ts.AsTime().Year(); y < 2000 || y > 2200 {
		return invalid("%s: year %d is outside 2000..2200", name, y)
	}
	return nil
}

// CommitRecord stores a record of the calling device, idempotently.
func (s *Server) CommitRecord(ctx context.Context, req *ifcv1.CommitRecordRequest) (*ifcv1.CommitRecordResponse, error) {
	d, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	r := req.GetRecord()
	if r == nil {
		return nil, invalid("record is required")
	}
	if r.GetDeviceId() != d.DeviceID {
		return nil, status.Errorf(codes.PermissionDenied, "record is for device %s but the caller is %s", r.GetDeviceId(), d.DeviceID)
	}
	if err := validRecord(r); err != nil {
		return nil, err
	}
	log := s.logger.With("device_id", d.DeviceID, "record_id", r.GetRecordId())
	if d.Line != "" && r.GetLine() != d.Line {
		// The cloud files a device's records under the line it was enrolled
		// for; the edge's own line setting is not trusted for that.
		log.WarnContext(ctx, "record line differs from the device's enrolled line; filed under the enrolled line", "record_line", r.GetLine(), "line", d.Line)
		r = proto.CloneOf(r)
		r.Line = d.Line
	}
	now := s.now()
	created, err := s.opts.Store.CommitRecord(ctx, r, now)
	switch {
	case errors.Is(err, metadata.ErrConflict):
		return nil, status.Errorf(codes.AlreadyExists, "record %s already stored with different content", r.GetRecordId())
	case errors.Is(err, metadata.ErrMissingImage):
		return nil, status.Errorf(codes.FailedPrecondition, "record %s: %v: upload every image of the record before committing it", r.GetRecordId(), err)
	case errors.Is(err, metadata.ErrUnknownProduct):
		return nil, status.Errorf(codes.FailedPrecondition, "unknown product %s: the cloud has no inspection master for it", r.GetProductCode())
	case err != nil:
		return nil, s.internal(ctx, "commit record", err, "device_id", d.DeviceID, "record_id", r.GetRecordId())
	}
	if created {
		log.InfoContext(ctx, "record committed")
		s.wakeLoop()
		return &ifcv1.CommitRecordResponse{Outcome: ifcv1.CommitOutcome_COMMIT_OUTCOME_CREATED, CommittedAt: timestamppb.New(now)}, nil
	}
	committed := now
	if rec, err := s.opts.Store.GetRecord(ctx, r.GetRecordId()); err == nil {
		committed = rec.CommittedAt
	}
	log.DebugContext(ctx, "record already committed")
	return &ifcv1.CommitRecordResponse{Outcome: ifcv1.CommitOutcome_COMMIT_OUTCOME_DUPLICATE, CommittedAt: timestamppb.New(committed)}, nil
}

// CommitOverride stores an edge verdict override of one of the caller's records.
func (s *Server) CommitOverride(ctx context.Context, req *ifcv1.CommitOverrideRequest) (*ifcv1.CommitOverrideResponse, error) {
	d, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	o := req.GetOverride()
	switch {
	case o == nil:
		return nil, invalid("override is required")
	case o.GetDeviceId() != d.DeviceID:
		return nil, status.Errorf(codes.PermissionDenied, "override is for device %s but the caller is %s", o.GetDeviceId(), d.DeviceID)
	case o.GetOrigin() != ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE:
		return nil, invalid("override.origin must be VERDICT_ORIGIN_EDGE, got %s", o.GetOrigin())
	case !validUUID(o.GetOverrideId()):
		return nil, invalid("override.override_id %q is not a UUID", o.GetOverrideId())
	case o.GetVerdict().GetResult() == ifcv1.VerdictResult_VERDICT_RESULT_UNSPECIFIED:
		return nil, invalid("override.verdict.result is required")
	}
	if err := validTime("override.at", o.GetAt()); err != nil {
		return nil, err
	}
	notFound := status.Errorf(codes.NotFound, "record %s not found for device %s: commit the record first", o.GetRecordId(), d.DeviceID)
	if !validUUID(o.GetRecordId()) {
		return nil, notFound
	}
	rec, err := s.opts.Store.GetRecord(ctx, o.GetRecordId())
	if errors.Is(err, metadata.ErrNotFound) || err == nil && rec.Record.GetDeviceId() != d.DeviceID {
		return nil, notFound
	}
	if err != nil {
		return nil, s.internal(ctx, "look up record", err, "device_id", d.DeviceID, "record_id", o.GetRecordId())
	}
	created, err := s.opts.Store.AddOverride(ctx, o)
	switch {
	case errors.Is(err, metadata.ErrConflict):
		return nil, status.Errorf(codes.AlreadyExists, "override %s already stored with different content", o.GetOverrideId())
	case errors.Is(err, metadata.ErrNotFound):
		return nil, notFound
	case err != nil:
		return nil, s.internal(ctx, "add override", err, "device_id", d.DeviceID, "record_id", o.GetRecordId())
	}
	if !created {
		return &ifcv1.CommitOverrideResponse{Outcome: ifcv1.CommitOutcome_COMMIT_OUTCOME_DUPLICATE}, nil
	}
	s.logger.InfoContext(ctx, "override committed", "device_id", d.DeviceID, "record_id", o.GetRecordId(), "override_id", o.GetOverrideId())
	return &ifcv1.CommitOverrideResponse{Outcome: ifcv1.CommitOutcome_COMMIT_OUTCOME_CREATED}, nil
}

// validUUID accepts only the canonical lowercase form, so one id has one spelling.
func validUUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

// PullMasters returns the masters changed for the caller's line after the
// cursor and the pipeline versions they name.
func (s *Server) PullMasters(ctx context.Context, req *ifcv1.PullMastersRequest) (*ifcv1.PullMastersResponse, error) {
	d, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetCursor() < 0 || req.GetLimit() < 0 {
		return nil, invalid("cursor and limit must not be negative")
	}
	limit := int(req.GetLimit())
	if limit == 0 {
		limit = defaultPullLimit
	}
	limit = min(limit, maxPullLimit)
	ch, err := s.opts.Store.MasterChangesSince(ctx, d.Line, req.GetCursor(), limit)
	if err != nil {
		return nil, s.internal(ctx, "list master changes", err, "device_id", d.DeviceID)
	}
	resp := &ifcv1.PullMastersResponse{Masters: ch.Masters, NextCursor: ch.NextCursor, More: ch.More}
	seen := map[string]bool{}
	for _, m := range ch.Masters {
		if m.GetPipelineId() == "" {
			continue
		}
		key := fmt.Sprintf("%s@%d", m.GetPipelineId(), m.GetPipelineVersion())
		if seen[key] {
			continue
		}
		seen[key] = true
		p, err := s.opts.Store.GetPipeline(ctx, m.GetPipelineId(), m.GetPipelineVersion())
		if errors.Is(err, metadata.ErrNotFound) {
			s.logger.WarnContext(ctx, "master names a missing pipeline", "device_id", d.DeviceID,
				"product_code", m.GetProduct().GetCode(), "pipeline", key)
			continue
		}
		if err != nil {
			return nil, s.internal(ctx, "get pipeline", err, "device_id", d.DeviceID, "pipeline", key)
		}
		resp.Pipelines = append(resp.Pipelines, p)
	}
	return resp, nil
}
