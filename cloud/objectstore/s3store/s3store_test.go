package s3store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"go.uber.org/goleak"

	"github.com/imageflowcanvas/ifc/cloud/objectstore"
	"github.com/imageflowcanvas/ifc/cloud/objectstore/s3store"
	"github.com/imageflowcanvas/ifc/cloud/objectstore/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// requireBackend skips (or, with IFC_REQUIRE_BACKENDS=1 as in CI, fails)
// a test whose real server is not available.
func requireBackend(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("IFC_REQUIRE_BACKENDS") == "1" {
		t.Fatalf("%s (IFC_REQUIRE_BACKENDS=1)", why)
	}
	t.Skip(why)
}

// serverURL returns the URL of the shared test server from
// IFC_TEST_MINIO_URL.
func serverURL(t *testing.T) *url.URL {
	t.Helper()
	raw := os.Getenv("IFC_TEST_MINIO_URL")
	if raw == "" {
		requireBackend(t, "IFC_TEST_MINIO_URL is unset; run `eval \"$(deploy/dev/minio start)\"`")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("IFC_TEST_MINIO_URL: %v", err)
	}
	return u
}

// minioBinary returns the server binary deploy/dev/minio caches.
func minioBinary(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("IFC_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache", "ifc")
	}
	bin := filepath.Join(cache, "bin", "minio")
	if _, err := os.Stat(bin); err != nil {
		requireBackend(t, fmt.Sprintf("no MinIO binary at %s; run `deploy/dev/minio install`", bin))
	}
	return bin
}

var (
	runID     = fmt.Sprintf("%08x", rand.Uint32())
	bucketSeq atomic.Int64
)

// withBucket returns base with a bucket name no other test (or run) uses.
func withBucket(base *url.URL) *url.URL {
	u := *base
	u.Path = fmt.Sprintf("/ifc-test-%s-%d", runID, bucketSeq.Add(1))
	return &u
}

// adminClient is a plain minio-go client on the same server, for looking
// behind the store's back and removing test buckets.
func adminClient(t *testing.T, u *url.URL) *minio.Client {
	t.Helper()
	cfg, err := s3store.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := minio.DefaultTransport(cfg.Secure)
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.Secure,
		Region:    cfg.Region,
		Transport: tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

// openFresh opens a store on a new bucket of the server at base and
// removes the bucket, with its contents, when the test ends.
func openFresh(t *testing.T, base *url.URL) (*s3store.Store, *minio.Client, *url.URL) {
	t.Helper()
	u := withBucket(base)
	admin := adminClient(t, u)
	st, err := objectstore.Open(u.String())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s := st.(*s3store.Store)
	t.Cleanup(func() {
		s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin.RemoveBucketWithOptions(ctx, s.Bucket(), minio.RemoveBucketOptions{ForceDelete: true}); err != nil {
			t.Errorf("remove bucket %s: %v", s.Bucket(), err)
		}
	})
	return s, admin, u
}

func TestContract(t *testing.T) {
	base := serverURL(t)
	storetest.Run(t, func(t *testing.T) objectstore.Store {
		s, _, _ := openFresh(t, base)
		return s
	})
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want *s3store.Config // nil: refused
	}{
		{"s3://k:s@127.0.0.1:59000/ifc-test?secure=false", &s3store.Config{Endpoint: "127.0.0.1:59000", Bucket: "ifc-test", AccessKey: "k", SecretKey: "s", Region: "us-east-1"}},
		{"s3://k:s@minio.example:443/images", &s3store.Config{Endpoint: "minio.example:443", Bucket: "images", AccessKey: "k", SecretKey: "s", Secure: true, Region: "us-east-1"}},
		{"s3://minio:9000/images?region=eu-west-1&secure=true", &s3store.Config{Endpoint: "minio:9000", Bucket: "images", Secure: true, Region: "eu-west-1"}},
		{"s3://k:s@host/", nil},                          // no bucket
		{"s3://k:s@host/a/b", nil},                       // a prefix is not supported
		{"s3://k:s@host/Bad_Bucket", nil},                // not a valid bucket name
		{"s3://k:s@host/b?secure=maybe", nil},            // not a bool
		{"s3://k:s@host/bucket?tls=false", nil},          // unknown parameter
		{"s3://k:s@host/bucket?region=", nil},            // empty region
		{"s3://k:s@host/bucket?secure=1&secure=0", nil},  // repeated
		{"s3://k@host/bucket", nil},                      // key without secret
		{"s3:///bucket", nil},                            // no host
		{"s3://k:s@host/bucket#frag", nil},               // fragment
		{"s3:opaque", nil},                               // no host
		{"s3://k:s@host/bucket?secure=false&%zz=1", nil}, // bad query
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			if tc.want != nil {
				t.Errorf("url.Parse(%q): %v", tc.url, err)
			}
			continue
		}
		got, err := s3store.ParseURL(u)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("ParseURL(%q) = %+v, want an error", tc.url, got)
		case tc.want != nil && err != nil:
			t.Errorf("ParseURL(%q): %v", tc.url, err)
		case tc.want != nil && got != *tc.want:
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.url, got, *tc.want)
		}
	}
}

