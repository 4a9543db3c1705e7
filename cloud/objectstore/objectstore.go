// Package objectstore stores immutable blobs (images, results) by key.
//
// Implementations are chosen by URL scheme (file://, s3:// for MinIO);
// every implementation passes the shared suite in storetest.
package objectstore

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("object not found")

// ErrInvalidKey is returned for keys that are empty, too long, absolute,
// or contain path tricks ("..", backslashes, control characters).
var ErrInvalidKey = errors.New("invalid object key")

// Info describes a stored object.
type Info struct {
	Key         string
	Size        int64
	ContentType string
	ModTime     time.Time
}

// Store is the object store contract. Put is atomic: readers see either the
// whole object or nothing, never a half-written one.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	Stat(ctx context.Context, key string) (Info, error)
	Delete(ctx context.Context, key string) error
	Close() error
}
