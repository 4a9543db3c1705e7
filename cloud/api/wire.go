package api

import (
	"encoding/json"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// The JSON shapes of the REST and WebSocket API. Enums are lower-case words.

type boxJSON struct {
	X float32 `json:"x"`
	Y float32 `json:"y"`
	W float32 `json:"w"`
	H float32 `json:"h"`
}

type detectionJSON struct {
	Label   string  `json:"label"`
	Score   float32 `json:"score"`
	ClassID int32   `json:"class_id"`
	Box     boxJSON `json:"box"`
}

type outputsJSON struct {
	FileID      string          `json:"file_id,omitempty"`
	DownloadURL string          `json:"download_url,omitempty"` // REST execution responses only
	Detections  []detectionJSON `json:"detections,omitempty"`
}

type nodeJSON struct {
	NodeID     string       `json:"node_id"`
	Status     string       `json:"status"`
	StartedAt  *time.Time   `json:"started_at,omitempty"`
	FinishedAt *time.Time   `json:"finished_at,omitempty"`
	Outputs    *outputsJSON `json:"outputs,omitempty"`
	Error      string       `json:"error,omitempty"`
	Attempts   int32        `json:"attempts,omitempty"`
}

type executionJSON struct {
	ExecutionID     string     `json:"execution_id"`
	PipelineID      string     `json:"pipeline_id"`
	PipelineVersion int32      `json:"pipeline_version"`
	Inputs          []string   `json:"inputs"`
	CorrelationID   string     `json:"correlation_id,omitempty"`
	ClientID        string     `json:"client_id,omitempty"`
	Status          string     `json:"status"`
	Nodes           []nodeJSON `json:"nodes"`
	CreatedAt       *time.Time `json:"created_at,omitempty"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	Error           string     `json:"error,omitempty"`
	CreatedBy       string     `json:"created_by,omitempty"`
}

type progressJSON struct {
	Type            string       `json:"type"`
	ExecutionID     string       `json:"execution_id"`
	NodeID          string       `json:"node_id,omitempty"`
	State           string       `json:"state,omitempty"`
	ExecutionStatus string       `json:"execution_status,omitempty"`
	Progress        float32      `json:"progress"`
	Seq             uint64       `json:"seq"`
	TS              *time.Time   `json:"ts,omitempty"`
	Error           string       `json:"error,omitempty"`
	Outputs         *outputsJSON `json:"outputs,omitempty"`
}

type nodeDefJSON struct {
	ID     string         `json:"id"`
	Part   string         `json:"part"`
	Params map[string]any `json:"params,omitempty"`
}

type edgeJSON struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type definitionJSON struct {
	Name  string        `json:"name,omitempty"`
	Nodes []nodeDefJSON `json:"nodes"`
	Edges []edgeJSON    `json:"edges"`
}

type pipelineJSON struct {
	ID         string         `json:"id"`
	Version    int32          `json:"version"`
	Name       string         `json:"name,omitempty"`
	CreatedBy  string         `json:"created_by,omitempty"`
	CreatedAt  *time.Time     `json:"created_at,omitempty"`
	Definition definitionJSON `json:"definition"`
}

type fileJSON struct {
	FileID      string            `json:"file_id"`
	SHA256      string            `json:"sha256"`
	Size        int64             `json:"size"`
	ContentType string            `json:"content_type"`
	Width       int               `json:"width"`
	Height      int               `json:"height"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	CreatedBy   string            `json:"created_by,omitempty"`
	CreatedAt   *time.Time        `json:"created_at,omitempty"`
	DownloadURL string            `json:"download_url,omitempty"`
}

type partJSON struct {
	ID           string          `json:"id"`
	Service      string          `json:"service"`
	Title        string          `json:"title"`
	Description  string          `json:"description,omitempty"`
	Inputs       []string        `json:"inputs"`
	Outputs      []string        `json:"outputs"`
	ParamsSchema json.RawMessage `json:"params_schema"`
}

func tsPtr(ts *timestamppb.Timestamp) *time.Time {
	if ts == nil || (ts.Seconds == 0 && ts.Nanos == 0) {
		return nil
	}
	t := ts.AsTime().UTC()
	return &t
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// enumWord turns "EXECUTION_STATUS_SUCCEEDED" into "succeeded".
func enumWord(name, prefix string) string {
	w := strings.ToLower(strings.TrimPrefix(name, prefix))
	if w == "unspecified" {
		return ""
	}
	return w
}

func statusWord(s ifcv1.ExecutionStatus) string {
	return enumWord(s.String(), "EXECUTION_STATUS_")
}

func nodeStateWord(s ifcv1.NodeState) string { return enumWord(s.String(), "NODE_STATE_") }

func portWord(p ifcv1.PortType) string { return enumWord(p.String(), "PORT_TYPE_") }

// parseStatus is the inverse of statusWord for query filters.
func parseStatus(w string) (ifcv1.ExecutionStatus, bool) {
	v, ok := ifcv1.ExecutionStatus_value["EXECUTION_STATUS_"+strings.ToUpper(w)]
	if !ok || v == 0 {
		return 0, false
	}
	return ifcv1.ExecutionStatus(v), true
}

func detectionsJSON(ds []*ifcv1.Detection) []detectionJSON {
	if len(ds) == 0 {
		return nil
	}
	out := make([]detectionJSON, 0, len(ds))
	for _, d := range ds {
		dj := detectionJSON{Label: d.GetLabel(), Score: d.GetScore(), ClassID: d.GetClassId()}
		if b := d.GetBox(); b != nil {
			dj.Box = boxJSON{X: b.X, Y: b.Y, W: b.W, H: b.H}
		}
		out = append(out, dj)
	}
	return out
}

func outputsToJSON(o *ifcv1.NodeOutputs) *outputsJSON {
	if o == nil || (o.FileId == "" && len(o.Detections) == 0) {
		return nil
	}
	return &outputsJSON{FileID: o.FileId, Detections: detectionsJSON(o.Detections)}
}

func executionToJSON(e *ifcv1.Execution) executionJSON {
	j := executionJSON{
		ExecutionID:     e.GetExecutionId(),
		PipelineID:      e.GetPipelineId(),
		PipelineVersion: e.GetPipelineVersion(),
		Inputs:          append([]string{}, e.GetInputs()...),
		CorrelationID:   e.GetCorrelationId(),
		ClientID:        e.GetClientId(),
		Status:          statusWord(e.GetStatus()),
		Nodes:           make([]nodeJSON, 0, len(e.GetNodes())),
		CreatedAt:       tsPtr(e.GetCreatedAt()),
		StartedAt:       tsPtr(e.GetStartedAt()),
		FinishedAt:      tsPtr(e.GetFinishedAt()),
		Error:           e.GetError(),
		CreatedBy:       e.GetCreatedBy(),
	}
	for _, n := range e.GetNodes() {
		j.Nodes = append(j.Nodes, nodeJSON{
			NodeID:     n.GetNodeId(),
			Status:     nodeStateWord(n.GetState()),
			StartedAt:  tsPtr(n.GetStartedAt()),
			FinishedAt: tsPtr(n.GetFinishedAt()),
			Outputs:    outputsToJSON(n.GetOutputs()),
			Error:      n.GetError(),
			Attempts:   n.GetAttempts(),
		})
	}
	return j
}

func progressToJSON(ev *ifcv1.ProgressEvent) progressJSON {
	return progressJSON{
		Type:            "progress",
		ExecutionID:     ev.GetExecutionId(),
		NodeID:          ev.GetNodeId(),
		State:           nodeStateWord(ev.GetState()),
		ExecutionStatus: statusWord(ev.GetExecutionStatus()),
		Progress:        ev.GetProgress(),
		Seq:             ev.GetSeq(),
		TS:              tsPtr(ev.GetTs()),
		Error:           ev.GetError(),
		Outputs:         outputsToJSON(ev.GetOutputs()),
	}
}

func definitionToJSON(d *ifcv1.PipelineDefinition) definitionJSON {
	j := definitionJSON{Name: d.GetName(), Nodes: []nodeDefJSON{}, Edges: []edgeJSON{}}
	for _, n := range d.GetNodes() {
		var params map[string]any
		if n.GetParams() != nil {
			params = n.GetParams().AsMap()
		}
		j.Nodes = append(j.Nodes, nodeDefJSON{ID: n.GetId(), Part: n.GetPart(), Params: params})
	}
	for _, e := range d.GetEdges() {
		j.Edges = append(j.Edges, edgeJSON{From: e.GetFrom(), To: e.GetTo()})
	}
	return j
}

func pipelineToJSON(p *ifcv1.Pipeline) pipelineJSON {
	return pipelineJSON{
		ID:         p.GetId(),
		Version:    p.GetVersion(),
		Name:       p.GetDefinition().GetName(),
		CreatedBy:  p.GetCreatedBy(),
		CreatedAt:  tsPtr(p.GetCreatedAt()),
		Definition: definitionToJSON(p.GetDefinition()),
	}
}

func fileToJSON(f metadata.File) fileJSON {
	return fileJSON{
		FileID: f.FileID, SHA256: f.SHA256, Size: f.Size, ContentType: f.ContentType,
		Width: f.Width, Height: f.Height, Metadata: f.Metadata, CreatedBy: f.CreatedBy, CreatedAt: timePtr(f.CreatedAt),
	}
}

func partToJSON(p *ifcv1.PartDescriptor) partJSON {
	j := partJSON{ID: p.GetId(), Service: p.GetService(), Title: p.GetTitle(), Description: p.GetDescription(),
		Inputs: []string{}, Outputs: []string{}, ParamsSchema: json.RawMessage(`{}`)}
	for _, t := range p.GetInputs() {
		j.Inputs = append(j.Inputs, portWord(t))
	}
	for _, t := range p.GetOutputs() {
		j.Outputs = append(j.Outputs, portWord(t))
	}
	if s := p.GetParamsSchemaJson(); s != "" && json.Valid([]byte(s)) {
		j.ParamsSchema = json.RawMessage(s)
	}
	return j
}
