package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"google.golang.org/grpc/codes"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestValidUsername(t *testing.T) {
	for name, want := range map[string]bool{
		"ada": true, "qa.manager-2": true, "line_3": true, "0day": true, strings.Repeat("a", 64): true,
		"": false, "ab": false, strings.Repeat("a", 65): false, "Ada": false, "-ada": false, ".ada": false,
		"a da": false, "ada/x": false, "ädа": false, "ada@x": false,
	} {
		if got := ValidUsername(name); got != want {
			t.Errorf("ValidUsername(%q) = %v, want %v", name, got, want)
		}
	}
	if ValidPassword(strings.Repeat("x", MinPasswordLen-1)) || !ValidPassword(strings.Repeat("x", MinPasswordLen)) || ValidPassword(strings.Repeat("x", MaxPasswordLen+1)) {
		t.Error("ValidPassword bounds")
	}
}

func TestSetPassword(t *testing.T) {
	a, _ := newAuth(t)
	ctx := context.Background()
	old, err := a.Login(ctx, "ivan", "password-ivan")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetPassword(ctx, "ivan", "a-new-long-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login(ctx, "ivan", "password-ivan"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("old password after reset: %v", err)
	}
	if _, err := a.Login(ctx, "ivan", "a-new-long-password"); err != nil {
		t.Errorf("new password: %v", err)
	}
	// Tokens issued before the reset stay valid until they expire (documented).
	if _, err := a.VerifyActive(ctx, old); err != nil {
		t.Errorf("token issued before the reset: %v", err)
	}
	if err := a.SetPassword(ctx, "nobody", "a-new-long-password"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("reset unknown user = %v, want ErrNotFound", err)
	}
}

func TestDisable(t *testing.T) {
	a, _ := newAuth(t)
	ctx := context.Background()
	if _, err := a.EnsureAdmin(ctx, "the-admin-password"); err != nil {
		t.Fatal(err)
	}
	tok, err := a.Login(ctx, "quinn", "password-quinn")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /x", a.Require(PermPipelinesRead, false, nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})))
	get := func(tok string) int {
		req := httptest.NewRequest("GET", "/x", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w.Code
	}
	if c := get(tok); c != 200 {
		t.Fatalf("before disable: %d", c)
	}

	if err := a.Disable(ctx, AdminUsername, "ada"); !errors.Is(err, ErrBuiltinAdmin) {
		t.Errorf("disable admin = %v", err)
	}
	if err := a.Disable(ctx, "ada", "ada"); !errors.Is(err, ErrSelf) {
		t.Errorf("disable self = %v", err)
	}
	if err := a.Disable(ctx, "nobody", "ada"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("disable unknown = %v", err)
	}

	if err := a.Disable(ctx, "quinn", "ada"); err != nil {
		t.Fatal(err)
	}
	// The existing token is refused at the next request, on HTTP and gRPC.
	if c := get(tok); c != 401 {
		t.Errorf("token of a disabled user: %d, want 401", c)
	}
	md := grpcmd.NewIncomingContext(ctx, grpcmd.Pairs("authorization", "Bearer "+tok))
	if _, err := a.authorize(md, "/m", MethodPermissions{"/m": PermPipelinesRead}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC with a disabled user's token: %v", err)
	}
	// Login: the right password says the account is disabled; a wrong one says nothing more.
	if _, err := a.Login(ctx, "quinn", "password-quinn"); !errors.Is(err, ErrDisabled) {
		t.Errorf("login disabled = %v, want ErrDisabled", err)
	}
	if _, err := a.Login(ctx, "quinn", "wrong-password"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("login disabled, wrong password = %v, want ErrInvalidCredentials", err)
	}
	// Others are unaffected.
	other, _ := a.Login(ctx, "ivan", "password-ivan")
	if c := get(other); c != 200 {
		t.Errorf("other user: %d", c)
	}
}

// failingUsers fails every read, as a database that went away.
type failingUsers struct{ memUsers }

func (*failingUsers) GetUser(context.Context, string) (metadata.User, error) {
	return metadata.User{}, errors.New("connection refused")
}

func TestAccountCheckStoreDown(t *testing.T) {
	key, _ := GenerateKey()
	toks, _ := NewTokens(TokenConfig{Key: key})
	a, err := NewAuthenticator(&failingUsers{}, toks, WithHashParams(cheap))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := toks.Issue(Principal{Username: "ivan", Role: RoleInspector})
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	a.Require(PermPipelinesRead, false, nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("store down: %d, want 503 (not 401, which would sign the UI out)", w.Code)
	}
	md := grpcmd.NewIncomingContext(context.Background(), grpcmd.Pairs("authorization", "Bearer "+tok))
	if _, err := a.authorize(md, "/m", MethodPermissions{"/m": PermPipelinesRead}); status.Code(err) != codes.Unavailable {
		t.Errorf("gRPC store down: %v", err)
	}
}
