// Package files ingests images from outside (REST uploads, gRPC Execute
// with image bytes) and stores images produced by parts, as
// content-addressed objects plus File records.
//
// Ingest trusts nothing about its input: it bounds the size, sniffs the
// bytes (the file name's extension is never consulted), reads the
// dimensions from the header and refuses anything above the pixel budget
// before allocating pixels (decompression bombs), then fully decodes the
// image so corrupt and truncated files are refused at the door instead of
// failing deep inside a pipeline. Only JPEG and PNG are accepted. The
// decoders are Go's own image/jpeg and image/png: pure Go, memory safe,
// no cgo in this package.
//
// Ordering and atomicity: the object is written (atomically, by the
// object store) before the record, so a record always points at a
// complete object. If the record write fails the object stays: it is
// content addressed and may already be shared by other records, so
// deleting it could break them. Such orphans are invisible to readers
// (nothing refers to them) and can be swept by a later garbage collector.
package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/sync/semaphore"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/objectstore"
)

// Errors callers branch on (the API maps them to 413 / 415 / 422).
var (
	// ErrTooLarge means the input has more bytes than allowed.
	ErrTooLarge = errors.New("image too large")
	// ErrUnsupportedType means the bytes are not a JPEG or PNG image.
	ErrUnsupportedType = errors.New("unsupported image type: only JPEG and PNG are accepted")
	// ErrTooManyPixels means the header declares more pixels than the budget.
	ErrTooManyPixels = errors.New("image has too many pixels")
	// ErrCorrupt means the image could not be decoded completely.
	ErrCorrupt = errors.New("corrupt or truncated image")
	// ErrInvalidArgument is returned for bad arguments to PutDerived and Open.
	ErrInvalidArgument = errors.New("invalid argument")
)

// Content types accepted by Ingest.
const (
	ContentTypeJPEG = "image/jpeg"
	ContentTypePNG  = "image/png"
)

// Defaults for Options.
const (
	DefaultMaxBytes  int64 = 64 << 20
	DefaultMaxPixels int64 = 50_000_000
)

// Metadata keys set on ingested files.
const (
	MetaFilename = "filename"
	MetaSource   = "source"
)

