package api

import (
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/auth"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/healthz", "", "", nil); r.code != 200 {
		t.Fatalf("healthz %d", r.code)
	}
	r := e.do("GET", "/readyz", "", "", nil)
	if r.code != 200 || r.json(t)["ready"] != true {
		t.Fatalf("readyz %d %s", r.code, r.body)
	}
	_ = e.meta.Close() // the store stops answering
	expectProblem(t, e.do("GET", "/readyz", "", "", nil), 503)
}

func TestReadyNeedsBusSubscription(t *testing.T) {
	e := newEnv(t)
	e.stop() // Run returns; the subscription is gone
	srv := httptest.NewServer(e.srv.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 {
		t.Fatalf("readyz after Run ended: %d", res.StatusCode)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	r := e.doJSON("POST", "/api/v1/auth/login", "", map[string]string{"username": "inspector-user", "password": "password-inspector"})
	if r.code != 200 {
		t.Fatalf("login: %d %s", r.code, r.body)
	}
	m := r.json(t)
	exp, err := time.Parse(time.RFC3339, m["expires_at"].(string))
	if err != nil || time.Until(exp) < 14*time.Minute {
		t.Fatalf("expires_at %v %v", m["expires_at"], err)
	}
	// The UI shows only what the role allows, from these fields.
	if m["username"] != "inspector-user" || m["role"] != "inspector" {
		t.Errorf("login names %v with role %v, want inspector-user / inspector", m["username"], m["role"])
	}
	var perms []string
	for _, p := range m["permissions"].([]any) {
		perms = append(perms, p.(string))
	}
	if !slices.Contains(perms, string(auth.PermExecutionsRun)) || slices.Contains(perms, string(auth.PermDevicesManage)) {
		t.Errorf("inspector permissions %v: want executions:run and not devices:manage", perms)
	}
	req, _ := http.NewRequest("GET", e.http.URL+"/api/v1/parts", nil)
	req.Header.Set("Authorization", "Bearer "+m["token"].(string))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("token from login not accepted: %v %v", res.StatusCode, err)
	}
	res.Body.Close()

	t.Run("wrong password", func(t *testing.T) {
		r := e.doJSON("POST", "/api/v1/auth/login", "", map[string]string{"username": "inspector-user", "password": "nope"})
		expectProblem(t, r, 401)
	})
	t.Run("unknown user", func(t *testing.T) {
		r := e.doJSON("POST", "/api/v1/auth/login", "", map[string]string{"username": "ghost", "password": "password-inspector"})
		expectProblem(t, r, 401)
	})
	t.Run("malformed body", func(t *testing.T) {
		expectProblem(t, e.do("POST", "/api/v1/auth/login", "", "application/json", []byte(`{"username":`)), 400)
	})
	t.Run("unknown field", func(t *testing.T) {
		expectProblem(t, e.do("POST", "/api/v1/auth/login", "", "application/json", []byte(`{"username":"a","password":"b","role":"admin"}`)), 400)
	})
	t.Run("rate limited", func(t *testing.T) {
		var last resp
		for i := 0; i < 12; i++ {
			last = e.doJSON("POST", "/api/v1/auth/login", "", map[string]string{"username": "inspector-user", "password": "guess"})
		}
		expectProblem(t, last, 429)
		if last.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	})
}

func TestAuthOnRoutes(t *testing.T) {
	e := newEnv(t)
	t.Run("missing token", func(t *testing.T) {
		r := e.do("GET", "/api/v1/pipelines", "", "", nil)
		expectProblem(t, r, 401)
		if r.header.Get("WWW-Authenticate") == "" {
			t.Error("no WWW-Authenticate")
		}
	})
	t.Run("garbage token", func(t *testing.T) {
		r := e.do("GET", "/api/v1/pipelines", "", "", nil, "Authorization", "Bearer not-a-jwt")
		expectProblem(t, r, 401)
	})
	t.Run("tampered token", func(t *testing.T) {
		tok := e.tokens[auth.RoleInspector]
		parts := strings.Split(tok, ".")
		parts[1] = strings.Replace(parts[1], parts[1][:4], "eyJz", 1)
		r := e.do("GET", "/api/v1/pipelines", "", "", nil, "Authorization", "Bearer "+strings.Join(parts, "."))
		expectProblem(t, r, 401)
	})
	t.Run("wrong role", func(t *testing.T) {
		id := e.createPipeline()
		expectProblem(t, e.do("DELETE", "/api/v1/pipelines/"+id, auth.RoleInspector, "", nil), 403)
		expectProblem(t, e.do("DELETE", "/api/v1/pipelines/"+id, auth.RoleIntegrator, "", nil), 403)
		expectProblem(t, e.do("POST", "/api/v1/pipelines", auth.RoleInspector, "application/yaml", []byte(standardYAML)), 403)
		if r := e.do("DELETE", "/api/v1/pipelines/"+id, auth.RoleQAManager, "", nil); r.code != 204 {
			t.Fatalf("qa_manager delete: %d %s", r.code, r.body)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		e.clock.Add(16 * time.Minute)
		defer e.clock.Add(-16 * time.Minute)
		r := expectProblem(t, e.do("GET", "/api/v1/parts", auth.RoleAdmin, "", nil), 401)
		if !strings.Contains(r["detail"].(string), "expired") {
			t.Errorf("detail %q does not say expired", r["detail"])
		}
	})
	t.Run("every api route but login and openapi needs a token", func(t *testing.T) {
		for _, rt := range e.srv.routes {
			if !strings.HasPrefix(rt.Pattern, "/api/v1/") || rt.Pattern == "/api/v1/auth/login" || rt.Pattern == "/api/v1/openapi.json" {
				continue
			}
			path := pathParamRe.ReplaceAllString(rt.Pattern, "x1")
			r := e.do(rt.Method, path, "", "", nil)
			if r.code != 401 {
				t.Errorf("%s %s without token: %d", rt.Method, path, r.code)
			}
		}
	})
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := newEnv(t)
	expectProblem(t, e.do("GET", "/api/v1/nope", auth.RoleAdmin, "", nil), 404)
	r := expectProblem(t, e.do("PUT", "/api/v1/pipelines", auth.RoleAdmin, "", nil), 405)
	if !strings.Contains(r["detail"].(string), "PUT") {
		t.Errorf("detail %v", r["detail"])
	}
}

var pathParamRe = regexp.MustCompile(`\{[a-z_]+\}`)

// TestOpenAPIMatchesRoutes checks the served document lists exactly the
// routes registered on the mux, and that each resolves to its own pattern.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/openapi.json", "", "", nil)
	if r.code != 200 {
		t.Fatalf("openapi: %d", r.code)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m, op := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
			if _, ok := op["responses"]; !ok {
				t.Errorf("%s %s has no responses", m, p)
			}
		}
	}
	var registered []string
	for _, rt := range e.srv.routes {
		registered = append(registered, rt.Method+" "+rt.Pattern)
	}
	slices.Sort(documented)
	slices.Sort(registered)
	if !slices.Equal(documented, registered) {
		t.Fatalf("document and routes differ:\ndocumented %v\nregistered %v", documented, registered)
	}
	// Each documented operation reaches the mux pattern it names, so the
	// table really is what the mux serves.
	for _, op := range documented {
		method, p, _ := strings.Cut(op, " ")
		req := httptest.NewRequest(method, pathParamRe.ReplaceAllString(p, "x1"), nil)
		if _, pattern := e.srv.mux.Handler(req); pattern != op {
			t.Errorf("%s resolves to mux pattern %q", op, pattern)
		}
	}
	// Permissions in the document match the table.
	for _, rt := range e.srv.routes {
		op := doc.Paths[rt.Pattern][strings.ToLower(rt.Method)]
		if got, _ := op["x-permission"].(string); got != string(rt.Perm) {
			t.Errorf("%s %s x-permission %q, want %q", rt.Method, rt.Pattern, got, rt.Perm)
		}
	}
	golden := filepath.Join("testdata", "openapi.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, r.body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestOpenAPIMatchesRoutes -update)", err)
	}
	if string(want) != string(r.body) {
		t.Errorf("openapi document differs from %s; review and run with -update", golden)
	}
}

