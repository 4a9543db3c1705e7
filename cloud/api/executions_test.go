package api

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/auth"
)

func TestExecutionRunAndRead(t *testing.T) {
	e := newEnv(t)
	pid := e.createPipeline()
	fid := e.upload(testJPEG(t, 32, 32))
	r := e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}, "correlation_id": "lot-7"})
	if r.code != 202 {
		t.Fatalf("submit: %d %s", r.code, r.body)
	}
	ex := r.json(t)
	id := ex["execution_id"].(string)
	if ex["status"] != "queued" || ex["correlation_id"] != "lot-7" || ex["created_by"] != "inspector-user" || r.header.Get("Location") != "/api/v1/executions/"+id {
		t.Fatalf("submitted %s", r.body)
	}
	e.cond.finish(id)
	r = e.do("GET", "/api/v1/executions/"+id, auth.RoleIntegrator, "", nil)
	got := r.json(t)
	if got["status"] != "succeeded" {
		t.Fatalf("get: %s", r.body)
	}
	nodes := got["nodes"].([]any)
	n0 := nodes[0].(map[string]any)
	if len(nodes) != 3 || n0["status"] != "succeeded" || n0["node_id"] != "resize" {
		t.Fatalf("nodes %v", nodes)
	}
	det := n0["outputs"].(map[string]any)["detections"].([]any)[0].(map[string]any)
	if det["label"] != "scratch" || det["box"].(map[string]any)["w"].(float64) != 3 {
		t.Fatalf("detection %v", det)
	}
	expectProblem(t, e.do("GET", "/api/v1/executions/nope", auth.RoleAdmin, "", nil), 404)
	m := e.do("GET", "/metrics", "", "", nil)
	if !strings.Contains(string(m.body), `ifc_api_executions_total{status="succeeded"} 1`) {
		t.Errorf("executions metric missing")
	}
}

func TestExecutionWait(t *testing.T) {
	e := newEnv(t)
	e.cond.autoFinish = true
	pid := e.createPipeline()
	fid := e.upload(testJPEG(t, 32, 32))
	r := e.doJSON("POST", "/api/v1/executions?wait=true", auth.RoleInspector, map[string]any{"pipeline_id": pid, "version": 1, "inputs": []string{fid}})
	if r.code != 200 || r.json(t)["status"] != "succeeded" {
		t.Fatalf("wait: %d %s", r.code, r.body)
	}
}

func TestExecutionWaitBounded(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.WaitTimeout = 50 * time.Millisecond }))
	pid := e.createPipeline()
	fid := e.upload(testJPEG(t, 32, 32))
	r := e.doJSON("POST", "/api/v1/executions?wait=true", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}})
	if r.code != 202 || r.json(t)["status"] != "queued" {
		t.Fatalf("bounded wait: %d %s", r.code, r.body)
	}
}

func TestExecutionOverloaded(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.RetryAfter = 3 * time.Second }))
	pid := e.createPipeline()
	fid := e.upload(testJPEG(t, 32, 32))
	e.cond.overloaded = true
	r := e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}})
	p := expectProblem(t, r, 429)
	if r.header.Get("Retry-After") != "3" || p["type"] != problemOverloaded {
		t.Fatalf("Retry-After %q, problem %v", r.header.Get("Retry-After"), p)
	}
}

func TestExecutionBadInput(t *testing.T) {
	e := newEnv(t)
	pid := e.createPipeline()
	fid := e.upload(testJPEG(t, 32, 32))
	post := func(body string) resp {
		return e.do("POST", "/api/v1/executions", auth.RoleInspector, "application/json", []byte(body))
	}
	expectProblem(t, post(`{"pipeline_id":`), 400)
	expectProblem(t, post(`{"pipeline_id":"x","inputs":["a"],"extra":true}`), 400)
	p := expectProblem(t, post(`{"inputs":[],"version":-1}`), 422)
	if probs := problemsOf(t, p); len(probs) != 3 {
		t.Fatalf("want 3 problems (pipeline_id, version, inputs), got %v", probs)
	}
	expectProblem(t, post(fmt.Sprintf(`{"pipeline_id":"nope","inputs":[%q]}`, fid)), 404)
	expectProblem(t, post(fmt.Sprintf(`{"pipeline_id":%q,"inputs":["missing-file"]}`, pid)), 404)
	expectProblem(t, e.do("POST", "/api/v1/executions?wait=maybe", auth.RoleInspector, "application/json", []byte(`{}`)), 400)
}

