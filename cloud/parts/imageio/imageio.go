// Package imageio converts between the Image proto and gocv.Mat for the part services.
//
// Encoded inputs (JPEG, PNG) are decoded once with OpenCV, but only after their header
// has been read in Go and the pixel count checked against Limits: OpenCV's own limit
// (2^30 pixels) would happily allocate 1.2 GB for a 20000×20000 "decompression bomb",
// so the check happens before any allocation. Raw inputs (BGR8, GRAY8), which is how
// images flow between the nodes of one execution, are wrapped without copying.
//
// Every Mat handed out is 8-bit, with 1 (grey) or 3 (BGR) channels; callers Close it.
package imageio

import (
	"errors"
	"fmt"

	"gocv.io/x/gocv"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Sentinel errors callers branch on (the part server maps both to InvalidArgument).
var (
	// ErrInvalidImage means the bytes are not a complete, decodable image of a supported format.
	ErrInvalidImage = errors.New("invalid image")
	// ErrTooLarge means the image exceeds Limits; nothing was decoded.
	ErrTooLarge = errors.New("image too large")
)

// Limits bounds the images Decode accepts.
type Limits struct {
	// MaxPixels is the largest width×height accepted.
	MaxPixels int64
	// MaxSide is the largest width or height accepted.
	MaxSide int
}

// DefaultLimits accepts up to 64 megapixels with sides up to 16384 (a 1080p frame is 2 MP).
var DefaultLimits = Limits{MaxPixels: 64 << 20, MaxSide: 16384}

// DefaultJPEGQuality is the quality of JPEGs produced for persistence.
const DefaultJPEGQuality = 90

// check refuses sizes outside l.
func (l Limits) check(w, h int) error {
	if w < 1 || h < 1 {
		return fmt.Errorf("%w: size %dx%d", ErrInvalidImage, w, h)
	}
	if w > l.MaxSide || h > l.MaxSide {
		return fmt.Errorf("%w: %dx%d has a side above %d", ErrTooLarge, w, h, l.MaxSide)
	}
	if int64(w)*int64(h) > l.MaxPixels {
		return fmt.Errorf("%w: %dx%d is %d pixels, limit %d", ErrTooLarge, w, h, int64(w)*int64(h), l.MaxPixels)
	}
	return nil
}

// Decode turns img into a Mat (8-bit BGR or grey) the caller must Close.
//
// JPEG/PNG are decoded (grey stays grey, alpha is dropped, EXIF orientation is applied);
// an UNSPECIFIED format is sniffed from the bytes. RAW formats must have exactly
// width×height×channels bytes and share img.Data with the Mat, so img.Data must not be
// modified or reused while the Mat is open. Errors wrap ErrInvalidImage or ErrTooLarge.
func Decode(img *ifcv1.Image, lim Limits) (gocv.Mat, error) {
	if img == nil {
		return gocv.Mat{}, fmt.Errorf("%w: no image", ErrInvalidImage)
	}
	data := img.GetData()
	switch f := img.GetFormat(); f {
	case ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8:
		return wrapRaw(img, 3, gocv.MatTypeCV8UC3, lim)
	case ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8:
		return wrapRaw(img, 1, gocv.MatTypeCV8UC1, lim)
	case ifcv1.ImageFormat_IMAGE_FORMAT_JPEG, ifcv1.ImageFormat_IMAGE_FORMAT_PNG, ifcv1.ImageFormat_IMAGE_FORMAT_UNSPECIFIED:
		if got := Sniff(data); f != ifcv1.ImageFormat_IMAGE_FORMAT_UNSPECIFIED && got != f {
			return gocv.Mat{}, fmt.Errorf("%w: declared %s but the bytes are not one", ErrInvalidImage, formatName(f))
		}
		return DecodeBytes(data, lim)
	default:
		return gocv.Mat{}, fmt.Errorf("%w: unknown format %d", ErrInvalidImage, f)
	}
}

// DecodeBytes decodes an encoded JPEG or PNG after checking its header against lim.
func DecodeBytes(data []byte, lim Limits) (gocv.Mat, error) {
	h, err := ReadHeader(data)
	if err != nil {
		return gocv.Mat{}, err
	}
	if err := lim.check(h.Width, h.Height); err != nil {
		return gocv.Mat{}, fmt.Errorf("%s: %w", formatName(h.Format), err)
	}
	flag := gocv.IMReadColor
	if h.Gray {
		flag = gocv.IMReadGrayScale
	}
	m, err := gocv.IMDecode(data, flag)
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("%w: %s: %v", ErrInvalidImage, formatName(h.Format), err)
	}
	if m.Empty() {
		m.Close()
		return gocv.Mat{}, fmt.Errorf("%w: %s %dx%d: corrupt data, the decoder gave up", ErrInvalidImage, formatName(h.Format), h.Width, h.Height)
	}
	// The decoder applied EXIF orientation, so the sides may be swapped, never different.
	if !(m.Cols() == h.Width && m.Rows() == h.Height) && !(m.Cols() == h.Height && m.Rows() == h.Width) {
		got := fmt.Sprintf("%dx%d", m.Cols(), m.Rows())
		m.Close()
		return gocv.Mat{}, fmt.Errorf("%w: %s header says %dx%d, decoded %s", ErrInvalidImage, formatName(h.Format), h.Width, h.Height, got)
	}
	return m, nil
}

