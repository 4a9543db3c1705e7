package openapi_test

import (
	"encoding/json"
	"testing"

	"github.com/imageflowcanvas/ifc/internal/openapi"
)

func TestAdd(t *testing.T) {
	paths := map[string]any{}
	openapi.Add(paths, openapi.Operation{Method: "GET", Pattern: "/a/{a_id}", OperationID: "getA", Summary: "One A.", Tag: "t",
		Query:     []openapi.Param{{Name: "since", Type: "date-time", Description: "d"}, {Name: "k", Type: "string", Enum: []string{"x"}}},
		Responses: []openapi.Response{{Code: 200, Description: "ok", Content: map[string]any{"application/json": map[string]any{"schema": openapi.Ref("A")}}, Headers: []string{"ETag"}}, {Code: 304, Description: "same"}}})
	o := openapi.Add(paths, openapi.Operation{Method: "PUT", Pattern: "/a/{a_id}", OperationID: "putA", Tag: "t",
		Body: map[string]any{"image/png": map[string]any{}}, BodyOptional: true})
	o["x-extra"] = true
	got, err := json.Marshal(paths)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"/a/{a_id}":{` +
		`"get":{"operationId":"getA","parameters":[` +
		`{"in":"path","name":"a_id","required":true,"schema":{"type":"string"}},` +
		`{"description":"d","in":"query","name":"since","required":false,"schema":{"format":"date-time","type":"string"}},` +
		`{"description":"","in":"query","name":"k","required":false,"schema":{"enum":["x"],"type":"string"}}],` +
		`"responses":{"200":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}},"description":"ok","headers":{"ETag":{"schema":{"type":"string"}}}},"304":{"description":"same"}},` +
		`"summary":"One A.","tags":["t"]},` +
		`"put":{"operationId":"putA","parameters":[{"in":"path","name":"a_id","required":true,"schema":{"type":"string"}}],` +
		`"requestBody":{"content":{"image/png":{}},"required":false},"responses":{},"summary":"","tags":["t"],"x-extra":true}}}`
	if string(got) != want {
		t.Errorf("paths:\n%s\nwant:\n%s", got, want)
	}
}
