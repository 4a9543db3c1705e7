package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Tasks a bundle can declare.
const (
	TaskClassification = "classification"
	TaskDetection      = "detection"
)

// Bounds applied when validating a manifest. They exist so a hostile or broken manifest
// cannot make a loader allocate unbounded memory or walk outside the bundle.
const (
	MaxManifestBytes  = 1 << 20   // manifest.json
	MaxModelBytes     = 512 << 20 // model.onnx
	MaxImageBytes     = 32 << 20  // one golden PNG
	MaxInputSide      = 4096      // network input height/width
	MinInputSide      = 8
	MaxTensorElements = 64 << 20 // any declared tensor
	MaxOutputs        = 8
	MaxClasses        = 1000
	MaxGolden         = 64
	MaxDetections     = 1000
	maxNameLen        = 128
)

// Manifest is the parsed manifest.json of a model bundle (docs/model-bundle.md).
type Manifest struct {
	Name        string         `json:"name"`
	Version     string         `json:"version"`
	Task        string         `json:"task"`
	File        string         `json:"file"`
	SHA256      string         `json:"sha256"`
	Opset       int            `json:"opset"`
	Input       TensorSpec     `json:"input"`
	Outputs     []TensorSpec   `json:"outputs"`
	Preprocess  Preprocess     `json:"preprocess"`
	Classes     []string       `json:"classes"`
	Threshold   float64        `json:"threshold"`
	Postprocess *Postprocess   `json:"postprocess,omitempty"`
	Training    map[string]any `json:"training,omitempty"`
	Metrics     map[string]any `json:"metrics,omitempty"`
	Golden      []Golden       `json:"golden"`
	Tolerance   Tolerance      `json:"tolerance"`
}

// TensorSpec names one model input or output and its static shape.
type TensorSpec struct {
	Name   string  `json:"name"`
	Shape  []int64 `json:"shape"`
	Layout string  `json:"layout,omitempty"`
	DType  string  `json:"dtype,omitempty"`
}

// Elements is the number of elements of the tensor (product of its shape).
func (t TensorSpec) Elements() int {
	n := 1
	for _, d := range t.Shape {
		n *= int(d)
	}
	return n
}

// Preprocess describes how an image becomes the network input.
type Preprocess struct {
	Resize        string     `json:"resize"`
	Interpolation string     `json:"interpolation"`
	PadValue      int        `json:"pad_value"`
	Color         string     `json:"color"`
	Scale         float64    `json:"scale"`
	Mean          [3]float64 `json:"mean"`
	Std           [3]float64 `json:"std"`
}

// Postprocess describes the detector decoding (CenterNet).
type Postprocess struct {
	Type          string  `json:"type"`
	Stride        int     `json:"stride"`
	NMSIoU        float64 `json:"nms_iou"`
	MaxDetections int     `json:"max_detections"`
}

// Golden is one golden image with the tensors and results PyTorch produced for it.
type Golden struct {
	Image         string            `json:"image"`
	Input         string            `json:"input"`
	Outputs       map[string]string `json:"outputs"`
	Expected      *Expected         `json:"expected,omitempty"`
	ExpectedScore *float64          `json:"expected_score,omitempty"`
}

// Expected holds the detections expected on a golden image.
type Expected struct {
	Detections []Detection `json:"detections"`
}

// Detection is a labelled, scored box in original-image pixels.
type Detection struct {
	Label string  `json:"label"`
	Score float64 `json:"score"`
	Box   Box     `json:"box"`
}

// Box is an axis-aligned box: top-left corner, width and height, in pixels.
type Box struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// Tolerance bounds the differences accepted by the golden and parity checks.
type Tolerance struct {
	InputAbs  float64 `json:"input_abs"`
	OutputAbs float64 `json:"output_abs"`
	BoxPx     float64 `json:"box_px"`
	ScoreAbs  float64 `json:"score_abs"`
}

// ErrManifest marks a manifest that cannot be parsed or fails validation.
var ErrManifest = errors.New("invalid manifest")

// ParseManifest decodes and validates manifest.json. Unknown fields are refused (a typo in
// a field that changes inference must not be ignored), except inside the informational
// "training" and "metrics" sections.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestBytes {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d byte limit", ErrManifest, len(data), MaxManifestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrManifest)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

