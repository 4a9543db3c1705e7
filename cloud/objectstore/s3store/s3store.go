// Package s3store is the S3 implementation of objectstore.Store, written
// for MinIO (minio-go v7) and registered for the "s3" scheme. It is the
// object store of the distributed deployment.
//
// URL form (bucket in the path, credentials in the userinfo):
//
//	s3://ACCESS_KEY:SECRET_KEY@host:port/bucket?secure=false&region=us-east-1
//
// Parameters and defaults:
//
//   - secure: "true" (default) speaks HTTPS, "false" plain HTTP.
//   - region: default us-east-1 (MinIO's default). Naming it saves the
//     client a GetBucketLocation round trip before the first request.
//   - With no userinfo the credentials come from the environment:
//     AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then MINIO_ROOT_USER/
//     MINIO_ROOT_PASSWORD, so Kubernetes Secrets need not be spelled
//     into a URL. Credentials never appear in errors (the registry
//     redacts the URL).
//
// Decisions:
//
//   - Bucket bootstrap: Open creates the bucket when it is missing. Two
//     processes starting together may both try; the loser's
//     "BucketAlreadyOwnedByYou" counts as success.
//   - Atomicity: an S3 PUT, and a multipart upload's Complete, make an
//     object visible whole or not at all, so Put needs no temporary keys.
//     A Put whose reader fails, returns too few bytes, or whose context
//     ends stores nothing, and an overwrite that fails keeps the old
//     object. Objects up to PartSize (16 MiB) go in one PUT; larger ones
//     as a multipart upload in PartSize parts, which minio-go aborts when
//     a part fails (if even the abort cannot reach the server, MinIO
//     drops the stale upload itself after 24 h; it is never visible).
//     A Put of unknown size (-1) up to 1 MiB is buffered and sent as one
//     PUT instead of a one-part multipart upload.
//   - Retries: each request is tried at most 3 times (minio-go's default
//     is 10, about 8 s of back-off against a dead server). The callers
//     (sync, conductor) have their own retry policy; this layer only
//     smooths over a dropped keep-alive connection, and a restarting
//     server shows up as a prompt, clean error.
//   - Delete of a missing key returns objectstore.ErrNotFound as the
//     contract asks (an S3 DELETE alone would succeed): it stats first.
//     Two concurrent Deletes of one key may therefore both succeed.
//   - Unlike the filesystem store, MinIO keeps "a" and "a/b" as two
//     objects. Refusing that here would cost a HEAD per parent segment and
//     a LIST on every Put, and still race; keys in this system are content
//     addressed (files/ab/abcd...), so the case does not arise. Where MinIO
//     itself refuses such a layout (XMinioObjectExistsAsDirectory,
//     XMinioParentIsObject) the error maps to objectstore.ErrInvalidKey,
//     as in the filesystem store.
//   - Downloads for the UI: Presign returns a time-limited GET URL signed
//     for the endpoint in the store's URL, so a browser fetches the bytes
//     from MinIO directly. It works when browsers can reach that
//     endpoint; when they cannot, the API must proxy Get instead.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/imageflowcanvas/ifc/cloud/objectstore"
)

// Scheme is the URL scheme this package registers.
const Scheme = "s3"

const (
	// PartSize is the multipart part size; objects up to it go in one PUT.
	PartSize = 16 << 20
	// MaxPresignTTL is the longest lifetime of a presigned URL (S3's limit).
	MaxPresignTTL = 7 * 24 * time.Hour

	defaultRegion     = "us-east-1"
	defaultCT         = "application/octet-stream"
	maxContentTypeLen = 255
	smallUnknownSize  = 1 << 20
	maxRetries        = 3
	openTimeout       = 30 * time.Second
)

func init() {
	objectstore.Register(Scheme, func(u *url.URL) (objectstore.Store, error) {
		cfg, err := ParseURL(u)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		defer cancel()
		return New(ctx, cfg, slog.Default())
	})
}

// Config says which bucket on which server to use.
type Config struct {
	Endpoint  string // host:port
	Bucket    string
	AccessKey string // empty: credentials from the environment
	SecretKey string
	Secure    bool   // HTTPS
	Region    string // default us-east-1
}

