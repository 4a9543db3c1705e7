package pipeline

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/catalog"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

var (
	img = ifcv1.PortType_PORT_TYPE_IMAGE
	det = ifcv1.PortType_PORT_TYPE_DETECTIONS
)

// typeCatalog is a unit-test catalogue with parts of every port shape.
type typeCatalog map[string]*ifcv1.PartDescriptor

func (c typeCatalog) Get(id string) (*ifcv1.PartDescriptor, bool) { d, ok := c[id]; return d, ok }

func (c typeCatalog) ValidateParams(part string, p map[string]any) (map[string]any, error) {
	if _, bad := p["bad"]; bad {
		return nil, fmt.Errorf("param bad is not allowed")
	}
	return p, nil
}

var types = typeCatalog{
	"filter":  {Id: "filter", Inputs: []ifcv1.PortType{img}, Outputs: []ifcv1.PortType{img}},
	"detect":  {Id: "detect", Inputs: []ifcv1.PortType{img}, Outputs: []ifcv1.PortType{img, det}},
	"boxes":   {Id: "boxes", Inputs: []ifcv1.PortType{img}, Outputs: []ifcv1.PortType{det}},
	"draw":    {Id: "draw", Inputs: []ifcv1.PortType{img, det}, Outputs: []ifcv1.PortType{img}},
	"nmsonly": {Id: "nmsonly", Inputs: []ifcv1.PortType{det}, Outputs: []ifcv1.PortType{det}},
}

func def(nodes string, edges ...string) *ifcv1.PipelineDefinition {
	d := &ifcv1.PipelineDefinition{Name: "t"}
	for _, n := range strings.Fields(nodes) {
		id, part, _ := strings.Cut(n, ":")
		d.Nodes = append(d.Nodes, &ifcv1.Node{Id: id, Part: part})
	}
	for _, e := range edges {
		from, to, _ := strings.Cut(e, ">")
		d.Edges = append(d.Edges, &ifcv1.Edge{From: from, To: to})
	}
	return d
}

func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err %T does not hold a *ValidationError", err)
	}
	return ve.Problems
}

func TestCompileStandardWithRealCatalog(t *testing.T) {
	data, err := os.ReadFile("testdata/standard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(data, FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(d, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range plan.Nodes {
		ids = append(ids, n.ID)
	}
	if !slices.Equal(ids, []string{"resize", "blur", "detect"}) {
		t.Fatalf("order = %v", ids)
	}
	if got := plan.Nodes[0].Params.GetFields()["interpolation"].GetStringValue(); got != "linear" {
		t.Errorf("resize interpolation default = %q, want linear", got)
	}
	if plan.Nodes[0].ImageFrom != FromInput || plan.Nodes[1].ImageFrom != 0 || plan.Nodes[2].ImageFrom != 1 {
		t.Errorf("image sources = %d %d %d", plan.Nodes[0].ImageFrom, plan.Nodes[1].ImageFrom, plan.Nodes[2].ImageFrom)
	}
	if !plan.Nodes[2].OutputsDetections || !plan.Nodes[2].OutputsImage {
		t.Errorf("detect outputs not recorded")
	}
}

func TestCompileLevels(t *testing.T) {
	// a -> b -> d, a -> c -> d, e alone, d -> f
	plan, err := Compile(def("f:filter d:draw b:filter c:boxes a:filter e:filter", "a>b", "a>c", "b>d", "c>d", "d>f"), types)
	if err != nil {
		t.Fatal(err)
	}
	var levels [][]string
	for _, lv := range plan.Levels {
		var ids []string
		for _, i := range lv {
			ids = append(ids, plan.Nodes[i].ID)
		}
		levels = append(levels, ids)
	}
	want := [][]string{{"a", "e"}, {"b", "c"}, {"d"}, {"f"}}
	if fmt.Sprint(levels) != fmt.Sprint(want) {
		t.Fatalf("levels = %v, want %v", levels, want)
	}
	d, _ := plan.Index("d")
	b, _ := plan.Index("b")
	c, _ := plan.Index("c")
	if plan.Nodes[d].ImageFrom != b || plan.Nodes[d].DetectionsFrom != c {
		t.Fatalf("d inputs: image from %d (want %d), detections from %d (want %d)", plan.Nodes[d].ImageFrom, b, plan.Nodes[d].DetectionsFrom, c)
	}
}

