package inspect

import (
	"net/http"
	"reflect"

	"github.com/imageflowcanvas/ifc/internal/openapi"
)

// route is one endpoint: its mux registration and its OpenAPI description
// come from this one record, so the document cannot drift from what is served.
type route struct {
	Method      string
	Pattern     string
	OperationID string
	Summary     string
	Tag         string
	Query       []queryParam
	Body        *body
	Responses   []response
	handler     http.HandlerFunc
}

type queryParam = openapi.Param

type body struct {
	Content  map[string]any // media type → Go value whose type is the schema (nil = binary)
	Optional bool
}

type response struct {
	Code        int
	Description string
	Content     map[string]any // media type → Go value whose type is the schema (nil = binary/text)
	Headers     []string
}

func jsonBody(v any) map[string]any { return map[string]any{"application/json": v} }

// schemaTypes lists every type named in the document's components.
var schemaTypes = []any{
	ProductListJSON{}, ProductJSON{}, ItemJSON{}, DefectTypeJSON{}, SessionRequest{}, SessionJSON{},
	CaptureJSON{}, PrefilterJSON{}, TimingsJSON{}, VerdictRequest{}, SavedJSON{}, RecordJSON{},
	ImageJSON{}, VerdictJSON{}, HistoryJSON{}, StatusJSON{}, ModelJSON{}, WSMessage{}, Problem{},
	OverrideRequest{}, OverrideJSON{}, SyncJSON{}, EnrollRequest{}, EnrollJSON{},
}

func typeName(v any) string { return reflect.TypeOf(v).Name() }

