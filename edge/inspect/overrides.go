package inspect

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// recordDetailJSON is a record with its override history and the verdict
// in force. On the edge only edge overrides exist, so the effective
// verdict is the latest override (they are ordered by at, then
// override_id — the same tie-break as the cloud's EffectiveVerdict), else
// the record's own verdict. The cloud may later rank a QA override above it.
func recordDetailJSON(rec *ifcv1.InspectionRecord, st queue.RecordStatus, ovs []*ifcv1.VerdictOverride) RecordJSON {
	out := recordJSON(rec, st)
	out.Overrides = make([]OverrideJSON, 0, len(ovs))
	for _, o := range ovs {
		out.Overrides = append(out.Overrides, overrideJSON(o))
	}
	eff := out.Verdict
	if len(ovs) > 0 {
		eff = verdictJSON(ovs[len(ovs)-1].GetVerdict())
	}
	out.EffectiveVerdict = &eff
	return out
}

// addOverride corrects the verdict of a saved record: it stores a
// VerdictOverride event (origin EDGE, this device, a new UUIDv7, at=now)
// with queue.SaveOverride — fsynced, and queued for sync — before 201.
func (s *Server) addOverride(w http.ResponseWriter, r *http.Request) {
	var req OverrideRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	rec, _, err := s.record(r.Context(), r.PathValue("record_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.opts.Store.Master(r.Context(), rec.GetProductCode())
	if errors.Is(err, queue.ErrNotFound) {
		m = &ifcv1.InspectionMaster{Product: &ifcv1.Product{Code: rec.GetProductCode()}}
	} else if err != nil {
		s.fail(w, r, fmt.Errorf("master of %s: %w", rec.GetProductCode(), err))
		return
	}
	v, err := parseVerdict(VerdictRequest{Result: req.Result, DefectType: req.DefectType, Note: req.Note}, m)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := checkText("reason", req.Reason, true, queue.MaxNoteLen); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := checkText("inspector", req.Inspector, true, queue.MaxFieldLen); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := uuid.NewV7()
	if err != nil {
		s.fail(w, r, fmt.Errorf("override id: %w", err))
		return
	}
	now := timestamppb.New(s.now())
	v.DecidedAt = now
	o := &ifcv1.VerdictOverride{
		OverrideId: id.String(), RecordId: rec.GetRecordId(), Actor: req.Inspector, Reason: req.Reason,
		Verdict: v, At: now, Origin: ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE, DeviceId: s.opts.DeviceID,
	}
	if err := s.opts.Store.SaveOverride(r.Context(), o); err != nil {
		s.fail(w, r, fmt.Errorf("save override: %w", err))
		return
	}
	s.hub.kick()
	s.log.Info("verdict overridden", "record_id", rec.GetRecordId(), "override_id", o.GetOverrideId(),
		"from", resultString(rec.GetVerdict().GetResult()), "to", req.Result, "inspector", req.Inspector)
	w.Header().Set("Location", "/api/v1/records/"+rec.GetRecordId())
	writeJSON(w, http.StatusCreated, overrideJSON(o))
}
