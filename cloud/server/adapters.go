package server

import (
	"context"
	"io"

	"github.com/imageflowcanvas/ifc/cloud/api"
	"github.com/imageflowcanvas/ifc/cloud/conductor"
	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// conductorAdapter gives the API its consumer-side view of the conductor.
type conductorAdapter struct{ c *conductor.Conductor }

func (a conductorAdapter) Submit(ctx context.Context, r api.SubmitRequest) (*ifcv1.Execution, error) {
	return a.c.Submit(ctx, conductor.Request(r))
}

func (a conductorAdapter) Wait(ctx context.Context, id string) (*ifcv1.Execution, error) {
	return a.c.Wait(ctx, id)
}

func (a conductorAdapter) Cancel(ctx context.Context, id string) error { return a.c.Cancel(ctx, id) }

func (a conductorAdapter) ProcessFrame(ctx context.Context, p *ifcv1.Pipeline, img *ifcv1.Image) (*ifcv1.ProcessedFrame, error) {
	return a.c.ProcessFrame(ctx, p, img)
}

// filesAdapter gives the API its consumer-side view of the file service.
type filesAdapter struct{ f *files.Service }

func (a filesAdapter) Ingest(ctx context.Context, r io.Reader, o api.IngestOptions) (metadata.File, error) {
	return a.f.Ingest(ctx, r, files.IngestOptions(o))
}

func (a filesAdapter) Open(ctx context.Context, id string) (io.ReadCloser, metadata.File, error) {
	return a.f.Open(ctx, id)
}
