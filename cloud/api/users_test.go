package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/auth"
)

func (e *env) login(username, password string) resp {
	e.t.Helper()
	return e.doJSON("POST", "/api/v1/auth/login", "", map[string]string{"username": username, "password": password})
}

// doAs sends a request with an explicit bearer token.
func (e *env) doAs(token, method, path string) resp {
	e.t.Helper()
	return e.do(method, path, "", "", nil, "Authorization", "Bearer "+token)
}

func usernames(t *testing.T, r resp) []string {
	t.Helper()
	var out []string
	for _, u := range r.json(t)["users"].([]any) {
		out = append(out, u.(map[string]any)["username"].(string))
	}
	return out
}

func TestUsersLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.auth.EnsureAdmin(ctx, "the-admin-password"); err != nil {
		t.Fatal(err)
	}

	r := e.do("GET", "/api/v1/users", auth.RoleAdmin, "", nil)
	if r.code != 200 {
		t.Fatalf("list: %d %s", r.code, r.body)
	}
	if got := strings.Join(usernames(t, r), ","); got != "admin,admin-user,inspector-user,integrator-user,qa_manager-user" {
		t.Errorf("users = %s", got)
	}
	if strings.Contains(string(r.body), "argon2") || strings.Contains(string(r.body), "password") {
		t.Errorf("list shows password hashes: %s", r.body)
	}
	for _, u := range r.json(t)["users"].([]any) {
		m := u.(map[string]any)
		if m["disabled"] != false || m["created_at"] == nil || m["builtin"] != (m["username"] == "admin") {
			t.Errorf("listed %v", m)
		}
	}

	r = e.doJSON("POST", "/api/v1/users", auth.RoleAdmin, map[string]string{"username": "iris.k", "password": "integrator-pass-1", "role": "integrator"})
	if r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	if m := r.json(t); m["username"] != "iris.k" || m["role"] != "integrator" || m["disabled"] != false || r.header.Get("Location") != "/api/v1/users/iris.k" {
		t.Errorf("created %v at %q", m, r.header.Get("Location"))
	}
	lr := e.login("iris.k", "integrator-pass-1")
	if lr.code != 200 || lr.json(t)["role"] != "integrator" {
		t.Fatalf("login as the new user: %d %s", lr.code, lr.body)
	}
	tok := lr.json(t)["token"].(string)
	if r := e.doAs(tok, "GET", "/api/v1/devices"); r.code != 200 {
		t.Errorf("new integrator lists devices: %d", r.code)
	}
	if r := e.doAs(tok, "GET", "/api/v1/records"); r.code != 403 {
		t.Errorf("new integrator searches records: %d, want 403", r.code)
	}

	expectProblem(t, e.doJSON("POST", "/api/v1/users", auth.RoleAdmin, map[string]string{"username": "iris.k", "password": "another-password", "role": "inspector"}), 409)

	// Reset: the old password stops working, the new one works.
	expectProblem(t, e.doJSON("POST", "/api/v1/users/iris.k/password", auth.RoleAdmin, map[string]string{"password": "short"}), 422)
	if r := e.doJSON("POST", "/api/v1/users/iris.k/password", auth.RoleAdmin, map[string]string{"password": "a-fresh-password"}); r.code != 204 {
		t.Fatalf("reset: %d %s", r.code, r.body)
	}
	expectProblem(t, e.login("iris.k", "integrator-pass-1"), 401)
	if r := e.login("iris.k", "a-fresh-password"); r.code != 200 {
		t.Errorf("login with the reset password: %d %s", r.code, r.body)
	}
	expectProblem(t, e.doJSON("POST", "/api/v1/users/ghost/password", auth.RoleAdmin, map[string]string{"password": "a-fresh-password"}), 404)

	// Disable: the token in hand is refused at once and sign-in fails.
	r = e.do("POST", "/api/v1/users/iris.k/disable", auth.RoleAdmin, "", nil)
	if r.code != 200 || r.json(t)["disabled"] != true || r.json(t)["disabled_at"] == nil {
		t.Fatalf("disable: %d %s", r.code, r.body)
	}
	if r := e.doAs(tok, "GET", "/api/v1/devices"); r.code != 401 {
		t.Errorf("token of a disabled user: %d, want 401", r.code)
	}
	p := expectProblem(t, e.login("iris.k", "a-fresh-password"), 401)
	if !strings.Contains(p["detail"].(string), "disabled") {
		t.Errorf("login detail %v", p["detail"])
	}
	if r := e.do("POST", "/api/v1/users/iris.k/disable", auth.RoleAdmin, "", nil); r.code != 200 {
		t.Errorf("disable again: %d (want idempotent 200)", r.code)
	}
	expectProblem(t, e.do("POST", "/api/v1/users/admin/disable", auth.RoleAdmin, "", nil), 409)
	expectProblem(t, e.do("POST", "/api/v1/users/admin-user/disable", auth.RoleAdmin, "", nil), 409) // oneself
	expectProblem(t, e.do("POST", "/api/v1/users/ghost/disable", auth.RoleAdmin, "", nil), 404)
	if r := e.login("admin", "the-admin-password"); r.code != 200 {
		t.Errorf("built-in admin still signs in: %d", r.code)
	}

	r = e.do("GET", "/api/v1/users", auth.RoleAdmin, "", nil)
	for _, u := range r.json(t)["users"].([]any) {
		m := u.(map[string]any)
		if (m["username"] == "iris.k") != (m["disabled"] == true) {
			t.Errorf("after disable: %v", m)
		}
	}
}

