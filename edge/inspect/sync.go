package inspect

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// ProblemSync marks sync endpoint answers: not configured (503), already
// enrolled (409) or refused by the cloud (502).
const ProblemSync = "urn:ifc:edge:problem:sync"

func syncProblem(status int, msg string) error {
	return &apiError{status: status, typ: ProblemSync, msg: msg}
}

func (s *Server) reporter() SyncReporter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sync
}

// syncNow asks the sync loop for an attempt now; 202 with its state.
func (s *Server) syncNow(w http.ResponseWriter, r *http.Request) {
	rep := s.reporter()
	if rep == nil {
		s.fail(w, r, syncProblem(http.StatusServiceUnavailable, ErrSyncDisabled.Error()))
		return
	}
	rep.SyncNow()
	s.hub.kick()
	writeJSON(w, http.StatusAccepted, syncJSON(rep.SyncState()))
}

// enroll exchanges an enrollment token for device credentials through the
// Enroll hook, which also starts the sync loop.
func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	var req EnrollRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.opts.Enroll == nil {
		s.fail(w, r, syncProblem(http.StatusServiceUnavailable, ErrSyncDisabled.Error()))
		return
	}
	if err := checkText("token", req.Token, true, 512); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.CloudURL != "" {
		if _, port, err := net.SplitHostPort(req.CloudURL); err != nil || port == "" || strings.Contains(req.CloudURL, "/") {
			s.fail(w, r, invalidField("cloud_url", "cloud_url %q: want host:port of the cloud sync endpoint", req.CloudURL))
			return
		}
	}
	res, err := s.opts.Enroll(r.Context(), req.CloudURL, req.Token)
	switch {
	case err == nil:
	case errors.Is(err, ErrAlreadyEnrolled):
		s.fail(w, r, syncProblem(http.StatusConflict, err.Error()))
		return
	case errors.Is(err, ErrSyncDisabled):
		s.fail(w, r, syncProblem(http.StatusServiceUnavailable, err.Error()))
		return
	case errors.Is(err, ErrEnrollRefused):
		s.log.Warn("enrollment refused", "err", err)
		s.fail(w, r, syncProblem(http.StatusBadGateway, err.Error()))
		return
	default:
		s.fail(w, r, fmt.Errorf("enroll: %w", err))
		return
	}
	s.hub.kick()
	s.log.Info("device enrolled", "enrolled_device_id", res.DeviceID, "line", res.Line)
	writeJSON(w, http.StatusOK, EnrollJSON{DeviceID: res.DeviceID, Line: res.Line})
}
