// Package device holds what both ends of sync agree on about device
// identity: enrollment tokens, device secrets, the credential header and the
// edge's credentials file.
//
// Tokens and secrets are 32 random bytes, base64url. They are high-entropy,
// so the cloud stores their plain sha256 (a slow password hash adds nothing
// against guessing 256 bits) and compares hashes in constant time.
package device

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MetadataKey is the gRPC metadata key carrying the device credential.
const MetadataKey = "authorization"

// Scheme prefixes the credential value: "Device <device_id>.<secret>".
const Scheme = "Device "

// TokenPrefix marks enrollment tokens so they are recognisable in logs and support tickets.
const TokenPrefix = "ifcenr_"

// ErrMalformed marks a credential or token that cannot be parsed.
var ErrMalformed = errors.New("malformed device credential")

// NewToken returns a new enrollment token and its hash.
func NewToken() (token, hash string, err error) {
	r, err := random()
	if err != nil {
		return "", "", err
	}
	token = TokenPrefix + r
	return token, Hash(token), nil
}

// NewSecret returns a new device secret and its hash.
func NewSecret() (secret, hash string, err error) {
	secret, err = random()
	if err != nil {
		return "", "", err
	}
	return secret, Hash(secret), nil
}

func random() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash is the hex sha256 of a token or secret, as the cloud stores it.
func Hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// HashEqual compares a presented secret with a stored hash in constant time.
func HashEqual(secret, storedHash string) bool {
	return subtle.ConstantTimeCompare([]byte(Hash(secret)), []byte(storedHash)) == 1
}

// Header formats the credential for the authorization metadata.
func Header(deviceID, secret string) string { return Scheme + deviceID + "." + secret }

// ParseHeader splits an authorization value into device id and secret.
func ParseHeader(v string) (deviceID, secret string, err error) {
	rest, ok := strings.CutPrefix(v, Scheme)
	if !ok {
		return "", "", fmt.Errorf("%w: want %q scheme", ErrMalformed, strings.TrimSpace(Scheme))
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 || i == len(rest)-1 || len(rest)-i > 129 {
		return "", "", fmt.Errorf("%w: want <device_id>.<secret>", ErrMalformed)
	}
	id, secret := rest[:i], rest[i+1:]
	if err := ValidID(id); err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return id, secret, nil
}

// ValidID checks a device id: 1..64 characters of A-Z a-z 0-9 . _ -,
// starting with a letter or digit (a host name or a UUID fits).
func ValidID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("device id must be 1..64 characters, got %d", len(id))
	}
	for i, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && (r == '.' || r == '_' || r == '-')
		if !ok {
			return fmt.Errorf("device id %q: character %q not allowed (A-Z a-z 0-9 . _ -)", id, r)
		}
	}
	return nil
}

// Credentials are what the edge keeps after enrollment.
type Credentials struct {
	DeviceID string `json:"device_id"`
	Line     string `json:"line"`
	Secret   string `json:"secret"`
	CloudURL string `json:"cloud_url"` // the sync endpoint enrolled against (host:port)
}

// Validate reports missing fields.
func (c Credentials) Validate() error {
	switch {
	case c.DeviceID == "":
		return errors.New("credentials: device_id is empty")
	case c.Secret == "":
		return errors.New("credentials: secret is empty")
	}
	if err := ValidID(c.DeviceID); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return nil
}

// Save writes c to path atomically with mode 0600 in a 0700 directory.
func Save(path string, c Credentials) error {
	if err := c.Validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("credentials dir: %w", err)
	}
	f, err := os.CreateTemp(dir, ".credentials-*")
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("credentials: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("credentials: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Load reads credentials saved by Save. It refuses a file readable by
// group or others, since it holds the device secret.
func Load(path string) (Credentials, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return Credentials{}, fmt.Errorf("credentials %s: mode %v is too open, want 0600", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("credentials: %w", err)
	}
	var c Credentials
	if err := json.Unmarshal(data, &c); err != nil {
		return Credentials{}, fmt.Errorf("credentials %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Credentials{}, fmt.Errorf("credentials %s: %w", path, err)
	}
	return c, nil
}
