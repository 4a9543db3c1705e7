package catalog

import ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"

// Service names: the resident part services a part can run on.
const (
	// ServiceResize runs the resize part.
	ServiceResize = "resize"
	// ServiceFilter runs the OpenCV filter parts.
	ServiceFilter = "filter"
	// ServiceDetect runs object detection.
	ServiceDetect = "detect"
)

// Part ids of the built-in parts.
const (
	PartResize       = "resize"        // scale, keep aspect or letterbox
	PartGrayscale    = "grayscale"     // to one grey channel
	PartGaussianBlur = "gaussian_blur" // Gaussian smoothing
	PartMedianBlur   = "median_blur"   // median filter
	PartThreshold    = "threshold"     // binary mask (fixed, Otsu, adaptive)
	PartCanny        = "canny"         // Canny edge map
	PartCLAHE        = "clahe"         // contrast-limited adaptive histogram equalisation
	PartMorphology   = "morphology"    // erode, dilate, open, close
	PartCrop         = "crop"          // rectangle inside the image
	PartRotate       = "rotate"        // quarter turns and flips
	PartDetect       = "detect"        // object detection
)

// MaxImageSide is the largest width or height a part may be asked to produce.
const MaxImageSide = 8192

var (
	imageIn  = []ifcv1.PortType{ifcv1.PortType_PORT_TYPE_IMAGE}
	imageOut = []ifcv1.PortType{ifcv1.PortType_PORT_TYPE_IMAGE}
	detOut   = []ifcv1.PortType{ifcv1.PortType_PORT_TYPE_IMAGE, ifcv1.PortType_PORT_TYPE_DETECTIONS}
)

// spec is the source form of one part: its descriptor fields, its params schema as JSON
// (properties in the order a form should show them), and checks JSON Schema cannot say.
type spec struct {
	id, service, title, description string
	inputs, outputs                 []ifcv1.PortType
	schema                          string
	check                           func(p map[string]any) error
}

