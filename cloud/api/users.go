package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
)

// userJSON is a user as the API shows it: never the password hash.
type userJSON struct {
	Username   string     `json:"username"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	Disabled   bool       `json:"disabled"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	Builtin    bool       `json:"builtin"`
}

func userToJSON(u metadata.User) userJSON {
	return userJSON{Username: u.Username, Role: u.Role, CreatedAt: u.CreatedAt.UTC(), Disabled: u.Disabled(),
		DisabledAt: timePtr(u.DisabledAt), Builtin: u.Username == auth.AdminUsername}
}

type createUserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

type passwordRequest struct {
	Password string `json:"password"`
}

// passwordProblem describes the password rule for 422 responses.
var passwordProblem = fmt.Sprintf("at least %d and at most %d bytes", auth.MinPasswordLen, auth.MaxPasswordLen)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.deps.Auth.ListUsers(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]userJSON, 0, len(us))
	for _, u := range us {
		out = append(out, userToJSON(u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if err := decodeJSON(w, r, 4<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	var probs []problemItem
	if !auth.ValidUsername(req.Username) {
		probs = append(probs, problemItem{Field: "username", Message: fmt.Sprintf("%d..%d lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", auth.MinUsernameLen, auth.MaxUsernameLen)})
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		probs = append(probs, problemItem{Field: "role", Message: fmt.Sprintf("unknown role %q (want one of %v)", req.Role, auth.Roles)})
	}
	if !auth.ValidPassword(req.Password) {
		probs = append(probs, problemItem{Field: "password", Message: passwordProblem})
	}
	if len(probs) > 0 {
		s.writeError(w, r, &requestProblems{items: probs})
		return
	}
	if err := s.deps.Auth.CreateUser(r.Context(), req.Username, req.Password, role); err != nil {
		if errors.Is(err, metadata.ErrConflict) {
			err = withStatus(http.StatusConflict, err, "user %q already exists", req.Username)
		}
		s.writeError(w, r, err)
		return
	}
	u, err := s.deps.Store.GetUser(r.Context(), req.Username)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("read new user: %w", err))
		return
	}
	s.log.InfoContext(r.Context(), "user created", "username", u.Username, "role", u.Role, "user", principal(r.Context()).Username)
	w.Header().Set("Location", "/api/v1/users/"+url.PathEscape(u.Username))
	writeJSON(w, http.StatusCreated, userToJSON(u))
}

func (s *Server) setUserPassword(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	var req passwordRequest
	if err := decodeJSON(w, r, 4<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !auth.ValidPassword(req.Password) {
		s.writeError(w, r, &requestProblems{items: []problemItem{{Field: "password", Message: passwordProblem}}})
		return
	}
	if err := s.deps.Auth.SetPassword(r.Context(), name, req.Password); err != nil {
		if errors.Is(err, metadata.ErrNotFound) {
			err = withStatus(http.StatusNotFound, err, "user %q not found", name)
		}
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "password reset", "username", name, "user", principal(r.Context()).Username)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) disableUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	err := s.deps.Auth.Disable(r.Context(), name, principal(r.Context()).Username)
	switch {
	case errors.Is(err, auth.ErrBuiltinAdmin), errors.Is(err, auth.ErrSelf):
		s.writeError(w, r, withStatus(http.StatusConflict, err, "%s", err.Error()))
		return
	case errors.Is(err, metadata.ErrNotFound):
		s.writeError(w, r, withStatus(http.StatusNotFound, err, "user %q not found", name))
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	u, err := s.deps.Store.GetUser(r.Context(), name)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("read disabled user: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, userToJSON(u))
}
