package fsstore_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/imageflowcanvas/ifc/cloud/objectstore"
	"github.com/imageflowcanvas/ifc/cloud/objectstore/fsstore"
	"github.com/imageflowcanvas/ifc/cloud/objectstore/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newStore(t *testing.T) objectstore.Store {
	t.Helper()
	s, err := objectstore.Open("file://" + t.TempDir())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) { storetest.Run(t, newStore) }

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"file://" + dir, true},
		{"file://localhost" + dir, true},
		{"file://" + dir + "/sub/dir", true},
		{"file://somehost" + dir, false},
		{"file:relative/dir", false},
		{"file://" + dir + "?x=1", false},
		{"nosuch:///x", false},
		{"::bad", false},
	} {
		s, err := objectstore.Open(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("Open(%q) error = %v, want ok=%v", tc.url, err, tc.ok)
		}
		if s != nil {
			s.Close()
		}
	}
}

func TestNewRefusesRelativeRoot(t *testing.T) {
	if _, err := fsstore.New("relative"); err == nil {
		t.Fatal("New(relative) succeeded")
	}
	if _, err := fsstore.New(""); err == nil {
		t.Fatal(`New("") succeeded`)
	}
}

// TestObjectsArePlainFiles checks operators can copy images straight out
// of the store and that nothing temporary is left behind.
func TestObjectsArePlainFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, "files/aa/aabb", strings.NewReader("pixels"), 6, "image/png"); err != nil {
		t.Fatal(err)
	}
	_ = s.Put(ctx, "files/aa/broken", &errReader{}, 10, "image/png")
	b, err := os.ReadFile(filepath.Join(dir, "files", "aa", "aabb"))
	if err != nil || string(b) != "pixels" {
		t.Fatalf("object file = %q, %v", b, err)
	}
	var leftovers []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if strings.HasPrefix(d.Name(), ".tmp-") {
			leftovers = append(leftovers, p)
		}
		return nil
	})
	if len(leftovers) > 0 {
		t.Fatalf("temporary files left behind: %v", leftovers)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

// TestCrashBeforeDataCommit simulates a crash after the sidecar was
// renamed into place but before the data: the object must not exist, and
// a later Put must succeed.
func TestCrashBeforeDataCommit(t *testing.T) {
	dir := t.TempDir()
	s, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(dir, ".meta", "files", "cc", "ccdd")
	if err := os.MkdirAll(filepath.Dir(meta), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(meta, []byte(`{"content_type":"image/png"}`), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "files", ".tmp-123"), []byte("half"), 0o640); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Stat(ctx, "files/cc/ccdd"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Stat after simulated crash = %v, want ErrNotFound", err)
	}
	if err := s.Put(ctx, "files/cc/ccdd", bytes.NewReader([]byte("ok")), 2, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, "files/cc/ccdd")
	if err != nil || info.ContentType != "image/jpeg" || info.Size != 2 {
		t.Fatalf("Stat after re-put = %+v, %v", info, err)
	}
}

func TestMissingSidecarReadsAsOctetStream(t *testing.T) {
	dir := t.TempDir()
	s, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hand-made"), []byte("abc"), 0o640); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(context.Background(), "hand-made")
	if err != nil || info.ContentType != "application/octet-stream" || info.Size != 3 {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
}

func TestKeyUnderObjectRefused(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.Put(ctx, "a", strings.NewReader("x"), 1, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "a/b", strings.NewReader("y"), 1, ""); !errors.Is(err, objectstore.ErrInvalidKey) {
		t.Fatalf("Put under an object = %v, want ErrInvalidKey", err)
	}
	if err := s.Put(ctx, "d/e", strings.NewReader("y"), 1, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "d", strings.NewReader("x"), 1, ""); !errors.Is(err, objectstore.ErrInvalidKey) {
		t.Fatalf("Put over a directory = %v, want ErrInvalidKey", err)
	}
	if _, err := s.Stat(ctx, "d"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Stat of a directory = %v, want ErrNotFound", err)
	}
}