// ParseURL turns an s3:// URL (see the package doc) into a Config.
func ParseURL(u *url.URL) (Config, error) {
	if u.Scheme != Scheme {
		return Config{}, fmt.Errorf("scheme %q is not %q", u.Scheme, Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return Config{}, errors.New("s3 url must name a host: s3://key:secret@host:port/bucket")
	}
	if u.Fragment != "" {
		return Config{}, errors.New("s3 url takes no fragment")
	}
	bucket := strings.TrimPrefix(u.Path, "/")
	if bucket == "" || strings.Contains(bucket, "/") {
		return Config{}, fmt.Errorf("s3 url path must be exactly one bucket name (s3://host/bucket), got %q", u.Path)
	}
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return Config{}, fmt.Errorf("bucket %q: %w", bucket, err)
	}
	cfg := Config{Endpoint: u.Host, Bucket: bucket, Secure: true, Region: defaultRegion}
	if u.User != nil {
		cfg.AccessKey = u.User.Username()
		cfg.SecretKey, _ = u.User.Password()
		if cfg.AccessKey == "" || cfg.SecretKey == "" {
			return Config{}, errors.New("s3 url userinfo must hold both access key and secret (key:secret@)")
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("s3 url query: %w", err)
	}
	for k, v := range q {
		if len(v) != 1 {
			return Config{}, fmt.Errorf("s3 url parameter %q given %d times", k, len(v))
		}
		switch k {
		case "secure":
			b, err := strconv.ParseBool(v[0])
			if err != nil {
				return Config{}, fmt.Errorf("s3 url parameter secure=%q: want true or false", v[0])
			}
			cfg.Secure = b
		case "region":
			if v[0] == "" {
				return Config{}, errors.New("s3 url parameter region is empty")
			}
			cfg.Region = v[0]
		default:
			return Config{}, fmt.Errorf("s3 url parameter %q is unknown (known: secure, region)", k)
		}
	}
	return cfg, nil
}

// Store is an object store in one S3 bucket.
type Store struct {
	client    *minio.Client
	transport *http.Transport
	bucket    string
	log       *slog.Logger
	closed    atomic.Bool
}

var _ objectstore.Store = (*Store)(nil)

// New connects to the server in cfg and creates the bucket if it is
// missing; ctx bounds that start-up work only.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("bucket %q: %w", cfg.Bucket, err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	tr, err := minio.DefaultTransport(cfg.Secure)
	if err != nil {
		return nil, fmt.Errorf("http transport: %w", err)
	}
	// A server that is down should fail a request in seconds, not the
	// default 30 s per dial.
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	if cfg.AccessKey == "" {
		creds = credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.EnvMinio{}})
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        creds,
		Secure:       cfg.Secure,
		Transport:    tr,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   maxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", cfg.Endpoint, err)
	}
	s := &Store{
		client:    client,
		transport: tr,
		bucket:    cfg.Bucket,
		log:       log.With("component", "s3store", "endpoint", cfg.Endpoint, "bucket", cfg.Bucket),
	}
	if err := s.ensureBucket(ctx, cfg.Region); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	return s, nil
}

// ensureBucket creates the bucket unless it exists; racing creators all
// succeed.
func (s *Store) ensureBucket(ctx context.Context, region string) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("check bucket %s: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	switch code := minio.ToErrorResponse(err).Code; {
	case err == nil:
		s.log.Info("created bucket")
		return nil
	case code == minio.BucketAlreadyOwnedByYou:
		return nil
	case code == minio.BucketAlreadyExists:
		// Someone else's bucket, or a creator we raced; usable only in
		// the second case.
		if ok, err2 := s.client.BucketExists(ctx, s.bucket); err2 == nil && ok {
			return nil
		}
		return fmt.Errorf("create bucket %s: %w", s.bucket, err)
	default:
		return fmt.Errorf("create bucket %s: %w", s.bucket, err)
	}
}

// Bucket returns the bucket the store uses.
func (s *Store) Bucket() string { return s.bucket }

var errClosed = errors.New("s3store: store is closed")

// check validates the key and the store's and context's state before an
// operation.
func (s *Store) check(ctx context.Context, key string) error {
	if err := objectstore.ValidateKey(key); err != nil {
		return err
	}
	if s.closed.Load() {
		return errClosed
	}
	return ctx.Err()
}