// routeTable lists every endpoint of the local API.
func (s *Server) routeTable() []route {
	probs := func(codes ...int) []response {
		out := make([]response, 0, len(codes))
		for _, c := range codes {
			out = append(out, response{Code: c, Description: http.StatusText(c), Content: map[string]any{"application/problem+json": Problem{}}})
		}
		return out
	}
	with := func(ok []response, codes ...int) []response { return append(ok, probs(codes...)...) }
	images := map[string]any{"image/jpeg": nil, "image/png": nil}
	return []route{
		{Method: "GET", Pattern: "/api/v1/openapi.json", OperationID: "openapi", Summary: "This OpenAPI document.", Tag: "ops",
			Responses: []response{{Code: 200, Description: "OpenAPI 3.1 document", Content: map[string]any{"application/json": nil}}}, handler: s.openAPI},
		{Method: "GET", Pattern: "/api/v1/products", OperationID: "listProducts", Summary: "Products with their inspection items and defect types, from the local master cache.", Tag: "masters",
			Responses: with([]response{{Code: 200, Description: "products", Content: jsonBody(ProductListJSON{})}}), handler: s.listProducts},
		{Method: "GET", Pattern: "/api/v1/products/{code}", OperationID: "getProduct", Summary: "One product's inspection master.", Tag: "masters",
			Responses: with([]response{{Code: 200, Description: "product", Content: jsonBody(ProductJSON{})}}, 404), handler: s.getProduct},
		{Method: "POST", Pattern: "/api/v1/sessions", OperationID: "startSession", Summary: "Start an inspection session: product, lot/serial, inspector. Unknown products are refused.", Tag: "inspection",
			Body:      &body{Content: jsonBody(SessionRequest{})},
			Responses: with([]response{{Code: 201, Description: "session started", Content: jsonBody(SessionJSON{}), Headers: []string{"Location"}}}, 413, 415, 422), handler: s.startSession},
		{Method: "GET", Pattern: "/api/v1/sessions/{session_id}", OperationID: "getSession", Summary: "One inspection session with its capture and saved counts.", Tag: "inspection",
			Responses: with([]response{{Code: 200, Description: "session", Content: jsonBody(SessionJSON{})}}, 404), handler: s.getSession},
		{Method: "POST", Pattern: "/api/v1/sessions/{session_id}/captures", OperationID: "capture", Summary: "Take a full-resolution still (empty body or {}) or accept an uploaded JPEG/PNG, run the pre-filter and return its verdict. Refused when the disk budget is exhausted (507), the camera is missing (503) or the image is too large (413).", Tag: "inspection",
			Body:      &body{Content: map[string]any{"image/jpeg": nil, "image/png": nil, "application/json": nil}, Optional: true},
			Responses: with([]response{{Code: 201, Description: "captured; awaiting the human verdict", Content: jsonBody(CaptureJSON{}), Headers: []string{"Location"}}}, 404, 413, 415, 422, 503, 507), handler: s.capture},
		{Method: "GET", Pattern: "/api/v1/captures/{capture_id}/image", OperationID: "getCaptureImage", Summary: "The captured image (JPEG for camera stills), for the preview.", Tag: "inspection",
			Responses: with([]response{{Code: 200, Description: "image bytes", Content: images, Headers: []string{"ETag"}}, {Code: 304, Description: "not modified"}}, 404), handler: s.captureImage},
		{Method: "POST", Pattern: "/api/v1/captures/{capture_id}/verdict", OperationID: "submitVerdict", Summary: "Submit the human verdict. 201 is sent only after the record and its image are committed (fsynced) to the local queue; the same verdict again answers 200, a different one 409.", Tag: "inspection",
			Body: &body{Content: jsonBody(VerdictRequest{})},
			Responses: with([]response{
				{Code: 201, Description: "saved", Content: jsonBody(SavedJSON{}), Headers: []string{"Location"}},
				{Code: 200, Description: "this verdict was already saved for the capture", Content: jsonBody(SavedJSON{})},
			}, 404, 409, 413, 415, 422, 507), handler: s.submitVerdict},
		{Method: "GET", Pattern: "/api/v1/preview/frame", OperationID: "getPreviewFrame", Summary: "The newest live-preview frame as a JPEG (quality 80, at most 1280 wide), for viewers without WebRTC. X-Frame-Seq grows with every new frame; X-Captured-At is when it was taken. Takes no still: no capture is created and the pre-filter does not run. 503 when the camera delivers no frames.", Tag: "inspection",
			Responses: with([]response{{Code: 200, Description: "JPEG of the newest frame (Cache-Control: no-store)", Content: map[string]any{"image/jpeg": nil}, Headers: []string{"X-Frame-Seq", "X-Captured-At", "Cache-Control"}}}, 503), handler: s.previewFrame},
		{Method: "GET", Pattern: "/api/v1/records", OperationID: "listRecords", Summary: "Local history, newest first, filtered and paginated.", Tag: "history",
			Query: []queryParam{
				{Name: "product_code", Type: "string", Description: "only this product"},
				{Name: "lot", Type: "string", Description: "only this lot"},
				{Name: "serial", Type: "string", Description: "only this serial"},
				{Name: "inspector", Type: "string", Description: "only this inspector"},
				{Name: "result", Type: "string", Description: "only this verdict", Enum: []string{"OK", "NG"}},
				{Name: "limit", Type: "integer", Description: "page size, 1..1000, default 50"},
				{Name: "cursor", Type: "string", Description: "next_cursor of the previous page"},
			},
			Responses: with([]response{{Code: 200, Description: "page", Content: jsonBody(HistoryJSON{})}}, 422), handler: s.listRecords},
		{Method: "GET", Pattern: "/api/v1/records/{record_id}", OperationID: "getRecord", Summary: "One stored record with its sync state, override history and effective verdict.", Tag: "history",
			Responses: with([]response{{Code: 200, Description: "record", Content: jsonBody(RecordJSON{})}}, 404), handler: s.getRecord},
		{Method: "POST", Pattern: "/api/v1/records/{record_id}/overrides", OperationID: "overrideVerdict", Summary: "Correct the verdict of a saved record. The record is never rewritten: an override event (origin EDGE, this device, at=now) is committed (fsynced) with its sync outbox entry before 201.", Tag: "history",
			Body:      &body{Content: jsonBody(OverrideRequest{})},
			Responses: with([]response{{Code: 201, Description: "override saved", Content: jsonBody(OverrideJSON{}), Headers: []string{"Location"}}}, 404, 413, 415, 422), handler: s.addOverride},
		{Method: "GET", Pattern: "/api/v1/records/{record_id}/image", OperationID: "getRecordImage", Summary: "The stored image of a record (404 once evicted after sync).", Tag: "history",
			Responses: with([]response{{Code: 200, Description: "image bytes", Content: images, Headers: []string{"ETag"}}, {Code: 304, Description: "not modified"}}, 404), handler: s.recordImage},
		{Method: "GET", Pattern: "/api/v1/status", OperationID: "getStatus", Summary: "Queue and sync status: queued count, oldest, last sync, last error, disk budget, camera, model.", Tag: "status",
			Responses: with([]response{{Code: 200, Description: "status", Content: jsonBody(StatusJSON{})}}), handler: s.getStatus},
		{Method: "POST", Pattern: "/api/v1/sync/now", OperationID: "syncNow", Summary: "Ask the sync loop for an attempt now, ending any backoff. 503 when sync is not configured.", Tag: "sync",
			Responses: with([]response{{Code: 202, Description: "sync requested; the current sync state", Content: jsonBody(SyncJSON{})}}, 503), handler: s.syncNow},
		{Method: "POST", Pattern: "/api/v1/sync/enroll", OperationID: "enroll", Summary: "Enroll this device with the cloud using a one-time token, then start sync. 409 when already enrolled, 502 with the cloud's message when it refuses or cannot be reached, 503 when sync is not configured.", Tag: "sync",
			Body:      &body{Content: jsonBody(EnrollRequest{})},
			Responses: with([]response{{Code: 200, Description: "enrolled", Content: jsonBody(EnrollJSON{})}}, 409, 413, 415, 422, 502, 503), handler: s.enroll},
		{Method: "GET", Pattern: "/api/v1/ws", OperationID: "websocket", Summary: "WebSocket: the status as a WSMessage on connect and again whenever it changes. The client sends nothing.", Tag: "status",
			Responses: with([]response{{Code: 101, Description: "switching protocols; every message is a WSMessage", Content: jsonBody(WSMessage{})}}, 426), handler: s.websocket},
	}
}
