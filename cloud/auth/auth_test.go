package auth

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var cheap = HashParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type memUsers struct {
	mu sync.Mutex
	m  map[string]metadata.User
}

func (s *memUsers) GetUser(_ context.Context, name string) (metadata.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.m[name]
	if !ok {
		return metadata.User{}, metadata.ErrNotFound
	}
	return u, nil
}

func (s *memUsers) CreateUser(_ context.Context, u metadata.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]metadata.User{}
	}
	if _, ok := s.m[u.Username]; ok {
		return metadata.ErrConflict
	}
	s.m[u.Username] = u
	return nil
}

func (s *memUsers) ListUsers(context.Context) ([]metadata.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Collect(maps.Values(s.m))
	slices.SortFunc(out, func(a, b metadata.User) int { return strings.Compare(a.Username, b.Username) })
	return out, nil
}

func (s *memUsers) update(name string, f func(*metadata.User)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.m[name]
	if !ok {
		return metadata.ErrNotFound
	}
	f(&u)
	s.m[name] = u
	return nil
}

func (s *memUsers) SetUserPassword(_ context.Context, name, hash string) error {
	return s.update(name, func(u *metadata.User) { u.PasswordHash = hash })
}

func (s *memUsers) DisableUser(_ context.Context, name string, at time.Time) error {
	return s.update(name, func(u *metadata.User) {
		if u.DisabledAt.IsZero() {
			u.DisabledAt = at
		}
	})
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newAuth(t *testing.T) (*Authenticator, *clock) {
	t.Helper()
	clk := &clock{t: time.Now()}
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	toks, err := NewTokens(TokenConfig{Key: key, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAuthenticator(&memUsers{}, toks, WithHashParams(cheap))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name string
		role Role
	}{{"ada", RoleAdmin}, {"quinn", RoleQAManager}, {"ivan", RoleInspector}, {"iris", RoleIntegrator}} {
		if err := a.CreateUser(context.Background(), u.name, "password-"+u.name, u.role); err != nil {
			t.Fatal(err)
		}
	}
	return a, clk
}

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := HashPassword("s3cret-pass", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not PHC argon2id", h)
	}
	h2, _ := HashPassword("s3cret-pass", cheap)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	for pw, want := range map[string]bool{"s3cret-pass": true, "s3cret-pasS": false, "": false} {
		ok, err := VerifyPassword(h, pw)
		if err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	good, _ := HashPassword("x", cheap)
	parts := strings.Split(good, "$")
	for name, enc := range map[string]string{
		"empty":        "",
		"bcrypt":       "$2a$10$abcdefghijklmnopqrstuv",
		"argon2i":      strings.Replace(good, "argon2id", "argon2i", 1),
		"bad version":  strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":  strings.Replace(good, "m=64", "m=99999999", 1),
		"zero time":    strings.Replace(good, "t=1", "t=0", 1),
		"bad salt":     strings.Join([]string{"", parts[1], parts[2], parts[3], "!!", parts[5]}, "$"),
		"short key":    strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], base64.RawStdEncoding.EncodeToString([]byte("x"))}, "$"),
		"extra fields": good + "$x",
	} {
		t.Run(name, func(t *testing.T) {
			ok, err := VerifyPassword(enc, "x")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("got %v, %v; want ErrMalformedHash", ok, err)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	a, _ := newAuth(t)
	ctx := context.Background()
	tok, exp, err := a.LoginWithExpiry(ctx, "quinn", "password-quinn")
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < 14*time.Minute || d > 15*time.Minute+time.Second {
		t.Errorf("expiry in %v, want ~15m", d)
	}
	c, err := a.Verify(tok)
	if err != nil || c.Username != "quinn" || c.Role != RoleQAManager {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	t.Run("wrong password", func(t *testing.T) {
		if _, err := a.Login(ctx, "quinn", "password-ivan"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("err = %v, want ErrInvalidCredentials", err)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		if _, err := a.Login(ctx, "nobody", "password-quinn"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("err = %v, want ErrInvalidCredentials", err)
		}
	})
}

func TestTokenRejected(t *testing.T) {
	a, clk := newAuth(t)
	tok, err := a.Login(context.Background(), "ivan", "password-ivan")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateKey()
	otherToks, _ := NewTokens(TokenConfig{Key: other})
	forged, _, _ := otherToks.Issue(Principal{Username: "ivan", Role: RoleAdmin})
	wrongAud, _ := NewTokens(TokenConfig{Key: a.tokens.key, Audience: "other"})
	audTok, _, _ := wrongAud.Issue(Principal{Username: "ivan", Role: RoleInspector})
	wrongIss, _ := NewTokens(TokenConfig{Key: a.tokens.key, Issuer: "other"})
	issTok, _, _ := wrongIss.Issue(Principal{Username: "ivan", Role: RoleInspector})

	seg := strings.Split(tok, ".")
	h, p, s := seg[0], seg[1], seg[2]
	payload, _ := base64.RawURLEncoding.DecodeString(p)
	elevated := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"inspector"`, `"admin"`, 1)))
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))

	for name, bad := range map[string]string{
		"tampered payload": h + "." + elevated + "." + s,
		"tampered sig":     h + "." + p + "." + flip(s),
		"alg none":         noneHeader + "." + p + ".",
		"other key":        forged,
		"wrong audience":   audTok,
		"wrong issuer":     issTok,
		"garbage":          "not.a.token",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := a.Verify(bad); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("err = %v, want ErrUnauthenticated", err)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		clk.Add(15*time.Minute + time.Second)
		_, err := a.Verify(tok)
		if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("err = %v, want expired", err)
		}
	})
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestEnsureAdmin(t *testing.T) {
	key, _ := GenerateKey()
	toks, _ := NewTokens(TokenConfig{Key: key})
	users := &memUsers{}
	a, _ := NewAuthenticator(users, toks, WithHashParams(cheap))
	ctx := context.Background()
	gen, err := a.EnsureAdmin(ctx, "")
	if err != nil || len(gen) < 20 {
		t.Fatalf("EnsureAdmin = %q, %v; want a generated password", gen, err)
	}
	if _, err := a.Login(ctx, "admin", gen); err != nil {
		t.Fatalf("login with generated password: %v", err)
	}
	again, err := a.EnsureAdmin(ctx, "")
	if err != nil || again != "" {
		t.Fatalf("second EnsureAdmin = %q, %v; want no change", again, err)
	}
	if _, err := a.Login(ctx, "admin", gen); err != nil {
		t.Fatal("admin password changed by second EnsureAdmin")
	}

	users2 := &memUsers{}
	b, _ := NewAuthenticator(users2, toks, WithHashParams(cheap))
	gen, err = b.EnsureAdmin(ctx, "configured-pass")
	if err != nil || gen != "" {
		t.Fatalf("EnsureAdmin with password = %q, %v", gen, err)
	}
	if _, err := b.Login(ctx, "admin", "configured-pass"); err != nil {
		t.Fatal(err)
	}
}

func TestHTTPMiddleware(t *testing.T) {
	a, clk := newAuth(t)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		_, _ = w.Write([]byte(p.Username))
	})
	mux := http.NewServeMux()
	mux.Handle("DELETE /thing", a.Require(PermPipelinesDelete, false, nil, ok))
	mux.Handle("GET /ws", a.Require(PermWebSocket, true, nil, ok))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	tokOf := func(u string) string {
		tok, err := a.Login(ctx, u, "password-"+u)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	qa, insp := tokOf("quinn"), tokOf("ivan")

	do := func(method, path, auth string) (int, string, http.Header) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b := make([]byte, 512)
		n, _ := res.Body.Read(b)
		return res.StatusCode, string(b[:n]), res.Header
	}
	cases := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"allowed", "DELETE", "/thing", "Bearer " + qa, 200},
		{"wrong role", "DELETE", "/thing", "Bearer " + insp, 403},
		{"missing token", "DELETE", "/thing", "", 401},
		{"not bearer", "DELETE", "/thing", "Basic " + qa, 401},
		{"query not accepted", "DELETE", "/thing?token=" + qa, "", 401},
		{"query on ws", "GET", "/ws?token=" + insp, "", 200},
		{"bad token", "GET", "/ws", "Bearer abc", 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body, h := do(c.method, c.path, c.auth)
			if code != c.want {
				t.Fatalf("status %d (%s), want %d", code, body, c.want)
			}
			if code >= 400 && h.Get("Content-Type") != "application/problem+json" {
				t.Errorf("content type %q", h.Get("Content-Type"))
			}
			if code == 401 && h.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	t.Run("expired token", func(t *testing.T) {
		clk.Add(16 * time.Minute)
		if code, body, _ := do("DELETE", "/thing", "Bearer "+qa); code != 401 {
			t.Fatalf("status %d (%s), want 401", code, body)
		}
	})
}

func TestGRPCInterceptors(t *testing.T) {
	a, clk := newAuth(t)
	const check, watch = "/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"
	perms := MethodPermissions{check: PermPipelinesDelete, watch: PermExecutionsRead}
	gs := grpc.NewServer(grpc.UnaryInterceptor(a.UnaryInterceptor(perms)), grpc.StreamInterceptor(a.StreamInterceptor(perms)))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	ctx := context.Background()
	qa, _ := a.Login(ctx, "quinn", "password-quinn")
	insp, _ := a.Login(ctx, "ivan", "password-ivan")
	with := func(tok string) context.Context {
		if tok == "" {
			return ctx
		}
		return grpcmd.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	unary := func(tok string) codes.Code {
		_, err := hc.Check(with(tok), &healthpb.HealthCheckRequest{})
		return status.Code(err)
	}
	stream := func(tok string) codes.Code {
		c, cancel := context.WithTimeout(with(tok), 5*time.Second)
		defer cancel()
		st, err := hc.Watch(c, &healthpb.HealthCheckRequest{})
		if err != nil {
			return status.Code(err)
		}
		_, err = st.Recv()
		return status.Code(err)
	}
	if c := unary(qa); c != codes.OK {
		t.Errorf("allowed unary: %v", c)
	}
	if c := unary(insp); c != codes.PermissionDenied {
		t.Errorf("wrong role unary: %v", c)
	}
	if c := unary(""); c != codes.Unauthenticated {
		t.Errorf("missing token unary: %v", c)
	}
	if c := unary("garbage"); c != codes.Unauthenticated {
		t.Errorf("bad token unary: %v", c)
	}
	if c := stream(insp); c != codes.OK {
		t.Errorf("allowed stream: %v", c)
	}
	if c := stream(""); c != codes.Unauthenticated {
		t.Errorf("missing token stream: %v", c)
	}
	clk.Add(time.Hour)
	if c := stream(insp); c != codes.Unauthenticated {
		t.Errorf("expired token stream: %v", c)
	}
	if c := unary(qa); c != codes.Unauthenticated {
		t.Errorf("expired token unary: %v", c)
	}
}

func TestUnlistedMethodDenied(t *testing.T) {
	a, _ := newAuth(t)
	_, err := a.authorize(context.Background(), "/x.Y/Z", MethodPermissions{})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("err = %v", err)
	}
}

// TestMatrixDocumented checks docs/security.md's permission matrix equals the code's.
func TestMatrixDocumented(t *testing.T) {
	f, err := os.Open("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var header []string
	seen := map[Permission]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			if header != nil {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if header == nil {
			if cells[0] == "permission" && len(cells) == 1+len(Roles) && cells[1] == string(RoleAdmin) {
				header = cells
			}
			continue
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		perm := Permission(cells[0])
		seen[perm] = true
		for i, cell := range cells[1:] {
			role := Role(header[i+1])
			if want := Allowed(role, perm); (cell == "yes") != want {
				t.Errorf("docs say %s/%s = %q, code says %v", role, perm, cell, want)
			}
		}
	}
	if header == nil {
		t.Fatal("matrix table not found in docs/security.md")
	}
	for _, p := range Permissions {
		if !seen[p] {
			t.Errorf("permission %s missing from docs/security.md", p)
		}
	}
	if len(seen) != len(Permissions) {
		t.Errorf("docs list %d permissions, code %d", len(seen), len(Permissions))
	}
}

func TestSignedURLs(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	tk, err := NewTokens(TokenConfig{Key: make([]byte, MinKeyLen), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewTokens(TokenConfig{Key: append(make([]byte, MinKeyLen-1), 1), Now: func() time.Time { return now }})
	const p = "/api/v1/files/f-1/content"
	exp, sig := tk.SignURL(p, 15*time.Minute)
	if err := tk.VerifyURL(p, exp, sig); err != nil {
		t.Fatalf("fresh URL: %v", err)
	}
	for _, tc := range []struct {
		name           string
		tokens         *Tokens
		path, exp, sig string
		want           error
	}{
		{"other path", tk, "/api/v1/files/f-2/content", exp, sig, ErrURLSignature},
		{"later expiry", tk, p, exp + "0", sig, ErrURLSignature},
		{"tampered sig", tk, p, exp, "A" + sig[1:], ErrURLSignature},
		{"garbage", tk, p, "soon", "!!", ErrURLSignature},
		{"other key", other, p, exp, sig, ErrURLSignature},
	} {
		if err := tc.tokens.VerifyURL(tc.path, tc.exp, tc.sig); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	now = now.Add(15 * time.Minute)
	if err := tk.VerifyURL(p, exp, sig); !errors.Is(err, ErrURLExpired) {
		t.Errorf("after expiry: %v, want ErrURLExpired", err)
	}
}
