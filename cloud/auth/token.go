package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token defaults.
const (
	DefaultTokenTTL = 15 * time.Minute
	DefaultIssuer   = "imageflowcanvas"
	DefaultAudience = "ifc-api"
	// MinKeyLen is the shortest HS256 key accepted, in bytes.
	MinKeyLen = 32
)

// TokenConfig configures token signing and verification.
type TokenConfig struct {
	Key      []byte           // HMAC key, at least MinKeyLen bytes
	Issuer   string           // default DefaultIssuer
	Audience string           // default DefaultAudience
	TTL      time.Duration    // default DefaultTokenTTL
	Now      func() time.Time // default time.Now; injected in tests
}

// Tokens issues and verifies signed short-lived bearer tokens (HS256 JWT).
type Tokens struct {
	key      []byte
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// GenerateKey returns a new random signing key; the caller persists it so
// tokens survive a restart.
func GenerateKey() ([]byte, error) {
	k := make([]byte, MinKeyLen)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate token key: %w", err)
	}
	return k, nil
}

// NewTokens validates cfg and returns a token issuer/verifier.
func NewTokens(cfg TokenConfig) (*Tokens, error) {
	if len(cfg.Key) < MinKeyLen {
		return nil, fmt.Errorf("token key: %d bytes, need at least %d", len(cfg.Key), MinKeyLen)
	}
	t := &Tokens{key: append([]byte(nil), cfg.Key...), issuer: cfg.Issuer, audience: cfg.Audience, ttl: cfg.TTL, now: cfg.Now}
	if t.issuer == "" {
		t.issuer = DefaultIssuer
	}
	if t.audience == "" {
		t.audience = DefaultAudience
	}
	if t.ttl <= 0 {
		t.ttl = DefaultTokenTTL
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t, nil
}

type claims struct {
	Role Role `json:"role"`
	jwt.RegisteredClaims
}

// Issue signs a token for p and returns it with its expiry.
func (t *Tokens) Issue(p Principal) (string, time.Time, error) {
	if _, err := ParseRole(string(p.Role)); err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	now := t.now()
	exp := now.Add(t.ttl).Truncate(time.Second)
	c := claims{
		Role: p.Role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   p.Username,
			Audience:  jwt.ClaimStrings{t.audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// Claims is what a verified token says.
type Claims struct {
	Principal
	ExpiresAt time.Time
}

// Verify checks the signature, algorithm, issuer, audience and expiry of
// token and returns its principal. Every failure wraps ErrUnauthenticated.
func (t *Tokens) Verify(token string) (Claims, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Claims{}, fmt.Errorf("%w: token expired", ErrUnauthenticated)
		}
		return Claims{}, fmt.Errorf("%w: invalid token: %v", ErrUnauthenticated, err)
	}
	if c.Subject == "" {
		return Claims{}, fmt.Errorf("%w: token without subject", ErrUnauthenticated)
	}
	if _, err := ParseRole(string(c.Role)); err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	exp := c.ExpiresAt.Time
	return Claims{Principal: Principal{Username: c.Subject, Role: c.Role, ExpiresAt: exp}, ExpiresAt: exp}, nil
}
