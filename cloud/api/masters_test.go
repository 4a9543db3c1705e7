package api

import (
	"context"
	"strings"
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/auth"
)

// masterBody is a valid inspection master for product code (omitted from the body).
func masterBody(name string, defects ...string) map[string]any {
	var dts []any
	for _, d := range defects {
		dts = append(dts, map[string]any{"code": d, "name": strings.ToUpper(d)})
	}
	return map[string]any{
		"product":              map[string]any{"name": name},
		"items":                []any{map[string]any{"id": "surface", "name": "Surface", "description": "no scratches"}},
		"defect_types":         dts,
		"prefilter_model_name": "anomaly", "prefilter_model_version": "v1", "prefilter_threshold": 0.7,
	}
}

// putMaster stores a master over the API and returns its version.
func (e *env) putMaster(code string, body map[string]any) float64 {
	e.t.Helper()
	r := e.doJSON("PUT", "/api/v1/masters/"+code, auth.RoleQAManager, body)
	if r.code != 200 {
		e.t.Fatalf("put master %s: %d %s", code, r.code, r.body)
	}
	return r.json(e.t)["version"].(float64)
}

func TestMasters(t *testing.T) {
	e := newEnv(t)
	r := e.doJSON("PUT", "/api/v1/masters/P-100", auth.RoleQAManager, masterBody("Bracket", "scratch", "dent"))
	if r.code != 200 {
		t.Fatalf("put: %d %s", r.code, r.body)
	}
	m := r.json(t)
	v1 := m["version"].(float64)
	if m["product"].(map[string]any)["code"] != "P-100" || v1 < 1 || m["updated_at"] == nil || m["prefilter_threshold"] != 0.7 ||
		len(m["defect_types"].([]any)) != 2 || len(m["items"].([]any)) != 1 {
		t.Fatalf("stored master %s", r.body)
	}
	// The body may name the product code when it matches; the version grows.
	body := masterBody("Bracket v2", "scratch")
	body["product"].(map[string]any)["code"] = "P-100"
	if v2 := e.putMaster("P-100", body); v2 <= v1 {
		t.Fatalf("version %v after %v", v2, v1)
	}
	r = e.do("GET", "/api/v1/masters/P-100", auth.RoleInspector, "", nil)
	if r.code != 200 || r.json(t)["product"].(map[string]any)["name"] != "Bracket v2" {
		t.Fatalf("get: %d %s", r.code, r.body)
	}
	// A pipeline that exists may be named.
	pid := e.createPipeline()
	body = masterBody("Hinge", "crack")
	body["pipeline_id"] = pid
	e.putMaster("P-200", body)
	r = e.do("GET", "/api/v1/masters", auth.RoleIntegrator, "", nil)
	list := r.json(t)["masters"].([]any)
	if r.code != 200 || len(list) != 2 {
		t.Fatalf("list: %d %s", r.code, r.body)
	}
	for _, x := range list {
		x := x.(map[string]any)
		if x["product"].(map[string]any)["code"] == "P-200" && x["pipeline_id"] != pid {
			t.Errorf("P-200 pipeline %v", x["pipeline_id"])
		}
	}
	expectProblem(t, e.do("GET", "/api/v1/masters/P-999", auth.RoleInspector, "", nil), 404)
	expectProblem(t, e.doJSON("PUT", "/api/v1/masters/P-100", auth.RoleInspector, masterBody("x")), 403)

	current := e.do("GET", "/api/v1/masters/P-100", auth.RoleAdmin, "", nil).json(t)["version"]
	withField := func(k string, v any) map[string]any {
		b := masterBody("Bracket", "scratch", "dent")
		b[k] = v
		return b
	}
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"duplicate defect codes": {masterBody("Bracket", "scratch", "dent", "scratch"), "defect_types[2].code"},
		"unknown pipeline":       {withField("pipeline_id", "no-such-pipeline"), "pipeline_id"},
		"unknown pipeline version": {func() map[string]any {
			b := withField("pipeline_id", pid)
			b["pipeline_version"] = 9
			return b
		}(), "pipeline_id"},
		"threshold above 1":  {withField("prefilter_threshold", 1.5), "prefilter_threshold"},
		"negative threshold": {withField("prefilter_threshold", -0.1), "prefilter_threshold"},
		"no product name":    {withField("product", map[string]any{"name": " "}), "product.name"},
		"code mismatch":      {withField("product", map[string]any{"code": "P-300", "name": "x"}), "product.code"},
		"empty defect code":  {withField("defect_types", []any{map[string]any{"name": "nameless"}}), "defect_types[0].code"},
	} {
		t.Run(name, func(t *testing.T) {
			p := expectProblem(t, e.doJSON("PUT", "/api/v1/masters/P-100", auth.RoleQAManager, tc.body), 422)
			if !hasProblem(p, tc.field) {
				t.Errorf("problems %v lack field %s", p["problems"], tc.field)
			}
		})
	}
	expectProblem(t, e.do("PUT", "/api/v1/masters/P-100", auth.RoleQAManager, "application/json", []byte(`{"product":{"name":"x"},"colour":"red"}`)), 400)
	expectProblem(t, e.do("PUT", "/api/v1/masters/P-100", auth.RoleQAManager, "application/json", []byte(`{"product":`)), 400)
	expectProblem(t, e.do("PUT", "/api/v1/masters/P-100", auth.RoleQAManager, "application/yaml", []byte(`product: {name: x}`)), 415)
	if v := e.do("GET", "/api/v1/masters/P-100", auth.RoleAdmin, "", nil).json(t)["version"]; v != current {
		t.Fatalf("rejected puts changed the master: version %v, was %v", v, current)
	}
}