var (
	nameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	versionRe = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)
	hexRe     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	fileRe    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
)

// fieldErr builds a validation error naming the field.
func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrManifest, field, fmt.Sprintf(format, args...))
}

// ValidFileName reports whether name is a plain file name inside the bundle directory:
// no directories, no "..", no hidden files, bounded length.
func ValidFileName(name string) bool {
	return len(name) <= maxNameLen && fileRe.MatchString(name) && !strings.Contains(name, "..")
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Validate checks every field against the bundle contract and returns an error naming the first bad field.
func (m *Manifest) Validate() error {
	if !nameRe.MatchString(m.Name) {
		return fieldErr("name", "%q must match %s", m.Name, nameRe)
	}
	if !versionRe.MatchString(m.Version) {
		return fieldErr("version", "%q must match %s", m.Version, versionRe)
	}
	if m.Task != TaskClassification && m.Task != TaskDetection {
		return fieldErr("task", "%q must be %q or %q", m.Task, TaskClassification, TaskDetection)
	}
	if !ValidFileName(m.File) {
		return fieldErr("file", "%q is not a plain file name inside the bundle", m.File)
	}
	if !hexRe.MatchString(m.SHA256) {
		return fieldErr("sha256", "%q must be 64 lowercase hex digits", m.SHA256)
	}
	if m.Opset < 17 || m.Opset > 30 {
		return fieldErr("opset", "%d must be in [17, 30]", m.Opset)
	}
	if err := m.validateInput(); err != nil {
		return err
	}
	if err := m.validateOutputs(); err != nil {
		return err
	}
	if err := m.validatePreprocess(); err != nil {
		return err
	}
	if err := m.validateClasses(); err != nil {
		return err
	}
	if !finite(m.Threshold) || m.Threshold < 0 || m.Threshold > 1 {
		return fieldErr("threshold", "%v must be in [0, 1]", m.Threshold)
	}
	if err := m.validateTask(); err != nil {
		return err
	}
	if err := m.validateTolerance(); err != nil {
		return err
	}
	return m.validateGolden()
}

// InputSize returns the network input width and height.
func (m *Manifest) InputSize() (w, h int) {
	return int(m.Input.Shape[3]), int(m.Input.Shape[2])
}

// Output returns the output spec with the given name.
func (m *Manifest) Output(name string) (TensorSpec, bool) {
	for _, o := range m.Outputs {
		if o.Name == name {
			return o, true
		}
	}
	return TensorSpec{}, false
}

// OutputNames lists the output names in manifest order.
func (m *Manifest) OutputNames() []string {
	names := make([]string, len(m.Outputs))
	for i, o := range m.Outputs {
		names[i] = o.Name
	}
	return names
}

func (m *Manifest) validateInput() error {
	in := m.Input
	if in.Name == "" || len(in.Name) > maxNameLen {
		return fieldErr("input.name", "must be 1..%d characters", maxNameLen)
	}
	if len(in.Shape) != 4 || in.Shape[0] != 1 || in.Shape[1] != 3 {
		return fieldErr("input.shape", "%v must be [1, 3, H, W]", in.Shape)
	}
	for i, d := range in.Shape[2:] {
		if d < MinInputSide || d > MaxInputSide {
			return fieldErr(fmt.Sprintf("input.shape[%d]", i+2), "%d must be in [%d, %d]", d, MinInputSide, MaxInputSide)
		}
	}
	if in.Layout != "" && in.Layout != "NCHW" {
		return fieldErr("input.layout", "%q must be NCHW", in.Layout)
	}
	if in.DType != "" && in.DType != "float32" {
		return fieldErr("input.dtype", "%q must be float32", in.DType)
	}
	return nil
}

func (m *Manifest) validateOutputs() error {
	if len(m.Outputs) == 0 || len(m.Outputs) > MaxOutputs {
		return fieldErr("outputs", "must list 1..%d tensors, got %d", MaxOutputs, len(m.Outputs))
	}
	seen := map[string]bool{m.Input.Name: true}
	for i, o := range m.Outputs {
		f := fmt.Sprintf("outputs[%d]", i)
		if o.Name == "" || len(o.Name) > maxNameLen || !fileRe.MatchString(o.Name) {
			return fieldErr(f+".name", "%q must be a simple identifier", o.Name)
		}
		if seen[o.Name] {
			return fieldErr(f+".name", "%q is used twice", o.Name)
		}
		seen[o.Name] = true
		if len(o.Shape) == 0 || len(o.Shape) > 6 {
			return fieldErr(f+".shape", "%v must have 1..6 dimensions", o.Shape)
		}
		n := int64(1)
		for _, d := range o.Shape {
			if d < 1 || d > MaxTensorElements {
				return fieldErr(f+".shape", "%v has a dimension outside [1, %d]", o.Shape, MaxTensorElements)
			}
			n *= d
			if n > MaxTensorElements {
				return fieldErr(f+".shape", "%v has more than %d elements", o.Shape, MaxTensorElements)
			}
		}
		if o.DType != "" && o.DType != "float32" {
			return fieldErr(f+".dtype", "%q must be float32", o.DType)
		}
	}
	return nil
}

func (m *Manifest) validatePreprocess() error {
	p := m.Preprocess
	if p.Resize != "letterbox" && p.Resize != "stretch" {
		return fieldErr("preprocess.resize", "%q must be letterbox or stretch", p.Resize)
	}
	if p.Interpolation != "linear" && p.Interpolation != "area" {
		return fieldErr("preprocess.interpolation", "%q must be linear or area", p.Interpolation)
	}
	if p.PadValue < 0 || p.PadValue > 255 {
		return fieldErr("preprocess.pad_value", "%d must be in [0, 255]", p.PadValue)
	}
	if p.Color != "RGB" && p.Color != "BGR" {
		return fieldErr("preprocess.color", "%q must be RGB or BGR", p.Color)
	}
	if !finite(p.Scale) || p.Scale <= 0 || p.Scale > 1e3 {
		return fieldErr("preprocess.scale", "%v must be in (0, 1000]", p.Scale)
	}
	for i := range 3 {
		if !finite(p.Mean[i]) || math.Abs(p.Mean[i]) > 1e3 {
			return fieldErr(fmt.Sprintf("preprocess.mean[%d]", i), "%v must be finite and |mean| <= 1000", p.Mean[i])
		}
		if !finite(p.Std[i]) || p.Std[i] <= 1e-6 || p.Std[i] > 1e3 {
			return fieldErr(fmt.Sprintf("preprocess.std[%d]", i), "%v must be in (1e-6, 1000]", p.Std[i])
		}
	}
	return nil
}

func (m *Manifest) validateClasses() error {
	if len(m.Classes) == 0 || len(m.Classes) > MaxClasses {
		return fieldErr("classes", "must list 1..%d names, got %d", MaxClasses, len(m.Classes))
	}
	seen := map[string]bool{}
	for i, c := range m.Classes {
		if c == "" || len(c) > 64 {
			return fieldErr(fmt.Sprintf("classes[%d]", i), "%q must be 1..64 characters", c)
		}
		if seen[c] {
			return fieldErr(fmt.Sprintf("classes[%d]", i), "%q is listed twice", c)
		}
		seen[c] = true
	}
	return nil
}

func (m *Manifest) validateTask() error {
	if m.Task == TaskClassification {
		if len(m.Classes) != 2 {
			return fieldErr("classes", "a classification bundle lists exactly 2 classes (negative, positive), got %d", len(m.Classes))
		}
		if len(m.Outputs) != 1 || m.Outputs[0].Elements() != 1 {
			return fieldErr("outputs", "a classification bundle has exactly one output with one element (the score)")
		}
		return nil
	}
	pp := m.Postprocess
	if pp == nil {
		return fieldErr("postprocess", "required for a detection bundle")
	}
	if pp.Type != "centernet" {
		return fieldErr("postprocess.type", "%q must be centernet", pp.Type)
	}
	switch pp.Stride {
	case 1, 2, 4, 8, 16, 32:
	default:
		return fieldErr("postprocess.stride", "%d must be one of 1, 2, 4, 8, 16, 32", pp.Stride)
	}
	if !finite(pp.NMSIoU) || pp.NMSIoU <= 0 || pp.NMSIoU > 1 {
		return fieldErr("postprocess.nms_iou", "%v must be in (0, 1]", pp.NMSIoU)
	}
	if pp.MaxDetections < 1 || pp.MaxDetections > MaxDetections {
		return fieldErr("postprocess.max_detections", "%d must be in [1, %d]", pp.MaxDetections, MaxDetections)
	}
	w, h := m.InputSize()
	if w%pp.Stride != 0 || h%pp.Stride != 0 {
		return fieldErr("postprocess.stride", "%d does not divide the input size %dx%d", pp.Stride, w, h)
	}
	ho, wo := int64(h/pp.Stride), int64(w/pp.Stride)
	want := map[string][]int64{
		"heatmap": {1, int64(len(m.Classes)), ho, wo},
		"wh":      {1, 2, ho, wo},
		"offset":  {1, 2, ho, wo},
	}
	for _, name := range []string{"heatmap", "wh", "offset"} {
		o, ok := m.Output(name)
		if !ok {
			return fieldErr("outputs", "a detection bundle needs an output named %q", name)
		}
		if !equalShape(o.Shape, want[name]) {
			return fieldErr("outputs."+name+".shape", "%v must be %v (classes, input size / stride)", o.Shape, want[name])
		}
	}
	return nil
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (m *Manifest) validateTolerance() error {
	t := m.Tolerance
	for _, c := range []struct {
		field string
		v     float64
		max   float64
	}{
		{"tolerance.input_abs", t.InputAbs, 1},
		{"tolerance.output_abs", t.OutputAbs, 1},
		{"tolerance.box_px", t.BoxPx, 64},
		{"tolerance.score_abs", t.ScoreAbs, 0.5},
	} {
		if !finite(c.v) || c.v <= 0 || c.v > c.max {
			return fieldErr(c.field, "%v must be in (0, %v]", c.v, c.max)
		}
	}
	return nil
}

func (m *Manifest) validateGolden() error {
	if len(m.Golden) == 0 || len(m.Golden) > MaxGolden {
		return fieldErr("golden", "must list 1..%d golden images, got %d", MaxGolden, len(m.Golden))
	}
	classes := map[string]bool{}
	for _, c := range m.Classes {
		classes[c] = true
	}
	files := map[string]bool{m.File: true, "manifest.json": true}
	claim := func(field, name string) error {
		if !ValidFileName(name) {
			return fieldErr(field, "%q is not a plain file name inside the bundle", name)
		}
		if files[name] {
			return fieldErr(field, "%q is used twice", name)
		}
		files[name] = true
		return nil
	}
	for i, g := range m.Golden {
		f := fmt.Sprintf("golden[%d]", i)
		if err := claim(f+".image", g.Image); err != nil {
			return err
		}
		if err := claim(f+".input", g.Input); err != nil {
			return err
		}
		for name, file := range g.Outputs {
			if _, ok := m.Output(name); !ok {
				return fieldErr(f+".outputs", "%q is not a declared output", name)
			}
			if err := claim(f+".outputs."+name, file); err != nil {
				return err
			}
		}
		switch m.Task {
		case TaskClassification:
			if g.ExpectedScore == nil {
				return fieldErr(f+".expected_score", "required for a classification bundle")
			}
			if s := *g.ExpectedScore; !finite(s) || s < 0 || s > 1 {
				return fieldErr(f+".expected_score", "%v must be in [0, 1]", s)
			}
		case TaskDetection:
			if g.Expected == nil || g.Expected.Detections == nil {
				return fieldErr(f+".expected.detections", "required for a detection bundle (an empty list is fine)")
			}
			if len(g.Expected.Detections) > m.Postprocess.MaxDetections {
				return fieldErr(f+".expected.detections", "%d exceeds max_detections", len(g.Expected.Detections))
			}
			for j, d := range g.Expected.Detections {
				df := fmt.Sprintf("%s.expected.detections[%d]", f, j)
				if !classes[d.Label] {
					return fieldErr(df+".label", "%q is not in classes", d.Label)
				}
				if !finite(d.Score) || d.Score < 0 || d.Score > 1 {
					return fieldErr(df+".score", "%v must be in [0, 1]", d.Score)
				}
				b := d.Box
				if !finite(b.X) || !finite(b.Y) || !finite(b.W) || !finite(b.H) || b.W < 0 || b.H < 0 ||
					math.Abs(b.X) > 1e6 || math.Abs(b.Y) > 1e6 || b.W > 1e6 || b.H > 1e6 {
					return fieldErr(df+".box", "%+v must be finite with w, h >= 0", b)
				}
			}
		}
	}
	return nil
}