// Put stores r under key atomically. size is the expected length, or -1
// when unknown; a stream shorter than size stores nothing.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if contentType == "" {
		contentType = defaultCT
	}
	if len(contentType) > maxContentTypeLen {
		return fmt.Errorf("put %s: content type longer than %d bytes", key, maxContentTypeLen)
	}
	if strings.ContainsFunc(contentType, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
		return fmt.Errorf("put %s: content type %q has characters outside printable ASCII", key, contentType)
	}
	r = hideClose(r)
	if size < 0 {
		// A small stream of unknown length goes as one PUT rather than a
		// one-part multipart upload (three requests and a PartSize buffer).
		head := make([]byte, smallUnknownSize)
		n, err := io.ReadFull(r, head)
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			r, size = bytes.NewReader(head[:n]), int64(n)
		case err != nil:
			return fmt.Errorf("put %s: read: %w", key, err)
		default:
			r = io.MultiReader(bytes.NewReader(head), r)
		}
	}
	_, err := s.client.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{
		ContentType: contentType,
		PartSize:    PartSize,
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, mapErr(err))
	}
	return nil
}

// Get opens the object for reading. The caller closes the reader; ctx
// governs the whole read.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, objectstore.Info, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, objectstore.Info{}, fmt.Errorf("get %s: %w", key, err)
	}
	rc, oi, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, objectstore.Info{}, fmt.Errorf("get %s: %w", key, mapErr(err))
	}
	return rc, info(key, oi), nil
}

// Stat describes the object without reading it.
func (s *Store) Stat(ctx context.Context, key string) (objectstore.Info, error) {
	if err := s.check(ctx, key); err != nil {
		return objectstore.Info{}, fmt.Errorf("stat %s: %w", key, err)
	}
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return objectstore.Info{}, fmt.Errorf("stat %s: %w", key, mapErr(err))
	}
	return info(key, oi), nil
}

// Delete removes the object. Deleting a missing key returns ErrNotFound.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if _, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{}); err != nil {
		return fmt.Errorf("delete %s: %w", key, mapErr(err))
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete %s: %w", key, mapErr(err))
	}
	return nil
}

// Presign returns a URL that downloads the object with a plain HTTP GET
// until ttl (1 s to 7 days) has passed; then, or if the URL is altered,
// the server refuses it with 403. S3 stamps the signing time in whole
// seconds, so the URL lives between ttl-1s and ttl. Presign does not
// check that the key exists: a URL for a missing key answers 404. Anyone
// holding the URL can read the object, so hand it only to a user
// allowed to see it.
func (s *Store) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := s.check(ctx, key); err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	if ttl < time.Second || ttl > MaxPresignTTL {
		return "", fmt.Errorf("presign %s: ttl %v outside 1s..%v", key, ttl, MaxPresignTTL)
	}
	if ttl%time.Second != 0 {
		// S3 counts expiry in whole seconds; round down rather than
		// surprise the caller with a longer lifetime.
		ttl = ttl.Truncate(time.Second)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, ttl, nil)
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return u.String(), nil
}

// Close releases idle connections; later calls fail. It is idempotent.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.transport.CloseIdleConnections()
	}
	return nil
}

func info(key string, oi minio.ObjectInfo) objectstore.Info {
	ct := oi.ContentType
	if ct == "" {
		ct = defaultCT
	}
	return objectstore.Info{Key: key, Size: oi.Size, ContentType: ct, ModTime: oi.LastModified.UTC()}
}

// mapErr turns the S3 error codes callers branch on into the contract's
// sentinels, keeping the server's message.
func mapErr(err error) error {
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey:
		return fmt.Errorf("%w (%v)", objectstore.ErrNotFound, err)
	case "XMinioObjectExistsAsDirectory", "XMinioParentIsObject":
		return fmt.Errorf("%w: path is used by other objects (%v)", objectstore.ErrInvalidKey, err)
	}
	return err
}

// hideClose keeps minio-go from closing the caller's reader (it closes a
// request body that is an io.Closer) while keeping ReadAt and Seek, which
// let it retry a PUT and upload parts in parallel. They are kept only for
// a reader positioned at its start: minio-go's parallel multipart path
// reads parts at absolute offsets and would ignore bytes already consumed.
func hideClose(r io.Reader) io.Reader {
	type readAtSeeker interface {
		io.Reader
		io.ReaderAt
		io.Seeker
	}
	if rs, ok := r.(readAtSeeker); ok {
		if off, err := rs.Seek(0, io.SeekCurrent); err == nil && off == 0 {
			return struct{ readAtSeeker }{rs}
		}
	}
	return struct{ io.Reader }{r}
}