func TestCreateUserValidation(t *testing.T) {
	e := newEnv(t)
	good := map[string]string{"username": "quinn", "password": "twelve-chars", "role": "qa_manager"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	for _, c := range []struct {
		name  string
		body  map[string]string
		field string
	}{
		{"short username", with("username", "ab"), "username"},
		{"long username", with("username", strings.Repeat("a", 65)), "username"},
		{"upper case", with("username", "Quinn"), "username"},
		{"space", with("username", "qu inn"), "username"},
		{"slash", with("username", "qu/inn"), "username"},
		{"unknown role", with("role", "superuser"), "role"},
		{"empty role", with("role", ""), "role"},
		{"short password", with("password", "eleven-char"), "password"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := expectProblem(t, e.doJSON("POST", "/api/v1/users", auth.RoleAdmin, c.body), 422)
			probs, _ := p["problems"].([]any)
			if len(probs) != 1 || probs[0].(map[string]any)["field"] != c.field {
				t.Errorf("problems %v, want one on %s", p["problems"], c.field)
			}
		})
	}
	expectProblem(t, e.do("POST", "/api/v1/users", auth.RoleAdmin, "application/json", []byte(`{"username":"quinn","password":"twelve-chars","role":"qa_manager","admin":true}`)), 400)
	expectProblem(t, e.do("POST", "/api/v1/users", auth.RoleAdmin, "text/plain", []byte(`x`)), 415)
	// Nothing stored by any of the above.
	if got := usernames(t, e.do("GET", "/api/v1/users", auth.RoleAdmin, "", nil)); len(got) != len(auth.Roles) {
		t.Errorf("users after rejected requests: %v", got)
	}
	if r := e.doJSON("POST", "/api/v1/users", auth.RoleAdmin, good); r.code != 201 {
		t.Errorf("exactly 12 characters: %d %s", r.code, r.body)
	}
}

func TestUsersForbiddenToOtherRoles(t *testing.T) {
	e := newEnv(t)
	for _, role := range []auth.Role{auth.RoleQAManager, auth.RoleInspector, auth.RoleIntegrator} {
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/users", nil},
			{"POST", "/api/v1/users", map[string]string{"username": "mallory", "password": "mallory-password", "role": "admin"}},
			{"POST", "/api/v1/users/inspector-user/password", map[string]string{"password": "taken-over-password"}},
			{"POST", "/api/v1/users/admin-user/disable", nil},
		} {
			if r := e.doJSON(c.method, c.path, role, c.body); r.code != http.StatusForbidden {
				t.Errorf("%s %s as %s: %d, want 403", c.method, c.path, role, r.code)
			}
			if r := e.doJSON(c.method, c.path, "", c.body); r.code != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: %d, want 401", c.method, c.path, r.code)
			}
		}
	}
	// Nothing changed.
	if _, err := e.auth.Login(context.Background(), "inspector-user", "password-inspector"); err != nil {
		t.Errorf("inspector password changed: %v", err)
	}
	if got := usernames(t, e.do("GET", "/api/v1/users", auth.RoleAdmin, "", nil)); strings.Contains(strings.Join(got, ","), "mallory") {
		t.Errorf("user created by a non-admin: %v", got)
	}
	if r := e.do("GET", "/api/v1/pipelines", auth.RoleAdmin, "", nil); r.code != 200 {
		t.Errorf("admin-user disabled by a non-admin: %d", r.code)
	}
}
