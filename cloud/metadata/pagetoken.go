package metadata

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Page limits for ListExecutions.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// PageSize returns the effective page size for a requested limit.
func PageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// Cursor is the keyset position after the last row of a page of
// executions listed newest first: the next page starts strictly below it.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

const cursorVersion = "v1"

// EncodePageToken turns a cursor into the opaque token handed to clients.
func EncodePageToken(c Cursor) string {
	raw := cursorVersion + "." + strconv.FormatInt(c.CreatedAt.UnixNano(), 10) + "." + c.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodePageToken parses a token made by EncodePageToken; anything else is
// ErrInvalidArgument.
func DecodePageToken(tok string) (Cursor, error) {
	if len(tok) > 256 {
		return Cursor{}, fmt.Errorf("%w: page token too long", ErrInvalidArgument)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: malformed page token", ErrInvalidArgument)
	}
	parts := strings.SplitN(string(raw), ".", 3)
	if len(parts) != 3 || parts[0] != cursorVersion || parts[2] == "" {
		return Cursor{}, fmt.Errorf("%w: malformed page token", ErrInvalidArgument)
	}
	ns, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: malformed page token", ErrInvalidArgument)
	}
	return Cursor{CreatedAt: time.Unix(0, ns).UTC(), ID: parts[2]}, nil
}
