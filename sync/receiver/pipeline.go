package receiver

import (
	"context"
	"errors"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
)

// pipelineBatch is how many pending records one round submits at most.
const pipelineBatch = 20

// Run submits the pipeline of committed records every PipelineInterval and
// whenever a record is committed, until ctx ends. With no Runner it only
// waits: records stay pending.
func (s *Server) Run(ctx context.Context) error {
	if s.opts.Runner == nil {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.opts.PipelineInterval)
	defer t.Stop()
	for {
		if s.submitPending(ctx) {
			s.wakeLoop() // a full batch went through: more may be waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
	}
}

// wakeLoop asks Run for a round without blocking.
func (s *Server) wakeLoop() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// submitPending runs one round; it reports whether a full batch was
// submitted without the runner asking to retry later.
func (s *Server) submitPending(ctx context.Context) bool {
	recs, err := s.opts.Store.PendingPipelineRecords(ctx, pipelineBatch)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.ErrorContext(ctx, "list pending pipeline records", "err", err)
		}
		return false
	}
	for _, rec := range recs {
		if !s.submit(ctx, rec) {
			return false
		}
	}
	return len(recs) == pipelineBatch
}

// submit runs the pipeline of one record; false means stop this round.
func (s *Server) submit(ctx context.Context, rec metadata.Record) bool {
	r := rec.Record
	log := s.logger.With("record_id", r.GetRecordId(), "device_id", r.GetDeviceId())
	set := func(state, execID, msg string) {
		if err := s.opts.Store.SetRecordPipeline(ctx, r.GetRecordId(), state, execID, msg); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "set record pipeline state", "state", state, "err", err)
		}
	}
	id, version := r.GetPipelineId(), r.GetPipelineVersion()
	if id == "" {
		m, err := s.opts.Store.GetMaster(ctx, r.GetProductCode())
		switch {
		case errors.Is(err, metadata.ErrNotFound):
			set(metadata.PipelineFailed, "", "product "+r.GetProductCode()+" has no inspection master")
			return true
		case err != nil:
			if ctx.Err() == nil {
				log.ErrorContext(ctx, "get master", "err", err)
			}
			return false
		}
		id, version = m.GetPipelineId(), m.GetPipelineVersion()
	}
	if id == "" {
		set(metadata.PipelineNone, "", "")
		return true
	}
	if len(rec.Images) == 0 || rec.Images[0].FileID == "" {
		set(metadata.PipelineFailed, "", "record has no stored image")
		return true
	}
	execID, err := s.opts.Runner.RunPipeline(ctx, id, version, rec.Images[0].FileID, "device:"+r.GetDeviceId())
	switch {
	case errors.Is(err, ErrRetryLater) || ctx.Err() != nil:
		log.InfoContext(ctx, "pipeline runner busy; record stays pending", "err", err)
		return false
	case err != nil:
		log.WarnContext(ctx, "pipeline submission failed", "pipeline_id", id, "err", err)
		set(metadata.PipelineFailed, "", err.Error())
		return true
	}
	log.InfoContext(ctx, "pipeline submitted", "pipeline_id", id, "execution_id", execID)
	set(metadata.PipelineSubmitted, execID, "")
	return true
}
