package pipeline

import (
	"os"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
)

// FuzzParse feeds arbitrary bytes to the parser in every format. Whatever
// parses must export and parse back to the same definition, and validation
// must not panic.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/standard.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"name":"a","nodes":[{"id":"a","part":"resize","params":{"width":10}}],"edges":[]}`))
	f.Add([]byte("nodes:\n  - {id: a, part: canny, params: {low: 1e3, list: [1, [2, {x: null}]]}}\nedges: [{from: a, to: a}]\n"))
	f.Add([]byte("nodes:\n  - &a {id: a}\n  - *a\n"))
	cat := catalog.Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{FormatAuto, FormatYAML, FormatJSON} {
			def, err := Parse(data, format)
			if err != nil {
				continue
			}
			_ = Validate(def, cat)
			y, err := MarshalYAML(def)
			if err != nil {
				t.Fatalf("export YAML of parsed definition: %v", err)
			}
			back, err := Parse(y, FormatYAML)
			if err != nil {
				t.Fatalf("parse exported YAML: %v\n%s", err, y)
			}
			if !proto.Equal(back, def) {
				t.Fatalf("YAML round trip changed %v into %v\n%s", def, back, y)
			}
			j, err := MarshalJSON(def)
			if err != nil {
				t.Fatalf("export JSON: %v", err)
			}
			if back, err = Parse(j, FormatJSON); err != nil || !proto.Equal(back, def) {
				t.Fatalf("JSON round trip: err %v\n%s", err, j)
			}
		}
	})
}
