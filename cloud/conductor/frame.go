package conductor

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/trace"

	"github.com/imageflowcanvas/ifc/cloud/pipeline"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// maxCachedPlans bounds the compiled plans kept by planFor.
const maxCachedPlans = 256

// ProcessFrame runs p on one frame for the real-time paths (ExecuteStream,
// WebSocket): validated and admission-controlled like Submit, but nothing
// is stored or published. It returns the JPEG of the last image-producing
// node and the detections of the last detections-producing node
// (topological order). A failed node fails the frame with an error naming it.
func (c *Conductor) ProcessFrame(ctx context.Context, p *ifcv1.Pipeline, img *ifcv1.Image) (_ *ifcv1.ProcessedFrame, err error) {
	start := c.now()
	if c.isClosed() {
		return nil, ErrClosed
	}
	if p == nil {
		return nil, fmt.Errorf("%w: pipeline is required", ErrInvalidRequest)
	}
	if len(img.GetData()) == 0 {
		return nil, fmt.Errorf("%w: frame has no image data", ErrInvalidRequest)
	}
	if int64(len(img.GetData())) > c.cfg.MaxInputBytes {
		return nil, fmt.Errorf("%w: frame exceeds %d bytes", ErrInvalidRequest, c.cfg.MaxInputBytes)
	}
	if img.GetFormat() == ifcv1.ImageFormat_IMAGE_FORMAT_UNSPECIFIED {
		img = &ifcv1.Image{Data: img.GetData(), Format: formatOf(img.GetData(), ""), Width: img.GetWidth(), Height: img.GetHeight()}
	}
	plan, err := c.planFor(p)
	if err != nil {
		return nil, err
	}
	if err := c.acquire(); err != nil {
		return nil, err
	}
	defer c.release()

	ctx, span := c.tracer.Start(ctx, spanFrame, trace.WithAttributes(attrPipelineID.String(p.GetId())))
	defer func() { endSpan(span, err) }()

	// The frame ends when the caller gives up or the conductor shuts down.
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(c.baseCtx, func() { cancel(errShutdown) })
	defer stop()

	lastImage, lastDets := -1, -1
	for i, n := range plan.Nodes {
		if n.OutputsImage {
			lastImage = i
		}
		if n.OutputsDetections {
			lastDets = i
		}
	}
	g := &graphRun{
		plan:       plan,
		pipelineID: p.GetId(),
		input:      img,
		encode:     func(i int) bool { return i == lastImage },
		persist:    func(int) bool { return false },
		observe:    func(int, *nodeResult) {},
	}
	res := c.runGraph(fctx, g)
	if err := firstFailure(plan, res); err != nil {
		return nil, err
	}
	if fctx.Err() != nil {
		return nil, fmt.Errorf("process frame: %w", context.Cause(fctx))
	}
	out := &ifcv1.ProcessedFrame{}
	if lastImage >= 0 {
		out.Image = res[lastImage].encoded
	}
	if lastDets >= 0 {
		out.Detections = res[lastDets].detections
	}
	out.ProcessingUs = c.now().Sub(start).Microseconds()
	return out, nil
}

// planFor compiles p, caching the plans of stored versions: versions are
// immutable and the catalogue is fixed for the life of the process, so a
// cached plan is what validating again would produce.
func (c *Conductor) planFor(p *ifcv1.Pipeline) (*pipeline.Plan, error) {
	key := ""
	if p.GetId() != "" && p.GetVersion() > 0 {
		key = fmt.Sprintf("%s@%d", p.GetId(), p.GetVersion())
		c.planMu.Lock()
		plan := c.plans[key]
		c.planMu.Unlock()
		if plan != nil {
			return plan, nil
		}
	}
	plan, err := c.compile(p)
	if err != nil {
		return nil, err
	}
	if key != "" {
		c.planMu.Lock()
		if len(c.plans) >= maxCachedPlans {
			clear(c.plans)
		}
		c.plans[key] = plan
		c.planMu.Unlock()
	}
	return plan, nil
}
