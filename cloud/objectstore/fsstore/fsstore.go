// Package fsstore is the local filesystem implementation of
// objectstore.Store, registered for the "file" scheme
// (file:///abs/dir). It is the object store of the all-in-one.
//
// Layout under the root directory:
//
//	<root>/<key>              the object's bytes, a plain file
//	<root>/.meta/<key>        its sidecar (JSON): content type
//
// Keys never have a segment starting with '.', so neither the sidecar tree
// nor the ".tmp-*" files used while writing can collide with a key, and the
// sidecar tree mirrors the data tree, so it has the same (already refused)
// file-versus-directory conflicts and no others.
//
// Durability: Put writes the sidecar first, then the data, each to a
// temporary file in the destination directory which is fsynced, renamed
// over the destination and followed by an fsync of the directory. The data
// rename is the commit point: an object whose data file exists is complete.
// A crash before it leaves at most a sidecar with no data, which readers
// treat as not found. Overwriting a key with a different content type can
// briefly show the new type with the old bytes; keys in this system are
// content addressed, so a key's bytes never change.
package fsstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/objectstore"
)

// Scheme is the URL scheme this package registers.
const Scheme = "file"

const (
	metaDir       = ".meta"
	tmpPrefix     = ".tmp-"
	defaultCT     = "application/octet-stream"
	maxMetaSize   = 64 << 10
	dirPerm       = 0o750
	filePerm      = 0o640
	maxContentLen = 255
)

func init() {
	objectstore.Register(Scheme, func(u *url.URL) (objectstore.Store, error) {
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("file url must have an empty host (file:///abs/dir), got host %q", u.Host)
		}
		if u.RawQuery != "" {
			return nil, fmt.Errorf("file url takes no query parameters")
		}
		return New(u.Path)
	})
}

// Store is a filesystem object store rooted at one directory.
type Store struct {
	root string
}

var _ objectstore.Store = (*Store)(nil)

// New opens (creating if needed) a store rooted at the absolute directory dir.
func New(dir string) (*Store, error) {
	if dir == "" || !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("fsstore: root %q must be an absolute path", dir)
	}
	root := filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Join(root, metaDir), dirPerm); err != nil {
		return nil, fmt.Errorf("fsstore: create root %s: %w", root, err)
	}
	return &Store{root: root}, nil
}

// Root returns the store's root directory.
func (s *Store) Root() string { return s.root }

type sidecar struct {
	ContentType string `json:"content_type"`
}

func (s *Store) dataPath(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

func (s *Store) metaPath(key string) string {
	return filepath.Join(s.root, metaDir, filepath.FromSlash(key))
}

// Put stores r under key atomically. size is the expected length, or -1
// when unknown; a stream of another length stores nothing.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := objectstore.ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if contentType == "" {
		contentType = defaultCT
	}
	if len(contentType) > maxContentLen {
		return fmt.Errorf("put %s: content type longer than %d bytes", key, maxContentLen)
	}
	meta, err := json.Marshal(sidecar{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("put %s: encode sidecar: %w", key, err)
	}
	dataPath := s.dataPath(key)
	// A directory already occupying the object's path (key "a" after key
	// "a/b") must not be replaced.
	if fi, err := os.Lstat(dataPath); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("put %s: %w: path is used by other objects", key, objectstore.ErrInvalidKey)
	}
	if err := s.mkdirAll(filepath.Dir(dataPath)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	metaPath := s.metaPath(key)
	if err := s.mkdirAll(filepath.Dir(metaPath)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}

	// Write the data to its temp file first so that a failing reader leaves
	// nothing behind, then commit sidecar and data in that order.
	tmpData, err := writeTemp(ctx, filepath.Dir(dataPath), r, size)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = os.Remove(tmpData)
		}
	}()
	if err := writeFileAtomic(metaPath, meta); err != nil {
		return fmt.Errorf("put %s: sidecar: %w", key, err)
	}
	if err := os.Rename(tmpData, dataPath); err != nil {
		return fmt.Errorf("put %s: commit: %w", key, err)
	}
	committed = true
	if err := syncDir(filepath.Dir(dataPath)); err != nil {
		return fmt.Errorf("put %s: sync dir: %w", key, err)
	}
	return nil
}

