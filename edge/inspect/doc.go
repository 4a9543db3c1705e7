// Package inspect is the edge agent's local inspection API: the REST and
// WebSocket endpoints the inspector app (Tauri shell or a browser on the
// box) uses on the shop floor. Everything it needs is local — the master
// cache and the outbox in the bbolt queue, the camera and the pre-filter —
// so it keeps working with no network at all.
//
// # Workflow
//
//  1. GET /api/v1/products lists products, inspection items and defect
//     types from the master cache.
//  2. POST /api/v1/sessions starts an inspection (product, lot, serial,
//     inspector). An unknown product is refused with 422.
//  3. POST /api/v1/sessions/{session_id}/captures takes a full-resolution
//     still (or accepts an uploaded JPEG/PNG as the body), runs the
//     pre-filter on it and answers with capture_id, the pre-filter verdict
//     and a preview URL. It is refused before the inspector works on the
//     part when the disk budget is exhausted (507, queue.CanCapture), when
//     the camera is missing (503) or when the image is larger than the
//     configured bound (413).
//  4. POST /api/v1/captures/{capture_id}/verdict submits the human verdict
//     (OK/NG, defect type from the master, note). The InspectionRecord is
//     built here and committed with queue.Save — one fsynced bbolt
//     transaction with its image — BEFORE the 201 "saved" answer is sent.
//  5. GET /api/v1/records lists the local history; GET /api/v1/status and
//     the WebSocket /api/v1/ws give the queue and sync status, pushed live
//     whenever it changes.
//  6. POST /api/v1/records/{record_id}/overrides corrects a saved verdict:
//     a VerdictOverride event (origin EDGE, this device, UUIDv7, at=now)
//     is committed with queue.SaveOverride and queued for sync; the record
//     is never rewritten. GET /api/v1/records/{record_id} shows the
//     override history and the effective verdict (the latest edge
//     override, else the record's own).
//
// # Sync hooks
//
// The package imports nothing from sync/: the agent hands it a
// SyncReporter (state for the status, SyncNow for POST /api/v1/sync/now)
// and an Enroller (POST /api/v1/sync/enroll, the desktop app's first-run
// screen). Without them the sync endpoints answer 503.
//
// The document at GET /api/v1/openapi.json is generated from the same route
// table that registers the handlers, and a test checks that the two match.
//
// # Identity and idempotency
//
// The capture_id IS the record_id (a UUIDv7 minted at capture time), so a
// verdict submitted twice for one capture — a retry after a lost answer —
// can only ever produce one record: the same verdict again answers 200 with
// the stored record, a different one 409. Captures that have not been
// confirmed live in memory only (bounded count and age); a crash loses an
// unconfirmed capture, never a saved verdict.
//
// # No authentication, loopback only
//
// The local API has no authentication by default. It is meant for the
// inspector app on the same box: the agent binds it to 127.0.0.1, and the
// agent refuses a non-loopback http_addr unless the configuration says
// allow_remote: true. The rationale: on the disconnected shop floor there
// is no identity provider to check tokens against, the inspector's name is
// entered per session (and recorded in every record), and the operating
// system's user separation already protects loopback. Exposing the API to
// the line network is an explicit decision for the integrator, who should
// then put it behind a reverse proxy with TLS and authentication.
package inspect
