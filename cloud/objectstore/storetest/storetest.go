// Package storetest is the contract test suite every objectstore.Store
// implementation runs (filesystem now, MinIO later).
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/objectstore"
)

// Run runs the contract suite. newStore returns an empty store; it is
// called once per subtest and should register its own cleanup.
func Run(t *testing.T, newStore func(t *testing.T) objectstore.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, objectstore.Store)
	}{
		{"PutGetRoundTrip", testPutGet},
		{"EmptyObject", testEmpty},
		{"UnknownSize", testUnknownSize},
		{"DefaultContentType", testDefaultContentType},
		{"Overwrite", testOverwrite},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"InvalidKeys", testInvalidKeys},
		{"SizeMismatchStoresNothing", testSizeMismatch},
		{"FailingReaderStoresNothing", testFailingReader},
		{"CancelledContextStoresNothing", testCancelled},
		{"LargeObject", testLarge},
		{"ConcurrentOverwriteIsAtomic", testAtomic},
		{"ManyKeysConcurrently", testManyKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			tc.fn(t, s)
		})
	}
}

func put(t *testing.T, s objectstore.Store, key string, data []byte, ct string) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), ct); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, s objectstore.Store, key string) ([]byte, objectstore.Info) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q) read: %v", key, err)
	}
	return b, info
}

func mustNotExist(t *testing.T, s objectstore.Store, key string) {
	t.Helper()
	if _, err := s.Stat(context.Background(), key); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Stat(%q) = %v, want ErrNotFound", key, err)
	}
	rc, _, err := s.Get(context.Background(), key)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Get(%q) = %v, want ErrNotFound", key, err)
	}
}

func randBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func testPutGet(t *testing.T, s objectstore.Store) {
	before := time.Now().Add(-2 * time.Second)
	data := []byte("\xff\xd8\xff not really a jpeg")
	put(t, s, "files/ab/abcdef", data, "image/jpeg")
	got, info := get(t, s, "files/ab/abcdef")
	if !bytes.Equal(got, data) {
		t.Fatalf("Get returned %q, want %q", got, data)
	}
	want := objectstore.Info{Key: "files/ab/abcdef", Size: int64(len(data)), ContentType: "image/jpeg"}
	if info.Key != want.Key || info.Size != want.Size || info.ContentType != want.ContentType {
		t.Fatalf("Get info = %+v, want %+v", info, want)
	}
	if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(2*time.Second)) {
		t.Fatalf("ModTime %v not close to now", info.ModTime)
	}
	st, err := s.Stat(context.Background(), "files/ab/abcdef")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Key != want.Key || st.Size != want.Size || st.ContentType != want.ContentType {
		t.Fatalf("Stat = %+v, want %+v", st, want)
	}
}

func testEmpty(t *testing.T, s objectstore.Store) {
	put(t, s, "empty", nil, "text/plain")
	got, info := get(t, s, "empty")
	if len(got) != 0 || info.Size != 0 {
		t.Fatalf("empty object read back %d bytes, info size %d", len(got), info.Size)
	}
}

func testUnknownSize(t *testing.T, s objectstore.Store) {
	data := randBytes(t, 70_000)
	if err := s.Put(context.Background(), "unknown/size", bytes.NewReader(data), -1, "application/octet-stream"); err != nil {
		t.Fatalf("Put with size -1: %v", err)
	}
	got, info := get(t, s, "unknown/size")
	if !bytes.Equal(got, data) || info.Size != int64(len(data)) {
		t.Fatalf("read back %d bytes (info %d), want %d", len(got), info.Size, len(data))
	}
}

func testDefaultContentType(t *testing.T, s objectstore.Store) {
	put(t, s, "noct", []byte("x"), "")
	_, info := get(t, s, "noct")
	if info.ContentType != "application/octet-stream" {
		t.Fatalf("content type = %q, want application/octet-stream", info.ContentType)
	}
}

func testOverwrite(t *testing.T, s objectstore.Store) {
	put(t, s, "k", []byte("first version, longer"), "text/plain")
	put(t, s, "k", []byte("second"), "image/png")
	got, info := get(t, s, "k")
	if string(got) != "second" || info.Size != 6 || info.ContentType != "image/png" {
		t.Fatalf("after overwrite got %q %+v", got, info)
	}
}

func testNotFound(t *testing.T, s objectstore.Store) {
	mustNotExist(t, s, "missing")
	mustNotExist(t, s, "missing/deeper/key")
	put(t, s, "present", []byte("x"), "")
	mustNotExist(t, s, "present/child")
}

