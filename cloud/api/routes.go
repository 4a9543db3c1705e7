package api

import (
	"net/http"
	"strings"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	"github.com/imageflowcanvas/ifc/internal/openapi"
)

// route is one HTTP endpoint: the mux registration, its permission and its
// OpenAPI description all come from this one record, so the document
// cannot drift from what is served.
type route struct {
	Method      string
	Pattern     string
	OperationID string
	Summary     string
	Tag         string
	Perm        auth.Permission // "" = public
	QueryToken  bool            // token may come from ?token= (WebSocket)
	Signed      bool            // a URL signed by signedURL (?exp=&sig=) stands in for the token
	Query       []queryParam
	Body        *bodySpec
	Responses   []response
	handler     http.HandlerFunc
}

type queryParam = openapi.Param

type bodySpec struct {
	Content map[string]string // media type → schema name ("" = binary/any)
}

type response struct {
	Code        int
	Description string
	Content     map[string]string // media type → schema name ("" = binary/any)
	Headers     []string
}

func jsonOf(schema string) map[string]string { return map[string]string{"application/json": schema} }

// routeTable lists every endpoint the API serves.
func (s *Server) routeTable() []route {
	probs := func(codes ...int) []response {
		out := make([]response, 0, len(codes))
		for _, c := range codes {
			out = append(out, response{Code: c, Description: http.StatusText(c), Content: map[string]string{"application/problem+json": "Problem"}})
		}
		return out
	}
	with := func(ok []response, codes ...int) []response { return append(ok, probs(codes...)...) }
	pipelineBody := &bodySpec{Content: map[string]string{"application/json": "PipelineDefinition", "application/yaml": "PipelineDefinition"}}
	return []route{
		{Method: "GET", Pattern: "/healthz", OperationID: "healthz", Summary: "Liveness: the process serves requests.", Tag: "ops",
			Responses: []response{{Code: 200, Description: "alive", Content: map[string]string{"text/plain": ""}}}, handler: s.healthz},
		{Method: "GET", Pattern: "/readyz", OperationID: "readyz", Summary: "Readiness: stores reachable and the event subscription live.", Tag: "ops",
			Responses: with([]response{{Code: 200, Description: "ready", Content: jsonOf("Readiness")}}, 503), handler: s.readyz},
		{Method: "GET", Pattern: "/metrics", OperationID: "metrics", Summary: "Prometheus metrics.", Tag: "ops",
			Responses: []response{{Code: 200, Description: "metrics in the Prometheus text format", Content: map[string]string{"text/plain": ""}}}, handler: s.metrics.handler.ServeHTTP},
		{Method: "GET", Pattern: "/api/v1/openapi.json", OperationID: "openapi", Summary: "This OpenAPI document.", Tag: "ops",
			Responses: []response{{Code: 200, Description: "OpenAPI 3.1 document", Content: jsonOf("")}}, handler: s.openAPI},
		{Method: "POST", Pattern: "/api/v1/auth/login", OperationID: "login", Summary: "Exchange username and password for a bearer token.", Tag: "auth",
			Body:      &bodySpec{Content: jsonOf("LoginRequest")},
			Responses: with([]response{{Code: 200, Description: "token issued", Content: jsonOf("LoginResponse")}}, 400, 401, 429), handler: s.login},
		{Method: "GET", Pattern: "/api/v1/parts", OperationID: "listParts", Summary: "The parts catalogue with parameter schemas.", Tag: "parts", Perm: auth.PermPartsRead,
			Responses: with([]response{{Code: 200, Description: "catalogue", Content: jsonOf("PartList")}}), handler: s.listParts},
		{Method: "POST", Pattern: "/api/v1/pipelines", OperationID: "createPipeline", Summary: "Create a pipeline (version 1) from a JSON or YAML definition.", Tag: "pipelines", Perm: auth.PermPipelinesWrite,
			Body:      pipelineBody,
			Responses: with([]response{{Code: 201, Description: "created", Content: jsonOf("Pipeline"), Headers: []string{"Location"}}}, 400, 413, 415, 422), handler: s.createPipeline},
		{Method: "GET", Pattern: "/api/v1/pipelines", OperationID: "listPipelines", Summary: "The latest version of every pipeline.", Tag: "pipelines", Perm: auth.PermPipelinesRead,
			Responses: with([]response{{Code: 200, Description: "pipelines", Content: jsonOf("PipelineList")}}), handler: s.listPipelines},
		{Method: "GET", Pattern: "/api/v1/pipelines/{id}", OperationID: "getPipeline", Summary: "One pipeline version (latest by default); Accept: application/yaml exports YAML.", Tag: "pipelines", Perm: auth.PermPipelinesRead,
			Query:     []queryParam{{Name: "version", Type: "integer", Description: "version number; latest when absent"}},
			Responses: with([]response{{Code: 200, Description: "pipeline", Content: map[string]string{"application/json": "Pipeline", "application/yaml": "PipelineDefinition"}}}, 400, 404), handler: s.getPipeline},
		{Method: "DELETE", Pattern: "/api/v1/pipelines/{id}", OperationID: "deletePipeline", Summary: "Hide a pipeline from listings and new executions; past executions keep their version.", Tag: "pipelines", Perm: auth.PermPipelinesDelete,
			Responses: with([]response{{Code: 204, Description: "deleted"}}, 404), handler: s.deletePipeline},
		{Method: "POST", Pattern: "/api/v1/pipelines/{id}/versions", OperationID: "createPipelineVersion", Summary: "Save a new immutable version (latest+1).", Tag: "pipelines", Perm: auth.PermPipelinesWrite,
			Body:      pipelineBody,
			Responses: with([]response{{Code: 201, Description: "created", Content: jsonOf("Pipeline"), Headers: []string{"Location"}}}, 400, 404, 413, 415, 422), handler: s.createPipelineVersion},
		{Method: "GET", Pattern: "/api/v1/pipelines/{id}/versions", OperationID: "listPipelineVersions", Summary: "Every version of one pipeline, oldest first.", Tag: "pipelines", Perm: auth.PermPipelinesRead,
			Responses: with([]response{{Code: 200, Description: "versions", Content: jsonOf("PipelineVersions")}}, 404), handler: s.listPipelineVersions},
		{Method: "POST", Pattern: "/api/v1/files", OperationID: "uploadFile", Summary: "Upload an image (multipart field \"file\"); the content is sniffed and bounded.", Tag: "files", Perm: auth.PermFilesUpload,
			Body:      &bodySpec{Content: map[string]string{"multipart/form-data": "Upload"}},
			Responses: with([]response{{Code: 201, Description: "stored", Content: jsonOf("File"), Headers: []string{"Location"}}}, 400, 413, 415, 422), handler: s.uploadFile},
		{Method: "GET", Pattern: "/api/v1/files/{file_id}", OperationID: "getFile", Summary: "File metadata.", Tag: "files", Perm: auth.PermFilesRead,
			Responses: with([]response{{Code: 200, Description: "metadata", Content: jsonOf("File")}}, 404), handler: s.getFile},
		{Method: "GET", Pattern: "/api/v1/files/{file_id}/content", OperationID: "getFileContent", Summary: "The file's bytes. A download_url from the API (exp and sig set) needs no Authorization header until it expires.", Tag: "files", Perm: auth.PermFilesRead, Signed: true,
			Query: []queryParam{
				{Name: "exp", Type: "integer", Description: "expiry of a signed download_url (Unix seconds); with sig it replaces the bearer token"},
				{Name: "sig", Type: "string", Description: "signature of a signed download_url"},
			},
			Responses: with([]response{{Code: 200, Description: "image bytes", Content: map[string]string{"image/jpeg": "", "image/png": ""}, Headers: []string{"ETag"}}}, 404), handler: s.getFileContent},
		{Method: "POST", Pattern: "/api/v1/executions", OperationID: "createExecution", Summary: "Run a pipeline on input files; ?wait=true blocks until it ends (bounded by the server timeout).", Tag: "executions", Perm: auth.PermExecutionsRun,
			Query: []queryParam{{Name: "wait", Type: "boolean", Description: "block until the execution ends or the server timeout passes"}},
			Body:  &bodySpec{Content: jsonOf("ExecutionRequest")},
			Responses: with([]response{
				{Code: 200, Description: "finished (wait=true)", Content: jsonOf("Execution")},
				{Code: 202, Description: "accepted", Content: jsonOf("Execution"), Headers: []string{"Location"}},
			}, 400, 404, 413, 415, 422, 429, 503), handler: s.createExecution},
		{Method: "GET", Pattern: "/api/v1/executions", OperationID: "listExecutions", Summary: "Executions newest first, filtered and paginated.", Tag: "executions", Perm: auth.PermExecutionsRead,
			Query: []queryParam{
				{Name: "pipeline_id", Type: "string", Description: "only this pipeline"},
				{Name: "status", Type: "string", Description: "only this status", Enum: []string{"queued", "running", "succeeded", "failed", "cancelled"}},
				{Name: "since", Type: "date-time", Description: "created at or after (RFC 3339)"},
				{Name: "until", Type: "date-time", Description: "created before (RFC 3339)"},
				{Name: "limit", Type: "integer", Description: "page size, 1..500, default 50"},
				{Name: "page_token", Type: "string", Description: "next_page_token of the previous page"},
			},
			Responses: with([]response{{Code: 200, Description: "page", Content: jsonOf("ExecutionList")}}, 400, 422), handler: s.listExecutions},
		{Method: "GET", Pattern: "/api/v1/executions/{id}", OperationID: "getExecution", Summary: "One execution with per-node status.", Tag: "executions", Perm: auth.PermExecutionsRead,
			Responses: with([]response{{Code: 200, Description: "execution", Content: jsonOf("Execution")}}, 404), handler: s.getExecution},
		{Method: "POST", Pattern: "/api/v1/executions/{id}/cancel", OperationID: "cancelExecution", Summary: "Cancel a queued or running execution.", Tag: "executions", Perm: auth.PermExecutionsCancel,
			Responses: with([]response{{Code: 200, Description: "execution after the cancel request", Content: jsonOf("Execution")}}, 404, 409), handler: s.cancelExecution},
		{Method: "POST", Pattern: "/api/v1/enrollment-tokens", OperationID: "createEnrollmentToken", Summary: "Create a one-time token that enrolls one edge device for a line; the token is shown only in this response.", Tag: "devices", Perm: auth.PermDevicesManage,
			Body:      &bodySpec{Content: jsonOf("EnrollmentTokenRequest")},
			Responses: with([]response{{Code: 201, Description: "created", Content: jsonOf("EnrollmentToken")}}, 400, 413, 415, 422), handler: s.createEnrollmentToken},
		{Method: "GET", Pattern: "/api/v1/enrollment-tokens", OperationID: "listEnrollmentTokens", Summary: "Every issued enrollment token, newest first, without the token text.", Tag: "devices", Perm: auth.PermDevicesManage,
			Responses: with([]response{{Code: 200, Description: "tokens", Content: jsonOf("EnrollmentTokenList")}}), handler: s.listEnrollmentTokens},
		{Method: "POST", Pattern: "/api/v1/enrollment-tokens/{token_id}/revoke", OperationID: "revokeEnrollmentToken", Summary: "Revoke an unused enrollment token so it can no longer enroll (idempotent; the first revocation time is kept).", Tag: "devices", Perm: auth.PermDevicesManage,
			Responses: with([]response{{Code: 200, Description: "token after revocation", Content: jsonOf("EnrollmentTokenInfo")}}, 404, 409), handler: s.revokeEnrollmentToken},
		{Method: "GET", Pattern: "/api/v1/devices", OperationID: "listDevices", Summary: "Every enrolled edge device with its last reported sync status.", Tag: "devices", Perm: auth.PermDevicesRead,
			Responses: with([]response{{Code: 200, Description: "devices", Content: jsonOf("DeviceList")}}), handler: s.listDevices},
		{Method: "GET", Pattern: "/api/v1/devices/{device_id}", OperationID: "getDevice", Summary: "One edge device.", Tag: "devices", Perm: auth.PermDevicesRead,
			Responses: with([]response{{Code: 200, Description: "device", Content: jsonOf("Device")}}, 404), handler: s.getDevice},
		{Method: "POST", Pattern: "/api/v1/devices/{device_id}/revoke", OperationID: "revokeDevice", Summary: "Revoke a device's credentials (idempotent; the first revocation time is kept).", Tag: "devices", Perm: auth.PermDevicesManage,
			Responses: with([]response{{Code: 200, Description: "device after revocation", Content: jsonOf("Device")}}, 404), handler: s.revokeDevice},
		{Method: "GET", Pattern: "/api/v1/masters", OperationID: "listMasters", Summary: "The latest inspection master of every product.", Tag: "masters", Perm: auth.PermMastersRead,
			Responses: with([]response{{Code: 200, Description: "masters", Content: jsonOf("MasterList")}}), handler: s.listMasters},
		{Method: "GET", Pattern: "/api/v1/masters/{product_code}", OperationID: "getMaster", Summary: "The inspection master of one product.", Tag: "masters", Perm: auth.PermMastersRead,
			Responses: with([]response{{Code: 200, Description: "master", Content: jsonOf("InspectionMaster")}}, 404), handler: s.getMaster},
		{Method: "PUT", Pattern: "/api/v1/masters/{product_code}", OperationID: "putMaster", Summary: "Save a new version of a product's inspection master; edges pull it on their next sync.", Tag: "masters", Perm: auth.PermMastersWrite,
			Body:      &bodySpec{Content: jsonOf("InspectionMaster")},
			Responses: with([]response{{Code: 200, Description: "the stored master with its new version", Content: jsonOf("InspectionMaster")}}, 400, 404, 413, 415, 422), handler: s.putMaster},
		{Method: "PUT", Pattern: "/api/v1/lines/{line}/rollouts/{product_code}", OperationID: "putRollout", Summary: "Roll a pre-filter model and threshold out to the edges of one line for a product.", Tag: "masters", Perm: auth.PermMastersWrite,
			Body:      &bodySpec{Content: jsonOf("RolloutRequest")},
			Responses: with([]response{{Code: 200, Description: "rollout recorded", Content: jsonOf("Rollout")}}, 400, 404, 413, 415, 422), handler: s.putRollout},
		{Method: "GET", Pattern: "/api/v1/records", OperationID: "searchRecords", Summary: "Synced inspection records, newest captured first, filtered and paginated (list items omit cloud.execution).", Tag: "records", Perm: auth.PermRecordsRead,
			Query: []queryParam{
				{Name: "line", Type: "string", Description: "only this line"},
				{Name: "device_id", Type: "string", Description: "only this device"},
				{Name: "product_code", Type: "string", Description: "only this product"},
				{Name: "lot", Type: "string", Description: "only this lot"},
				{Name: "verdict", Type: "string", Description: "only this effective verdict", Enum: verdictWords},
				{Name: "defect_type", Type: "string", Description: "only NG records of this effective defect type"},
				{Name: "shift", Type: "string", Description: "only records captured during this configured shift (any day; see GET /api/v1/stats by_shift for the names)"},
				{Name: "acknowledged", Type: "boolean", Description: "true: only acknowledged records; false: only records not yet acknowledged"},
				{Name: "since", Type: "date-time", Description: "captured at or after (RFC 3339)"},
				{Name: "until", Type: "date-time", Description: "captured before (RFC 3339)"},
				{Name: "limit", Type: "integer", Description: "page size, 1..500, default 50"},
				{Name: "page_token", Type: "string", Description: "next_page_token of the previous page"},
			},
			Responses: with([]response{{Code: 200, Description: "page", Content: jsonOf("RecordList")}}, 400, 422), handler: s.searchRecords},
		{Method: "POST", Pattern: "/api/v1/records/acknowledge", OperationID: "acknowledgeRecords", Summary: "Acknowledge 1..500 records at once (idempotent: the first acknowledgement is kept). Any unknown id: 422 naming them, nothing acknowledged.", Tag: "records", Perm: auth.PermRecordsOverride,
			Body:      &bodySpec{Content: jsonOf("AcknowledgeRequest")},
			Responses: with([]response{{Code: 200, Description: "acknowledged", Content: jsonOf("AcknowledgeResponse")}}, 400, 413, 415, 422), handler: s.acknowledgeRecords},
		{Method: "GET", Pattern: "/api/v1/stats", OperationID: "recordStats", Summary: "Dashboard statistics of synced records by effective verdict: totals, by line, product and shift, a trend and a defect Pareto.", Tag: "records", Perm: auth.PermRecordsRead,
			Query: []queryParam{
				{Name: "line", Type: "string", Description: "only this line"},
				{Name: "device_id", Type: "string", Description: "only this device"},
				{Name: "product_code", Type: "string", Description: "only this product"},
				{Name: "lot", Type: "string", Description: "only this lot"},
				{Name: "since", Type: "date-time", Description: "captured at or after (RFC 3339)"},
				{Name: "until", Type: "date-time", Description: "captured before (RFC 3339)"},
				{Name: "bucket", Type: "string", Description: "trend bucket in the shift time zone, default day", Enum: []string{"hour", "day"}},
			},
			Responses: with([]response{{Code: 200, Description: "statistics", Content: jsonOf("Stats")}}, 400, 422), handler: s.recordStats},
		{Method: "GET", Pattern: "/api/v1/records/{record_id}", OperationID: "getRecord", Summary: "One inspection record with its images, override history, effective verdict and cloud execution.", Tag: "records", Perm: auth.PermRecordsRead,
			Responses: with([]response{{Code: 200, Description: "record", Content: jsonOf("Record")}}, 404), handler: s.getRecord},
		{Method: "POST", Pattern: "/api/v1/records/{record_id}/overrides", OperationID: "overrideRecord", Summary: "Override a record's verdict; a cloud override outranks every edge override.", Tag: "records", Perm: auth.PermRecordsOverride,
			Body:      &bodySpec{Content: jsonOf("OverrideRequest")},
			Responses: with([]response{{Code: 201, Description: "the record after the override", Content: jsonOf("Record"), Headers: []string{"Location"}}}, 400, 404, 413, 415, 422), handler: s.overrideRecord},
		{Method: "GET", Pattern: "/api/v1/users", OperationID: "listUsers", Summary: "Every user account ordered by username (never the password hash).", Tag: "users", Perm: auth.PermUsersManage,
			Responses: with([]response{{Code: 200, Description: "users", Content: jsonOf("UserList")}}), handler: s.listUsers},
		{Method: "POST", Pattern: "/api/v1/users", OperationID: "createUser", Summary: "Create a user account with a role and an initial password (at least 12 characters).", Tag: "users", Perm: auth.PermUsersManage,
			Body:      &bodySpec{Content: jsonOf("CreateUserRequest")},
			Responses: with([]response{{Code: 201, Description: "created", Content: jsonOf("User"), Headers: []string{"Location"}}}, 400, 409, 413, 415, 422), handler: s.createUser},
		{Method: "POST", Pattern: "/api/v1/users/{username}/password", OperationID: "setUserPassword", Summary: "Reset a user's password; tokens already issued stay valid until they expire.", Tag: "users", Perm: auth.PermUsersManage,
			Body:      &bodySpec{Content: jsonOf("PasswordRequest")},
			Responses: with([]response{{Code: 204, Description: "password replaced"}}, 400, 404, 413, 415, 422), handler: s.setUserPassword},
		{Method: "POST", Pattern: "/api/v1/users/{username}/disable", OperationID: "disableUser", Summary: "Disable a user (idempotent): sign-in is refused and their tokens are refused from the next request. The built-in admin and your own account cannot be disabled (409).", Tag: "users", Perm: auth.PermUsersManage,
			Responses: with([]response{{Code: 200, Description: "user after disabling", Content: jsonOf("User")}}, 404, 409), handler: s.disableUser},
		{Method: "GET", Pattern: "/api/v1/ws", OperationID: "websocket", Summary: "WebSocket: subscribe to execution progress; process frames in real time. Token via Authorization or ?token=.", Tag: "websocket", Perm: auth.PermWebSocket, QueryToken: true,
			Query:     []queryParam{{Name: "token", Type: "string", Description: "bearer token, for browsers that cannot set headers"}},
			Responses: with([]response{{Code: 101, Description: "switching protocols; messages are described by WSClientMessage and WSServerMessage"}}, 400), handler: s.websocket},
	}
}

// wrap adds metrics and, for non-public routes, authentication and the
// route's permission.
func (s *Server) wrap(rt route) http.Handler {
	var h http.Handler = rt.handler
	if rt.Perm != "" {
		h = s.deps.Auth.Require(rt.Perm, rt.QueryToken, authError, h)
	}
	if rt.Signed {
		h = s.allowSigned(rt.handler, h)
	}
	return s.metrics.instrument(rt.Method+" "+rt.Pattern, h)
}

// notFound answers requests no route matched: 405 with Allow when the path
// exists under another method, else 404; both as problem documents.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := s.mux.Handler(r2); pattern != "" && pattern != "/" && pattern != "GET /" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, problem{Type: "about:blank", Title: "Method Not Allowed", Status: http.StatusMethodNotAllowed,
			Detail: r.Method + " is not supported here", Instance: r.URL.Path})
		return
	}
	writeProblem(w, problem{Type: "about:blank", Title: "Not Found", Status: http.StatusNotFound, Detail: "no such route", Instance: r.URL.Path})
}