func TestExecutionListAndCancel(t *testing.T) {
	e := newEnv(t)
	pa, pb := e.createPipeline(), e.createPipeline()
	fid := e.upload(testJPEG(t, 32, 32))
	var ids []string
	for i := 0; i < 5; i++ {
		pid := pa
		if i%2 == 1 {
			pid = pb
		}
		r := e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}})
		ids = append(ids, r.json(t)["execution_id"].(string))
	}
	e.cond.finish(ids[0])
	// Cancel one; inspectors may not.
	expectProblem(t, e.do("POST", "/api/v1/executions/"+ids[4]+"/cancel", auth.RoleInspector, "", nil), 403)
	r := e.do("POST", "/api/v1/executions/"+ids[4]+"/cancel", auth.RoleQAManager, "", nil)
	if r.code != 200 || r.json(t)["status"] != "cancelled" {
		t.Fatalf("cancel: %d %s", r.code, r.body)
	}
	expectProblem(t, e.do("POST", "/api/v1/executions/nope/cancel", auth.RoleQAManager, "", nil), 404)

	list := func(q url.Values) ([]string, string) {
		r := e.do("GET", "/api/v1/executions?"+q.Encode(), auth.RoleInspector, "", nil)
		if r.code != 200 {
			t.Fatalf("list %v: %d %s", q, r.code, r.body)
		}
		m := r.json(t)
		var out []string
		for _, x := range m["executions"].([]any) {
			out = append(out, x.(map[string]any)["execution_id"].(string))
		}
		return out, m["next_page_token"].(string)
	}
	got, _ := list(url.Values{"pipeline_id": {pa}})
	if strings.Join(got, ",") != strings.Join([]string{ids[4], ids[2], ids[0]}, ",") {
		t.Fatalf("by pipeline: %v", got)
	}
	if got, _ := list(url.Values{"status": {"succeeded"}}); len(got) != 1 || got[0] != ids[0] {
		t.Fatalf("by status: %v", got)
	}
	if got, _ := list(url.Values{"status": {"cancelled"}}); len(got) != 1 || got[0] != ids[4] {
		t.Fatalf("by status cancelled: %v", got)
	}
	// Pagination walks every execution once, newest first.
	var all []string
	q := url.Values{"limit": {"2"}}
	for pages := 0; pages < 10; pages++ {
		page, next := list(q)
		all = append(all, page...)
		if next == "" {
			break
		}
		q.Set("page_token", next)
	}
	if len(all) != 5 || all[0] != ids[4] || all[4] != ids[0] {
		t.Fatalf("paged: %v", all)
	}
	if got, _ := list(url.Values{"since": {time.Now().Add(time.Hour).Format(time.RFC3339)}}); len(got) != 0 {
		t.Fatalf("since future: %v", got)
	}
	for _, bad := range []url.Values{{"status": {"RUNNING_FAST"}}, {"limit": {"0"}}, {"limit": {"501"}}, {"since": {"yesterday"}},
		{"since": {"2026-01-02T00:00:00Z"}, "until": {"2026-01-01T00:00:00Z"}}} {
		r := e.do("GET", "/api/v1/executions?"+bad.Encode(), auth.RoleInspector, "", nil)
		if r.code != 400 && r.code != 422 {
			t.Errorf("list %v: %d", bad, r.code)
		}
	}
}
