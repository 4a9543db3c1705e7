package inspect

import (
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// OpenAPI returns the OpenAPI 3.1 document of the local API, built from the
// route table that registers the handlers and from the Go types of the bodies.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range s.routes {
		item, _ := paths[rt.Pattern].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Pattern] = item
		}
		op := map[string]any{"operationId": rt.OperationID, "summary": rt.Summary, "tags": []string{rt.Tag}}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Pattern, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Query {
			sch := map[string]any{"type": q.Type}
			if len(q.Enum) > 0 {
				sch["enum"] = q.Enum
			}
			params = append(params, map[string]any{"name": q.Name, "in": "query", "required": false, "description": q.Description, "schema": sch})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Body != nil {
			op["requestBody"] = map[string]any{"required": !rt.Body.Optional, "content": contentOf(rt.Body.Content)}
		}
		resps := map[string]any{}
		for _, r := range rt.Responses {
			rj := map[string]any{"description": r.Description}
			if len(r.Content) > 0 {
				rj["content"] = contentOf(r.Content)
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
		op["responses"] = resps
		item[strings.ToLower(rt.Method)] = op
	}
	schemas := map[string]any{}
	for _, v := range schemaTypes {
		schemas[typeName(v)] = schemaOf(reflect.TypeOf(v), true)
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "ImageFlowCanvas edge agent — local inspection API",
			"version": "1",
			"description": "The API the inspector app uses on the shop floor; it needs no network. " +
				"No authentication: the agent binds to loopback unless allow_remote is set (see package edge/inspect). " +
				"Errors are RFC 9457 problem documents.",
		},
		"servers":    []any{map[string]any{"url": "http://127.0.0.1:8081"}},
		"security":   []any{},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas},
	}
}

func contentOf(c map[string]any) map[string]any {
	out := map[string]any{}
	for mt, v := range c {
		switch {
		case v != nil:
			out[mt] = map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + typeName(v)}}
		case strings.HasPrefix(mt, "image/"):
			out[mt] = map[string]any{"schema": map[string]any{"type": "string", "contentMediaType": mt}}
		default:
			out[mt] = map[string]any{}
		}
	}
	return out
}

var timeType = reflect.TypeOf(time.Time{})

// schemaOf derives a JSON Schema from a Go type with json tags. Named
// struct types other than the top one become $refs.
func schemaOf(t reflect.Type, top bool) map[string]any {
	nullable := false
	if t.Kind() == reflect.Pointer {
		nullable, t = true, t.Elem()
	}
	var s map[string]any
	switch {
	case t == timeType:
		s = map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Struct && !top:
		ref := map[string]any{"$ref": "#/components/schemas/" + t.Name()}
		if nullable {
			return map[string]any{"oneOf": []any{ref, map[string]any{"type": "null"}}}
		}
		return ref
	case t.Kind() == reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaOf(f.Type, false)
			if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
				required = append(required, name)
			}
		}
		s = map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
	case t.Kind() == reflect.Slice:
		s = map[string]any{"type": "array", "items": schemaOf(t.Elem(), false)}
	case t.Kind() == reflect.String:
		s = map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		s = map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s = map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		s = map[string]any{"type": "number"}
	default:
		s = map[string]any{}
	}
	if nullable {
		if typ, ok := s["type"].(string); ok {
			s["type"] = []any{typ, "null"}
		}
	}
	return s
}
