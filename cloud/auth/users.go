package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
)

// Rules for accounts created or changed through user management.
const (
	// MinPasswordLen is the shortest password user management accepts, in bytes.
	MinPasswordLen = 12
	// MaxPasswordLen bounds the argon2id input.
	MaxPasswordLen = 1024
	// MinUsernameLen and MaxUsernameLen bound a new username.
	MinUsernameLen = 3
	MaxUsernameLen = 64
)

// activeTTL is how long the authenticator trusts what it last read about
// a user's account (exists, not disabled) before reading it again. It
// bounds how long another API replica keeps accepting the tokens of a
// user disabled elsewhere; on the replica that disabled the user the
// change is immediate.
const activeTTL = 5 * time.Second

var (
	// ErrDisabled is returned by Login for a disabled account with the right
	// password, and by the token checks once the account is disabled.
	ErrDisabled = errors.New("account disabled")
	// ErrBuiltinAdmin refuses to disable the account EnsureAdmin created.
	ErrBuiltinAdmin = errors.New("the built-in admin account cannot be disabled")
	// ErrSelf refuses to disable the caller's own account.
	ErrSelf = errors.New("you cannot disable your own account")

	// errStoreUnavailable marks a failed account check: the store, not the
	// caller, is at fault (503 rather than 401).
	errStoreUnavailable = errors.New("user store unavailable")
)

// ValidUsername reports whether name may be given to a new user:
// MinUsernameLen..MaxUsernameLen lower-case letters, digits, '.', '_' or
// '-', starting with a letter or digit. Lower case only, so two accounts
// never differ by case alone (usernames are matched exactly).
func ValidUsername(name string) bool {
	if len(name) < MinUsernameLen || len(name) > MaxUsernameLen {
		return false
	}
	for i, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// ValidPassword reports whether pw is long enough for user management.
func ValidPassword(pw string) bool { return len(pw) >= MinPasswordLen && len(pw) <= MaxPasswordLen }

// ListUsers returns every user ordered by username (hashes included; the
// caller decides what to show).
func (a *Authenticator) ListUsers(ctx context.Context) ([]metadata.User, error) {
	us, err := a.users.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// SetPassword replaces username's password. Tokens already issued stay
// valid until they expire.
func (a *Authenticator) SetPassword(ctx context.Context, username, password string) error {
	if len(password) < 8 || len(password) > MaxPasswordLen {
		return fmt.Errorf("set password of %q: password must be 8..%d characters", username, MaxPasswordLen)
	}
	h, err := HashPassword(password, a.params)
	if err != nil {
		return fmt.Errorf("set password of %q: %w", username, err)
	}
	if err := a.users.SetUserPassword(ctx, username, h); err != nil {
		return fmt.Errorf("set password of %q: %w", username, err)
	}
	a.log.InfoContext(ctx, "password set", "username", username)
	return nil
}

// Disable disables username on behalf of by: they can no longer sign in
// and their tokens are refused from the next request on (on other API
// replicas within activeTTL). The built-in admin and the caller's own
// account cannot be disabled.
func (a *Authenticator) Disable(ctx context.Context, username, by string) error {
	switch username {
	case AdminUsername:
		return ErrBuiltinAdmin
	case by:
		return ErrSelf
	}
	if err := a.users.DisableUser(ctx, username, time.Now().UTC()); err != nil {
		return fmt.Errorf("disable user %q: %w", username, err)
	}
	a.active.forget(username)
	a.log.InfoContext(ctx, "user disabled", "username", username, "by", by)
	return nil
}

// checkActive returns nil when username's account exists and is not
// disabled, ErrDisabled when it does not or is, or an error wrapping
// errStoreUnavailable.
func (a *Authenticator) checkActive(ctx context.Context, username string) error {
	if ok, known := a.active.get(username); known {
		if !ok {
			return ErrDisabled
		}
		return nil
	}
	u, err := a.users.GetUser(ctx, username)
	switch {
	case errors.Is(err, metadata.ErrNotFound):
		a.active.put(username, false)
		return ErrDisabled
	case err != nil:
		return fmt.Errorf("check account %q: %w: %w", username, errStoreUnavailable, err)
	}
	a.active.put(username, !u.Disabled())
	if u.Disabled() {
		return ErrDisabled
	}
	return nil
}

// activeCache remembers, for activeTTL, whether an account may use its tokens.
type activeCache struct {
	mu sync.Mutex
	m  map[string]activeEntry
}

type activeEntry struct {
	ok bool
	at time.Time
}

func (c *activeCache) get(name string) (ok, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.m[name]
	if !found || time.Since(e.at) > activeTTL {
		return false, false
	}
	return e.ok, true
}

func (c *activeCache) put(name string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]activeEntry{}
	}
	now := time.Now()
	if len(c.m) > 10000 { // only signed tokens reach here, so this is many real users: start over
		clear(c.m)
	}
	c.m[name] = activeEntry{ok: ok, at: now}
}

func (c *activeCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, name)
}