func TestCompileMultiTypeSourceDeliversDetections(t *testing.T) {
	// detect outputs image+detections; filter outputs image: draw takes the
	// filter's image and detect's detections.
	plan, err := Compile(def("src:filter blur:filter det:detect draw:draw", "src>blur", "src>det", "blur>draw", "det>draw"), types)
	if err != nil {
		t.Fatal(err)
	}
	dr, _ := plan.Index("draw")
	bl, _ := plan.Index("blur")
	dt, _ := plan.Index("det")
	if plan.Nodes[dr].ImageFrom != bl || plan.Nodes[dr].DetectionsFrom != dt {
		t.Fatalf("draw inputs: image %d detections %d", plan.Nodes[dr].ImageFrom, plan.Nodes[dr].DetectionsFrom)
	}
	// Only detect wired in: it delivers both.
	plan, err = Compile(def("det:detect draw:draw", "det>draw"), types)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Nodes[1].ImageFrom != 0 || plan.Nodes[1].DetectionsFrom != 0 {
		t.Fatalf("draw inputs: image %d detections %d", plan.Nodes[1].ImageFrom, plan.Nodes[1].DetectionsFrom)
	}
}

func TestCompileProblems(t *testing.T) {
	tooMany := &ifcv1.PipelineDefinition{}
	for i := range MaxNodes + 1 {
		tooMany.Nodes = append(tooMany.Nodes, &ifcv1.Node{Id: fmt.Sprint("n", i), Part: "filter"})
	}
	badParams := def("a:filter")
	badParams.Nodes[0].Params = mustStruct(t, map[string]any{"bad": 1})
	tests := []struct {
		name string
		def  *ifcv1.PipelineDefinition
		want []string // substrings, one per expected problem
	}{
		{"nil", nil, []string{"definition is missing"}},
		{"no nodes", def(""), []string{"no nodes"}},
		{"too many nodes", tooMany, []string{"65 nodes, limit 64"}},
		{"bad id", def("a.b:filter"), []string{`node "a.b": nodes[0].id: must match`}},
		{"long id", def(strings.Repeat("x", 65) + ":filter"), []string{"must match"}},
		{"duplicate id", def("a:filter a:filter"), []string{"nodes[1].id: duplicate node id"}},
		{"unknown part", def("a:nope"), []string{`nodes[0].part: unknown part "nope"`}},
		{"missing part", def("a"), []string{"part is required"}},
		{"bad params", badParams, []string{"nodes[0].params: param bad is not allowed"}},
		{"edge to missing", def("a:filter", "a>zz", "yy>a"), []string{`edges[0].to: no node "zz"`, `edges[1].from: no node "yy"`}},
		{"self loop", def("a:filter", "a>a"), []string{"edge from a node to itself"}},
		{"duplicate edge", def("a:filter b:filter", "a>b", "a>b"), []string{"edges[1]: duplicate of edges[0]"}},
		{"cycle", def("r:filter a:filter b:filter c:filter", "r>a", "a>b", "b>c", "c>a"), []string{"cycle: a -> b -> c -> a"}},
		{"type mismatch", def("a:filter b:boxes c:filter", "a>b", "b>c"), []string{"b (boxes) outputs [DETECTIONS] but c (filter) accepts [IMAGE]"}},
		{"root without image input", def("n:nmsonly"), []string{"takes the input image"}},
		{"root needing detections", def("d:draw"), []string{"needs a DETECTIONS input but has no incoming edge"}},
		{"missing detections", def("a:filter d:draw", "a>d"), []string{"needs a DETECTIONS input but no incoming edge delivers one"}},
		{"ambiguous image", def("a:filter b:filter c:filter", "a>c", "b>c"), []string{"IMAGE input is ambiguous: delivered by a, b"}},
		{"edge delivering nothing", def("s:filter a:detect b:filter c:boxes d:draw", "s>a", "s>b", "s>c", "a>d", "b>d", "c>d"), []string{"edge from a delivers nothing"}},
		{"many at once", def("a.1:filter b:nope c:filter", "c>c", "c>q"), []string{"must match", "unknown part", "itself", `no node "q"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, Validate(tt.def, types))
			if len(ps) != len(tt.want) {
				t.Fatalf("got %d problems %v, want %d", len(ps), ps, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(ps[i].String(), w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, ps[i], w)
				}
			}
		})
	}
}

func TestCompileRealCatalogParamsPerField(t *testing.T) {
	d := def("a:gaussian_blur")
	d.Nodes[0].Params = mustStruct(t, map[string]any{"ksize": 4, "sigma": -1})
	ps := problemsOf(t, Validate(d, catalog.Default()))
	if len(ps) == 0 {
		t.Fatal("no problems")
	}
	for _, p := range ps {
		if p.Node != "a" || !strings.HasPrefix(p.Field, "nodes[0].params") {
			t.Errorf("problem %+v does not name node and params field", p)
		}
	}
	if !strings.Contains(fmt.Sprint(ps), "sigma") {
		t.Errorf("problems %v do not name sigma", ps)
	}
}

func TestValidationErrorMessage(t *testing.T) {
	err := Validate(def("a:filter", "a>a"), types)
	if got := err.Error(); !strings.HasPrefix(got, "invalid pipeline: ") || !strings.Contains(got, "itself") {
		t.Fatalf("Error() = %q", got)
	}
}