func testDelete(t *testing.T, s objectstore.Store) {
	put(t, s, "a/b/c", []byte("x"), "text/plain")
	if err := s.Delete(context.Background(), "a/b/c"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustNotExist(t, s, "a/b/c")
	if err := s.Delete(context.Background(), "a/b/c"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
	// The key can be used again.
	put(t, s, "a/b/c", []byte("again"), "text/plain")
	if got, _ := get(t, s, "a/b/c"); string(got) != "again" {
		t.Fatalf("after re-put got %q", got)
	}
}

// InvalidKeys lists keys every implementation must refuse.
var InvalidKeys = []string{
	"",
	"/abs",
	"../escape",
	"a/../../escape",
	"a/./b",
	".",
	"..",
	"a//b",
	"trailing/",
	`back\slash`,
	"nul\x00byte",
	"new\nline",
	"tab\tkey",
	"space key",
	".hidden",
	"a/.meta",
	"a/.tmp-123",
	"ünïcode",
	"percent%2e%2e",
	"colon:key",
	strings.Repeat("a", objectstore.MaxKeyLen+1),
}

func testInvalidKeys(t *testing.T, s objectstore.Store) {
	ctx := context.Background()
	for _, key := range InvalidKeys {
		name := fmt.Sprintf("%.40q", key)
		if err := s.Put(ctx, key, strings.NewReader("x"), 1, ""); !errors.Is(err, objectstore.ErrInvalidKey) {
			t.Errorf("Put(%s) = %v, want ErrInvalidKey", name, err)
		}
		if rc, _, err := s.Get(ctx, key); !errors.Is(err, objectstore.ErrInvalidKey) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Get(%s) = %v, want ErrInvalidKey", name, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, objectstore.ErrInvalidKey) {
			t.Errorf("Stat(%s) = %v, want ErrInvalidKey", name, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, objectstore.ErrInvalidKey) {
			t.Errorf("Delete(%s) = %v, want ErrInvalidKey", name, err)
		}
	}
	// The longest valid key works.
	long := strings.Repeat("k", objectstore.MaxKeyLen)
	if err := objectstore.ValidateKey(long); err != nil {
		t.Fatalf("ValidateKey(max length) = %v", err)
	}
}

func testSizeMismatch(t *testing.T, s objectstore.Store) {
	ctx := context.Background()
	if err := s.Put(ctx, "short", strings.NewReader("abc"), 10, ""); err == nil {
		t.Fatal("Put with fewer bytes than size succeeded")
	}
	mustNotExist(t, s, "short")
	if err := s.Put(ctx, "long", strings.NewReader("abcdefghijkl"), 3, ""); err == nil {
		// An implementation may stop after size bytes; then it must have
		// stored exactly those.
		got, _ := get(t, s, "long")
		if string(got) != "abc" {
			t.Fatalf("Put with more bytes than size stored %q", got)
		}
	} else {
		mustNotExist(t, s, "long")
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), f.n)
	for i := range p[:n] {
		p[i] = 'x'
	}
	f.n -= n
	return n, nil
}

func testFailingReader(t *testing.T, s objectstore.Store) {
	err := s.Put(context.Background(), "fails", &failingReader{n: 100_000}, 200_000, "")
	if err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	mustNotExist(t, s, "fails")
	// A failed overwrite keeps the old object intact.
	put(t, s, "keep", []byte("old"), "text/plain")
	if err := s.Put(context.Background(), "keep", &failingReader{n: 10}, 20, "image/png"); err == nil {
		t.Fatal("overwrite from a failing reader succeeded")
	}
	got, info := get(t, s, "keep")
	if string(got) != "old" || info.ContentType != "text/plain" {
		t.Fatalf("after failed overwrite got %q %q", got, info.ContentType)
	}
}

func testCancelled(t *testing.T, s objectstore.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(ctx, "cancelled", strings.NewReader("x"), 1, ""); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	mustNotExist(t, s, "cancelled")
}

func testLarge(t *testing.T, s objectstore.Store) {
	data := randBytes(t, 6<<20)
	put(t, s, "large/blob", data, "application/octet-stream")
	got, info := get(t, s, "large/blob")
	if !bytes.Equal(got, data) || info.Size != int64(len(data)) {
		t.Fatalf("large object mismatch: %d bytes read, info size %d", len(got), info.Size)
	}
}

// testAtomic overwrites one key with two different contents from several
// writers while readers check they only ever see one whole version.
func testAtomic(t *testing.T, s objectstore.Store) {
	const size = 128 << 10
	a := bytes.Repeat([]byte{'A'}, size)
	b := bytes.Repeat([]byte{'B'}, size+1)
	put(t, s, "race", a, "text/a")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 2 {
		wg.Go(func() {
			for i := 0; i < 30 && ctx.Err() == nil; i++ {
				data := a
				if (i+w)%2 == 1 {
					data = b
				}
				if err := s.Put(context.Background(), "race", bytes.NewReader(data), int64(len(data)), ""); err != nil {
					errs <- fmt.Errorf("writer: %w", err)
					return
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for i := 0; i < 60 && ctx.Err() == nil; i++ {
				rc, _, err := s.Get(context.Background(), "race")
				if err != nil {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					errs <- fmt.Errorf("reader read: %w", err)
					return
				}
				if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
					errs <- fmt.Errorf("reader saw a torn object of %d bytes", len(got))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testManyKeys(t *testing.T, s objectstore.Store) {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			key := fmt.Sprintf("many/%02x/obj-%d", i%4, i)
			data := []byte(key)
			if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), "text/plain"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range 64 {
		key := fmt.Sprintf("many/%02x/obj-%d", i%4, i)
		if got, _ := get(t, s, key); string(got) != key {
			t.Fatalf("%s holds %q", key, got)
		}
	}
}
