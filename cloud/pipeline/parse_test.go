package pipeline

import (
	"errors"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func mustStruct(t testing.TB, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseStandardYAML(t *testing.T) {
	data, err := os.ReadFile("testdata/standard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def, err := Parse(data, FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	want := &ifcv1.PipelineDefinition{
		Name: "standard inspection",
		Nodes: []*ifcv1.Node{
			{Id: "resize", Part: "resize", Params: mustStruct(t, map[string]any{"width": 640, "height": 640, "keep_aspect": true})},
			{Id: "blur", Part: "gaussian_blur", Params: mustStruct(t, map[string]any{"ksize": 5})},
			{Id: "detect", Part: "detect"},
		},
		Edges: []*ifcv1.Edge{{From: "resize", To: "blur"}, {From: "blur", To: "detect"}},
	}
	if !proto.Equal(def, want) {
		t.Fatalf("got %v\nwant %v", def, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
		line   int
		substr string
	}{
		{"yaml unknown top field", FormatYAML, "name: x\nnodez: []\n", 2, `unknown field "nodez"`},
		{"yaml unknown node field", FormatYAML, "nodes:\n  - id: a\n    prat: resize\n", 3, `nodes[0]: unknown field "prat"`},
		{"yaml nodes not list", FormatYAML, "nodes: 3\n", 1, "expected a list"},
		{"yaml node not mapping", FormatYAML, "nodes:\n  - 3\n", 2, "expected a mapping"},
		{"yaml duplicate field", FormatYAML, "name: a\nname: b\n", 2, "field given twice"},
		{"yaml duplicate param", FormatYAML, "nodes:\n  - id: a\n    params: {k: 1, k: 2}\n", 3, "key given twice"},
		{"yaml alias", FormatYAML, "nodes:\n  - &n {id: a, part: resize}\n  - *n\n", 3, "aliases are not supported"},
		{"yaml merge key", FormatYAML, "nodes:\n  - id: a\n    params:\n      <<: {k: 1}\n", 4, "plain scalars"},
		{"yaml syntax", FormatYAML, "nodes: [\n", 0, ""},
		{"yaml two documents", FormatYAML, "name: a\n---\nname: b\n", 0, "more than one YAML document"},
		{"yaml empty", FormatYAML, "", 0, "empty definition"},
		{"yaml infinite number", FormatYAML, "nodes:\n  - id: a\n    params: {k: .inf}\n", 3, "cannot be represented"},
		{"yaml custom tag", FormatYAML, "nodes:\n  - id: a\n    params: {k: !foo 1}\n", 3, "unsupported YAML tag"},
		{"json unknown field", FormatJSON, "{\n  \"name\": \"a\",\n  \"nodez\": []\n}", 3, `unknown field "nodez"`},
		{"json syntax", FormatJSON, "{\"name\": }", 1, ""},
		{"json wrong type", FormatJSON, `{"nodes": {}}`, 1, ""},
		{"auto picks json", FormatAuto, "  {\"nodez\": 1}", 1, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), tt.format)
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("err = %v, want ErrSyntax", err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err %T is not *SyntaxError", err)
			}
			if tt.line != 0 && se.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", se.Line, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("err = %q, want it to contain %q", err, tt.substr)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	big := strings.Repeat(" ", MaxDefinitionBytes+1)
	if _, err := Parse([]byte(big), FormatJSON); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Parse: err = %v, want ErrTooLarge", err)
	}
	if _, err := Decode(strings.NewReader(big), FormatYAML); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Decode: err = %v, want ErrTooLarge", err)
	}
}

func TestParseDepthBounded(t *testing.T) {
	deep := "nodes:\n  - id: a\n    params: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n"
	if _, err := Parse([]byte(deep), FormatYAML); !errors.Is(err, ErrSyntax) {
		t.Fatalf("yaml: err = %v, want ErrSyntax", err)
	}
	deepJSON := `{"nodes":[{"id":"a","params":{"k":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}}]}`
	if _, err := Parse([]byte(deepJSON), FormatJSON); !errors.Is(err, ErrSyntax) {
		t.Fatalf("json: err = %v, want ErrSyntax", err)
	}
}

func TestParseYAMLScalarsAsStrings(t *testing.T) {
	def, err := Parse([]byte("name: 12\nnodes:\n  - {id: 7, part: resize}\n"), FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	if def.GetName() != "12" || def.GetNodes()[0].GetId() != "7" {
		t.Fatalf("got %v", def)
	}
}

func TestFormatForContentType(t *testing.T) {
	for ct, want := range map[string]Format{
		"application/json":                FormatJSON,
		"application/json; charset=utf-8": FormatJSON,
		"application/yaml":                FormatYAML,
		"text/yaml":                       FormatYAML,
		"application/x-yaml":              FormatYAML,
		"text/plain":                      FormatAuto,
		"":                                FormatAuto,
	} {
		if got := FormatForContentType(ct); got != want {
			t.Errorf("FormatForContentType(%q) = %v, want %v", ct, got, want)
		}
	}
}

func roundTripDefs(t testing.TB) []*ifcv1.PipelineDefinition {
	return []*ifcv1.PipelineDefinition{
		{Name: "single", Nodes: []*ifcv1.Node{{Id: "a", Part: "grayscale"}}},
		{
			Name: "tricky: values # not a comment",
			Nodes: []*ifcv1.Node{
				{Id: "123", Part: "resize", Params: mustStruct(t, map[string]any{
					"s_num": "1", "s_bool": "true", "s_null": "null", "s_yes": "yes", "s_empty": "",
					"s_multi": "line1\nline2", "s_unicode": "検査 ✓", "neg": -1.5, "big": 1e20,
					"list": []any{1, "two", false, nil, map[string]any{"x": []any{}}}, "empty": map[string]any{},
				})},
				{Id: "b-2_x", Part: "detect", Params: &structpb.Struct{}},
			},
			Edges: []*ifcv1.Edge{{From: "123", To: "b-2_x"}},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, def := range roundTripDefs(t) {
		t.Run(def.GetName(), func(t *testing.T) {
			y, err := MarshalYAML(def)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(y, FormatYAML)
			if err != nil {
				t.Fatalf("parse exported YAML: %v\n%s", err, y)
			}
			if !proto.Equal(back, def) {
				t.Fatalf("YAML round trip changed the definition:\n%s\ngot  %v\nwant %v", y, back, def)
			}
			j, err := MarshalJSON(def)
			if err != nil {
				t.Fatal(err)
			}
			back, err = Parse(j, FormatAuto)
			if err != nil {
				t.Fatalf("parse exported JSON: %v\n%s", err, j)
			}
			if !proto.Equal(back, def) {
				t.Fatalf("JSON round trip changed the definition:\n%s", j)
			}
			j2, _ := MarshalJSON(back)
			if string(j) != string(j2) {
				t.Fatalf("JSON export not stable:\n%s\n%s", j, j2)
			}
		})
	}
}

func TestExportYAMLReadable(t *testing.T) {
	data, err := os.ReadFile("testdata/standard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def, err := Parse(data, FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	y, err := MarshalYAML(def)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(y), "name: standard inspection\nnodes:\n  - id: resize\n    part: resize\n") {
		t.Fatalf("unexpected YAML layout:\n%s", y)
	}
}
