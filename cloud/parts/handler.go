package parts

import (
	"context"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Handler runs the parts of one part service (resize, filter or detect) on decoded images.
// The Server has validated the params and decoded the images before calling Process.
type Handler interface {
	// Service is the catalogue service name the handler implements ("resize", "filter", "detect").
	Service() string
	// Parts lists the part ids the handler runs; each must be in the catalogue under Service.
	Parts() []string
	// Process runs req.Part once. It must not Close req's images; it may return one of them
	// as Result.Image (the Server notices and closes it once).
	Process(ctx context.Context, req *Request) (*Result, error)
}

// Request is one validated part invocation.
type Request struct {
	// Part is the part id.
	Part string
	// Params are the validated params with defaults applied.
	Params Params
	// Images are the decoded input images (8-bit BGR or grey), owned by the Server.
	Images []gocv.Mat
	// Detections are the input detections, if any.
	Detections []*ifcv1.Detection
	// ExecutionID and NodeID identify the pipeline node, for logs.
	ExecutionID, NodeID string
}

// Result is a part's output.
type Result struct {
	// Image is the output image (8-bit BGR or grey); the Server takes ownership and closes it.
	// A zero Mat means the part has no image output.
	Image gocv.Mat
	// Detections are the output detections.
	Detections []*ifcv1.Detection
}

// Params are validated part params; accessors return the zero value for absent keys.
type Params map[string]any

// Int returns the integer param name.
func (p Params) Int(name string) int {
	n, _ := catalog.AsInt(p[name])
	return n
}

// Float returns the number param name.
func (p Params) Float(name string) float64 {
	f, _ := catalog.AsFloat(p[name])
	return f
}

// Bool returns the boolean param name.
func (p Params) Bool(name string) bool {
	b, _ := p[name].(bool)
	return b
}

// String returns the string param name.
func (p Params) String(name string) string {
	s, _ := p[name].(string)
	return s
}

// Has reports whether param name is set.
func (p Params) Has(name string) bool {
	_, ok := p[name]
	return ok
}
