package objectstore

import (
	"fmt"
	"strings"
)

// MaxKeyLen is the longest key accepted, in bytes (S3's limit).
const MaxKeyLen = 1024

// ValidateKey reports whether key is acceptable to every implementation.
//
// A key is one or more segments separated by "/", each made of ASCII
// letters, digits, '-', '_', '.' and '='. Segments may not be empty and may
// not start with '.', which rules out ".", "..", hidden files and the
// names implementations keep for themselves (the filesystem store's
// ".meta" tree and ".tmp-" files). The rules are deliberately stricter than
// S3's so that a key means the same file on every backend.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" {
			return fmt.Errorf("%w: %q has an empty segment", ErrInvalidKey, key)
		}
		if seg[0] == '.' {
			return fmt.Errorf("%w: %q has a segment starting with '.'", ErrInvalidKey, key)
		}
		for i := 0; i < len(seg); i++ {
			if !keyByte(seg[i]) {
				return fmt.Errorf("%w: %q has byte 0x%02x at segment offset %d", ErrInvalidKey, key, seg[i], i)
			}
		}
	}
	return nil
}

func keyByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '-', c == '_', c == '.', c == '=':
		return true
	}
	return false
}
