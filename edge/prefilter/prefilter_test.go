package prefilter_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/imageflowcanvas/ifc/edge/prefilter"
	"github.com/imageflowcanvas/ifc/models/bundle"
	embedded "github.com/imageflowcanvas/ifc/models/prefilter"
	"github.com/imageflowcanvas/ifc/models/synth"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// CopyBundle writes the embedded bundle to a fresh directory.
func copyBundle(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, embedded.FS); err != nil {
		t.Fatal(err)
	}
	return dir
}

func edit(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func part(t testing.TB, i int) *synth.Sample {
	opt := synth.DefaultOptions()
	s, err := synth.Generate(99, i, opt)
	if err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestOpenEmbeddedAndClassify(t *testing.T) {
	f, err := prefilter.Open("", prefilter.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := f.Model()
	if m.Name != "prefilter" || m.Version == "" || m.Source != "embedded" || m.Threshold <= 0 {
		t.Fatalf("model %+v", m)
	}
	res, err := f.ClassifyImage(part(t, 0).Image, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.ModelName != "prefilter" || res.ModelVersion != m.Version || res.Threshold != m.Threshold ||
		res.Score < 0 || res.Score > 1 || (res.Score >= res.Threshold) != res.Suspect {
		t.Fatalf("result %+v", res)
	}
	// A master's own threshold decides the label.
	hi, err := f.ClassifyImage(part(t, 0).Image, 0.999)
	if err != nil {
		t.Fatal(err)
	}
	if hi.Threshold != 0.999 || hi.Suspect != (hi.Score >= 0.999) || (!hi.Suspect && hi.Label != "ok") {
		t.Fatalf("threshold override %+v", hi)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ClassifyImage(part(t, 0).Image, 0); !errors.Is(err, prefilter.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// TestReloadRefusesBadBundle: every kind of bad bundle is refused and the
// previous model keeps serving with the same results.
func TestReloadRefusesBadBundle(t *testing.T) {
	f, err := prefilter.Open("", prefilter.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img := part(t, 1).Image
	before, err := f.ClassifyImage(img, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir string)
		want   error // nil: any error
		detail string
	}{
		{"model bytes tampered", func(t *testing.T, dir string) {
			edit(t, filepath.Join(dir, "model.onnx"), func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b })
		}, bundle.ErrChecksum, "sha256"},
		{"model weights tampered with a matching sha256", func(t *testing.T, dir string) {
			var sum [32]byte
			edit(t, filepath.Join(dir, "model.onnx"), func(b []byte) []byte {
				for i := len(b) * 6 / 10; i < len(b)*6/10+64; i++ {
					b[i] ^= 0x5a
				}
				sum = sha256.Sum256(b)
				return b
			})
			edit(t, filepath.Join(dir, "manifest.json"), func(b []byte) []byte {
				m, err := bundle.ParseManifest(b)
				if err != nil {
					t.Fatal(err)
				}
				return []byte(strings.Replace(string(b), m.SHA256, hex.EncodeToString(sum[:]), 1))
			})
		}, bundle.ErrGolden, "golden"},
		{"golden expectation tampered", func(t *testing.T, dir string) {
			edit(t, filepath.Join(dir, "manifest.json"), func(b []byte) []byte {
				// Move the first golden image's expected score far from the truth.
				re := regexp.MustCompile(`"expected_score": *([0-9.]+)`)
				loc := re.FindSubmatchIndex(b)
				if loc == nil {
					t.Fatal("no expected_score in manifest")
				}
				v, _ := strconv.ParseFloat(string(b[loc[2]:loc[3]]), 64)
				w := v + 0.5 // half the score range away from the truth
				if w > 1 {
					w--
				}
				return slices.Concat(b[:loc[2]], []byte(strconv.FormatFloat(w, 'f', 6, 64)), b[loc[3]:])
			})
		}, bundle.ErrGolden, "expected"},
		{"manifest corrupt", func(t *testing.T, dir string) {
			edit(t, filepath.Join(dir, "manifest.json"), func(b []byte) []byte { return b[:len(b)/2] })
		}, nil, "manifest"},
		{"model missing", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "model.onnx")); err != nil {
				t.Fatal(err)
			}
		}, nil, "model.onnx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyBundle(t)
			tc.tamper(t, dir)
			cur, err := f.Reload(dir)
			if err == nil {
				t.Fatal("bad bundle accepted")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("error %q does not mention %q", err, tc.detail)
			}
			t.Logf("refused: %v", err)
			if cur.Source != "embedded" || f.Model().Source != "embedded" {
				t.Fatalf("model changed to %+v", f.Model())
			}
			after, err := f.ClassifyImage(img, 0)
			if err != nil || after.Score != before.Score {
				t.Fatalf("previous model no longer serving: %+v, %v", after, err)
			}
			// Open refuses it too.
			if _, err := prefilter.Open(dir, prefilter.Options{Logger: quiet()}); err == nil {
				t.Fatal("Open accepted a bad bundle")
			}
		})
	}
	// A good directory bundle swaps in.
	dir := copyBundle(t)
	m, err := f.Reload(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != dir || f.Model().Source != dir {
		t.Fatalf("good reload: %+v", m)
	}
	if after, err := f.ClassifyImage(img, 0); err != nil || after.Score != before.Score {
		t.Fatalf("after good reload: %+v %v", after, err)
	}
}

// TestReloadWhileClassifying swaps models under concurrent inference (run with -race).
func TestReloadWhileClassifying(t *testing.T) {
	f, err := prefilter.Open("", prefilter.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := copyBundle(t)
	img := part(t, 2).Image
	want, err := f.ClassifyImage(img, 0)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := f.ClassifyImage(img, 0)
				if err != nil || got.Score != want.Score {
					errs <- errors.Join(err, errors.New("score changed across reload"))
					return
				}
			}
		}()
	}
	for i := range 3 {
		d := dir
		if i%2 == 1 {
			d = ""
		}
		if _, err := f.Reload(d); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
