package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// maxMasterBytes bounds an inspection master body.
const maxMasterBytes = 256 << 10

type productJSON struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

type inspectionItemJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

type defectTypeJSON struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// masterJSON is an InspectionMaster with the proto field names; unlike
// protojson it writes version as a number.
type masterJSON struct {
	Product               productJSON          `json:"product"`
	Items                 []inspectionItemJSON `json:"items"`
	DefectTypes           []defectTypeJSON     `json:"defect_types"`
	PrefilterModelName    string               `json:"prefilter_model_name,omitempty"`
	PrefilterModelVersion string               `json:"prefilter_model_version,omitempty"`
	PrefilterThreshold    float32              `json:"prefilter_threshold"`
	PipelineID            string               `json:"pipeline_id,omitempty"`
	PipelineVersion       int32                `json:"pipeline_version,omitempty"`
	Version               int64                `json:"version"`
	UpdatedAt             *time.Time           `json:"updated_at,omitempty"`
}

func masterToJSON(m *ifcv1.InspectionMaster) masterJSON {
	j := masterJSON{
		Product:            productJSON{Code: m.GetProduct().GetCode(), Name: m.GetProduct().GetName()},
		Items:              []inspectionItemJSON{},
		DefectTypes:        []defectTypeJSON{},
		PrefilterModelName: m.GetPrefilterModelName(), PrefilterModelVersion: m.GetPrefilterModelVersion(),
		PrefilterThreshold: m.GetPrefilterThreshold(),
		PipelineID:         m.GetPipelineId(), PipelineVersion: m.GetPipelineVersion(),
		Version: m.GetVersion(), UpdatedAt: tsPtr(m.GetUpdatedAt()),
	}
	for _, it := range m.GetItems() {
		j.Items = append(j.Items, inspectionItemJSON{ID: it.GetId(), Name: it.GetName(), Description: it.GetDescription()})
	}
	for _, d := range m.GetDefectTypes() {
		j.DefectTypes = append(j.DefectTypes, defectTypeJSON{Code: d.GetCode(), Name: d.GetName()})
	}
	return j
}

type rolloutRequest struct {
	ModelName    string   `json:"model_name"`
	ModelVersion string   `json:"model_version"`
	Threshold    *float32 `json:"threshold"`
}

type rolloutJSON struct {
	Line         string     `json:"line"`
	ProductCode  string     `json:"product_code"`
	ModelName    string     `json:"model_name"`
	ModelVersion string     `json:"model_version"`
	Threshold    float32    `json:"threshold"`
	CreatedBy    string     `json:"created_by,omitempty"`
	CreatedAt    *time.Time `json:"created_at,omitempty"`
}

func (s *Server) listMasters(w http.ResponseWriter, r *http.Request) {
	ms, err := s.deps.Store.ListMasters(r.Context())
	if err != nil {
		s.writeError(w, r, fmt.Errorf("list masters: %w", err))
		return
	}
	out := make([]masterJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, masterToJSON(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"masters": out})
}

// pathProductCode returns the {product_code} path value, or writes 404
// when it cannot be a product code.
func (s *Server) pathProductCode(w http.ResponseWriter, r *http.Request) (string, bool) {
	code := r.PathValue("product_code")
	if !validID(code) {
		s.writeError(w, r, withStatus(http.StatusNotFound, metadata.ErrNotFound, "product %q not found", code))
		return "", false
	}
	return code, true
}

func (s *Server) getMaster(w http.ResponseWriter, r *http.Request) {
	code, ok := s.pathProductCode(w, r)
	if !ok {
		return
	}
	m, err := s.deps.Store.GetMaster(r.Context(), code)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("master of product %q: %w", code, err))
		return
	}
	writeJSON(w, http.StatusOK, masterToJSON(m))
}

func (s *Server) putMaster(w http.ResponseWriter, r *http.Request) {
	code, ok := s.pathProductCode(w, r)
	if !ok {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if f, ok := pipelineFormat(ct); !ok || f != "json" {
			s.writeError(w, r, withStatus(http.StatusUnsupportedMediaType, nil, "content type %q: want application/json", ct))
			return
		}
	}
	b, err := readBody(w, r, maxMasterBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m := &ifcv1.InspectionMaster{}
	if err := protojson.Unmarshal(b, m); err != nil {
		s.writeError(w, r, badRequest("malformed inspection master: %v", err))
		return
	}
	if m.Product == nil {
		m.Product = &ifcv1.Product{}
	}
	if m.Product.Code == "" {
		m.Product.Code = code
	}
	if err := s.checkMaster(r, code, m); err != nil {
		s.writeError(w, r, err)
		return
	}
	m.Version, m.UpdatedAt = 0, nil // the store assigns both
	stored, err := s.deps.Store.PutMaster(r.Context(), m)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("store master of product %q: %w", code, err))
		return
	}
	s.log.InfoContext(r.Context(), "inspection master saved", "product_code", code, "version", stored.GetVersion(), "user", principal(r.Context()).Username)
	writeJSON(w, http.StatusOK, masterToJSON(stored))
}

