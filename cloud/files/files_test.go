package files_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/metadata/sqlitestore"
	"github.com/imageflowcanvas/ifc/cloud/objectstore"
	"github.com/imageflowcanvas/ifc/cloud/objectstore/fsstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var ctx = context.Background()

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// countingObjects counts Puts and can be told to fail them.
type countingObjects struct {
	objectstore.Store
	puts    atomic.Int64
	failPut error
}

func (c *countingObjects) Put(ctx context.Context, key string, r io.Reader, size int64, ct string) error {
	if c.failPut != nil {
		return c.failPut
	}
	c.puts.Add(1)
	return c.Store.Put(ctx, key, r, size, ct)
}

// failingMeta fails PutFile.
type failingMeta struct {
	metadata.Store
	fail error
}

func (f *failingMeta) PutFile(ctx context.Context, file metadata.File) error {
	if f.fail != nil {
		return f.fail
	}
	return f.Store.PutFile(ctx, file)
}

type env struct {
	svc     *files.Service
	objects *countingObjects
	meta    *failingMeta
}

func newEnv(t *testing.T, opts files.Options) *env {
	t.Helper()
	dir := t.TempDir()
	fs, err := fsstore.New(filepath.Join(dir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlitestore.New(ctx, filepath.Join(dir, "ifc.db"), sqlitestore.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{objects: &countingObjects{Store: fs}, meta: &failingMeta{Store: db}}
	e.svc, err = files.New(e.objects, e.meta, quiet(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func testImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), uint8(x ^ y), 255})
		}
	}
	return img
}

func jpegBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(w, h), &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngBomb is a PNG whose valid header declares w×h pixels, followed by a
// tiny IDAT and IEND: a few dozen bytes that would need gigabytes.
func pngBomb(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&buf, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		buf.WriteString(typ)
		buf.Write(data)
		binary.Write(&buf, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return buf.Bytes()
}

// jpegBomb patches the SOF0 frame header of a valid JPEG to declare w×h.
func jpegBomb(t testing.TB, w, h uint16) []byte {
	t.Helper()
	b := jpegBytes(t, 16, 16)
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	// FF C0, length(2), precision(1), height(2), width(2)
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

// corruptJPEG keeps a valid header (so DecodeConfig succeeds) but breaks
// the Huffman table that follows the frame header.
func corruptJPEG(t testing.TB) []byte {
	t.Helper()
	b := jpegBytes(t, 64, 48)
	i := bytes.Index(b, []byte{0xFF, 0xC4})
	if i < 0 {
		t.Fatal("no DHT marker")
	}
	b[i+4] = 0xFF // table class/destination byte: invalid
	return b
}

func TestIngestAccepts(t *testing.T) {
	e := newEnv(t, files.Options{})
	for _, tc := range []struct {
		name     string
		data     []byte
		filename string
		ct       string
	}{
		{"jpeg", jpegBytes(t, 64, 48), "part.jpg", files.ContentTypeJPEG},
		{"png", pngBytes(t, 33, 17), "part.png", files.ContentTypePNG},
		// The extension is never trusted: a PNG called .jpg is a PNG.
		{"png named jpg", pngBytes(t, 5, 7), "looks-like.jpg", files.ContentTypePNG},
		{"jpeg without name", jpegBytes(t, 8, 8), "", files.ContentTypeJPEG},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := e.svc.Ingest(ctx, bytes.NewReader(tc.data), files.IngestOptions{Filename: tc.filename, CreatedBy: "alice"})
			if err != nil {
				t.Fatalf("Ingest: %v", err)
			}
			if u, err := uuid.Parse(f.FileID); err != nil || u.Version() != 7 {
				t.Errorf("file id %q is not a UUIDv7", f.FileID)
			}
			cfg, _, _ := image.DecodeConfig(bytes.NewReader(tc.data))
			if f.ContentType != tc.ct || f.Width != cfg.Width || f.Height != cfg.Height || f.Size != int64(len(tc.data)) || f.CreatedBy != "alice" {
				t.Errorf("file = %+v", f)
			}
			if f.Key != "files/"+f.SHA256[:2]+"/"+f.SHA256 || len(f.SHA256) != 64 {
				t.Errorf("key %q for sha256 %q", f.Key, f.SHA256)
			}
			if tc.filename != "" && f.Metadata[files.MetaFilename] != tc.filename {
				t.Errorf("filename metadata = %q", f.Metadata[files.MetaFilename])
			}
			rc, rec, err := e.svc.Open(ctx, f.FileID)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer rc.Close()
			got, _ := io.ReadAll(rc)
			if !bytes.Equal(got, tc.data) || rec.SHA256 != f.SHA256 {
				t.Fatalf("Open returned %d bytes, record %+v", len(got), rec)
			}
			info, err := e.objects.Stat(ctx, f.Key)
			if err != nil || info.ContentType != tc.ct {
				t.Fatalf("object info %+v, %v", info, err)
			}
		})
	}
}

