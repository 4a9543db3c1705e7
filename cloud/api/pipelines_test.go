package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/auth"
)

func TestPipelineLifecycle(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/v1/pipelines", auth.RoleQAManager, "application/json", []byte(standardJSON))
	if r.code != 201 {
		t.Fatalf("create JSON: %d %s", r.code, r.body)
	}
	p := r.json(t)
	id := p["id"].(string)
	if p["version"].(float64) != 1 || p["created_by"] != "qa_manager-user" || r.header.Get("Location") == "" {
		t.Fatalf("created %v", p)
	}
	// New versions are N+1; old versions stay readable and unchanged.
	for v := 2; v <= 3; v++ {
		r := e.do("POST", "/api/v1/pipelines/"+id+"/versions", auth.RoleIntegrator, "application/yaml", []byte(standardYAML))
		if r.code != 201 || int(r.json(t)["version"].(float64)) != v {
			t.Fatalf("version %d: %d %s", v, r.code, r.body)
		}
	}
	r = e.do("GET", "/api/v1/pipelines/"+id+"/versions", auth.RoleInspector, "", nil)
	if vs := r.json(t)["versions"].([]any); len(vs) != 3 {
		t.Fatalf("versions: %s", r.body)
	}
	r = e.do("GET", "/api/v1/pipelines/"+id+"?version=1", auth.RoleInspector, "", nil)
	if r.code != 200 || r.json(t)["name"] != "two" {
		t.Fatalf("get v1: %d %s", r.code, r.body)
	}
	r = e.do("GET", "/api/v1/pipelines/"+id, auth.RoleInspector, "", nil)
	latest := r.json(t)
	if latest["version"].(float64) != 3 || latest["name"] != "standard inspection" {
		t.Fatalf("get latest: %s", r.body)
	}
	nodes := latest["definition"].(map[string]any)["nodes"].([]any)
	if len(nodes) != 3 || nodes[0].(map[string]any)["params"].(map[string]any)["width"].(float64) != 320 {
		t.Fatalf("definition: %s", r.body)
	}
	// YAML export, and it parses back into an equal pipeline.
	r = e.do("GET", "/api/v1/pipelines/"+id+"?version=3", auth.RoleInspector, "", nil, "Accept", "application/yaml")
	if r.code != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/yaml") || !bytes.Contains(r.body, []byte("gaussian_blur")) {
		t.Fatalf("yaml export: %d %q %s", r.code, r.header.Get("Content-Type"), r.body)
	}
	r = e.do("POST", "/api/v1/pipelines/"+id+"/versions", auth.RoleQAManager, "application/yaml", r.body)
	if r.code != 201 {
		t.Fatalf("re-import export: %d %s", r.code, r.body)
	}
	// Listing shows the latest version of each pipeline.
	id2 := e.createPipeline()
	r = e.do("GET", "/api/v1/pipelines", auth.RoleInspector, "", nil)
	list := r.json(t)["pipelines"].([]any)
	if len(list) != 2 {
		t.Fatalf("list: %s", r.body)
	}
	// Delete hides it.
	if r := e.do("DELETE", "/api/v1/pipelines/"+id2, auth.RoleAdmin, "", nil); r.code != 204 {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	expectProblem(t, e.do("GET", "/api/v1/pipelines/"+id2, auth.RoleAdmin, "", nil), 404)
	expectProblem(t, e.do("DELETE", "/api/v1/pipelines/"+id2, auth.RoleAdmin, "", nil), 404)
	if l := e.do("GET", "/api/v1/pipelines", auth.RoleInspector, "", nil).json(t)["pipelines"].([]any); len(l) != 1 {
		t.Fatalf("list after delete: %v", l)
	}
}

func TestPipelineNotFound(t *testing.T) {
	e := newEnv(t)
	expectProblem(t, e.do("GET", "/api/v1/pipelines/nope", auth.RoleInspector, "", nil), 404)
	expectProblem(t, e.do("GET", "/api/v1/pipelines/nope/versions", auth.RoleInspector, "", nil), 404)
	expectProblem(t, e.do("POST", "/api/v1/pipelines/nope/versions", auth.RoleQAManager, "application/yaml", []byte(standardYAML)), 404)
	id := e.createPipeline()
	expectProblem(t, e.do("GET", "/api/v1/pipelines/"+id+"?version=9", auth.RoleInspector, "", nil), 404)
	expectProblem(t, e.do("GET", "/api/v1/pipelines/"+id+"?version=x", auth.RoleInspector, "", nil), 400)
}