func TestParts(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/api/v1/parts", auth.RoleInspector, "", nil)
	if r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	var body struct {
		Parts []partJSON `json:"parts"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	ids := map[string]partJSON{}
	for _, p := range body.Parts {
		ids[p.ID] = p
	}
	for _, want := range []string{"resize", "gaussian_blur", "detect"} {
		if _, ok := ids[want]; !ok {
			t.Errorf("part %s missing", want)
		}
	}
	var schema map[string]any
	if err := json.Unmarshal(ids["resize"].ParamsSchema, &schema); err != nil || schema["properties"] == nil {
		t.Errorf("resize schema %s", ids["resize"].ParamsSchema)
	}
	if !slices.Equal(ids["detect"].Outputs, []string{"image", "detections"}) {
		t.Errorf("detect outputs %v", ids["detect"].Outputs)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	id := e.createPipeline()
	file := e.upload(testJPEG(t, 32, 32))
	e.cond.overloaded = true
	e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": id, "inputs": []string{file}})
	r := e.do("GET", "/metrics", "", "", nil)
	if r.code != 200 {
		t.Fatalf("metrics %d", r.code)
	}
	for _, want := range []string{
		`ifc_api_http_requests_total{code="201",route="POST /api/v1/pipelines"} 1`,
		`ifc_api_http_requests_total{code="429",route="POST /api/v1/executions"} 1`,
		`ifc_api_admission_rejections_total{entry="http"} 1`,
		`ifc_api_http_request_duration_seconds_bucket{route="POST /api/v1/files"`,
	} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{WSSendBuffer: -1}, Deps{}); err == nil || !strings.Contains(err.Error(), "WSSendBuffer") {
		t.Fatalf("negative buffer: %v", err)
	}
	if _, err := New(Config{}, Deps{}); err == nil || !strings.Contains(err.Error(), "missing deps") {
		t.Fatalf("no deps: %v", err)
	}
}