// Get opens the object for reading. The caller closes the reader.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, objectstore.Info, error) {
	if err := objectstore.ValidateKey(key); err != nil {
		return nil, objectstore.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, objectstore.Info{}, fmt.Errorf("get %s: %w", key, err)
	}
	f, err := os.Open(s.dataPath(key))
	if err != nil {
		return nil, objectstore.Info{}, fmt.Errorf("get %s: %w", key, notFound(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, objectstore.Info{}, fmt.Errorf("get %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, objectstore.Info{}, fmt.Errorf("get %s: %w", key, objectstore.ErrNotFound)
	}
	info, err := s.info(key, fi)
	if err != nil {
		f.Close()
		return nil, objectstore.Info{}, fmt.Errorf("get %s: %w", key, err)
	}
	return f, info, nil
}

// Stat describes the object without opening it.
func (s *Store) Stat(ctx context.Context, key string) (objectstore.Info, error) {
	if err := objectstore.ValidateKey(key); err != nil {
		return objectstore.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return objectstore.Info{}, fmt.Errorf("stat %s: %w", key, err)
	}
	fi, err := os.Stat(s.dataPath(key))
	if err != nil {
		return objectstore.Info{}, fmt.Errorf("stat %s: %w", key, notFound(err))
	}
	if !fi.Mode().IsRegular() {
		return objectstore.Info{}, fmt.Errorf("stat %s: %w", key, objectstore.ErrNotFound)
	}
	info, err := s.info(key, fi)
	if err != nil {
		return objectstore.Info{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return info, nil
}

// Delete removes the object. Deleting a missing key returns ErrNotFound.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := objectstore.ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	p := s.dataPath(key)
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, notFound(err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("delete %s: %w", key, objectstore.ErrNotFound)
	}
	// Data first: once it is gone the object is gone, whatever happens to
	// the sidecar.
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("delete %s: %w", key, notFound(err))
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("delete %s: sync dir: %w", key, err)
	}
	if err := os.Remove(s.metaPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: sidecar: %w", key, err)
	}
	return nil
}

// Close releases nothing; the store holds no open files between calls.
func (s *Store) Close() error { return nil }

func (s *Store) info(key string, fi fs.FileInfo) (objectstore.Info, error) {
	ct := defaultCT
	b, err := readLimited(s.metaPath(key), maxMetaSize)
	switch {
	case err == nil:
		var m sidecar
		if err := json.Unmarshal(b, &m); err != nil {
			return objectstore.Info{}, fmt.Errorf("decode sidecar: %w", err)
		}
		if m.ContentType != "" {
			ct = m.ContentType
		}
	case errors.Is(err, fs.ErrNotExist):
		// Objects written by hand (or whose sidecar was lost) still read.
	default:
		return objectstore.Info{}, fmt.Errorf("read sidecar: %w", err)
	}
	return objectstore.Info{
		Key:         key,
		Size:        fi.Size(),
		ContentType: ct,
		ModTime:     fi.ModTime().UTC().Truncate(time.Millisecond),
	}, nil
}

// mkdirAll creates dir and any missing parents below the root, fsyncing
// each parent whose entries changed so the new directories survive a crash.
func (s *Store) mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%w: %s is an object, not a directory", objectstore.ErrInvalidKey, dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir && len(parent) >= len(s.root) {
		if err := s.mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dirPerm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
				return nil // created concurrently
			}
			return fmt.Errorf("%w: %s is an object, not a directory", objectstore.ErrInvalidKey, dir)
		}
		if errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("%w: a parent of %s is an object", objectstore.ErrInvalidKey, dir)
		}
		return fmt.Errorf("create dir: %w", err)
	}
	if err := syncDir(parent); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// writeTemp copies r into a new fsynced temporary file in dir and returns
// its path. It checks the length against size (unless size < 0) and stops
// when ctx is done.
func writeTemp(ctx context.Context, dir string, r io.Reader, size int64) (path string, err error) {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("create temp: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(filePerm); err != nil {
		return "", fmt.Errorf("chmod temp: %w", err)
	}
	n, err := io.Copy(f, ctxReader{ctx: ctx, r: r})
	if err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	if size >= 0 && n != size {
		return "", fmt.Errorf("write: got %d bytes, expected %d", n, size)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("close: %w", err)
	}
	return f.Name(), nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := writeTemp(context.Background(), filepath.Dir(path), bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// notFound maps "no such file" and "a parent is a file" to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return objectstore.ErrNotFound
	}
	return err
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
