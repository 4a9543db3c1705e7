package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/internal/openapi"
)

// openAPIDocument builds the OpenAPI 3.1 document from the route table.
func (s *Server) openAPIDocument() map[string]any {
	paths := map[string]any{}
	problem := contentOf(map[string]string{"application/problem+json": "Problem"})
	for _, rt := range s.routes {
		op := openapi.Operation{Method: rt.Method, Pattern: rt.Pattern, OperationID: rt.OperationID, Summary: rt.Summary, Tag: rt.Tag, Query: rt.Query}
		if rt.Body != nil {
			op.Body = contentOf(rt.Body.Content)
		}
		for _, r := range rt.Responses {
			op.Responses = append(op.Responses, openapi.Response{Code: r.Code, Description: r.Description, Content: contentOf(r.Content), Headers: r.Headers})
		}
		o := openapi.Add(paths, op)
		resps := o["responses"].(map[string]any)
		if rt.Perm == "" {
			o["security"] = []any{}
		} else {
			o["x-permission"] = string(rt.Perm)
			for _, c := range []int{401, 403} {
				resps[strconv.Itoa(c)] = map[string]any{"description": http.StatusText(c), "content": problem}
			}
		}
		if rr, ok := resps["429"].(map[string]any); ok {
			rr["headers"] = map[string]any{"Retry-After": map[string]any{"schema": map[string]any{"type": "integer"}}}
		}
		resps["default"] = map[string]any{"description": "error", "content": problem}
	}
	return map[string]any{
		"openapi": openapi.Version,
		"info": map[string]any{
			"title":       "ImageFlowCanvas API",
			"version":     "1.0.0",
			"description": "REST API of the ImageFlowCanvas cloud tier. Errors are application/problem+json (RFC 9457). Every /api/v1 route except login and this document needs Authorization: Bearer <token>; the permission each operation needs is in x-permission (see docs/security.md).",
		},
		"servers":    []any{map[string]any{"url": "/"}},
		"security":   []any{map[string]any{"bearer": []string{}}},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas(), "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
	}
}

func contentOf(m map[string]string) map[string]any {
	out := map[string]any{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if m[k] == "" {
			out[k] = map[string]any{"schema": map[string]any{}}
			continue
		}
		out[k] = map[string]any{"schema": ref(m[k])}
	}
	return out
}

func ref(name string) map[string]any { return openapi.Ref(name) }

func obj(required []string, props map[string]any) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func str() map[string]any          { return map[string]any{"type": "string"} }
func integer() map[string]any      { return map[string]any{"type": "integer"} }
func number() map[string]any       { return map[string]any{"type": "number"} }
func dateTime() map[string]any     { return map[string]any{"type": "string", "format": "date-time"} }
func arr(items any) map[string]any { return map[string]any{"type": "array", "items": items} }
func enum(vals ...string) map[string]any {
	return map[string]any{"type": "string", "enum": vals}
}

var (
	executionStatuses = []string{"queued", "running", "succeeded", "failed", "cancelled"}
	nodeStates        = []string{"queued", "running", "succeeded", "failed", "skipped", "cancelled"}
)

// downloadURLDoc describes every download_url.
const downloadURLDoc = "URL that serves the bytes with a plain GET (no Authorization header, e.g. <img src>) for 15 minutes: an object-store presigned URL, or /api/v1/files/{file_id}/content?exp=&sig= signed by the API; afterwards 403"

func downloadURL() map[string]any {
	return map[string]any{"type": "string", "description": downloadURLDoc}
}

func yieldSchema() map[string]any {
	return map[string]any{"type": "number", "minimum": 0, "maximum": 1, "description": "ok / total; 0 when total is 0"}
}

// counts is the schema of counts by effective verdict plus extra properties.
func counts(extra map[string]any) map[string]any {
	props := map[string]any{"total": integer(), "ok": integer(), "ng": integer(), "yield": yieldSchema()}
	req := []string{"total", "ok", "ng", "yield"}
	for k, v := range extra {
		props[k] = v
		req = append(req, k)
	}
	sort.Strings(req)
	return obj(req, props)
}

