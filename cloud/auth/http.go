package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header, or "" when there is none.
func BearerToken(h string) string {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// Authenticate returns the principal of r's bearer token. With allowQuery
// the token may also come from the "token" query parameter (browsers
// cannot set headers on WebSocket upgrades).
func (a *Authenticator) Authenticate(r *http.Request, allowQuery bool) (Principal, error) {
	tok := BearerToken(r.Header.Get("Authorization"))
	if tok == "" && allowQuery {
		tok = r.URL.Query().Get("token")
	}
	if tok == "" {
		return Principal{}, ErrUnauthenticated
	}
	c, err := a.VerifyActive(r.Context(), tok)
	if err != nil {
		return Principal{}, err
	}
	return c.Principal, nil
}

// ErrorWriter writes an authentication (401) or authorization (403) failure.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, status int, err error)

// Require wraps next so it runs only for a caller holding perm; the
// principal is put in the request context. allowQuery is as in
// Authenticate. A nil onErr writes an RFC 9457 problem document.
func (a *Authenticator) Require(perm Permission, allowQuery bool, onErr ErrorWriter, next http.Handler) http.Handler {
	if onErr == nil {
		onErr = WriteProblem
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r, allowQuery)
		if err != nil && !IsUnauthenticated(err) {
			onErr(w, r, http.StatusServiceUnavailable, errors.New("cannot check the account now; retry"))
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ifc"`)
			onErr(w, r, http.StatusUnauthorized, err)
			return
		}
		if !p.Can(perm) {
			onErr(w, r, http.StatusForbidden, errors.New("role "+string(p.Role)+" lacks permission "+string(perm)))
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// WriteProblem writes a minimal application/problem+json response.
func WriteProblem(w http.ResponseWriter, _ *http.Request, status int, err error) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":   "about:blank",
		"title":  http.StatusText(status),
		"status": status,
		"detail": err.Error(),
	})
}

// IsUnauthenticated reports whether err (from Authenticate or
// VerifyActive) means the caller has no valid credential, as opposed to
// the user store failing.
func IsUnauthenticated(err error) bool {
	return err != nil && !errors.Is(err, errStoreUnavailable)
}