// hasProblem reports whether a problem document lists field.
func hasProblem(p map[string]any, field string) bool {
	items, _ := p["problems"].([]any)
	for _, it := range items {
		if it.(map[string]any)["field"] == field {
			return true
		}
	}
	return false
}

func TestRollouts(t *testing.T) {
	e := newEnv(t)
	e.putMaster("P-100", masterBody("Bracket", "scratch"))
	ctx := context.Background()
	before, err := e.meta.MasterChangesSince(ctx, "line-1", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	r := e.doJSON("PUT", "/api/v1/lines/line-1/rollouts/P-100", auth.RoleIntegrator, map[string]any{"model_name": "anomaly", "model_version": "v2", "threshold": 0.55})
	if r.code != 200 {
		t.Fatalf("rollout: %d %s", r.code, r.body)
	}
	if m := r.json(t); m["line"] != "line-1" || m["product_code"] != "P-100" || m["model_version"] != "v2" || m["threshold"] != 0.55 || m["created_by"] != "integrator-user" {
		t.Fatalf("rollout response %s", r.body)
	}
	// Edges of line-1 now pull the master with the rolled-out model; other lines keep the master's own.
	ch, err := e.meta.MasterChangesSince(ctx, "line-1", before.NextCursor, 100)
	if err != nil || len(ch.Masters) != 1 {
		t.Fatalf("changes for line-1: %+v %v", ch, err)
	}
	if m := ch.Masters[0]; m.GetPrefilterModelVersion() != "v2" || m.GetPrefilterThreshold() != 0.55 {
		t.Fatalf("line-1 master %v", m)
	}
	other, err := e.meta.MasterChangesSince(ctx, "line-2", 0, 100)
	if err != nil || len(other.Masters) != 1 || other.Masters[0].GetPrefilterModelVersion() != "v1" {
		t.Fatalf("line-2 master %+v %v", other, err)
	}

	expectProblem(t, e.doJSON("PUT", "/api/v1/lines/line-1/rollouts/P-999", auth.RoleIntegrator, map[string]any{"model_name": "a", "model_version": "v", "threshold": 0.5}), 404)
	expectProblem(t, e.doJSON("PUT", "/api/v1/lines/line-1/rollouts/P-100", auth.RoleInspector, map[string]any{"model_name": "a", "model_version": "v", "threshold": 0.5}), 403)
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"threshold above 1": {map[string]any{"model_name": "a", "model_version": "v", "threshold": 1.01}, "threshold"},
		"no threshold":      {map[string]any{"model_name": "a", "model_version": "v"}, "threshold"},
		"empty model name":  {map[string]any{"model_name": "", "model_version": "v", "threshold": 0.5}, "model_name"},
		"no model version":  {map[string]any{"model_name": "a", "threshold": 0.5}, "model_version"},
	} {
		t.Run(name, func(t *testing.T) {
			p := expectProblem(t, e.doJSON("PUT", "/api/v1/lines/line-1/rollouts/P-100", auth.RoleIntegrator, tc.body), 422)
			if !hasProblem(p, tc.field) {
				t.Errorf("problems %v lack %s", p["problems"], tc.field)
			}
		})
	}
	after, err := e.meta.MasterChangesSince(ctx, "line-1", ch.NextCursor, 100)
	if err != nil || len(after.Masters) != 0 {
		t.Fatalf("rejected rollouts made changes: %+v %v", after, err)
	}
}