func TestIngestRefuses(t *testing.T) {
	e := newEnv(t, files.Options{})
	good := jpegBytes(t, 64, 48)
	goodPNG := pngBytes(t, 40, 30)
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, testImage(4, 4), nil); err != nil {
		t.Fatal(err)
	}
	badCRC := append([]byte(nil), goodPNG...)
	badCRC[bytes.Index(badCRC, []byte("IDAT"))+6] ^= 0xFF
	for _, tc := range []struct {
		name string
		data []byte
		max  int64
		want error
	}{
		{"corrupt jpeg", corruptJPEG(t), 0, files.ErrCorrupt},
		{"truncated jpeg", good[:len(good)*6/10], 0, files.ErrCorrupt},
		{"jpeg header only", good[:bytes.Index(good, []byte{0xFF, 0xDA})], 0, files.ErrCorrupt},
		{"truncated png", goodPNG[:len(goodPNG)/2], 0, files.ErrCorrupt},
		{"png bad checksum", badCRC, 0, files.ErrCorrupt},
		{"png bomb 20000x20000", pngBomb(20000, 20000), 0, files.ErrTooManyPixels},
		{"jpeg bomb 20000x20000", jpegBomb(t, 20000, 20000), 0, files.ErrTooManyPixels},
		{"png bomb 1x4e9", pngBomb(1, 1<<31-1), 0, files.ErrTooManyPixels},
		{"zero width png", pngBomb(0, 10), 0, files.ErrCorrupt},
		{"text", []byte("hello, this is not an image"), 0, files.ErrUnsupportedType},
		{"html", []byte("<html><body>hi</body></html>"), 0, files.ErrUnsupportedType},
		{"gif", gifBuf.Bytes(), 0, files.ErrUnsupportedType},
		{"empty", nil, 0, files.ErrUnsupportedType},
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF}, 0, files.ErrCorrupt},
		{"too large", good, int64(len(good)) - 1, files.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.objects.puts.Load()
			_, err := e.svc.Ingest(ctx, bytes.NewReader(tc.data), files.IngestOptions{Filename: "x.jpg", MaxBytes: tc.max})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Ingest = %v, want %v", err, tc.want)
			}
			if e.objects.puts.Load() != before {
				t.Fatal("a refused input was stored")
			}
		})
	}
	// Exactly MaxBytes is fine.
	if _, err := e.svc.Ingest(ctx, bytes.NewReader(good), files.IngestOptions{MaxBytes: int64(len(good))}); err != nil {
		t.Fatalf("input of exactly MaxBytes: %v", err)
	}
}

