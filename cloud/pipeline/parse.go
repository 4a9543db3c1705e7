package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Format is the encoding of a definition.
type Format int

// Formats understood by Parse.
const (
	// FormatAuto picks JSON when the first non-blank byte is '{', YAML otherwise.
	FormatAuto Format = iota
	// FormatJSON is the protojson mapping of PipelineDefinition.
	FormatJSON
	// FormatYAML is the same document written in YAML.
	FormatYAML
)

// String names the format.
func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatYAML:
		return "yaml"
	default:
		return "auto"
	}
}

// FormatByName maps "json", "yaml" (or "yml") and "" (auto) to a Format.
func FormatByName(name string) (Format, bool) {
	switch strings.ToLower(name) {
	case "json":
		return FormatJSON, true
	case "yaml", "yml":
		return FormatYAML, true
	case "", "auto":
		return FormatAuto, true
	}
	return FormatAuto, false
}

// FormatForContentType maps a Content-Type header to a Format (FormatAuto
// when it names neither JSON nor YAML).
func FormatForContentType(contentType string) Format {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return FormatAuto
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return FormatJSON
	case mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml" ||
		mt == "text/x-yaml" || strings.HasSuffix(mt, "+yaml"):
		return FormatYAML
	default:
		return FormatAuto
	}
}

// Decode reads at most MaxDefinitionBytes from r and parses them.
func Decode(r io.Reader, f Format) (*ifcv1.PipelineDefinition, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDefinitionBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read pipeline definition: %w", err)
	}
	return Parse(data, f)
}

// Parse decodes a definition from JSON or YAML. It refuses unknown fields
// and inputs larger than MaxDefinitionBytes; it does not validate the graph
// (see Validate).
func Parse(data []byte, f Format) (def *ifcv1.PipelineDefinition, err error) {
	if len(data) > MaxDefinitionBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxDefinitionBytes)
	}
	defer func() {
		// The decoders are third-party code fed with outside input: a panic
		// in them must not take the API down.
		if r := recover(); r != nil {
			def, err = nil, &SyntaxError{Msg: fmt.Sprintf("decoder failure: %v", r)}
		}
	}()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 BOM from Windows editors
	if f == FormatAuto {
		f = sniff(data)
	}
	jsonData := data
	if f == FormatYAML {
		if jsonData, err = yamlToJSON(data); err != nil {
			return nil, err
		}
	}
	def = &ifcv1.PipelineDefinition{}
	opts := protojson.UnmarshalOptions{RecursionLimit: 2*MaxDepth + 8}
	if err := opts.Unmarshal(jsonData, def); err != nil {
		return nil, protojsonError(err, f)
	}
	return def, nil
}

func sniff(data []byte) Format {
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return FormatJSON
	}
	return FormatYAML
}

var (
	protojsonPos = regexp.MustCompile(`\(line (\d+):(\d+)\)`)
	yamlLine     = regexp.MustCompile(`line (\d+)`)
)

func protojsonError(err error, f Format) error {
	msg := strings.TrimPrefix(err.Error(), "proto:")
	msg = strings.TrimSpace(strings.ReplaceAll(msg, "\u00a0", " "))
	se := &SyntaxError{Msg: msg}
	// Positions refer to the JSON text, so they are only meaningful when the
	// input was JSON; the YAML walker reports its own positions beforehand.
	if m := protojsonPos.FindStringSubmatch(msg); m != nil {
		se.Msg = strings.TrimSpace(strings.Replace(msg, m[0], "", 1))
		se.Msg = strings.TrimPrefix(se.Msg, ": ")
		if f == FormatJSON {
			se.Line, _ = strconv.Atoi(m[1])
			se.Column, _ = strconv.Atoi(m[2])
		}
	}
	if se.Msg == "" {
		se.Msg = msg
	}
	return se
}

func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	se := &SyntaxError{Msg: msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		se.Line, _ = strconv.Atoi(m[1])
		se.Msg = strings.TrimPrefix(strings.TrimSpace(strings.Replace(msg, m[0], "", 1)), ": ")
	}
	return se
}

// yamlToJSON converts one YAML document to JSON, checking field names
// against the PipelineDefinition descriptor so errors carry YAML lines.
func yamlToJSON(data []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &SyntaxError{Msg: "empty definition"}
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(err)
		}
		return nil, &SyntaxError{Line: extra.Line, Column: extra.Column, Msg: "more than one YAML document"}
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) != 1 {
			return nil, &SyntaxError{Msg: "empty definition"}
		}
		root = doc.Content[0]
	}
	md := (&ifcv1.PipelineDefinition{}).ProtoReflect().Descriptor()
	v, err := yamlMessage(root, md, "", 0)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, &SyntaxError{Line: root.Line, Column: root.Column, Msg: "empty definition"}
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, &SyntaxError{Msg: err.Error()}
	}
	return out, nil
}

