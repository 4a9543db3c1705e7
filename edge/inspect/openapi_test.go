package inspect_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestOpenAPIMatchesRoutes checks that every documented operation is served
// by the handler and every served route is documented, and that the
// document is the reviewed golden file.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/openapi.json", "", nil)
	if r.code != 200 {
		t.Fatalf("openapi: %d", r.code)
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	r.decode(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	served := e.srv.Patterns()
	sort.Strings(documented)
	sort.Strings(served)
	if strings.Join(documented, "\n") != strings.Join(served, "\n") {
		t.Fatalf("documented:\n%s\nserved:\n%s", strings.Join(documented, "\n"), strings.Join(served, "\n"))
	}

	// Each documented operation reaches a handler: the mux's own 404/405
	// are plain text, every handler answers JSON, an image or a problem.
	param := regexp.MustCompile(`\{[a-z_]+\}`)
	for _, op := range documented {
		method, path, _ := strings.Cut(op, " ")
		path = param.ReplaceAllString(path, "x")
		req, _ := http.NewRequest(method, e.http.URL+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if ct := res.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/plain") && path != "/api/v1/ws" {
			t.Errorf("%s %s: %d %s — not routed to a handler", method, path, res.StatusCode, ct)
		}
	}
	// And an undocumented path is not served.
	if r := e.do("GET", "/api/v1/nothing-here", "", nil); r.code != 404 {
		t.Errorf("undocumented path: %d", r.code)
	}

	// Every $ref resolves.
	refs := regexp.MustCompile(`"#/components/schemas/([A-Za-z]+)"`).FindAllSubmatch(r.body, -1)
	for _, m := range refs {
		if _, ok := doc.Components.Schemas[string(m[1])]; !ok {
			t.Errorf("dangling $ref %s", m[1])
		}
	}

	var pretty bytes.Buffer
	if err := json.Indent(&pretty, r.body, "", "  "); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "openapi.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readFile(t, golden); !bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace(pretty.Bytes())) {
		t.Errorf("openapi document differs from %s; review and run with -update", golden)
	}
}
