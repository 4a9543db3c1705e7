package files_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/objectstore"
)

// memObjects and memMeta are minimal in-memory stores so the fuzzer
// exercises the sniff/decode path without disk I/O per input.
type memObjects struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func (m *memObjects) Put(_ context.Context, key string, r io.Reader, _ int64, _ string) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = b
	return nil
}

func (m *memObjects) Get(_ context.Context, key string) (io.ReadCloser, objectstore.Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return nil, objectstore.Info{}, objectstore.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), objectstore.Info{Key: key, Size: int64(len(b))}, nil
}

func (m *memObjects) Stat(_ context.Context, key string) (objectstore.Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return objectstore.Info{}, objectstore.ErrNotFound
	}
	return objectstore.Info{Key: key, Size: int64(len(b))}, nil
}

func (m *memObjects) Delete(context.Context, string) error { return nil }
func (m *memObjects) Close() error                         { return nil }

type memMeta struct {
	metadata.Store // unused methods panic
	mu             sync.Mutex
	files          map[string]metadata.File
}

func (m *memMeta) PutFile(_ context.Context, f metadata.File) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[f.FileID] = f
	return nil
}

// FuzzIngest feeds arbitrary bytes to Ingest. Whatever the input, Ingest
// must not panic, must fail only with one of its sentinel errors, and
// whatever it accepts must be a JPEG or PNG within the pixel budget that
// decodes completely, stored under its sha256.
func FuzzIngest(f *testing.F) {
	f.Add(jpegBytes(f, 8, 8))
	f.Add(pngBytes(f, 3, 5))
	f.Add(pngBomb(20000, 20000))
	f.Add(jpegBomb(f, 20000, 20000))
	f.Add(corruptJPEG(f))
	f.Add([]byte("\xff\xd8\xff"))
	f.Add([]byte("GIF89a"))
	const maxPixels = 1 << 20
	objs := &memObjects{objs: map[string][]byte{}}
	meta := &memMeta{files: map[string]metadata.File{}}
	svc, err := files.New(objs, meta, quiet(), files.Options{MaxPixels: maxPixels, DefaultMaxBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sentinel := func(err error) bool {
			for _, want := range []error{files.ErrTooLarge, files.ErrUnsupportedType, files.ErrTooManyPixels, files.ErrCorrupt} {
				if errors.Is(err, want) {
					return true
				}
			}
			return false
		}
		hf, err := svc.Ingest(ctx, bytes.NewReader(data), files.IngestOptions{HeaderOnly: true})
		if err != nil && !sentinel(err) {
			t.Fatalf("header-only: unexpected error class: %v", err)
		}
		if err == nil && int64(hf.Width)*int64(hf.Height) > maxPixels {
			t.Fatalf("header-only accepted %dx%d", hf.Width, hf.Height)
		}
		file, err := svc.Ingest(ctx, bytes.NewReader(data), files.IngestOptions{Filename: "fuzz.jpg"})
		if err != nil {
			if !sentinel(err) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if file.ContentType != files.ContentTypeJPEG && file.ContentType != files.ContentTypePNG {
			t.Fatalf("accepted content type %q", file.ContentType)
		}
		if int64(file.Width)*int64(file.Height) > maxPixels || file.Width <= 0 || file.Height <= 0 {
			t.Fatalf("accepted %dx%d", file.Width, file.Height)
		}
		img, format, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("accepted bytes that do not decode: %v", err)
		}
		if "image/"+format != file.ContentType || img.Bounds().Dx() != file.Width || img.Bounds().Dy() != file.Height {
			t.Fatalf("record %s %dx%d, decoder %s %v", file.ContentType, file.Width, file.Height, format, img.Bounds())
		}
		rc, _, err := objs.Get(ctx, file.Key)
		if err != nil {
			t.Fatalf("accepted file has no object: %v", err)
		}
		stored, _ := io.ReadAll(rc)
		if !bytes.Equal(stored, data) {
			t.Fatal("stored bytes differ from the input")
		}
	})
}

var writeCorpus = flag.Bool("write-corpus", false, "rewrite testdata/fuzz/FuzzIngest from the generators in this file")

// corpus is the committed seed corpus: one input per refusal class plus
// the smallest valid images.
func corpus(t testing.TB) map[string][]byte {
	goodJPEG := jpegBytes(t, 16, 16)
	goodPNG := pngBytes(t, 4, 3)
	badCRC := append([]byte(nil), goodPNG...)
	badCRC[bytes.Index(badCRC, []byte("IDAT"))+6] ^= 0xFF
	return map[string][]byte{
		"valid-jpeg-16x16":      goodJPEG,
		"valid-png-4x3":         goodPNG,
		"bomb-png-20000x20000":  pngBomb(20000, 20000),
		"bomb-jpeg-20000x20000": jpegBomb(t, 20000, 20000),
		"corrupt-jpeg-dht":      corruptJPEG(t),
		"truncated-jpeg":        goodJPEG[:len(goodJPEG)*6/10],
		"truncated-png":         goodPNG[:len(goodPNG)/2],
		"png-bad-crc":           badCRC,
		"jpeg-magic-only":       []byte("\xff\xd8\xff"),
		"gif-header":            []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
		"text":                  []byte("not an image"),
	}
}

// TestFuzzCorpus checks the committed corpus exists and rewrites it with
// -write-corpus. go test runs every entry through FuzzIngest.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzIngest")
	for name, data := range corpus(t) {
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
		path := filepath.Join(dir, name)
		if *writeCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("corpus entry %s missing (run go test -run TestFuzzCorpus -write-corpus): %v", name, err)
		}
		// Only presence is checked: the encoders behind the valid
		// entries may change between Go releases.
		if len(got) == 0 {
			t.Errorf("corpus entry %s is empty", name)
		}
	}
}