// wrapRaw wraps raw pixel bytes in a Mat without copying them.
func wrapRaw(img *ifcv1.Image, channels int, mt gocv.MatType, lim Limits) (gocv.Mat, error) {
	w, h := int(img.GetWidth()), int(img.GetHeight())
	if err := lim.check(w, h); err != nil {
		return gocv.Mat{}, fmt.Errorf("%s: %w", formatName(img.GetFormat()), err)
	}
	want := w * h * channels
	if len(img.GetData()) != want {
		return gocv.Mat{}, fmt.Errorf("%w: %s %dx%d needs %d bytes, got %d", ErrInvalidImage, formatName(img.GetFormat()), w, h, want, len(img.GetData()))
	}
	m, err := gocv.NewMatFromBytes(h, w, mt, img.GetData())
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("%w: wrap raw pixels: %v", ErrInvalidImage, err)
	}
	return m, nil
}

// ToRaw copies m's pixels into a RAW_BGR8 or RAW_GRAY8 Image.
func ToRaw(m gocv.Mat) (*ifcv1.Image, error) {
	var f ifcv1.ImageFormat
	switch m.Type() {
	case gocv.MatTypeCV8UC3:
		f = ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8
	case gocv.MatTypeCV8UC1:
		f = ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8
	default:
		return nil, fmt.Errorf("raw image: unsupported mat type %v", m.Type())
	}
	if m.Empty() {
		return nil, errors.New("raw image: empty mat")
	}
	src := m
	if !m.IsContinuous() {
		src = m.Clone()
		defer src.Close()
	}
	return &ifcv1.Image{Data: src.ToBytes(), Format: f, Width: int32(m.Cols()), Height: int32(m.Rows())}, nil
}

// EncodeJPEG encodes m (8-bit grey or BGR) as a JPEG of the given quality (1..100).
func EncodeJPEG(m gocv.Mat, quality int) (*ifcv1.Image, error) {
	if m.Empty() {
		return nil, errors.New("encode jpeg: empty mat")
	}
	if t := m.Type(); t != gocv.MatTypeCV8UC3 && t != gocv.MatTypeCV8UC1 {
		return nil, fmt.Errorf("encode jpeg: unsupported mat type %v", t)
	}
	if quality < 1 || quality > 100 {
		return nil, fmt.Errorf("encode jpeg: quality %d outside 1..100", quality)
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, m, []int{gocv.IMWriteJpegQuality, quality})
	if err != nil {
		return nil, fmt.Errorf("encode jpeg: %w", err)
	}
	defer buf.Close()
	data := buf.GetBytes()
	if len(data) == 0 {
		return nil, errors.New("encode jpeg: encoder produced no data")
	}
	out := make([]byte, len(data))
	copy(out, data)
	return &ifcv1.Image{Data: out, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG, Width: int32(m.Cols()), Height: int32(m.Rows())}, nil
}

// formatName is a short human name of f.
func formatName(f ifcv1.ImageFormat) string {
	switch f {
	case ifcv1.ImageFormat_IMAGE_FORMAT_JPEG:
		return "JPEG"
	case ifcv1.ImageFormat_IMAGE_FORMAT_PNG:
		return "PNG"
	case ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8:
		return "RAW_BGR8"
	case ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8:
		return "RAW_GRAY8"
	}
	return f.String()
}

// EncodeRawJPEG JPEG-encodes a raw image message (the conductor uses it to
// persist intermediate outputs with OpenCV's encoder).
func EncodeRawJPEG(img *ifcv1.Image) (*ifcv1.Image, error) {
	m, err := Decode(img, DefaultLimits)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return EncodeJPEG(m, DefaultJPEGQuality)
}