func schemas() map[string]any {
	return map[string]any{
		"Problem": obj([]string{"type", "title", "status"}, map[string]any{
			"type": str(), "title": str(), "status": integer(), "detail": str(), "instance": str(),
			"problems": arr(obj([]string{"message"}, map[string]any{"node": str(), "field": str(), "message": str()})),
		}),
		"Readiness":    obj([]string{"ready"}, map[string]any{"ready": map[string]any{"type": "boolean"}, "checks": map[string]any{"type": "object", "additionalProperties": str()}}),
		"LoginRequest": obj([]string{"username", "password"}, map[string]any{"username": str(), "password": str()}),
		"LoginResponse": obj([]string{"token", "expires_at", "username", "role", "permissions"}, map[string]any{
			"token": str(), "expires_at": dateTime(), "username": str(),
			"role":        enum("admin", "qa_manager", "inspector", "integrator"),
			"permissions": map[string]any{"type": "array", "items": str(), "description": "what this role may do; the UI shows only what it allows"},
		}),
		"User": obj([]string{"username", "role", "created_at", "disabled", "builtin"}, map[string]any{
			"username": str(), "role": enum("admin", "qa_manager", "inspector", "integrator"), "created_at": dateTime(),
			"disabled":    map[string]any{"type": "boolean", "description": "a disabled user cannot sign in and their tokens are refused"},
			"disabled_at": dateTime(),
			"builtin":     map[string]any{"type": "boolean", "description": "the admin account created at first start; it cannot be disabled"},
		}),
		"UserList": obj([]string{"users"}, map[string]any{"users": arr(ref("User"))}),
		"CreateUserRequest": obj([]string{"username", "password", "role"}, map[string]any{
			"username": map[string]any{"type": "string", "minLength": 3, "maxLength": 64, "pattern": "^[a-z0-9][a-z0-9._-]*$"},
			"password": map[string]any{"type": "string", "minLength": 12, "maxLength": 1024},
			"role":     enum("admin", "qa_manager", "inspector", "integrator"),
		}),
		"PasswordRequest": obj([]string{"password"}, map[string]any{"password": map[string]any{"type": "string", "minLength": 12, "maxLength": 1024}}),
		"Part": obj([]string{"id", "service", "inputs", "outputs", "params_schema"}, map[string]any{
			"id": str(), "service": str(), "title": str(), "description": str(),
			"inputs": arr(enum("image", "detections")), "outputs": arr(enum("image", "detections")),
			"params_schema": map[string]any{"type": "object", "description": "JSON Schema (draft 2020-12) of the params"},
		}),
		"PartList": obj([]string{"parts"}, map[string]any{"parts": arr(ref("Part"))}),
		"PipelineDefinition": obj([]string{"nodes"}, map[string]any{
			"name":  str(),
			"nodes": arr(obj([]string{"id", "part"}, map[string]any{"id": str(), "part": str(), "params": map[string]any{"type": "object"}})),
			"edges": arr(obj([]string{"from", "to"}, map[string]any{"from": str(), "to": str()})),
		}),
		"Pipeline": obj([]string{"id", "version", "definition"}, map[string]any{
			"id": str(), "version": integer(), "name": str(), "created_by": str(), "created_at": dateTime(), "definition": ref("PipelineDefinition"),
		}),
		"PipelineList":     obj([]string{"pipelines"}, map[string]any{"pipelines": arr(ref("Pipeline"))}),
		"PipelineVersions": obj([]string{"versions"}, map[string]any{"versions": arr(ref("Pipeline"))}),
		"Upload":           obj([]string{"file"}, map[string]any{"file": map[string]any{"type": "string", "format": "binary"}}),
		"File": obj([]string{"file_id", "sha256", "size", "content_type", "width", "height"}, map[string]any{
			"file_id": str(), "sha256": str(), "size": integer(), "content_type": str(), "width": integer(), "height": integer(),
			"metadata": map[string]any{"type": "object", "additionalProperties": str()}, "created_by": str(), "created_at": dateTime(),
			"download_url": downloadURL(),
		}),
		"ExecutionRequest": obj([]string{"pipeline_id", "inputs"}, map[string]any{
			"pipeline_id": str(), "version": map[string]any{"type": "integer", "description": "0 or absent: latest"},
			"inputs": arr(str()), "correlation_id": str(),
		}),
		"Detection": obj([]string{"label", "score", "box"}, map[string]any{
			"label": str(), "score": number(), "class_id": integer(),
			"box": obj([]string{"x", "y", "w", "h"}, map[string]any{"x": number(), "y": number(), "w": number(), "h": number()}),
		}),
		"NodeOutputs": obj(nil, map[string]any{"file_id": str(), "detections": arr(ref("Detection")),
			"download_url": map[string]any{"type": "string", "description": "in REST execution responses when file_id is set: " + downloadURLDoc}}),
		"NodeStatus": obj([]string{"node_id", "status"}, map[string]any{
			"node_id": str(), "status": enum(nodeStates...), "started_at": dateTime(), "finished_at": dateTime(),
			"outputs": ref("NodeOutputs"), "error": str(), "attempts": integer(),
		}),
		"Execution": obj([]string{"execution_id", "pipeline_id", "pipeline_version", "inputs", "status", "nodes"}, map[string]any{
			"execution_id": str(), "pipeline_id": str(), "pipeline_version": integer(), "inputs": arr(str()),
			"correlation_id": str(), "client_id": str(), "status": enum(executionStatuses...), "nodes": arr(ref("NodeStatus")),
			"created_at": dateTime(), "started_at": dateTime(), "finished_at": dateTime(), "error": str(), "created_by": str(),
		}),
		"ExecutionList": obj([]string{"executions"}, map[string]any{"executions": arr(ref("Execution")), "next_page_token": str()}),
		"EnrollmentTokenRequest": obj([]string{"line"}, map[string]any{"line": str(),
			"ttl_seconds": map[string]any{"type": "integer", "minimum": 60, "maximum": 30 * 86400, "default": 86400}}),
		"EnrollmentToken": obj([]string{"token", "line", "expires_at"}, map[string]any{
			"token": map[string]any{"type": "string", "description": "shown only here; the cloud keeps its sha256"}, "line": str(), "expires_at": dateTime()}),
		"EnrollmentTokenInfo": obj([]string{"token_id", "line", "created_by", "created_at", "expires_at", "state"}, map[string]any{
			"token_id": map[string]any{"type": "string", "description": "stable, non-secret identifier (the first 12 hex digits of the token's sha256); cannot enroll"},
			"line":     str(), "created_by": str(), "created_at": dateTime(), "expires_at": dateTime(),
			"used_at": dateTime(), "device_id": map[string]any{"type": "string", "description": "the device the token enrolled"},
			"revoked_at": dateTime(),
			"state":      map[string]any{"type": "string", "enum": []string{"active", "used", "expired", "revoked"}, "description": "as of the response"},
		}),
		"EnrollmentTokenList": obj([]string{"tokens"}, map[string]any{"tokens": arr(ref("EnrollmentTokenInfo"))}),
		"Device": obj([]string{"device_id", "name", "line", "online", "queued", "queued_bytes"}, map[string]any{
			"device_id": str(), "name": str(), "line": str(), "enrolled_at": dateTime(), "revoked_at": dateTime(), "last_seen": dateTime(),
			"online": map[string]any{"type": "boolean", "description": "not revoked and last seen within 2 minutes"},
			"queued": integer(), "queued_bytes": integer(), "oldest_queued": dateTime(), "agent_version": str(), "model_version": str(),
		}),
		"DeviceList": obj([]string{"devices"}, map[string]any{"devices": arr(ref("Device"))}),
		"InspectionMaster": obj([]string{"product"}, map[string]any{
			"product":                 obj([]string{"name"}, map[string]any{"code": map[string]any{"type": "string", "description": "may be omitted on PUT; must equal the path's product_code"}, "name": str()}),
			"items":                   arr(obj([]string{"id"}, map[string]any{"id": str(), "name": str(), "description": str()})),
			"defect_types":            arr(obj([]string{"code"}, map[string]any{"code": str(), "name": str()})),
			"prefilter_model_name":    str(),
			"prefilter_model_version": str(),
			"prefilter_threshold":     map[string]any{"type": "number", "minimum": 0, "maximum": 1},
			"pipeline_id":             map[string]any{"type": "string", "description": "cloud pipeline run on synced images; must exist"},
			"pipeline_version":        map[string]any{"type": "integer", "description": "0 or absent: latest"},
			"version":                 map[string]any{"type": "integer", "description": "assigned by the server"},
			"updated_at":              dateTime(),
		}),
		"MasterList":     obj([]string{"masters"}, map[string]any{"masters": arr(ref("InspectionMaster"))}),
		"RolloutRequest": obj([]string{"model_name", "model_version", "threshold"}, map[string]any{"model_name": str(), "model_version": str(), "threshold": map[string]any{"type": "number", "minimum": 0, "maximum": 1}}),
		"Rollout": obj([]string{"line", "product_code", "model_name", "model_version", "threshold"}, map[string]any{
			"line": str(), "product_code": str(), "model_name": str(), "model_version": str(), "threshold": number(), "created_by": str(), "created_at": dateTime(),
		}),
		"Verdict": obj([]string{"result"}, map[string]any{"result": enum(verdictWords...), "defect_type": str(), "note": str(), "decided_at": dateTime()}),
		"Override": obj([]string{"override_id", "actor", "reason", "verdict", "origin"}, map[string]any{
			"override_id": str(), "actor": str(), "reason": str(), "verdict": ref("Verdict"), "at": dateTime(), "origin": enum("edge", "cloud"), "device_id": str(),
		}),
		"Record": obj([]string{"record_id", "device_id", "line", "product_code", "images", "verdict", "effective_verdict", "overrides", "cloud"}, map[string]any{
			"record_id": str(), "device_id": str(), "line": str(), "product_code": str(), "lot": str(), "serial": str(), "inspector": str(),
			"captured_at": dateTime(), "committed_at": dateTime(),
			"images": arr(obj([]string{"sha256", "size", "content_type"}, map[string]any{"sha256": str(), "file_id": str(), "size": integer(), "content_type": str(),
				"width": integer(), "height": integer(), "url": map[string]any{"type": "string", "description": "/api/v1/files/{file_id}/content (needs the bearer token)"},
				"download_url": downloadURL()})),
			"prefilter":         obj(nil, map[string]any{"score": number(), "label": str(), "model_name": str(), "model_version": str(), "threshold": number()}),
			"verdict":           ref("Verdict"),
			"effective_verdict": map[string]any{"$ref": "#/components/schemas/Verdict", "description": "a cloud override outranks edge overrides; within one origin the latest wins"},
			"overrides":         map[string]any{"type": "array", "items": ref("Override"), "description": "oldest first"},
			"cloud": obj([]string{"pipeline_state"}, map[string]any{"pipeline_state": enum(metadata.PipelineNone, metadata.PipelinePending, metadata.PipelineSubmitted, metadata.PipelineFailed),
				"execution_id": str(), "error": str(), "execution": ref("Execution")}),
			"master_version": integer(), "model_version": str(),
			"acknowledged_at": map[string]any{"type": "string", "format": "date-time", "description": "first acknowledgement; absent until acknowledged"},
			"acknowledged_by": map[string]any{"type": "string", "description": "user of the first acknowledgement; absent until acknowledged"},
		}),
		"AcknowledgeRequest": obj([]string{"record_ids"}, map[string]any{
			"record_ids": map[string]any{"type": "array", "items": str(), "minItems": 1, "maxItems": 500}}),
		"AcknowledgeResponse": obj([]string{"acknowledged"}, map[string]any{
			"acknowledged": map[string]any{"type": "integer", "description": "records newly acknowledged by this request (already acknowledged ones keep their first acknowledgement and are not counted)"}}),
		"Counts":     counts(nil),
		"KeyCounts":  counts(map[string]any{"key": map[string]any{"type": "string", "description": "line, product code or shift name"}}),
		"TrendPoint": counts(map[string]any{"start": map[string]any{"type": "string", "format": "date-time", "description": "start of the bucket, in the shift time zone"}}),
		"DefectCount": obj([]string{"defect_type", "count"}, map[string]any{
			"defect_type": map[string]any{"type": "string", "description": "effective defect type; empty when an NG verdict names none"}, "count": integer()}),
		"Stats": obj([]string{"total", "ok", "ng", "yield", "by_line", "by_product", "by_shift", "trend", "pareto"}, map[string]any{
			"total": integer(), "ok": integer(), "ng": integer(), "yield": yieldSchema(),
			"by_line":    map[string]any{"type": "array", "items": ref("KeyCounts"), "description": "by line name"},
			"by_product": map[string]any{"type": "array", "items": ref("KeyCounts"), "description": "by product code"},
			"by_shift":   map[string]any{"type": "array", "items": ref("KeyCounts"), "description": "every configured shift, in shift order"},
			"trend":      map[string]any{"type": "array", "items": ref("TrendPoint"), "description": "oldest first, one point per bucket from since (or the first record) to until (or the last), empty buckets included"},
			"pareto":     map[string]any{"type": "array", "items": ref("DefectCount"), "description": "NG records by effective defect type, count descending, then defect type"},
		}),
		"RecordList":      obj([]string{"records"}, map[string]any{"records": arr(ref("Record")), "next_page_token": str()}),
		"OverrideRequest": obj([]string{"result", "reason"}, map[string]any{"result": enum(verdictWords...), "defect_type": map[string]any{"type": "string", "description": "required for ng; a defect type code of the product's master"}, "note": str(), "reason": str()}),
		"WSClientMessage": map[string]any{"oneOf": []any{
			obj([]string{"type", "token"}, map[string]any{"type": enum("auth"), "token": str()}),
			obj([]string{"type", "execution_id"}, map[string]any{"type": enum("subscribe"), "execution_id": str()}),
			obj([]string{"type"}, map[string]any{"type": enum("unsubscribe"), "execution_id": map[string]any{"type": "string", "description": "absent: every subscription"}}),
			obj([]string{"type", "pipeline_id", "image"}, map[string]any{"type": enum("process"), "request_id": str(), "pipeline_id": str(), "version": integer(),
				"image": map[string]any{"type": "string", "contentEncoding": "base64", "description": "JPEG or PNG"}}),
		}},
		"WSServerMessage": map[string]any{"oneOf": []any{
			obj([]string{"type", "execution"}, map[string]any{"type": enum("state"), "execution_id": str(), "execution": ref("Execution")}),
			obj([]string{"type", "execution_id", "seq"}, map[string]any{"type": enum("progress"), "execution_id": str(), "node_id": str(),
				"state": enum(nodeStates...), "execution_status": enum(executionStatuses...), "progress": number(), "seq": integer(),
				"ts": dateTime(), "error": str(), "outputs": ref("NodeOutputs")}),
			obj([]string{"type"}, map[string]any{"type": enum("unsubscribed"), "execution_id": str()}),
			obj([]string{"type", "expires_at"}, map[string]any{"type": enum("authenticated"), "expires_at": dateTime()}),
			obj([]string{"type", "request_id"}, map[string]any{"type": enum("result"), "request_id": str(), "seq": integer(),
				"image": map[string]any{"type": "string", "contentEncoding": "base64", "description": "JPEG"}, "width": integer(), "height": integer(),
				"detections": arr(ref("Detection")), "processing_us": integer()}),
			obj([]string{"type", "status", "message"}, map[string]any{"type": enum("error"), "request_id": str(), "execution_id": str(), "status": integer(), "message": str()}),
		}},
	}
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	b, err := json.MarshalIndent(s.openAPIDocument(), "", "  ")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}