// Options configure a Service; zero fields take the defaults.
type Options struct {
	// MaxPixels is the pixel budget per image (width × height), default 50 MP.
	MaxPixels int64
	// DefaultMaxBytes applies when IngestOptions.MaxBytes is zero (64 MiB).
	DefaultMaxBytes int64
	// DecodeBudget bounds the pixels being decoded at once across all
	// concurrent Ingest calls, so many large uploads cannot exhaust
	// memory together; default 2 × MaxPixels.
	DecodeBudget int64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// IngestOptions describe one input.
type IngestOptions struct {
	// Filename is recorded as metadata only; its extension is ignored.
	Filename string
	// CreatedBy is the principal recorded on the file.
	CreatedBy string
	// MaxBytes bounds the input; zero means the service default.
	MaxBytes int64
	// HeaderOnly skips the full decode (about 25 ms for a 1080p JPEG in
	// pure Go) for latency-critical paths whose first pipeline step decodes
	// the image anyway. Type, size and pixel budget are still enforced and
	// truncation is still caught structurally (JPEG must end with its EOI
	// marker, PNG with its IEND chunk); damage inside the compressed data
	// is then reported by the decoding step instead of here.
	HeaderOnly bool
}

// Service stores images and their File records.
type Service struct {
	objects   objectstore.Store
	meta      metadata.Store
	logger    *slog.Logger
	maxPixels int64
	maxBytes  int64
	budget    int64
	decodeSem *semaphore.Weighted
	now       func() time.Time
}

// New returns a Service over the given stores. It starts nothing.
func New(objects objectstore.Store, meta metadata.Store, logger *slog.Logger, opts Options) (*Service, error) {
	if objects == nil || meta == nil {
		return nil, errors.New("files: object store and metadata store are required")
	}
	if opts.MaxPixels < 0 || opts.DefaultMaxBytes < 0 || opts.DecodeBudget < 0 {
		return nil, errors.New("files: options must not be negative")
	}
	s := &Service{
		objects:   objects,
		meta:      meta,
		logger:    logger,
		maxPixels: opts.MaxPixels,
		maxBytes:  opts.DefaultMaxBytes,
		budget:    opts.DecodeBudget,
		now:       opts.Now,
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.logger = s.logger.With("component", "files")
	if s.maxPixels == 0 {
		s.maxPixels = DefaultMaxPixels
	}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxBytes
	}
	if s.budget == 0 {
		s.budget = 2 * s.maxPixels
	}
	if s.budget < s.maxPixels {
		return nil, fmt.Errorf("files: decode budget %d is below the per-image pixel budget %d", s.budget, s.maxPixels)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.decodeSem = semaphore.NewWeighted(s.budget)
	return s, nil
}

// Ingest validates an image from outside and stores it. See the package
// documentation for the checks and their order.
func (s *Service) Ingest(ctx context.Context, r io.Reader, opts IngestOptions) (metadata.File, error) {
	max := opts.MaxBytes
	if max <= 0 {
		max = s.maxBytes
	}
	data, err := readAtMost(r, max)
	if err != nil {
		return metadata.File{}, fmt.Errorf("ingest %s: %w", safeName(opts.Filename), err)
	}
	img, err := s.check(ctx, data, !opts.HeaderOnly)
	if err != nil {
		return metadata.File{}, fmt.Errorf("ingest %s: %w", safeName(opts.Filename), err)
	}
	md := map[string]string{MetaSource: "upload"}
	if name := cleanFilename(opts.Filename); name != "" {
		md[MetaFilename] = name
	}
	f, err := s.store(ctx, data, img, opts.CreatedBy, md)
	if err != nil {
		return metadata.File{}, fmt.Errorf("ingest %s: %w", safeName(opts.Filename), err)
	}
	s.logger.DebugContext(ctx, "ingested image", "file_id", f.FileID, "sha256", f.SHA256, "size", f.Size,
		"content_type", f.ContentType, "width", f.Width, "height", f.Height)
	return f, nil
}

// PutDerived stores an image produced by a part. Its bytes are trusted
// (they come from our own encoder) and are not decoded again; only the
// arguments are checked.
func (s *Service) PutDerived(ctx context.Context, data []byte, contentType string, w, h int, createdBy string) (metadata.File, error) {
	if len(data) == 0 {
		return metadata.File{}, fmt.Errorf("put derived: %w: empty data", ErrInvalidArgument)
	}
	if contentType == "" || len(contentType) > 255 {
		return metadata.File{}, fmt.Errorf("put derived: %w: content type %q", ErrInvalidArgument, contentType)
	}
	if w < 0 || h < 0 {
		return metadata.File{}, fmt.Errorf("put derived: %w: negative size %dx%d", ErrInvalidArgument, w, h)
	}
	f, err := s.store(ctx, data, imageInfo{contentType: contentType, width: w, height: h}, createdBy,
		map[string]string{MetaSource: "derived"})
	if err != nil {
		return metadata.File{}, fmt.Errorf("put derived: %w", err)
	}
	return f, nil
}

// Open returns the file's bytes and record. The caller closes the reader.
// A record whose object is missing is reported as an error wrapping
// objectstore.ErrNotFound, never as an empty file.
func (s *Service) Open(ctx context.Context, fileID string) (io.ReadCloser, metadata.File, error) {
	if fileID == "" {
		return nil, metadata.File{}, fmt.Errorf("open file: %w: empty file id", ErrInvalidArgument)
	}
	f, err := s.meta.GetFile(ctx, fileID)
	if err != nil {
		return nil, metadata.File{}, fmt.Errorf("open file %s: %w", fileID, err)
	}
	rc, _, err := s.objects.Get(ctx, f.Key)
	if err != nil {
		return nil, metadata.File{}, fmt.Errorf("open file %s: object %s: %w", fileID, f.Key, err)
	}
	return rc, f, nil
}

// ObjectKey returns the content-addressed key for a hex sha256.
func ObjectKey(sha256Hex string) string {
	return "files/" + sha256Hex[:2] + "/" + sha256Hex
}

type imageInfo struct {
	contentType   string
	width, height int
}

// store writes the object (skipped when identical bytes are already
// stored) and then the record.
func (s *Service) store(ctx context.Context, data []byte, img imageInfo, createdBy string, md map[string]string) (metadata.File, error) {
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	key := ObjectKey(hexSum)
	info, err := s.objects.Stat(ctx, key)
	switch {
	case err == nil && info.Size == int64(len(data)):
		// Same bytes already stored: nothing to write.
	case err == nil || errors.Is(err, objectstore.ErrNotFound):
		if err := s.objects.Put(ctx, key, bytes.NewReader(data), int64(len(data)), img.contentType); err != nil {
			return metadata.File{}, fmt.Errorf("store object %s: %w", key, err)
		}
	default:
		return metadata.File{}, fmt.Errorf("stat object %s: %w", key, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return metadata.File{}, fmt.Errorf("new file id: %w", err)
	}
	f := metadata.File{
		FileID:      id.String(),
		Key:         key,
		SHA256:      hexSum,
		Size:        int64(len(data)),
		ContentType: img.contentType,
		Width:       img.width,
		Height:      img.height,
		Metadata:    md,
		CreatedBy:   createdBy,
		CreatedAt:   s.now().UTC().Truncate(time.Microsecond),
	}
	if err := s.meta.PutFile(ctx, f); err != nil {
		return metadata.File{}, fmt.Errorf("record file %s: %w", f.FileID, err)
	}
	return f, nil
}

// readAtMost reads all of r, failing with ErrTooLarge past max bytes.
func readAtMost(r io.Reader, max int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if n > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return buf.Bytes(), nil
}

// check sniffs, bounds and (when full is set) fully decodes data.
func (s *Service) check(ctx context.Context, data []byte, full bool) (imageInfo, error) {
	ct, err := sniff(data)
	if err != nil {
		return imageInfo{}, err
	}
	cfg, err := decodeConfig(ct, data)
	if err != nil {
		return imageInfo{}, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return imageInfo{}, fmt.Errorf("%w: header declares %dx%d", ErrCorrupt, cfg.Width, cfg.Height)
	}
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if pixels > s.maxPixels {
		return imageInfo{}, fmt.Errorf("%w: %dx%d is %d pixels, limit %d", ErrTooManyPixels, cfg.Width, cfg.Height, pixels, s.maxPixels)
	}
	if !full {
		if err := checkComplete(ct, data); err != nil {
			return imageInfo{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return imageInfo{contentType: ct, width: cfg.Width, height: cfg.Height}, nil
	}
	if err := s.decodeSem.Acquire(ctx, pixels); err != nil {
		return imageInfo{}, fmt.Errorf("wait for decode budget: %w", err)
	}
	defer s.decodeSem.Release(pixels)
	if err := decodeFull(ct, data); err != nil {
		return imageInfo{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return imageInfo{contentType: ct, width: cfg.Width, height: cfg.Height}, nil
}

var (
	magicJPEG = []byte{0xFF, 0xD8, 0xFF}
	magicPNG  = []byte("\x89PNG\r\n\x1a\n")
)

// sniff identifies JPEG and PNG by their signatures. Both our magic
// table and http.DetectContentType must agree, so neither alone decides.
func sniff(data []byte) (string, error) {
	var ct string
	switch {
	case bytes.HasPrefix(data, magicJPEG):
		ct = ContentTypeJPEG
	case bytes.HasPrefix(data, magicPNG):
		ct = ContentTypePNG
	default:
		return "", fmt.Errorf("%w: detected %s", ErrUnsupportedType, http.DetectContentType(data))
	}
	if got := http.DetectContentType(data); got != ct {
		return "", fmt.Errorf("%w: signature says %s, content sniffing says %s", ErrUnsupportedType, ct, got)
	}
	return ct, nil
}

func decodeConfig(ct string, data []byte) (image.Config, error) {
	if ct == ContentTypeJPEG {
		return jpeg.DecodeConfig(bytes.NewReader(data))
	}
	return png.DecodeConfig(bytes.NewReader(data))
}

// decodeFull decodes the whole image. A decoder panic (a bug in the
// standard library would be needed) is reported as corruption rather
// than taking the server down.
func decodeFull(ct string, data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
	}()
	if ct == ContentTypeJPEG {
		_, err = jpeg.Decode(bytes.NewReader(data))
	} else {
		_, err = png.Decode(bytes.NewReader(data))
	}
	return err
}

var (
	jpegEOI = []byte{0xFF, 0xD9}
	pngIEND = []byte{0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82}
)

// checkComplete is the structural truncation check of HeaderOnly mode.
// Zero padding after a JPEG's EOI (written by some cameras) is allowed.
func checkComplete(ct string, data []byte) error {
	if ct == ContentTypeJPEG {
		if !bytes.HasSuffix(bytes.TrimRight(data, "\x00"), jpegEOI) {
			return errors.New("jpeg does not end with an EOI marker (truncated?)")
		}
		return nil
	}
	if !bytes.HasSuffix(data, pngIEND) {
		return errors.New("png does not end with an IEND chunk (truncated?)")
	}
	return nil
}

const maxFilenameLen = 255

// cleanFilename keeps the base name of an uploaded file for display:
// valid UTF-8, no control characters or path separators, bounded length.
func cleanFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return '/'
		}
		return r
	}, name)
	name = path.Base(name)
	if name == "." || name == "/" || name == ".." {
		return ""
	}
	for len(name) > maxFilenameLen {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

// safeName quotes a file name for error messages.
func safeName(name string) string {
	if name == "" {
		return "upload"
	}
	return fmt.Sprintf("%.80q", name)
}
