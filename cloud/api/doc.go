// Package api is the cloud tier's edge: one HTTP server (REST under
// /api/v1 with an OpenAPI 3.1 document, a WebSocket for live progress and
// real-time frame processing, health and Prometheus metrics) and the gRPC
// PipelineService. It authenticates and authorizes every call (cloud/auth;
// the matrix is in docs/security.md), bounds and validates every input,
// and turns domain errors into problem documents (RFC 9457,
// application/problem+json) or gRPC status codes; nothing below it writes
// either.
//
// # Routes
//
// Every route is one record in routeTable: the mux registration, the
// permission and the OpenAPI operation come from it, and a test checks
// the served document (GET /api/v1/openapi.json) against the mux.
//
// # Fleet, masters and synced records
//
// Integrators create enrollment tokens (POST /api/v1/enrollment-tokens):
// the token text comes from sync/device, is returned once with
// Cache-Control: no-store, and only its sha256 is stored. Devices are
// listed with their last heartbeat; "online" means not revoked and seen
// within two minutes. Revocation is idempotent and keeps the first time.
//
// PUT /api/v1/masters/{product_code} takes an InspectionMaster in
// protojson with the proto field names and stores a new version (the
// store's change sequence); PUT /api/v1/lines/{line}/rollouts/{code}
// overrides the master's model and threshold for one line, which edges of
// that line pull as a master change.
//
// Records are the edges' immutable inspection records. Search filters on
// the effective verdict and pages with the same opaque keyset tokens as
// executions; list items omit cloud.execution (one store read per record),
// GET /api/v1/records/{id} includes it. A reviewer's override is appended
// as a cloud-origin VerdictOverride (UUIDv7 id, actor = the user, a
// reason required); it never rewrites the record, and a cloud override
// outranks every edge override (metadata.EffectiveVerdict).
//
// Search also filters on the effective defect type, a configured shift
// (Config.Shifts) and acknowledgement; POST /api/v1/records/acknowledge
// acknowledges up to 500 records at once, all or none. GET /api/v1/stats
// counts by effective verdict in the store (docs/ui.md).
//
// # Download URLs and the UI
//
// Stored images in responses carry a download_url usable without a
// bearer header for 15 minutes (an <img src>): Deps.PresignFile's
// object-store URL, or the content route signed with the token key
// (?exp=&sig=, checked before the bearer token; a bad or expired
// signature is 403). Deps.UI, when set, answers GET paths no route
// matched, except the servers' own prefixes (docs/ui.md).
//
// # Errors
//
// Malformed JSON/YAML or query values → 400; missing/invalid/expired token
// → 401; permission → 403; unknown id → 404; cancel of a finished execution
// (or one run by another instance) → 409; body over its limit → 413;
// unsupported media → 415; semantically invalid pipeline or request (every
// problem listed in "problems") → 422; conductor at capacity → 429 with
// Retry-After; conductor stopping or a part service not configured → 503.
// gRPC uses InvalidArgument, NotFound, FailedPrecondition,
// ResourceExhausted, Unauthenticated, PermissionDenied, Unavailable.
//
// # WebSocket protocol (GET /api/v1/ws)
//
// The token comes in the Authorization header or, for browsers, ?token=.
// Messages are JSON text; the read limit is Config.WSReadLimit.
//
// Client → server:
//
//	{"type":"auth","token":"…"}                   a fresh token for the same user
//	{"type":"subscribe","execution_id":"…"}       needs executions:read
//	{"type":"unsubscribe","execution_id":"…"}     execution_id omitted: all
//	{"type":"process","request_id":"…","pipeline_id":"…","version":0,
//	 "image":"<base64 JPEG/PNG, or a data: URL>"} needs executions:run
//
// Server → client:
//
//	{"type":"state","execution_id":"…","execution":{…}}  first answer to subscribe
//	{"type":"progress","execution_id","node_id","state","execution_status",
//	 "progress","seq","ts","error","outputs"}           events in seq order
//	{"type":"unsubscribed","execution_id":"…"}
//	{"type":"authenticated","expires_at":"…"}
//	{"type":"result","request_id","image","width","height","detections","processing_us","error"}
//	{"type":"error","request_id"?,"execution_id"?,"status":<HTTP code>,"message"}
//
// A subscriber first gets the execution's stored state, then every event
// this API instance has kept for it (up to Config.ReplayEvents, for
// Config.ReplayTTL after it ends), then live events: nothing this instance
// has seen is missed, and a client can use seq to skip what the state
// already showed. The conductor writes the store only at start and end, so
// the replay, not the state, carries the node-by-node detail.
//
// The connection closes (1008 "token expired") when its token expires
// unless the client sent a fresh one with an auth message before.
//
// Process requests of one connection run one at a time in arrival order;
// up to Config.WSProcessQueue wait, more are answered with status 429.
//
// # Fan-out and slow clients
//
// Run subscribes to the event bus once and hands events to an in-process
// hub under one lock, so a subscriber's replay and its live events form
// one ordered stream. The hub never blocks on a client: each connection
// has a bounded queue (Config.WSSendBuffer) drained by its own writer with
// a per-message timeout (Config.WSWriteTimeout); a client whose queue is
// full is dropped (close 1008 "slow consumer"), a gRPC watcher ends with
// ResourceExhausted. At shutdown connections close with 1001.
package api
