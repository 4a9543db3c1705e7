package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
)

// UserStore is the part of the metadata store the authenticator uses.
type UserStore interface {
	GetUser(ctx context.Context, username string) (metadata.User, error)
	CreateUser(ctx context.Context, u metadata.User) error
	ListUsers(ctx context.Context) ([]metadata.User, error)
	SetUserPassword(ctx context.Context, username, passwordHash string) error
	DisableUser(ctx context.Context, username string, at time.Time) error
}

// AdminUsername is the account EnsureAdmin creates on first start.
const AdminUsername = "admin"

// Authenticator logs users in against the metadata store and verifies
// their tokens.
type Authenticator struct {
	users  UserStore
	tokens *Tokens
	params HashParams
	log    *slog.Logger
	dummy  string // hash compared against for unknown users, to keep timing flat
	active activeCache
}

// Option changes an Authenticator.
type Option func(*Authenticator)

// WithHashParams sets the argon2id cost for new hashes (tests use cheap ones).
func WithHashParams(p HashParams) Option { return func(a *Authenticator) { a.params = p } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(a *Authenticator) { a.log = l } }

// NewAuthenticator returns an authenticator over users issuing tokens with tokens.
func NewAuthenticator(users UserStore, tokens *Tokens, opts ...Option) (*Authenticator, error) {
	if users == nil || tokens == nil {
		return nil, errors.New("new authenticator: users and tokens are required")
	}
	a := &Authenticator{users: users, tokens: tokens, params: DefaultHashParams, log: slog.Default()}
	for _, o := range opts {
		o(a)
	}
	a.log = a.log.With("component", "auth")
	d, err := HashPassword("not a real password", a.params)
	if err != nil {
		return nil, fmt.Errorf("new authenticator: %w", err)
	}
	a.dummy = d
	return a, nil
}

// Tokens returns the token issuer/verifier.
func (a *Authenticator) Tokens() *Tokens { return a.tokens }

// Login checks username and password and returns a signed token.
// Unknown users and wrong passwords both yield ErrInvalidCredentials; a
// disabled account with the right password yields ErrDisabled.
func (a *Authenticator) Login(ctx context.Context, username, password string) (string, error) {
	tok, _, err := a.LoginWithExpiry(ctx, username, password)
	return tok, err
}

// LoginWithExpiry is Login also returning when the token expires.
func (a *Authenticator) LoginWithExpiry(ctx context.Context, username, password string) (string, time.Time, error) {
	u, err := a.users.GetUser(ctx, username)
	switch {
	case errors.Is(err, metadata.ErrNotFound):
		_, _ = VerifyPassword(a.dummy, password) // same cost as a real check
		a.log.InfoContext(ctx, "login failed", "username", username, "reason", "unknown user")
		return "", time.Time{}, ErrInvalidCredentials
	case err != nil:
		return "", time.Time{}, fmt.Errorf("login %q: %w", username, err)
	}
	ok, err := VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("login %q: %w", username, err)
	}
	if !ok {
		a.log.InfoContext(ctx, "login failed", "username", username, "reason", "wrong password")
		return "", time.Time{}, ErrInvalidCredentials
	}
	if u.Disabled() {
		a.log.InfoContext(ctx, "login failed", "username", username, "reason", "disabled")
		return "", time.Time{}, ErrDisabled
	}
	role, err := ParseRole(u.Role)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("login %q: %w", username, err)
	}
	return a.tokens.Issue(Principal{Username: u.Username, Role: role})
}

// Verify checks a bearer token and returns its claims. It does not look
// at the account; Authenticate and the gRPC interceptors also refuse the
// tokens of disabled users (see VerifyActive).
func (a *Authenticator) Verify(token string) (Claims, error) { return a.tokens.Verify(token) }

// VerifyActive is Verify also refusing the token of an account that is
// disabled or gone (ErrDisabled). IsUnauthenticated tells such errors
// from a failing user store.
func (a *Authenticator) VerifyActive(ctx context.Context, token string) (Claims, error) {
	c, err := a.tokens.Verify(token)
	if err != nil {
		return Claims{}, err
	}
	if err := a.checkActive(ctx, c.Username); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// CreateUser hashes password and stores a new user with role.
func (a *Authenticator) CreateUser(ctx context.Context, username, password string, role Role) error {
	if username == "" || len(username) > 64 {
		return fmt.Errorf("create user: username must be 1..64 characters")
	}
	if len(password) < 8 || len(password) > 1024 {
		return fmt.Errorf("create user %q: password must be 8..1024 characters", username)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return fmt.Errorf("create user %q: %w", username, err)
	}
	h, err := HashPassword(password, a.params)
	if err != nil {
		return fmt.Errorf("create user %q: %w", username, err)
	}
	if err := a.users.CreateUser(ctx, metadata.User{Username: username, PasswordHash: h, Role: string(role), CreatedAt: time.Now().UTC()}); err != nil {
		return fmt.Errorf("create user %q: %w", username, err)
	}
	return nil
}

// EnsureAdmin creates the admin account on first start. If it exists
// nothing changes. If password is empty a random one is generated and
// returned so the caller can print it once; otherwise generated is "".
func (a *Authenticator) EnsureAdmin(ctx context.Context, password string) (generated string, err error) {
	_, err = a.users.GetUser(ctx, AdminUsername)
	if err == nil {
		return "", nil
	}
	if !errors.Is(err, metadata.ErrNotFound) {
		return "", fmt.Errorf("ensure admin: %w", err)
	}
	if password == "" {
		generated, err = randomPassword()
		if err != nil {
			return "", fmt.Errorf("ensure admin: %w", err)
		}
		password = generated
	}
	if err := a.CreateUser(ctx, AdminUsername, password, RoleAdmin); err != nil {
		if errors.Is(err, metadata.ErrConflict) { // created concurrently by another instance
			return "", nil
		}
		return "", fmt.Errorf("ensure admin: %w", err)
	}
	a.log.InfoContext(ctx, "admin user created", "username", AdminUsername, "generated_password", generated != "")
	return generated, nil
}

func randomPassword() (string, error) {
	return rand.Text(), nil // 26 base32 characters, 130 bits
}