// TestOpenErrors checks that a wrong password or a dead server fails Open
// promptly with an error that names the problem and not the secret.
func TestOpenErrors(t *testing.T) {
	base := serverURL(t)
	bad := withBucket(base)
	bad.User = url.UserPassword(base.User.Username(), "wrong-secret-4711")
	_, err := objectstore.Open(bad.String())
	if err == nil {
		t.Fatal("Open with a wrong secret succeeded")
	}
	if strings.Contains(err.Error(), "wrong-secret-4711") {
		t.Fatalf("error reveals the secret: %v", err)
	}
	if !strings.Contains(err.Error(), "signature") && !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Errorf("error does not say the signature was refused: %v", err)
	}

	dead := withBucket(base)
	dead.Host = "127.0.0.1:" + freePort(t)
	start := time.Now()
	if _, err := objectstore.Open(dead.String()); err == nil {
		t.Fatal("Open against a closed port succeeded")
	} else if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error does not say the connection was refused: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open against a closed port took %v", d)
	}
}

// TestOpenCreatesBucketOnceUnderRace opens one new bucket from several
// goroutines at once, as replicas starting together do.
func TestOpenCreatesBucketOnceUnderRace(t *testing.T) {
	base := serverURL(t)
	u := withBucket(base)
	admin := adminClient(t, u)
	bucket := strings.TrimPrefix(u.Path, "/")
	t.Cleanup(func() {
		_ = admin.RemoveBucketWithOptions(context.Background(), bucket, minio.RemoveBucketOptions{ForceDelete: true})
	})
	const n = 6
	stores := make([]objectstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = objectstore.Open(u.String()) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	ok, err := admin.BucketExists(context.Background(), bucket)
	if err != nil || !ok {
		t.Fatalf("bucket %s after Open: exists=%v err=%v", bucket, ok, err)
	}
	// Every store sees what another wrote, and reopening keeps the data.
	ctx := context.Background()
	if err := stores[0].Put(ctx, "shared", strings.NewReader("x"), 1, "text/plain"); err != nil {
		t.Fatal(err)
	}
	again, err := objectstore.Open(u.String())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer again.Close()
	for i, s := range append(stores, again) {
		if _, err := s.Stat(ctx, "shared"); err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
}

// seeded returns n deterministic pseudo-random bytes.
func seeded(n int, seed uint64) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

type errAfter struct{}

func (errAfter) Read([]byte) (int, error) { return 0, errors.New("camera unplugged") }

// onlyReader hides every method but Read, like a network stream.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestLargeObjectMultipart stores objects bigger than PartSize, with known
// and unknown size, and reads them back byte for byte.
func TestLargeObjectMultipart(t *testing.T) {
	s, admin, _ := openFresh(t, serverURL(t))
	ctx := context.Background()
	data := seeded(2*s3store.PartSize+7<<20+3, 1) // 3 parts, the last one short
	for _, tc := range []struct {
		key  string
		r    io.Reader
		size int64
	}{
		{"large/known-size", bytes.NewReader(data), int64(len(data))},
		{"large/stream-known-size", onlyReader{bytes.NewReader(data)}, int64(len(data))},
		{"large/stream-unknown-size", onlyReader{bytes.NewReader(data)}, -1},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if err := s.Put(ctx, tc.key, tc.r, tc.size, "application/x-test"); err != nil {
				t.Fatalf("Put: %v", err)
			}
			rc, info, err := s.Get(ctx, tc.key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			h := sha256.New()
			n, err := io.Copy(h, rc)
			rc.Close()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if n != int64(len(data)) || info.Size != n || !bytes.Equal(h.Sum(nil), sha(data)) {
				t.Fatalf("read back %d bytes (info %d), sha256 differs or size != %d", n, info.Size, len(data))
			}
			// A multipart object's ETag ends in -<parts>: proof it went
			// up in parts rather than one PUT.
			oi, err := admin.StatObject(ctx, s.Bucket(), tc.key, minio.StatObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(oi.ETag, "-3") {
				t.Errorf("ETag %q: want a 3-part multipart upload", oi.ETag)
			}
		})
	}
	// A multipart Put whose reader fails after the first part stores
	// nothing and aborts its upload.
	broken := io.MultiReader(bytes.NewReader(data[:s3store.PartSize+1<<20]), errAfter{})
	if err := s.Put(ctx, "large/broken", broken, int64(len(data)), ""); err == nil {
		t.Fatal("multipart Put from a failing reader succeeded")
	}
	if _, err := s.Stat(ctx, "large/broken"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Stat after failed multipart Put = %v, want ErrNotFound", err)
	}
	// Nothing is left half-uploaded.
	if ups := incompleteUploads(t, admin, s.Bucket(), "large/"); len(ups) > 0 {
		t.Errorf("incomplete uploads left: %v", ups)
	}
}

// TestPutFromPartlyReadReader checks a seekable reader that is not at its
// start is stored from where it stands, also past PartSize.
func TestPutFromPartlyReadReader(t *testing.T) {
	s, _, _ := openFresh(t, serverURL(t))
	ctx := context.Background()
	data := seeded(s3store.PartSize+1<<20, 4)
	r := bytes.NewReader(data)
	if _, err := r.Seek(7, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "tail", r, int64(len(data)-7), ""); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Get(ctx, "tail")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[7:]) {
		t.Fatalf("stored %d bytes (err %v), want the %d bytes after offset 7", len(got), err, len(data)-7)
	}
}

// TestSmallUnknownSizeIsOnePut checks a small stream of unknown length is
// stored with a single PUT (no multipart ETag).
func TestSmallUnknownSizeIsOnePut(t *testing.T) {
	s, admin, _ := openFresh(t, serverURL(t))
	ctx := context.Background()
	if err := s.Put(ctx, "small", onlyReader{strings.NewReader("tiny")}, -1, "text/plain"); err != nil {
		t.Fatal(err)
	}
	oi, err := admin.StatObject(ctx, s.Bucket(), "small", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if oi.Size != 4 || strings.Contains(oi.ETag, "-") {
		t.Fatalf("stat = size %d etag %q, want 4 bytes in one PUT", oi.Size, oi.ETag)
	}
}

// TestPutLeavesCallerReaderOpen checks the store does not close a reader
// it was given (minio-go closes request bodies that are io.Closers).
func TestPutLeavesCallerReaderOpen(t *testing.T) {
	s, _, _ := openFresh(t, serverURL(t))
	f, err := os.CreateTemp(t.TempDir(), "src")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("file body"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "from-file", f, 9, "text/plain"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatalf("caller's file was closed by Put: %v", err)
	}
}

// TestKeyUnderObjectCoexists records where S3 differs from the filesystem
// store: MinIO keeps "a" and "a/b" as two objects (fsstore refuses the
// second). Both must read back unchanged.
func TestKeyUnderObjectCoexists(t *testing.T) {
	s, _, _ := openFresh(t, serverURL(t))
	ctx := context.Background()
	if err := s.Put(ctx, "a", strings.NewReader("x"), 1, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "a/b", strings.NewReader("y"), 1, ""); err != nil && !errors.Is(err, objectstore.ErrInvalidKey) {
		t.Fatalf("Put under an object = %v, want success or ErrInvalidKey", err)
	} else if err == nil {
		if got := readAll(t, s, "a/b"); got != "y" {
			t.Fatalf("object a/b holds %q", got)
		}
	}
	if got := readAll(t, s, "a"); got != "x" {
		t.Fatalf("object a holds %q after a Put below it", got)
	}
}

func TestBadContentTypeRefused(t *testing.T) {
	s, _, _ := openFresh(t, serverURL(t))
	ctx := context.Background()
	for _, ct := range []string{"text/plain\r\nX-Evil: 1", strings.Repeat("a", 256)} {
		if err := s.Put(ctx, "ct", strings.NewReader("x"), 1, ct); err == nil {
			t.Errorf("Put with content type %.20q succeeded", ct)
		}
	}
	if _, err := s.Stat(ctx, "ct"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("Stat after refused Puts = %v, want ErrNotFound", err)
	}
}

func TestClosedStoreRefusesCalls(t *testing.T) {
	s, _, _ := openFresh(t, serverURL(t))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Put(context.Background(), "k", strings.NewReader("x"), 1, ""); err == nil {
		t.Fatal("Put after Close succeeded")
	}
}

func TestPresign(t *testing.T) {
	s, _, _ := openFresh(t, serverURL(t))
	ctx := context.Background()
	data := seeded(300<<10, 2)
	if err := s.Put(ctx, "img/a.jpg", bytes.NewReader(data), int64(len(data)), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "img/b.jpg", strings.NewReader("other"), 5, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	fetch := func(u string) (int, []byte, http.Header) {
		t.Helper()
		resp, err := client.Get(u)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return resp.StatusCode, b, resp.Header
	}

	link, err := s.Presign(ctx, "img/a.jpg", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	code, body, hdr := fetch(link)
	if code != http.StatusOK || !bytes.Equal(body, data) || hdr.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("presigned GET = %d, %d bytes, %q; want 200 with the object", code, len(body), hdr.Get("Content-Type"))
	}

	// Tampering with the signature, the key or the lifetime is refused.
	u, _ := url.Parse(link)
	q := u.Query()
	sig := q.Get("X-Amz-Signature")
	tampered := map[string]func(*url.URL){
		"signature": func(v *url.URL) { setQuery(v, "X-Amz-Signature", flipHex(sig)) },
		"key":       func(v *url.URL) { v.Path = strings.Replace(v.Path, "a.jpg", "b.jpg", 1) },
		"lifetime":  func(v *url.URL) { setQuery(v, "X-Amz-Expires", "604800") },
	}
	for name, mutate := range tampered {
		v := *u
		mutate(&v)
		if code, body, _ := fetch(v.String()); code != http.StatusForbidden {
			t.Errorf("tampered %s: status %d (%d bytes), want 403", name, code, len(body))
		}
	}

	// A 1 s link stops working within a couple of seconds. (S3 dates
	// have whole seconds, so it may already be refused on the first try.)
	short, err := s.Presign(ctx, "img/a.jpg", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(4 * time.Second)
	for {
		code, body, _ := fetch(short)
		if code == http.StatusForbidden {
			if !strings.Contains(strings.ToLower(string(body)), "expired") {
				t.Errorf("refused 1 s link does not say expired: %s", body)
			}
			break
		}
		if code != http.StatusOK {
			t.Fatalf("1 s link: status %d: %s", code, body)
		}
		if time.Now().After(deadline) {
			t.Fatal("1 s presigned link still works after 4 s")
		}
		time.Sleep(100 * time.Millisecond) // waiting for the clock, not for another goroutine
	}

	// Bad arguments.
	for _, ttl := range []time.Duration{0, 500 * time.Millisecond, -time.Second, s3store.MaxPresignTTL + time.Second} {
		if _, err := s.Presign(ctx, "img/a.jpg", ttl); err == nil {
			t.Errorf("Presign with ttl %v succeeded", ttl)
		}
	}
	if _, err := s.Presign(ctx, "../etc/passwd", time.Minute); !errors.Is(err, objectstore.ErrInvalidKey) {
		t.Errorf("Presign with a bad key = %v, want ErrInvalidKey", err)
	}
}

// TestServerRestart kills a private MinIO in the middle of a multipart
// upload: the upload fails with an error and leaves nothing visible, Puts
// fail cleanly while the server is down, and after the restart the same
// Put succeeds and older objects are intact.
func TestServerRestart(t *testing.T) {
	bin := minioBinary(t)
	srv := startMinio(t, bin)
	s, admin, _ := openFresh(t, srv.url)
	ctx := context.Background()

	if err := s.Put(ctx, "before", strings.NewReader("kept"), 4, "text/plain"); err != nil {
		t.Fatal(err)
	}

	// A multipart upload that pauses after 20 MiB until we say so.
	data := seeded(40<<20, 3)
	gate := &gatedReader{r: bytes.NewReader(data), at: 20 << 20, reached: make(chan struct{}), release: make(chan struct{})}
	putErr := make(chan error, 1)
	go func() { putErr <- s.Put(ctx, "inflight", gate, int64(len(data)), "application/octet-stream") }()
	select {
	case <-gate.reached:
	case err := <-putErr:
		t.Fatalf("Put ended before the gate: %v", err)
	}
	// The server knows of the upload before we kill it.
	waitFor(t, 20*time.Second, "the multipart upload to be listed", func() bool {
		return len(incompleteUploads(t, admin, s.Bucket(), "inflight")) > 0
	})
	srv.kill(t)
	close(gate.release)
	select {
	case err := <-putErr:
		if err == nil {
			t.Fatal("Put across a server kill succeeded")
		}
		t.Logf("in-flight Put failed as expected: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("in-flight Put still blocked 60 s after the server died")
	}

	// While the server is down a Put fails promptly with an error.
	start := time.Now()
	downCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := s.Put(downCtx, "during", strings.NewReader("down"), 4, "text/plain")
	cancel()
	if err == nil {
		t.Fatal("Put with the server down succeeded")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put with the server down hung until the deadline: %v", err)
	}
	t.Logf("Put with the server down failed after %v: %v", time.Since(start).Round(time.Millisecond), err)

	srv.start(t)

	for _, key := range []string{"inflight", "during"} {
		if _, err := s.Stat(ctx, key); !errors.Is(err, objectstore.ErrNotFound) {
			t.Fatalf("Stat(%s) after restart = %v, want ErrNotFound (no partial object)", key, err)
		}
	}
	if got := readAll(t, s, "before"); got != "kept" {
		t.Fatalf("object written before the restart holds %q", got)
	}
	// The same Puts now succeed.
	if err := s.Put(ctx, "inflight", bytes.NewReader(data), int64(len(data)), "application/octet-stream"); err != nil {
		t.Fatalf("retried multipart Put: %v", err)
	}
	if err := s.Put(ctx, "during", strings.NewReader("down"), 4, "text/plain"); err != nil {
		t.Fatalf("retried Put: %v", err)
	}
	rc, info, err := s.Get(ctx, "inflight")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || info.Size != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("retried object: %d bytes, info size %d, err %v; want the %d bytes put", len(got), info.Size, err, len(data))
	}
}

type gatedReader struct {
	r        io.Reader
	n, at    int
	reached  chan struct{}
	release  chan struct{}
	didReach bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.n >= g.at && !g.didReach {
		g.didReach = true
		close(g.reached)
		<-g.release
	}
	if g.n < g.at && g.n+len(p) > g.at {
		p = p[:g.at-g.n]
	}
	n, err := g.r.Read(p)
	g.n += n
	return n, err
}

// minioServer is a private MinIO process on its own port and directory.
type minioServer struct {
	bin, dir, addr string
	url            *url.URL
	cmd            *exec.Cmd
	done           chan struct{}
}

func startMinio(t *testing.T, bin string) *minioServer {
	t.Helper()
	m := &minioServer{bin: bin, dir: t.TempDir(), addr: "127.0.0.1:" + freePort(t)}
	m.url = &url.URL{Scheme: "s3", User: url.UserPassword("restartuser", "restart-secret"), Host: m.addr, Path: "/x", RawQuery: "secure=false"}
	m.start(t)
	t.Cleanup(func() { m.kill(t) })
	return m
}

func (m *minioServer) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(m.dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	m.cmd = exec.Command(m.bin, "server", filepath.Join(m.dir, "data"), "--address", m.addr, "--quiet")
	m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER=restartuser", "MINIO_ROOT_PASSWORD=restart-secret", "MINIO_BROWSER=off", "MINIO_UPDATE=off")
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	done := make(chan struct{})
	m.done = done
	cmd := m.cmd
	go func() { cmd.Wait(); close(done) }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	waitFor(t, 60*time.Second, "minio on "+m.addr+" to be ready", func() bool {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(m.dir, "server.log"))
			t.Fatalf("minio exited during start-up:\n%s", log)
		default:
		}
		resp, err := client.Get("http://" + m.addr + "/minio/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// kill ends the server the hard way, as a crash or an OOM kill would.
func (m *minioServer) kill(t *testing.T) {
	t.Helper()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.done
	m.cmd = nil
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func incompleteUploads(t *testing.T, admin *minio.Client, bucket, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var keys []string
	for up := range admin.ListIncompleteUploads(ctx, bucket, prefix, true) {
		if up.Err != nil {
			t.Fatalf("list incomplete uploads: %v", up.Err)
		}
		keys = append(keys, up.Key)
	}
	return keys
}

func readAll(t *testing.T, s objectstore.Store, key string) string {
	t.Helper()
	rc, _, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sha(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

func setQuery(u *url.URL, k, v string) {
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
}

// flipHex changes the last hex digit of s.
func flipHex(s string) string {
	if s == "" {
		return "0"
	}
	last := s[len(s)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return s[:len(s)-1] + string(repl)
}
