package inspect

import (
	"reflect"
	"strings"
	"time"

	"github.com/imageflowcanvas/ifc/internal/openapi"
)

// OpenAPI returns the OpenAPI 3.1 document of the local API, built from the
// route table that registers the handlers and from the Go types of the bodies.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range s.routes {
		op := openapi.Operation{Method: rt.Method, Pattern: rt.Pattern, OperationID: rt.OperationID, Summary: rt.Summary, Tag: rt.Tag, Query: rt.Query}
		if rt.Body != nil {
			op.Body, op.BodyOptional = contentOf(rt.Body.Content), rt.Body.Optional
		}
		for _, r := range rt.Responses {
			op.Responses = append(op.Responses, openapi.Response{Code: r.Code, Description: r.Description, Content: contentOf(r.Content), Headers: r.Headers})
		}
		openapi.Add(paths, op)
	}
	schemas := map[string]any{}
	for _, v := range schemaTypes {
		schemas[typeName(v)] = schemaOf(reflect.TypeOf(v), true)
	}
	return map[string]any{
		"openapi": openapi.Version,
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
			out[mt] = map[string]any{"schema": openapi.Ref(typeName(v))}
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
		ref := openapi.Ref(t.Name())
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