func nodeErr(n *yaml.Node, path, format string, args ...any) error {
	return &SyntaxError{Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// isGeneric reports whether md is a well-known type holding free-form JSON
// (Struct, Value, ListValue) rather than a message with fixed fields.
func isGeneric(md protoreflect.MessageDescriptor) bool {
	return strings.HasPrefix(string(md.FullName()), "google.protobuf.")
}

func checkNode(n *yaml.Node, path string, depth int) error {
	if depth > MaxDepth {
		return nodeErr(n, path, "nested deeper than %d levels", MaxDepth)
	}
	if n.Kind == yaml.AliasNode {
		return nodeErr(n, path, "YAML aliases are not supported")
	}
	return nil
}

func yamlMessage(n *yaml.Node, md protoreflect.MessageDescriptor, path string, depth int) (any, error) {
	if err := checkNode(n, path, depth); err != nil {
		return nil, err
	}
	if isGeneric(md) {
		return yamlGeneric(n, path, depth)
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, nodeErr(n, path, "expected a mapping of %s fields", md.Name())
	}
	out := make(map[string]any, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if err := checkNode(k, path, depth+1); err != nil {
			return nil, err
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			return nil, nodeErr(k, path, "field names must be plain strings")
		}
		fd := md.Fields().ByJSONName(k.Value)
		if fd == nil {
			fd = md.Fields().ByTextName(k.Value)
		}
		if fd == nil {
			return nil, nodeErr(k, path, "unknown field %q", k.Value)
		}
		name := string(fd.Name())
		fpath := joinPath(path, name)
		if seen[name] {
			return nil, nodeErr(k, fpath, "field given twice")
		}
		seen[name] = true
		val, err := yamlField(v, fd, fpath, depth+1)
		if err != nil {
			return nil, err
		}
		if val != nil {
			out[name] = val
		}
	}
	return out, nil
}

func yamlField(n *yaml.Node, fd protoreflect.FieldDescriptor, path string, depth int) (any, error) {
	if err := checkNode(n, path, depth); err != nil {
		return nil, err
	}
	if fd.IsList() {
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return nil, nil
		}
		if n.Kind != yaml.SequenceNode {
			return nil, nodeErr(n, path, "expected a list")
		}
		list := make([]any, 0, len(n.Content))
		for i, el := range n.Content {
			v, err := yamlSingle(el, fd, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, nil
	}
	if fd.IsMap() {
		return nil, nodeErr(n, path, "map fields are not supported")
	}
	return yamlSingle(n, fd, path, depth)
}

func yamlSingle(n *yaml.Node, fd protoreflect.FieldDescriptor, path string, depth int) (any, error) {
	if err := checkNode(n, path, depth); err != nil {
		return nil, err
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return yamlMessage(n, fd.Message(), path, depth)
	case protoreflect.StringKind:
		// Ids such as `id: 7` are meant as strings: take the scalar's text.
		if n.Kind != yaml.ScalarNode {
			return nil, nodeErr(n, path, "expected a string")
		}
		if n.ShortTag() == "!!null" {
			return nil, nil
		}
		return n.Value, nil
	default:
		if n.Kind != yaml.ScalarNode {
			return nil, nodeErr(n, path, "expected a scalar")
		}
		return yamlScalar(n, path)
	}
}

func yamlGeneric(n *yaml.Node, path string, depth int) (any, error) {
	if err := checkNode(n, path, depth); err != nil {
		return nil, err
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return yamlScalar(n, path)
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for i, el := range n.Content {
			v, err := yamlGeneric(el, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, nil
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if err := checkNode(k, path, depth+1); err != nil {
				return nil, err
			}
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return nil, nodeErr(k, path, "keys must be plain scalars")
			}
			kpath := joinPath(path, k.Value)
			if _, dup := m[k.Value]; dup {
				return nil, nodeErr(k, kpath, "key given twice")
			}
			val, err := yamlGeneric(v, kpath, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	default:
		return nil, nodeErr(n, path, "unsupported YAML node")
	}
}

func yamlScalar(n *yaml.Node, path string) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, nodeErr(n, path, "%v", err)
		}
		return b, nil
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			// yaml.v3 refuses integers beyond 64 bits; JSON numbers are floats anyway.
			var perr error
			if f, perr = strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); perr != nil {
				return nil, nodeErr(n, path, "bad number %q", n.Value)
			}
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, nodeErr(n, path, "number %q cannot be represented in JSON", n.Value)
		}
		return f, nil
	case "!!str", "!!timestamp", "!!binary":
		return n.Value, nil
	default:
		return nil, nodeErr(n, path, "unsupported YAML tag %s", n.Tag)
	}
}
