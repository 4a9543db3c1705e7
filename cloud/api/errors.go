package api

import (
	"github.com/imageflowcanvas/ifc/cloud/conductor"
	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/pipeline"
)

// SubmitRequest asks the conductor to run a pipeline version on inputs.
type SubmitRequest = conductor.Request

// IngestOptions bound and label an upload.
type IngestOptions = files.IngestOptions

// Sentinels of the packages below the API, mapped to statuses in classify.
var (
	errOverloaded      = conductor.ErrOverloaded
	errConductorClosed = conductor.ErrClosed
	errInvalidRequest  = conductor.ErrInvalidRequest
	errNoService       = conductor.ErrNoService
	errFinished        = conductor.ErrFinished
	errNotLocal        = conductor.ErrNotLocal
	errInvalidPipeline = pipeline.ErrInvalid
	errPipelineSyntax  = pipeline.ErrSyntax
	errPipelineTooBig  = pipeline.ErrTooLarge
	errFileTooLarge    = files.ErrTooLarge
	errUnsupportedType = files.ErrUnsupportedType
	errTooManyPixels   = files.ErrTooManyPixels
	errCorruptImage    = files.ErrCorrupt
	errFileInvalidArg  = files.ErrInvalidArgument
)
