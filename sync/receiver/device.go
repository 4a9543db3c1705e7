package receiver

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/device"
)

// maxLabel bounds free-text device fields (names, versions).
const maxLabel = 128

// Enroll exchanges a one-time token for device credentials.
func (s *Server) Enroll(ctx context.Context, req *ifcv1.EnrollRequest) (*ifcv1.EnrollResponse, error) {
	if req.GetToken() == "" {
		return nil, status.Error(codes.InvalidArgument, "token is required")
	}
	if err := checkLabel("device_name", req.GetDeviceName()); err != nil {
		return nil, err
	}
	if err := checkLabel("agent_version", req.GetAgentVersion()); err != nil {
		return nil, err
	}
	id := req.GetDeviceId()
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return nil, s.internal(ctx, "new device id", err)
		}
		id = u.String()
	} else if err := device.ValidID(id); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	secret, hash, err := device.NewSecret()
	if err != nil {
		return nil, s.internal(ctx, "new device secret", err)
	}
	now := s.now()
	d, err := s.opts.Store.RedeemEnrollmentToken(ctx, device.Hash(req.GetToken()), metadata.Device{
		DeviceID:     id,
		Name:         req.GetDeviceName(),
		SecretHash:   hash,
		EnrolledAt:   now,
		AgentVersion: req.GetAgentVersion(),
	}, now)
	switch {
	case errors.Is(err, metadata.ErrNotFound):
		return nil, status.Error(codes.Unauthenticated, "unknown enrollment token")
	case errors.Is(err, metadata.ErrTokenUsed):
		return nil, status.Error(codes.Unauthenticated, "enrollment token already used")
	case errors.Is(err, metadata.ErrTokenExpired):
		return nil, status.Error(codes.Unauthenticated, "enrollment token expired")
	case errors.Is(err, metadata.ErrConflict):
		return nil, status.Errorf(codes.AlreadyExists, "device %s is already enrolled; revoke it first or enroll under another id", id)
	case err != nil:
		return nil, s.internal(ctx, "enroll", err, "device_id", id)
	}
	s.logger.InfoContext(ctx, "device enrolled", "device_id", d.DeviceID, "line", d.Line, "name", d.Name)
	return &ifcv1.EnrollResponse{Credentials: &ifcv1.DeviceCredentials{DeviceId: d.DeviceID, Line: d.Line, Secret: secret}}, nil
}

// Heartbeat records the device's reported state.
func (s *Server) Heartbeat(ctx context.Context, req *ifcv1.HeartbeatRequest) (*ifcv1.HeartbeatResponse, error) {
	d, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetQueued() < 0 || req.GetQueuedBytes() < 0 {
		return nil, status.Error(codes.InvalidArgument, "queued and queued_bytes must not be negative")
	}
	if err := checkLabel("agent_version", req.GetAgentVersion()); err != nil {
		return nil, err
	}
	if err := checkLabel("model_version", req.GetModelVersion()); err != nil {
		return nil, err
	}
	now := s.now()
	st := metadata.DeviceStatus{
		Queued:       req.GetQueued(),
		QueuedBytes:  req.GetQueuedBytes(),
		AgentVersion: req.GetAgentVersion(),
		ModelVersion: req.GetModelVersion(),
		At:           now,
	}
	if req.GetOldestQueued() != nil {
		st.OldestQueued = req.GetOldestQueued().AsTime()
	}
	if err := s.opts.Store.TouchDevice(ctx, d.DeviceID, st); err != nil {
		return nil, s.internal(ctx, "record heartbeat", err, "device_id", d.DeviceID)
	}
	return &ifcv1.HeartbeatResponse{ServerTime: timestamppb.New(now)}, nil
}

func checkLabel(field, v string) error {
	if len(v) > maxLabel {
		return status.Error(codes.InvalidArgument, fmt.Sprintf("%s is longer than %d bytes", field, maxLabel))
	}
	return nil
}
