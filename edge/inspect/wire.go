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
		Verdict: VerdictJSON{
			Result: resultString(r.GetVerdict().GetResult()), DefectType: r.GetVerdict().GetDefectType(), Note: r.GetVerdict().GetNote(),
		},
	}
	if r.GetCapturedAt() != nil {
		out.CapturedAt = tptr(r.GetCapturedAt().AsTime())
	}
	if r.GetCreatedAt() != nil {
		out.CreatedAt = tptr(r.GetCreatedAt().AsTime())
	}
	if r.GetVerdict().GetDecidedAt() != nil {
		out.Verdict.DecidedAt = tptr(r.GetVerdict().GetDecidedAt().AsTime())
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
