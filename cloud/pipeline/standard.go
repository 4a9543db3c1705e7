package pipeline

import (
	_ "embed"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// standardYAML is the standard pipeline, the same document as
// docs/examples/standard.yaml (a test keeps the two identical).
//
//go:embed standard.yaml
var standardYAML []byte

// Standard returns a fresh copy of the standard inspection pipeline:
// 640 letterbox resize, Gaussian blur, detect. The all-in-one seeds it as
// the demo product's cloud pipeline.
func Standard() *ifcv1.PipelineDefinition {
	def, err := Parse(standardYAML, FormatYAML)
	if err != nil {
		panic("pipeline: embedded standard.yaml: " + err.Error()) // a build defect, caught by TestStandard
	}
	return def
}
