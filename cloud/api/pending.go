package api

import (
	"errors"

	"github.com/imageflowcanvas/ifc/cloud/pipeline"
)

// SubmitRequest asks the conductor to run a pipeline version on inputs.
type SubmitRequest struct {
	PipelineID    string
	Version       int32
	Inputs        []string
	CorrelationID string
	ClientID      string
	CreatedBy     string
}

// IngestOptions bound and label an upload.
type IngestOptions struct {
	Filename  string
	CreatedBy string
	MaxBytes  int64
}

var (
	errOverloaded      = errors.New("overloaded")
	errInvalidPipeline = pipeline.ErrInvalid
	errPipelineSyntax  = pipeline.ErrSyntax
	errPipelineTooBig  = pipeline.ErrTooLarge
	errFileTooLarge    = errors.New("file too large")
	errUnsupportedType = errors.New("unsupported type")
	errTooManyPixels   = errors.New("too many pixels")
	errCorruptImage    = errors.New("corrupt image")
)