// TestBombRefusedBeforeDecode checks the pixel budget is applied from the
// header, before any pixel memory is allocated.
func TestBombRefusedBeforeDecode(t *testing.T) {
	e := newEnv(t, files.Options{})
	bomb := pngBomb(20000, 20000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := e.svc.Ingest(ctx, bytes.NewReader(bomb), files.IngestOptions{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, files.ErrTooManyPixels) {
		t.Fatalf("Ingest = %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("refusing a bomb allocated %d MB", grew>>20)
	}
}

func TestPixelBudgetConfigurable(t *testing.T) {
	e := newEnv(t, files.Options{MaxPixels: 100})
	if _, err := e.svc.Ingest(ctx, bytes.NewReader(pngBytes(t, 10, 10)), files.IngestOptions{}); err != nil {
		t.Fatalf("10x10 with a budget of 100: %v", err)
	}
	if _, err := e.svc.Ingest(ctx, bytes.NewReader(pngBytes(t, 11, 10)), files.IngestOptions{}); !errors.Is(err, files.ErrTooManyPixels) {
		t.Fatalf("11x10 with a budget of 100: %v", err)
	}
	if _, err := files.New(e.objects, e.meta, nil, files.Options{MaxPixels: 100, DecodeBudget: 50}); err == nil {
		t.Fatal("decode budget below the pixel budget accepted")
	}
}

func TestDefaultMaxBytes(t *testing.T) {
	e := newEnv(t, files.Options{DefaultMaxBytes: 1000})
	if _, err := e.svc.Ingest(ctx, bytes.NewReader(jpegBytes(t, 64, 64)), files.IngestOptions{}); !errors.Is(err, files.ErrTooLarge) {
		t.Fatalf("Ingest over the default limit = %v", err)
	}
	// A huge stream is not read past the limit.
	r := &countingReader{}
	if _, err := e.svc.Ingest(ctx, r, files.IngestOptions{}); !errors.Is(err, files.ErrTooLarge) {
		t.Fatalf("endless stream = %v", err)
	}
	if r.n > 1001+32<<10 {
		t.Fatalf("read %d bytes of an endless stream with a limit of 1000", r.n)
	}
}

type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func TestSameBytesStoredOnce(t *testing.T) {
	e := newEnv(t, files.Options{})
	data := jpegBytes(t, 32, 32)
	a, err := e.svc.Ingest(ctx, bytes.NewReader(data), files.IngestOptions{CreatedBy: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.svc.Ingest(ctx, bytes.NewReader(data), files.IngestOptions{CreatedBy: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if a.FileID == b.FileID || a.Key != b.Key {
		t.Fatalf("two ingests: ids %s %s, keys %s %s", a.FileID, b.FileID, a.Key, b.Key)
	}
	if n := e.objects.puts.Load(); n != 1 {
		t.Fatalf("object written %d times, want 1", n)
	}
	d, err := e.svc.PutDerived(ctx, data, files.ContentTypeJPEG, 32, 32, "conductor")
	if err != nil || d.Key != a.Key || e.objects.puts.Load() != 1 {
		t.Fatalf("derived copy of the same bytes: %+v, %v, %d puts", d, err, e.objects.puts.Load())
	}
}

func TestObjectFailureWritesNoRecord(t *testing.T) {
	e := newEnv(t, files.Options{})
	e.objects.failPut = errors.New("disk full")
	_, err := e.svc.Ingest(ctx, bytes.NewReader(jpegBytes(t, 8, 8)), files.IngestOptions{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Ingest with a failing object store = %v", err)
	}
	// No record exists: nothing to find by any id; listing is not part of
	// the contract, so check through the database.
	var n int
	if err := e.meta.Store.(*sqlitestore.Store).DB().QueryRow(`SELECT COUNT(*) FROM files`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d file records after a failed object write (%v)", n, err)
	}
}

func TestRecordFailureIsReported(t *testing.T) {
	e := newEnv(t, files.Options{})
	e.meta.fail = errors.New("database locked")
	_, err := e.svc.Ingest(ctx, bytes.NewReader(pngBytes(t, 8, 8)), files.IngestOptions{})
	if err == nil || !strings.Contains(err.Error(), "database locked") {
		t.Fatalf("Ingest with a failing metadata store = %v", err)
	}
	_, err = e.svc.PutDerived(ctx, []byte("x"), "image/png", 1, 1, "c")
	if err == nil {
		t.Fatal("PutDerived with a failing metadata store succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	e := newEnv(t, files.Options{})
	if _, _, err := e.svc.Open(ctx, uuid.Must(uuid.NewV7()).String()); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("Open unknown = %v, want metadata.ErrNotFound", err)
	}
	if _, _, err := e.svc.Open(ctx, ""); !errors.Is(err, files.ErrInvalidArgument) {
		t.Fatalf("Open empty id = %v", err)
	}
	f, err := e.svc.Ingest(ctx, bytes.NewReader(pngBytes(t, 4, 4)), files.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.objects.Delete(ctx, f.Key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Open(ctx, f.FileID); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Open with the object gone = %v, want objectstore.ErrNotFound", err)
	}
}

func TestPutDerived(t *testing.T) {
	e := newEnv(t, files.Options{})
	data := jpegBytes(t, 20, 10)
	f, err := e.svc.PutDerived(ctx, data, files.ContentTypeJPEG, 20, 10, "conductor")
	if err != nil {
		t.Fatal(err)
	}
	if f.Width != 20 || f.Height != 10 || f.ContentType != files.ContentTypeJPEG || f.CreatedBy != "conductor" || f.Metadata[files.MetaSource] != "derived" {
		t.Fatalf("derived file = %+v", f)
	}
	rc, rec, err := e.svc.Open(ctx, f.FileID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) || rec.FileID != f.FileID {
		t.Fatal("derived file did not round-trip")
	}
	for _, tc := range []struct {
		data []byte
		ct   string
		w, h int
	}{
		{nil, "image/png", 1, 1},
		{[]byte("x"), "", 1, 1},
		{[]byte("x"), "image/png", -1, 1},
		{[]byte("x"), strings.Repeat("a", 300), 1, 1},
	} {
		if _, err := e.svc.PutDerived(ctx, tc.data, tc.ct, tc.w, tc.h, "c"); !errors.Is(err, files.ErrInvalidArgument) {
			t.Errorf("PutDerived(%d bytes, %.20q, %d, %d) = %v", len(tc.data), tc.ct, tc.w, tc.h, err)
		}
	}
}

func TestConcurrentIngest(t *testing.T) {
	e := newEnv(t, files.Options{MaxPixels: 64 * 64})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			data := pngBytes(t, 64, 1+i%4) // four distinct images, each ingested four times
			if _, err := e.svc.Ingest(ctx, bytes.NewReader(data), files.IngestOptions{}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestIngestHonoursContext(t *testing.T) {
	// A cancelled context stops the ingest before anything is stored.
	e := newEnv(t, files.Options{})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.svc.Ingest(cctx, bytes.NewReader(pngBytes(t, 4, 4)), files.IngestOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ingest with a cancelled context = %v", err)
	}
}

func TestFilenameCleaning(t *testing.T) {
	e := newEnv(t, files.Options{})
	data := pngBytes(t, 2, 2)
	for _, tc := range []struct{ in, want string }{
		{"plain.png", "plain.png"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\me\shot.png`, "shot.png"},
		{"evil\nname.png", "name.png"},
		{"bad\xffutf8.png", "badutf8.png"},
		{strings.Repeat("é", 200), strings.Repeat("é", 127)},
		{"..", ""},
		{"/", ""},
	} {
		f, err := e.svc.Ingest(ctx, bytes.NewReader(data), files.IngestOptions{Filename: tc.in})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Metadata[files.MetaFilename]; got != tc.want {
			t.Errorf("filename %q recorded as %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestObjectKey(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	if got := files.ObjectKey(sum); got != "files/ab/"+sum {
		t.Fatalf("ObjectKey = %q", got)
	}
	if err := objectstore.ValidateKey(files.ObjectKey(sum)); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkIngestJPEG1080p(b *testing.B) {
	dir := b.TempDir()
	fs, _ := fsstore.New(filepath.Join(dir, "o"))
	db, err := sqlitestore.New(ctx, filepath.Join(dir, "m.db"), sqlitestore.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc, _ := files.New(fs, db, quiet(), files.Options{})
	data := jpegBytes(b, 1920, 1080)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.Ingest(ctx, bytes.NewReader(data), files.IngestOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHeaderOnly(t *testing.T) {
	e := newEnv(t, files.Options{})
	good := jpegBytes(t, 64, 48)
	goodPNG := pngBytes(t, 40, 30)
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"jpeg", good, nil},
		{"jpeg with zero padding", append(append([]byte(nil), good...), 0, 0, 0), nil},
		{"png", goodPNG, nil},
		{"truncated jpeg", good[:len(good)*6/10], files.ErrCorrupt},
		{"truncated png", goodPNG[:len(goodPNG)-1], files.ErrCorrupt},
		{"bomb", pngBomb(20000, 20000), files.ErrTooManyPixels},
		{"text", []byte("plain text"), files.ErrUnsupportedType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := e.svc.Ingest(ctx, bytes.NewReader(tc.data), files.IngestOptions{HeaderOnly: true})
			if !errors.Is(err, tc.want) && (err != nil || tc.want != nil) {
				t.Fatalf("Ingest = %v, want %v", err, tc.want)
			}
			if err == nil && (f.Width == 0 || f.Height == 0) {
				t.Fatalf("file = %+v", f)
			}
		})
	}
}

func BenchmarkIngestJPEG1080pHeaderOnly(b *testing.B) {
	dir := b.TempDir()
	fs, _ := fsstore.New(filepath.Join(dir, "o"))
	db, err := sqlitestore.New(ctx, filepath.Join(dir, "m.db"), sqlitestore.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc, _ := files.New(fs, db, quiet(), files.Options{})
	data := jpegBytes(b, 1920, 1080)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := svc.Ingest(ctx, bytes.NewReader(data), files.IngestOptions{HeaderOnly: true}); err != nil {
			b.Fatal(err)
		}
	}
}
