// Package catalog is the single source of truth for parts: which parts exist, which
// service runs each, their typed inputs and outputs, and the JSON Schema (draft 2020-12)
// of their parameters with defaults and bounds.
//
// The pipeline validator, the API (which serves the catalogue to the canvas) and every
// part service validate params through ValidateParams, so a bound is written once, here.
// Constraints JSON Schema cannot express (odd kernel sizes, low <= high) are checked in
// Go after schema validation and reported with the same error type. Bounds that depend
// on the image (a crop rectangle inside the image) are checked by the part service.
package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"google.golang.org/protobuf/proto"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Sentinel errors callers branch on; errors from ValidateParams wrap one of them.
var (
	// ErrUnknownPart means the part id is not in the catalogue.
	ErrUnknownPart = errors.New("unknown part")
	// ErrInvalidParams means the params do not satisfy the part's schema or constraints.
	ErrInvalidParams = errors.New("invalid params")
)

// FieldError is one problem with one parameter.
type FieldError struct {
	// Field is the parameter name ("" for the params object as a whole).
	Field string
	// Reason says what is wrong, naming the bound, e.g. "must be <= 8192, got 9000".
	Reason string
}

// String formats the problem as "field: reason".
func (f FieldError) String() string {
	if f.Field == "" {
		return f.Reason
	}
	return f.Field + ": " + f.Reason
}

// ParamsError reports every problem found in a part's params; it matches ErrInvalidParams.
type ParamsError struct {
	// Part is the part id the params were for.
	Part string
	// Fields lists the problems, sorted by field.
	Fields []FieldError
}

// Error formats the problems on one line.
func (e *ParamsError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.String()
	}
	return fmt.Sprintf("%s %s: %s", ErrInvalidParams, e.Part, strings.Join(parts, "; "))
}

// Is makes errors.Is(err, ErrInvalidParams) true.
func (e *ParamsError) Is(target error) bool { return target == ErrInvalidParams }

// invalid builds a single-field ParamsError; the part is filled in by ValidateParams.
func invalid(field, format string, args ...any) error {
	return &ParamsError{Fields: []FieldError{{Field: field, Reason: fmt.Sprintf(format, args...)}}}
}

// part is one compiled catalogue entry.
type part struct {
	desc     *ifcv1.PartDescriptor
	schema   *jsonschema.Schema
	defaults map[string]any
	check    func(map[string]any) error
}

// Catalog holds the parts; it is immutable and safe for concurrent use.
type Catalog struct {
	order []string
	parts map[string]*part
}

var defaultCatalog = sync.OnceValue(func() *Catalog {
	c, err := build(builtin)
	if err != nil {
		panic(fmt.Sprintf("catalog: built-in parts: %v", err))
	}
	return c
})

// Default returns the catalogue of built-in parts (shared, immutable).
func Default() *Catalog { return defaultCatalog() }

// build compiles the schemas of specs into a Catalog.
func build(specs []spec) (*Catalog, error) {
	c := &Catalog{parts: make(map[string]*part, len(specs))}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	for _, s := range specs {
		if _, dup := c.parts[s.id]; dup {
			return nil, fmt.Errorf("part %s: duplicate id", s.id)
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s.schema))
		if err != nil {
			return nil, fmt.Errorf("part %s: parse schema: %w", s.id, err)
		}
		url := "https://imageflowcanvas.dev/schemas/parts/" + s.id + ".json"
		if err := comp.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("part %s: add schema: %w", s.id, err)
		}
		sch, err := comp.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("part %s: compile schema: %w", s.id, err)
		}
		defaults, err := schemaDefaults(s.schema)
		if err != nil {
			return nil, fmt.Errorf("part %s: %w", s.id, err)
		}
		compact, err := compactJSON(s.schema)
		if err != nil {
			return nil, fmt.Errorf("part %s: %w", s.id, err)
		}
		c.parts[s.id] = &part{
			desc: &ifcv1.PartDescriptor{
				Id:               s.id,
				Service:          s.service,
				Title:            s.title,
				Description:      s.description,
				Inputs:           s.inputs,
				Outputs:          s.outputs,
				ParamsSchemaJson: compact,
			},
			schema:   sch,
			defaults: defaults,
			check:    s.check,
		}
		c.order = append(c.order, s.id)
	}
	return c, nil
}

