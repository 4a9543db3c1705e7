// Package prefilter embeds the pre-filter model bundle (see docs/model-bundle.md).
package prefilter

import "embed"

// FS holds model.onnx, manifest.json and the golden files.
//
//go:embed model.onnx manifest.json golden_*
var FS embed.FS