// checkMaster lists every problem of m, stored under the path's code.
func (s *Server) checkMaster(r *http.Request, code string, m *ifcv1.InspectionMaster) error {
	var probs []problemItem
	add := func(field, msg string) { probs = append(probs, problemItem{Field: field, Message: msg}) }
	if m.GetProduct().GetCode() != code {
		add("product.code", fmt.Sprintf("%q differs from the product code %q in the path", m.GetProduct().GetCode(), code))
	}
	if strings.TrimSpace(m.GetProduct().GetName()) == "" {
		add("product.name", "required")
	}
	seen := map[string]bool{}
	for i, it := range m.GetItems() {
		field := fmt.Sprintf("items[%d].id", i)
		switch {
		case !validID(it.GetId()):
			add(field, "required, at most 128 printable characters without spaces or slashes")
		case seen[it.GetId()]:
			add(field, fmt.Sprintf("duplicate item id %q", it.GetId()))
		}
		seen[it.GetId()] = true
	}
	seen = map[string]bool{}
	for i, d := range m.GetDefectTypes() {
		field := fmt.Sprintf("defect_types[%d].code", i)
		switch {
		case !validID(d.GetCode()):
			add(field, "required, at most 128 printable characters without spaces or slashes")
		case seen[d.GetCode()]:
			add(field, fmt.Sprintf("duplicate defect type code %q", d.GetCode()))
		}
		seen[d.GetCode()] = true
	}
	if t := m.GetPrefilterThreshold(); !(t >= 0 && t <= 1) {
		add("prefilter_threshold", "want 0..1")
	}
	if m.GetPipelineVersion() < 0 {
		add("pipeline_version", "must be >= 0 (0 = latest)")
	}
	if id := m.GetPipelineId(); id != "" {
		if !validID(id) {
			add("pipeline_id", "not a valid pipeline id")
		} else if _, err := s.deps.Store.GetPipeline(r.Context(), id, max(0, m.GetPipelineVersion())); errors.Is(err, metadata.ErrNotFound) {
			add("pipeline_id", fmt.Sprintf("pipeline %q version %d does not exist", id, m.GetPipelineVersion()))
		} else if err != nil {
			return fmt.Errorf("look up pipeline %q: %w", id, err)
		}
	} else if m.GetPipelineVersion() != 0 {
		add("pipeline_version", "set without pipeline_id")
	}
	if len(probs) > 0 {
		return &requestProblems{items: probs}
	}
	return nil
}

func (s *Server) putRollout(w http.ResponseWriter, r *http.Request) {
	line := r.PathValue("line")
	if !validID(line) {
		s.writeError(w, r, withStatus(http.StatusNotFound, metadata.ErrNotFound, "line %q not found", line))
		return
	}
	code, ok := s.pathProductCode(w, r)
	if !ok {
		return
	}
	var req rolloutRequest
	if err := decodeJSON(w, r, 4<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	var probs []problemItem
	if strings.TrimSpace(req.ModelName) == "" || len(req.ModelName) > maxIDLen {
		probs = append(probs, problemItem{Field: "model_name", Message: "required, at most 128 bytes"})
	}
	if strings.TrimSpace(req.ModelVersion) == "" || len(req.ModelVersion) > maxIDLen {
		probs = append(probs, problemItem{Field: "model_version", Message: "required, at most 128 bytes"})
	}
	if req.Threshold == nil || !(*req.Threshold >= 0 && *req.Threshold <= 1) {
		probs = append(probs, problemItem{Field: "threshold", Message: "required, 0..1"})
	}
	if len(probs) > 0 {
		s.writeError(w, r, &requestProblems{items: probs})
		return
	}
	ro := metadata.Rollout{Line: line, ProductCode: code, ModelName: req.ModelName, ModelVersion: req.ModelVersion,
		Threshold: *req.Threshold, CreatedBy: principal(r.Context()).Username, CreatedAt: s.now().UTC()}
	if err := s.deps.Store.PutRollout(r.Context(), ro); err != nil {
		if errors.Is(err, metadata.ErrNotFound) {
			err = withStatus(http.StatusNotFound, err, "product %q has no inspection master", code)
		}
		s.writeError(w, r, fmt.Errorf("roll out to line %q: %w", line, err))
		return
	}
	s.log.InfoContext(r.Context(), "model rolled out", "line", line, "product_code", code, "model_name", ro.ModelName,
		"model_version", ro.ModelVersion, "threshold", ro.Threshold, "user", ro.CreatedBy)
	writeJSON(w, http.StatusOK, rolloutJSON{Line: line, ProductCode: code, ModelName: ro.ModelName, ModelVersion: ro.ModelVersion,
		Threshold: ro.Threshold, CreatedBy: ro.CreatedBy, CreatedAt: timePtr(ro.CreatedAt)})
}
