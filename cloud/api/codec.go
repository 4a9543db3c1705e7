package api

import (
	"errors"
	"fmt"

	"github.com/imageflowcanvas/ifc/cloud/pipeline"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// pipelineCodec is the default Pipelines: cloud/pipeline over the catalogue.
type pipelineCodec struct{ cat pipeline.Catalog }

func defaultPipelines(cat Catalog) (Pipelines, error) {
	if cat == nil {
		return nil, errors.New("pipeline codec: no catalog")
	}
	return pipelineCodec{cat: cat}, nil
}

func formatOf(format string) pipeline.Format {
	switch format {
	case "json":
		return pipeline.FormatJSON
	case "yaml":
		return pipeline.FormatYAML
	}
	return pipeline.FormatAuto
}

func (c pipelineCodec) Parse(data []byte, format string) (*ifcv1.PipelineDefinition, error) {
	return pipeline.Parse(data, formatOf(format))
}

func (c pipelineCodec) Validate(def *ifcv1.PipelineDefinition) error {
	return pipeline.Validate(def, c.cat)
}

func (c pipelineCodec) Export(def *ifcv1.PipelineDefinition, format string) ([]byte, error) {
	switch format {
	case "json":
		return pipeline.MarshalJSON(def)
	case "yaml":
		return pipeline.MarshalYAML(def)
	}
	return nil, fmt.Errorf("export pipeline: unknown format %q", format)
}

// problemItem is one validation problem.
type problemItem struct {
	Node    string `json:"node,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// validationProblems lists the problems of a pipeline validation or syntax
// error (nil for other errors).
func validationProblems(err error) []problemItem {
	var ve *pipeline.ValidationError
	if errors.As(err, &ve) {
		out := make([]problemItem, 0, len(ve.Problems))
		for _, p := range ve.Problems {
			out = append(out, problemItem{Node: p.Node, Field: p.Field, Message: p.Message})
		}
		return out
	}
	var se *pipeline.SyntaxError
	if errors.As(err, &se) {
		msg := se.Msg
		if se.Line > 0 {
			msg = fmt.Sprintf("line %d: %s", se.Line, se.Msg)
			if se.Column > 0 {
				msg = fmt.Sprintf("line %d:%d: %s", se.Line, se.Column, se.Msg)
			}
		}
		return []problemItem{{Field: se.Path, Message: msg}}
	}
	return nil
}