// problemsOf returns the messages of a problem document's problems.
func problemsOf(t *testing.T, p map[string]any) []string {
	t.Helper()
	items, _ := p["problems"].([]any)
	var out []string
	for _, it := range items {
		m := it.(map[string]any)
		out = append(out, fmt.Sprintf("%v|%v|%v", m["node"], m["field"], m["message"]))
	}
	return out
}

func TestPipelineBadInput(t *testing.T) {
	e := newEnv(t)
	post := func(ct, body string) resp {
		return e.do("POST", "/api/v1/pipelines", auth.RoleQAManager, ct, []byte(body))
	}
	t.Run("malformed JSON", func(t *testing.T) {
		p := expectProblem(t, post("application/json", `{"name":"x","nodes":[`), 400)
		if !strings.Contains(p["detail"].(string), "malformed JSON") {
			t.Errorf("detail %v", p["detail"])
		}
	})
	t.Run("malformed YAML", func(t *testing.T) {
		p := expectProblem(t, post("application/yaml", "nodes:\n  - id: a\n   part: resize\n\t- x"), 400)
		if !strings.Contains(p["detail"].(string), "malformed YAML") {
			t.Errorf("detail %v", p["detail"])
		}
	})
	t.Run("unknown field", func(t *testing.T) {
		expectProblem(t, post("application/json", `{"nodes":[{"id":"a","part":"resize"}],"bogus":1}`), 400)
	})
	t.Run("cyclic", func(t *testing.T) {
		p := expectProblem(t, post("application/yaml", `nodes:
  - {id: a, part: resize}
  - {id: b, part: gaussian_blur}
  - {id: c, part: grayscale}
edges:
  - {from: a, to: b}
  - {from: b, to: c}
  - {from: c, to: b}
`), 422)
		if p["type"] != problemValidation || !strings.Contains(strings.Join(problemsOf(t, p), "\n"), "cycle") {
			t.Fatalf("problems %v", problemsOf(t, p))
		}
	})
	t.Run("unknown part", func(t *testing.T) {
		p := expectProblem(t, post("application/json", `{"nodes":[{"id":"a","part":"teleport"}]}`), 422)
		if got := strings.Join(problemsOf(t, p), "\n"); !strings.Contains(got, "teleport") {
			t.Fatalf("problems %v", got)
		}
	})
	t.Run("out of range params, every problem listed", func(t *testing.T) {
		p := expectProblem(t, post("application/json", `{"nodes":[
			{"id":"a","part":"resize","params":{"width":99999}},
			{"id":"b","part":"gaussian_blur","params":{"ksize":4}}],
			"edges":[{"from":"a","to":"b"}]}`), 422)
		probs := problemsOf(t, p)
		joined := strings.Join(probs, "\n")
		if len(probs) < 2 || !strings.Contains(joined, "a|") || !strings.Contains(joined, "b|") || !strings.Contains(joined, "8192") {
			t.Fatalf("problems %v", probs)
		}
	})
	t.Run("mismatched edge types", func(t *testing.T) {
		p := expectProblem(t, post("application/json", `{"nodes":[{"id":"a","part":"boxes"},{"id":"b","part":"resize"}],"edges":[{"from":"a","to":"b"}]}`), 422)
		if got := strings.Join(problemsOf(t, p), "\n"); !strings.Contains(strings.ToUpper(got), "DETECTIONS") {
			t.Fatalf("problems %v", got)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := `{"name":"` + strings.Repeat("x", 1<<20) + `","nodes":[]}`
		expectProblem(t, post("application/json", big), http.StatusRequestEntityTooLarge)
	})
	t.Run("unsupported content type", func(t *testing.T) {
		expectProblem(t, post("text/plain", standardJSON), http.StatusUnsupportedMediaType)
	})
	t.Run("nothing stored", func(t *testing.T) {
		if l := e.do("GET", "/api/v1/pipelines", auth.RoleInspector, "", nil).json(t)["pipelines"].([]any); len(l) != 0 {
			t.Fatalf("bad inputs stored pipelines: %v", l)
		}
	})
}
