package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"time"
)

// Errors of signed URLs; both are answered 403.
var (
	ErrURLExpired   = errors.New("signed URL expired")
	ErrURLSignature = errors.New("signed URL signature invalid")
)

// urlMAC is the HMAC of a signed URL's path and expiry under the token
// key, with a prefix no token signature shares.
func (t *Tokens) urlMAC(path string, exp int64) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte("ifc-signed-url\n" + path + "\n" + strconv.FormatInt(exp, 10)))
	return m.Sum(nil)
}

// SignURL returns the exp (Unix seconds) and sig query values that let a
// plain GET of path (for example an <img src> in a browser, which cannot
// send a bearer header) through until ttl has passed.
func (t *Tokens) SignURL(path string, ttl time.Duration) (exp, sig string) {
	e := t.now().Add(ttl).Unix()
	return strconv.FormatInt(e, 10), base64.RawURLEncoding.EncodeToString(t.urlMAC(path, e))
}

// VerifyURL checks the exp and sig query values of a signed GET of path:
// ErrURLSignature when they were not made by SignURL for this path (or
// are malformed), ErrURLExpired when exp has passed.
func (t *Tokens) VerifyURL(path, exp, sig string) error {
	e, err1 := strconv.ParseInt(exp, 10, 64)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, t.urlMAC(path, e)) {
		return ErrURLSignature
	}
	if !t.now().Before(time.Unix(e, 0)) {
		return ErrURLExpired
	}
	return nil
}
