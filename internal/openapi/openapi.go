// Package openapi builds the paths of an OpenAPI 3.1 document as plain maps
// ready for encoding/json, from route records that the cloud API and the
// edge inspection API each keep beside their handlers. Schemas and the
// document's top level stay with each API; only the operation layout is
// shared, so both documents are built the same way.
package openapi

import (
	"regexp"
	"strconv"
	"strings"
)

// Version is the OpenAPI version both documents declare.
const Version = "3.1.0"

// Param is a query parameter; Type is a JSON Schema type or "date-time".
type Param struct {
	Name, Type, Description string
	Enum                    []string
}

// Response is one documented response. Content is a rendered content map
// (media type → media type object); nil or empty means no body.
type Response struct {
	Code        int
	Description string
	Content     map[string]any
	Headers     []string // string-valued headers such as Location or ETag
}

// Operation is one method on one path, as the document describes it.
type Operation struct {
	Method, Pattern, OperationID, Summary, Tag string
	Query                                      []Param
	Body                                       map[string]any // rendered request content; nil = no body
	BodyOptional                               bool
	Responses                                  []Response
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// Ref is a JSON Schema reference to the named component schema.
func Ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

// Add renders op into paths (the document's "paths" object) under its
// pattern and lower-case method, and returns the operation object so the
// caller can add what only its API has (security, extra responses).
// Path parameters come from the {name} segments of the pattern.
func Add(paths map[string]any, op Operation) map[string]any {
	item, _ := paths[op.Pattern].(map[string]any)
	if item == nil {
		item = map[string]any{}
		paths[op.Pattern] = item
	}
	o := map[string]any{"operationId": op.OperationID, "summary": op.Summary, "tags": []string{op.Tag}}
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(op.Pattern, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	for _, q := range op.Query {
		sch := map[string]any{"type": q.Type}
		if q.Type == "date-time" {
			sch = map[string]any{"type": "string", "format": "date-time"}
		}
		if len(q.Enum) > 0 {
			sch["enum"] = q.Enum
		}
		params = append(params, map[string]any{"name": q.Name, "in": "query", "required": false, "description": q.Description, "schema": sch})
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if op.Body != nil {
		o["requestBody"] = map[string]any{"required": !op.BodyOptional, "content": op.Body}
	}
	resps := map[string]any{}
	for _, r := range op.Responses {
		rj := map[string]any{"description": r.Description}
		if len(r.Content) > 0 {
			rj["content"] = r.Content
		}
		if len(r.Headers) > 0 {
			h := map[string]any{}
			for _, name := range r.Headers {
				h[name] = map[string]any{"schema": map[string]any{"type": "string"}}
			}
			rj["headers"] = h
		}
		resps[strconv.Itoa(r.Code)] = rj
	}
	o["responses"] = resps
	item[strings.ToLower(op.Method)] = o
	return o
}
