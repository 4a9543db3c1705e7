package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/imageflowcanvas/ifc/cloud/conductor"
	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/pipeline"
	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/prefilter"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/device"
	"github.com/imageflowcanvas/ifc/sync/receiver"
)

// newReceiver builds the cloud end of edge sync, hosted on the API's gRPC
// server: uploads land in the object store through files, records in the
// metadata store, and the product's pipeline runs through the conductor.
func newReceiver(cfg Config, meta metadata.Store, fileSvc *files.Service, c *conductor.Conductor, logger *slog.Logger) (*receiver.Server, error) {
	embedded, err := bundle.LoadFS(prefilter.FS)
	if err != nil {
		return nil, fmt.Errorf("embedded pre-filter bundle: %w", err)
	}
	return receiver.New(receiver.Options{
		Store:         meta,
		Images:        fileSvc,
		Runner:        conductorRunner{c: c},
		ModelDirs:     []string{cfg.ModelDir},
		ModelFS:       map[string]fs.FS{embedded.Manifest.Name + "@" + embedded.Manifest.Version: prefilter.FS},
		StagingDir:    cfg.SyncStagingDir,
		MaxImageBytes: cfg.MaxUploadBytes,
		Logger:        logger,
	})
}

// conductorRunner submits a synced record's pipeline to the conductor.
type conductorRunner struct{ c *conductor.Conductor }

// RunPipeline submits and returns at once; the execution runs on its own.
func (r conductorRunner) RunPipeline(ctx context.Context, pipelineID string, version int32, fileID, createdBy string) (string, error) {
	e, err := r.c.Submit(ctx, conductor.Request{PipelineID: pipelineID, Version: version, Inputs: []string{fileID}, ClientID: "sync", CreatedBy: createdBy})
	if errors.Is(err, conductor.ErrOverloaded) || errors.Is(err, conductor.ErrClosed) || errors.Is(err, conductor.ErrNoService) {
		return "", fmt.Errorf("%w: %w", receiver.ErrRetryLater, err)
	}
	if err != nil {
		return "", err
	}
	return e.GetExecutionId(), nil
}

// CreateEnrollmentToken makes a one-time token for an edge of line (the
// all-in-one uses it to enroll its own edge agent).
func (s *Server) CreateEnrollmentToken(ctx context.Context, line string, ttl time.Duration) (string, error) {
	if s.meta == nil {
		return "", errors.New("enrollment: this process has no metadata store")
	}
	tok, hash, err := device.NewToken()
	if err != nil {
		return "", err
	}
	now := time.Now()
	err = s.meta.CreateEnrollmentToken(ctx, metadata.EnrollmentToken{TokenHash: hash, Line: line, CreatedBy: "all-in-one", CreatedAt: now, ExpiresAt: now.Add(ttl)})
	if err != nil {
		return "", fmt.Errorf("create enrollment token: %w", err)
	}
	return tok, nil
}

// EnsureDemo prepares the cloud for the all-in-one's own edge: the
// standard pipeline exists (created once, found by name afterwards), and
// each master whose product the cloud does not know yet is stored, with a
// pipeline named "standard" pointed at that pipeline, so the edge's
// records are accepted and the cloud pipeline runs on them. Existing
// masters are left alone.
func (s *Server) EnsureDemo(ctx context.Context, masters []*ifcv1.InspectionMaster) error {
	if s.meta == nil {
		return errors.New("demo: this process has no metadata store")
	}
	std, err := s.standardPipeline(ctx)
	if err != nil {
		return err
	}
	for _, m := range masters {
		if _, err := s.meta.GetMaster(ctx, m.GetProduct().GetCode()); err == nil {
			continue
		} else if !errors.Is(err, metadata.ErrNotFound) {
			return err
		}
		m = proto.CloneOf(m)
		if m.GetPipelineId() == "standard" {
			m.PipelineId, m.PipelineVersion = std.GetId(), std.GetVersion()
		}
		if _, err := s.meta.PutMaster(ctx, m); err != nil {
			return fmt.Errorf("store master %s: %w", m.GetProduct().GetCode(), err)
		}
	}
	return nil
}

// standardPipeline returns the latest pipeline named "standard", creating it first if none exists.
func (s *Server) standardPipeline(ctx context.Context) (*ifcv1.Pipeline, error) {
	all, err := s.meta.ListPipelines(ctx)
	if err != nil {
		return nil, fmt.Errorf("list pipelines: %w", err)
	}
	for _, p := range all {
		if p.GetDefinition().GetName() == "standard" {
			return p, nil
		}
	}
	p, err := s.meta.CreatePipelineVersion(ctx, "", pipeline.Standard(), "all-in-one")
	if err != nil {
		return nil, fmt.Errorf("create standard pipeline: %w", err)
	}
	return p, nil
}
