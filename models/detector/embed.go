// Package detector embeds the defect detector model bundle (see docs/model-bundle.md).
package detector

import "embed"

// FS holds model.onnx, manifest.json and the golden files.
//
//go:embed model.onnx manifest.json golden_*
var FS embed.FS
