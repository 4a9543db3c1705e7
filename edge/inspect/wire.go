package inspect

import (
	"time"

	"github.com/imageflowcanvas/ifc/edge/prefilter"
	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// JSON shapes of the API. Times are RFC 3339 with nanoseconds, in UTC;
// absent times are null.

// ProductJSON is one product with how it is inspected.
type ProductJSON struct {
	Code                  string           `json:"code"`
	Name                  string           `json:"name"`
	MasterVersion         int64            `json:"master_version"`
	Items                 []ItemJSON       `json:"items"`
	DefectTypes           []DefectTypeJSON `json:"defect_types"`
	PrefilterModelName    string           `json:"prefilter_model_name"`
	PrefilterModelVersion string           `json:"prefilter_model_version"`
	PrefilterThreshold    float32          `json:"prefilter_threshold"`
	PipelineID            string           `json:"pipeline_id"`
	PipelineVersion       int32            `json:"pipeline_version"`
	UpdatedAt             *time.Time       `json:"updated_at"`
}

// ItemJSON is one inspection item.
type ItemJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// DefectTypeJSON is one defect type an NG verdict may name.
type DefectTypeJSON struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// ProductListJSON is the answer of GET /api/v1/products.
type ProductListJSON struct {
	Products []ProductJSON `json:"products"`
}

// SessionRequest starts an inspection session.
type SessionRequest struct {
	ProductCode string `json:"product_code"`
	Lot         string `json:"lot,omitempty"`
	Serial      string `json:"serial,omitempty"`
	Inspector   string `json:"inspector"`
}

// SessionJSON is an inspection session.
type SessionJSON struct {
	SessionID     string    `json:"session_id"`
	ProductCode   string    `json:"product_code"`
	ProductName   string    `json:"product_name"`
	MasterVersion int64     `json:"master_version"`
	Lot           string    `json:"lot"`
	Serial        string    `json:"serial"`
	Inspector     string    `json:"inspector"`
	StartedAt     time.Time `json:"started_at"`
	Captures      int       `json:"captures"`
	Saved         int       `json:"saved"`
}

// PrefilterJSON is the pre-filter verdict on a capture.
type PrefilterJSON struct {
	Score        float32 `json:"score"`
	Label        string  `json:"label"`
	Suspect      bool    `json:"suspect"`
	ModelName    string  `json:"model_name"`
	ModelVersion string  `json:"model_version"`
	Threshold    float32 `json:"threshold"`
}

// TimingsJSON says where the time of a capture went, in milliseconds.
type TimingsJSON struct {
	StillMS     float64 `json:"still_ms"`
	EncodeMS    float64 `json:"encode_ms"`
	PrefilterMS float64 `json:"prefilter_ms"`
	TotalMS     float64 `json:"total_ms"`
}

// CaptureJSON is the answer of a capture: what the inspector sees before deciding.
type CaptureJSON struct {
	CaptureID   string        `json:"capture_id"`
	SessionID   string        `json:"session_id"`
	CapturedAt  time.Time     `json:"captured_at"`
	ImageURL    string        `json:"image_url"`
	ContentType string        `json:"content_type"`
	Width       int           `json:"width"`
	Height      int           `json:"height"`
	ImageBytes  int           `json:"image_bytes"`
	ImageSHA256 string        `json:"image_sha256"`
	Prefilter   PrefilterJSON `json:"prefilter"`
	Timings     TimingsJSON   `json:"timings"`
}

// VerdictRequest is the human verdict on a capture.
type VerdictRequest struct {
	Result     string  `json:"result"`                // "OK" or "NG"
	DefectType string  `json:"defect_type,omitempty"` // a code from the product's defect_types; required for NG, empty for OK
	Note       string  `json:"note,omitempty"`
	Serial     *string `json:"serial,omitempty"` // overrides the session's serial for this part
}

// ImageJSON is one stored image of a record.
type ImageJSON struct {
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	Width       int32  `json:"width"`
	Height      int32  `json:"height"`
}

// VerdictJSON is a human verdict.
type VerdictJSON struct {
	Result     string     `json:"result"`
	DefectType string     `json:"defect_type"`
	Note       string     `json:"note"`
	DecidedAt  *time.Time `json:"decided_at"`
}

// RecordJSON is a stored inspection record with its sync state.
type RecordJSON struct {
	RecordID        string         `json:"record_id"`
	DeviceID        string         `json:"device_id"`
	Line            string         `json:"line"`
	ProductCode     string         `json:"product_code"`
	Lot             string         `json:"lot"`
	Serial          string         `json:"serial"`
	Inspector       string         `json:"inspector"`
	CapturedAt      *time.Time     `json:"captured_at"`
	CreatedAt       *time.Time     `json:"created_at"`
	Images          []ImageJSON    `json:"images"`
	ImageURL        string         `json:"image_url"`
	Prefilter       *PrefilterJSON `json:"prefilter"`
	Verdict         VerdictJSON    `json:"verdict"`
	MasterVersion   int64          `json:"master_version"`
	PipelineID      string         `json:"pipeline_id"`
	PipelineVersion int32          `json:"pipeline_version"`
	ModelVersion    string         `json:"model_version"`
	Synced          bool           `json:"synced"`
	SyncedAt        *time.Time     `json:"synced_at"`
	Evicted         bool           `json:"evicted"`
	// Overrides and EffectiveVerdict are filled in the record detail only.
	Overrides []OverrideJSON `json:"overrides,omitempty"` // oldest first
	// EffectiveVerdict is the latest override's verdict, else the record's own.
	EffectiveVerdict *VerdictJSON `json:"effective_verdict,omitempty"`
}

// OverrideRequest corrects the verdict of a saved record.
type OverrideRequest struct {
	Result     string `json:"result"`                // "OK" or "NG"
	DefectType string `json:"defect_type,omitempty"` // required for NG, empty for OK
	Note       string `json:"note,omitempty"`
	Reason     string `json:"reason"`    // why the verdict changes
	Inspector  string `json:"inspector"` // who changes it
}

// OverrideJSON is a verdict override: an event, the record is never rewritten.
type OverrideJSON struct {
	OverrideID string      `json:"override_id"`
	RecordID   string      `json:"record_id"`
	Actor      string      `json:"actor"`
	Reason     string      `json:"reason"`
	Verdict    VerdictJSON `json:"verdict"`
	At         *time.Time  `json:"at"`
	Origin     string      `json:"origin"` // "EDGE" (only edge overrides exist on the edge)
	DeviceID   string      `json:"device_id"`
}

// EnrollRequest enrolls this device with the cloud (the desktop app's first-run screen).
type EnrollRequest struct {
	CloudURL string `json:"cloud_url,omitempty"` // host:port of the cloud sync endpoint; empty = the configured cloud_addr
	Token    string `json:"token"`               // the one-time enrollment token
}

// EnrollJSON is the answer of a successful enrollment.
type EnrollJSON struct {
	DeviceID string `json:"device_id"`
	Line     string `json:"line"`
}

// SyncJSON is the sync loop's state in the status document.
type SyncJSON struct {
	Enrolled     bool       `json:"enrolled"`
	Connected    bool       `json:"connected"`
	Revoked      bool       `json:"revoked"`
	CloudAddr    string     `json:"cloud_addr"`
	QueuedBytes  int64      `json:"queued_bytes"`
	LastAttempt  *time.Time `json:"last_attempt"`
	LastSuccess  *time.Time `json:"last_success"`
	LastError    string     `json:"last_error"`
	LastErrorAt  *time.Time `json:"last_error_at"`
	NextAttempt  *time.Time `json:"next_attempt"`
	SentRecords  int64      `json:"sent_records"`
	SentBytes    int64      `json:"sent_bytes"`
	ResentBytes  int64      `json:"resent_bytes"`
	ModelVersion string     `json:"model_version"`
}

// SavedJSON is the answer of a verdict submission: the record is durable.
type SavedJSON struct {
	Saved     bool       `json:"saved"`
	Duplicate bool       `json:"duplicate"` // the same verdict was already saved for this capture
	Record    RecordJSON `json:"record"`
}

// HistoryJSON is one page of local history, newest first.
type HistoryJSON struct {
	Records    []RecordJSON `json:"records"`
	NextCursor string       `json:"next_cursor"`
}

// ModelJSON describes the pre-filter model in use.
type ModelJSON struct {
	Name      string  `json:"name"`
	Version   string  `json:"version"`
	SHA256    string  `json:"sha256"`
	Threshold float32 `json:"threshold"`
	Source    string  `json:"source"`
}

// StatusJSON is the queue and sync status (GET /api/v1/status, and pushed
// over the WebSocket as {"type":"status","status":...}).
type StatusJSON struct {
	DeviceID       string     `json:"device_id"`
	Line           string     `json:"line"`
	Queued         int64      `json:"queued"`
	QueuedBytes    int64      `json:"queued_bytes"`
	OldestQueuedAt *time.Time `json:"oldest_queued_at"`
	LastSync       *time.Time `json:"last_sync"`
	LastError      string     `json:"last_error"`
	LastErrorAt    *time.Time `json:"last_error_at"`
	SyncConnected  bool       `json:"sync_connected"`
	SyncRunning    bool       `json:"sync_running"`
	Records        int64      `json:"records"`
	BudgetBytes    int64      `json:"budget_bytes"`
	SoftLimitBytes int64      `json:"soft_limit_bytes"`
	HardLimitBytes int64      `json:"hard_limit_bytes"`
	CaptureAllowed bool       `json:"capture_allowed"`
	CaptureRefusal string     `json:"capture_refusal"`
	Camera         string     `json:"camera"`
	Model          ModelJSON  `json:"model"`
	Sync           *SyncJSON  `json:"sync"` // null when sync is not configured
}

// WSMessage is every message the server sends on /api/v1/ws.
type WSMessage struct {
	Type   string      `json:"type"` // "status"
	Status *StatusJSON `json:"status,omitempty"`
}

func tptr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func productJSON(m *ifcv1.InspectionMaster) ProductJSON {
	p := ProductJSON{
		Code: m.GetProduct().GetCode(), Name: m.GetProduct().GetName(), MasterVersion: m.GetVersion(),
		Items: []ItemJSON{}, DefectTypes: []DefectTypeJSON{},
		PrefilterModelName: m.GetPrefilterModelName(), PrefilterModelVersion: m.GetPrefilterModelVersion(),
		PrefilterThreshold: m.GetPrefilterThreshold(), PipelineID: m.GetPipelineId(), PipelineVersion: m.GetPipelineVersion(),
	}
	if m.GetUpdatedAt() != nil {
		p.UpdatedAt = tptr(m.GetUpdatedAt().AsTime())
	}
	for _, it := range m.GetItems() {
		p.Items = append(p.Items, ItemJSON{ID: it.GetId(), Name: it.GetName(), Description: it.GetDescription()})
	}
	for _, d := range m.GetDefectTypes() {
		p.DefectTypes = append(p.DefectTypes, DefectTypeJSON{Code: d.GetCode(), Name: d.GetName()})
	}
	return p
}

func prefilterJSON(r prefilter.Result) PrefilterJSON {
	return PrefilterJSON{Score: r.Score, Label: r.Label, Suspect: r.Suspect, ModelName: r.ModelName, ModelVersion: r.ModelVersion, Threshold: r.Threshold}
}

func resultString(r ifcv1.VerdictResult) string {
	switch r {
	case ifcv1.VerdictResult_VERDICT_RESULT_OK:
		return "OK"
	case ifcv1.VerdictResult_VERDICT_RESULT_NG:
		return "NG"
	}
	return "UNSPECIFIED"
}

func recordJSON(r *ifcv1.InspectionRecord, st queue.RecordStatus) RecordJSON {
	out := RecordJSON{
		RecordID: r.GetRecordId(), DeviceID: r.GetDeviceId(), Line: r.GetLine(), ProductCode: r.GetProductCode(),
		Lot: r.GetLot(), Serial: r.GetSerial(), Inspector: r.GetInspector(),
		Images: []ImageJSON{}, ImageURL: "/api/v1/records/" + r.GetRecordId() + "/image",
		MasterVersion: r.GetMasterVersion(), PipelineID: r.GetPipelineId(), PipelineVersion: r.GetPipelineVersion(),
		ModelVersion: r.GetModelVersion(), Synced: st.Synced, SyncedAt: tptr(st.SyncedAt), Evicted: st.Evicted,
		Verdict: verdictJSON(r.GetVerdict()),
	}
	if r.GetCapturedAt() != nil {
		out.CapturedAt = tptr(r.GetCapturedAt().AsTime())
	}
	if r.GetCreatedAt() != nil {
		out.CreatedAt = tptr(r.GetCreatedAt().AsTime())
	}
	for _, im := range r.GetImages() {
		out.Images = append(out.Images, ImageJSON{SHA256: im.GetSha256(), Size: im.GetSize(), ContentType: im.GetContentType(), Width: im.GetWidth(), Height: im.GetHeight()})
	}
	if p := r.GetPrefilter(); p != nil {
		out.Prefilter = &PrefilterJSON{Score: p.GetScore(), Label: p.GetLabel(), Suspect: p.GetScore() >= p.GetThreshold(),
			ModelName: p.GetModelName(), ModelVersion: p.GetModelVersion(), Threshold: p.GetThreshold()}
	}
	return out
}

func syncJSON(ss SyncState) *SyncJSON {
	return &SyncJSON{
		Enrolled: ss.Enrolled, Connected: ss.Connected, Revoked: ss.Revoked, CloudAddr: ss.CloudAddr, QueuedBytes: ss.QueuedBytes,
		LastAttempt: tptr(ss.LastAttempt), LastSuccess: tptr(ss.LastSuccess), LastError: ss.LastError,
		LastErrorAt: tptr(ss.LastErrorAt), NextAttempt: tptr(ss.NextAttempt), SentRecords: ss.SentRecords,
		SentBytes: ss.SentBytes, ResentBytes: ss.ResentBytes, ModelVersion: ss.ModelVersion,
	}
}

func verdictJSON(v *ifcv1.Verdict) VerdictJSON {
	out := VerdictJSON{Result: resultString(v.GetResult()), DefectType: v.GetDefectType(), Note: v.GetNote()}
	if v.GetDecidedAt() != nil {
		out.DecidedAt = tptr(v.GetDecidedAt().AsTime())
	}
	return out
}

func overrideJSON(o *ifcv1.VerdictOverride) OverrideJSON {
	out := OverrideJSON{OverrideID: o.GetOverrideId(), RecordID: o.GetRecordId(), Actor: o.GetActor(), Reason: o.GetReason(),
		Verdict: verdictJSON(o.GetVerdict()), Origin: "EDGE", DeviceID: o.GetDeviceId()}
	if o.GetOrigin() == ifcv1.VerdictOrigin_VERDICT_ORIGIN_CLOUD {
		out.Origin = "CLOUD"
	}
	if o.GetAt() != nil {
		out.At = tptr(o.GetAt().AsTime())
	}
	return out
}