// builtin lists the parts of Default in the order the catalogue shows them.
var builtin = []spec{
	{
		id: PartResize, service: ServiceResize, title: "Resize",
		description: "Scales the image to width×height. With keep_aspect the image fits inside the box; " +
			"with letterbox the output is exactly width×height, the scaled image centred and the rest filled with pad_value.",
		inputs: imageIn, outputs: imageOut,
		schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "width": {"type": "integer", "title": "Width (px)", "minimum": 1, "maximum": 8192, "default": 640},
    "height": {"type": "integer", "title": "Height (px)", "minimum": 1, "maximum": 8192, "default": 640},
    "keep_aspect": {"type": "boolean", "title": "Keep aspect ratio", "default": true},
    "letterbox": {"type": "boolean", "title": "Letterbox (pad to exact size)", "default": false},
    "pad_value": {"type": "integer", "title": "Padding grey level", "minimum": 0, "maximum": 255, "default": 114},
    "interpolation": {"type": "string", "title": "Interpolation", "enum": ["nearest", "linear", "area", "cubic"], "default": "linear"}
  }
}`,
	},
	{
		id: PartGrayscale, service: ServiceFilter, title: "Grayscale",
		description: "Converts the image to one 8-bit grey channel.",
		inputs:      imageIn, outputs: imageOut,
		schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {}
}`,
	},
	{
		id: PartGaussianBlur, service: ServiceFilter, title: "Gaussian blur",
		description: "Smooths the image with a Gaussian kernel of odd size ksize; sigma 0 derives it from ksize.",
		inputs:      imageIn, outputs: imageOut,
		schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "ksize": {"type": "integer", "title": "Kernel size (odd)", "minimum": 1, "maximum": 31, "default": 5},
    "sigma": {"type": "number", "title": "Sigma (0 = from kernel size)", "minimum": 0, "maximum": 100, "default": 0}
  }
}`,
		check: func(p map[string]any) error { return checkOdd(p, "ksize") },
	},
	{
		id: PartMedianBlur, service: ServiceFilter, title: "Median blur",
		description: "Removes salt-and-pepper noise with a median filter of odd size ksize.",
		inputs:      imageIn, outputs: imageOut,
		schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "ksize": {"type": "integer", "title": "Kernel size (odd)", "minimum": 3, "maximum": 15, "default": 5}
  }
}`,
		check: func(p map[string]any) error { return checkOdd(p, "ksize") },
	},
	{
		id: PartThreshold, service: ServiceFilter, title: "Threshold",
		description: "Turns the image into a black-and-white mask (converted to grey first). binary/binary_inv use thresh; " +
			"otsu picks the threshold itself; adaptive_mean/adaptive_gaussian compare each pixel with its block_size neighbourhood minus c.",
		inputs: imageIn, outputs: imageOut,
		schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "type": {"type": "string", "title": "Method", "enum": ["binary", "binary_inv", "otsu", "adaptive_mean", "adaptive_gaussian"], "default": "binary"},
    "thresh": {"type": "number", "title": "Threshold", "minimum": 0, "maximum": 255, "default": 127},
    "max_value": {"type": "number", "title": "Value for pixels that pass", "minimum": 0, "maximum": 255, "default": 255},
    "block_size": {"type": "integer", "title": "Adaptive block size (odd)", "minimum": 3, "maximum": 255, "default": 11},
    "c": {"type": "number", "title": "Adaptive constant subtracted", "minimum": -255, "maximum": 255, "default": 2}
  }
}`,
		check: func(p map[string]any) error { return checkOdd(p, "block_size") },
	},
	{
		id: PartCanny, service: ServiceFilter, title: "Canny edges",
		description: "Finds edges with the Canny detector; output is a binary edge map (0 or 255).",
		inputs:      imageIn, outputs: imageOut,
		schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "low": {"type": "number", "title": "Low hysteresis threshold", "minimum": 0, "maximum": 1000, "default": 50},
    "high": {"type": "number", "title": "High hysteresis threshold", "minimum": 0, "maximum": 1000, "default": 150},
    "aperture": {"type": "integer", "title": "Sobel aperture", "enum": [3, 5, 7], "default": 3},
    "l2gradient": {"type": "boolean", "title": "Use L2 gradient norm", "default": false}
  }
}`,
		check: checkCanny,
	},
	{
		id: PartCLAHE, service: ServiceFilter, title: "CLAHE",
		description: "Contrast-limited adaptive histogram equalisation (on the lightness channel for colour images).",
		inputs:      imageIn, outputs: imageOut,
		schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "clip_limit": {"type": "number", "title": "Clip limit", "minimum": 0.1, "maximum": 40, "default": 2},
    "tile_grid": {"type": "integer", "title": "Tiles per side", "minimum": 1, "maximum": 64, "default": 8}
  }
}`,
	},
	{
		id: PartMorphology, service: ServiceFilter, title: "Morphology",
		description: "Erodes, dilates, opens (erode then dilate) or closes (dilate then erode) with a structuring element.",
		inputs:      imageIn, outputs: imageOut,
		schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "op": {"type": "string", "title": "Operation", "enum": ["open", "close", "erode", "dilate"], "default": "open"},
    "shape": {"type": "string", "title": "Kernel shape", "enum": ["rect", "ellipse", "cross"], "default": "rect"},
    "ksize": {"type": "integer", "title": "Kernel size (odd)", "minimum": 1, "maximum": 31, "default": 3},
    "iterations": {"type": "integer", "title": "Iterations", "minimum": 1, "maximum": 20, "default": 1}
  }
}`,
		check: func(p map[string]any) error { return checkOdd(p, "ksize") },
	},
	{
		id: PartCrop, service: ServiceFilter, title: "Crop",
		description: "Keeps the rectangle at (x, y) of size width×height; it must lie inside the image.",
		inputs:      imageIn, outputs: imageOut,
		schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["width", "height"],
  "properties": {
    "x": {"type": "integer", "title": "Left (px)", "minimum": 0, "maximum": 65535, "default": 0},
    "y": {"type": "integer", "title": "Top (px)", "minimum": 0, "maximum": 65535, "default": 0},
    "width": {"type": "integer", "title": "Width (px)", "minimum": 1, "maximum": 8192},
    "height": {"type": "integer", "title": "Height (px)", "minimum": 1, "maximum": 8192}
  }
}`,
	},
	{
		id: PartRotate, service: ServiceFilter, title: "Rotate / flip",
		description: "Rotates clockwise by angle (0, 90, 180, 270), then flips (none, horizontal, vertical, both).",
		inputs:      imageIn, outputs: imageOut,
		schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "angle": {"type": "integer", "title": "Clockwise angle", "enum": [0, 90, 180, 270], "default": 90},
    "flip": {"type": "string", "title": "Flip", "enum": ["none", "horizontal", "vertical", "both"], "default": "none"}
  }
}`,
	},
	{
		id: PartDetect, service: ServiceDetect, title: "Detect objects",
		description: "Runs the object detector. Outputs the detections (boxes in input-image pixels) and the image, " +
			"annotated with boxes, labels and scores when annotate is set. score_threshold defaults to the model's own.",
		inputs: imageIn, outputs: detOut,
		schema: `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "score_threshold": {"type": "number", "title": "Minimum score (default: the model's)", "minimum": 0, "maximum": 1},
    "max_detections": {"type": "integer", "title": "Maximum detections", "minimum": 1, "maximum": 1000, "default": 100},
    "annotate": {"type": "boolean", "title": "Draw boxes on the output image", "default": true}
  }
}`,
	},
}

// checkOdd requires the integer param name, when present, to be odd.
func checkOdd(p map[string]any, name string) error {
	v, ok := p[name]
	if !ok {
		return nil
	}
	n, ok := AsInt(v)
	if !ok {
		return invalid(name, "must be an integer, got %v", v)
	}
	if n%2 == 0 {
		return invalid(name, "must be odd, got %d", n)
	}
	return nil
}

// checkCanny requires low <= high.
func checkCanny(p map[string]any) error {
	low, _ := AsFloat(p["low"])
	high, _ := AsFloat(p["high"])
	if low > high {
		return invalid("low", "must be <= high (%v), got %v", high, low)
	}
	return nil
}
