package conductor

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	"github.com/imageflowcanvas/ifc/cloud/parts"
	"github.com/imageflowcanvas/ifc/cloud/parts/detect"
	"github.com/imageflowcanvas/ifc/cloud/parts/filter"
	"github.com/imageflowcanvas/ifc/cloud/parts/resize"
	"github.com/imageflowcanvas/ifc/models/infer"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// oneBox is a detector that always finds one defect in the middle.
type oneBox struct{}

func (oneBox) Detect(img gocv.Mat) ([]infer.Detection, error) {
	w, h := float64(img.Cols()), float64(img.Rows())
	return []infer.Detection{{Label: "scratch", Score: 0.9, Box: infer.Box{X: w / 4, Y: h / 4, W: w / 2, H: h / 2}}}, nil
}

// sceneJPEG is a deterministic w×h colour JPEG with some structure.
func sceneJPEG(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: uint8((x ^ y) & 0xff), A: 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// realParts serves the real resize, filter and detect services (the
// detector faked) each on its own gRPC server, as deployed.
func realParts(tb testing.TB) map[string]ifcv1.PartServiceClient {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	det, err := detect.New(oneBox{}, 0.25)
	if err != nil {
		tb.Fatal(err)
	}
	clients := map[string]ifcv1.PartServiceClient{}
	for name, h := range map[string]parts.Handler{
		catalog.ServiceResize: resize.New(), catalog.ServiceFilter: filter.New(), catalog.ServiceDetect: det,
	} {
		srv, err := parts.NewServer(log, catalog.Default(), h)
		if err != nil {
			tb.Fatal(err)
		}
		clients[name] = serveParts(tb, srv)
	}
	return clients
}

const standardYAML = `
name: standard
nodes:
  - {id: resize, part: resize, params: {width: 640, height: 640}}
  - {id: blur, part: gaussian_blur, params: {ksize: 5}}
  - {id: detect, part: detect}
edges:
  - {from: resize, to: blur}
  - {from: blur, to: detect}
`

// standardRun starts a conductor over the real stores and part services
// with the standard pipeline and a 1920×1080 input stored.
func standardRun(tb testing.TB, cfg Config) (c *Conductor, pipelineID, input string, rs *realStack) {
	tb.Helper()
	rs = newRealStack(tb)
	deps := rs.deps(tb, newTestParts())
	deps.Catalog = catalog.Default()
	deps.Parts = realParts(tb)
	c, err := New(cfg, deps)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- c.Run(ctx) }()
	tb.Cleanup(func() { stop(); <-ran })
	def, err := pipelineParse(standardYAML)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := rs.meta.CreatePipelineVersion(context.Background(), "", def, "tester")
	if err != nil {
		tb.Fatal(err)
	}
	in, err := rs.files.PutDerived(context.Background(), sceneJPEG(tb, 1920, 1080), "image/jpeg", 1920, 1080, "tester")
	if err != nil {
		tb.Fatal(err)
	}
	return c, p.GetId(), in.FileID, rs
}

func TestStandardPipelineThroughRealParts(t *testing.T) {
	c, pid, input, rs := standardRun(t, Config{})
	ex, err := c.Submit(context.Background(), Request{PipelineID: pid, Inputs: []string{input}, CreatedBy: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	final, err := c.Wait(context.Background(), ex.GetExecutionId())
	if err != nil {
		t.Fatal(err)
	}
	if final.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("status %v: %s", final.GetStatus(), final.GetError())
	}
	for _, ns := range final.GetNodes() {
		_, f, err := rs.files.Open(context.Background(), ns.GetOutputs().GetFileId())
		if err != nil {
			t.Fatalf("node %s output: %v", ns.GetNodeId(), err)
		}
		if f.Width != 640 || f.Height != 360 || f.ContentType != "image/jpeg" {
			t.Errorf("node %s output %dx%d %s, want the 640x360 JPEG", ns.GetNodeId(), f.Width, f.Height, f.ContentType)
		}
	}
	if d := nodeStatus(final, "detect").GetOutputs().GetDetections(); len(d) != 1 || d[0].GetLabel() != "scratch" {
		t.Errorf("detections %v", d)
	}
	frame, err := c.ProcessFrame(context.Background(), &ifcv1.Pipeline{Id: pid, Version: 1, Definition: mustPipeline(t)},
		&ifcv1.Image{Data: sceneJPEG(t, 320, 240), Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG})
	if err != nil {
		t.Fatal(err)
	}
	if frame.GetImage().GetFormat() != ifcv1.ImageFormat_IMAGE_FORMAT_JPEG || len(frame.GetDetections()) != 1 {
		t.Errorf("frame %v with %d detections", frame.GetImage().GetFormat(), len(frame.GetDetections()))
	}
}

func mustPipeline(tb testing.TB) *ifcv1.PipelineDefinition {
	def, err := pipelineParse(standardYAML)
	if err != nil {
		tb.Fatal(err)
	}
	return def
}

// BenchmarkStandardPipeline runs the design's standard pipeline (1920×1080
// JPEG → resize 640 → Gaussian blur → detect with a fake detector, every
// output persisted) through the embedded default stack, one execution at a
// time, and reports p50/p95 latency.
func BenchmarkStandardPipeline(b *testing.B) {
	c, pid, input, _ := standardRun(b, Config{})
	ctx := context.Background()
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		ex, err := c.Submit(ctx, Request{PipelineID: pid, Inputs: []string{input}})
		if err != nil {
			b.Fatal(err)
		}
		final, err := c.Wait(ctx, ex.GetExecutionId())
		if err != nil || final.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
			b.Fatalf("%v %v %s", final.GetStatus(), err, final.GetError())
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}