// schemaDefaults reads the "default" of each top-level property.
func schemaDefaults(schema string) (map[string]any, error) {
	var doc struct {
		Properties map[string]struct {
			Default any `json:"default"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(schema), &doc); err != nil {
		return nil, fmt.Errorf("read defaults: %w", err)
	}
	out := make(map[string]any)
	for name, p := range doc.Properties {
		if p.Default != nil {
			out[name] = p.Default
		}
	}
	return out, nil
}

// compactJSON removes insignificant whitespace, keeping property order.
func compactJSON(s string) (string, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		return "", fmt.Errorf("compact schema: %w", err)
	}
	return buf.String(), nil
}

// List returns the descriptors of all parts in catalogue order (copies; callers may modify them).
func (c *Catalog) List() []*ifcv1.PartDescriptor {
	out := make([]*ifcv1.PartDescriptor, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, proto.Clone(c.parts[id].desc).(*ifcv1.PartDescriptor))
	}
	return out
}

// Get returns the descriptor of part id (a copy), and whether it exists.
func (c *Catalog) Get(id string) (*ifcv1.PartDescriptor, bool) {
	p, ok := c.parts[id]
	if !ok {
		return nil, false
	}
	return proto.Clone(p.desc).(*ifcv1.PartDescriptor), true
}

// ByService returns the descriptors of the parts run by service, in catalogue order.
func (c *Catalog) ByService(service string) []*ifcv1.PartDescriptor {
	var out []*ifcv1.PartDescriptor
	for _, id := range c.order {
		if p := c.parts[id]; p.desc.GetService() == service {
			out = append(out, proto.Clone(p.desc).(*ifcv1.PartDescriptor))
		}
	}
	return out
}

// Services returns the names of the services that run at least one part, sorted.
func (c *Catalog) Services() []string {
	seen := map[string]bool{}
	for _, p := range c.parts {
		seen[p.desc.GetService()] = true
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// ValidateParams checks params against part's schema and constraints and returns a new
// map with defaults applied for absent params (params itself is not modified; nil means
// no params). Errors wrap ErrUnknownPart, or are a *ParamsError matching ErrInvalidParams
// that names each bad field and its bound.
//
// Values may be JSON-decoded (float64, string, bool) or Go integers (from YAML); a number
// for an integer param must be integral.
func (c *Catalog) ValidateParams(partID string, params map[string]any) (map[string]any, error) {
	p, ok := c.parts[partID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownPart, partID)
	}
	out := make(map[string]any, len(p.defaults)+len(params))
	var nonFinite []FieldError
	for k, v := range params {
		out[k] = v
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			nonFinite = append(nonFinite, FieldError{Field: k, Reason: fmt.Sprintf("must be a finite number, got %v", f)})
		}
	}
	if len(nonFinite) > 0 {
		sort.Slice(nonFinite, func(i, j int) bool { return nonFinite[i].Field < nonFinite[j].Field })
		return nil, &ParamsError{Part: partID, Fields: nonFinite}
	}
	if err := p.schema.Validate(out); err != nil {
		var verr *jsonschema.ValidationError
		if !errors.As(err, &verr) {
			return nil, fmt.Errorf("validate %s params: %w", partID, err)
		}
		return nil, &ParamsError{Part: partID, Fields: fieldErrors(verr)}
	}
	for k, v := range p.defaults {
		if _, set := out[k]; !set {
			out[k] = v
		}
	}
	if p.check != nil {
		if err := p.check(out); err != nil {
			var perr *ParamsError
			if errors.As(err, &perr) {
				perr.Part = partID
				return nil, perr
			}
			return nil, fmt.Errorf("%w %s: %v", ErrInvalidParams, partID, err)
		}
	}
	return out, nil
}

// fieldErrors flattens a validation error tree into one FieldError per leaf.
func fieldErrors(verr *jsonschema.ValidationError) []FieldError {
	var out []FieldError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, FieldError{Field: strings.Join(e.InstanceLocation, "."), Reason: reason(e.ErrorKind)})
	}
	walk(verr)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// reason words one schema violation for a person, naming the bound.
func reason(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Minimum:
		return fmt.Sprintf("must be >= %s, got %s", ratString(k.Want), ratString(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("must be <= %s, got %s", ratString(k.Want), ratString(k.Got))
	case *kind.Type:
		return fmt.Sprintf("must be %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		return fmt.Sprintf("must be one of %s, got %v", strings.Join(want, ", "), k.Got)
	case *kind.AdditionalProperties:
		return fmt.Sprintf("unknown parameter(s) %s", strings.Join(k.Properties, ", "))
	case *kind.Required:
		return fmt.Sprintf("missing required parameter(s) %s", strings.Join(k.Missing, ", "))
	default:
		return k.LocalizedString(printer)
	}
}

// printer words schema violations the reason switch does not cover.
var printer = message.NewPrinter(language.English)

// ratString formats a bound without trailing zeros.
func ratString(r interface{ Float64() (float64, bool) }) string {
	f, _ := r.Float64()
	return fmt.Sprint(f)
}

// AsInt converts a JSON or Go number holding an integral value to int.
func AsInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int32:
		return int(n), true
	case int64:
		return int(n), true
	case uint32:
		return int(n), true
	case uint64:
		if n > math.MaxInt32 {
			return 0, false
		}
		return int(n), true
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > math.MaxInt32 {
			return 0, false
		}
		return int(n), true
	case float32:
		return AsInt(float64(n))
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return 0, false
		}
		return AsInt(i)
	}
	return 0, false
}

// AsFloat converts a JSON or Go number to float64.
func AsFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
