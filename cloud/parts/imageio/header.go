package imageio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Header is what an encoded image's header says about it, read without decoding pixels.
type Header struct {
	// Format is JPEG or PNG.
	Format ifcv1.ImageFormat
	// Width and Height are in pixels, as stored (before any EXIF orientation).
	Width, Height int
	// Gray is true when the image has a single grey channel (and no alpha).
	Gray bool
}

var (
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
	pngMagic  = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}
	pngIEND   = []byte{0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82}
)

// Sniff returns the encoded format of data judging by its magic bytes, or UNSPECIFIED.
func Sniff(data []byte) ifcv1.ImageFormat {
	switch {
	case bytes.HasPrefix(data, jpegMagic):
		return ifcv1.ImageFormat_IMAGE_FORMAT_JPEG
	case bytes.HasPrefix(data, pngMagic):
		return ifcv1.ImageFormat_IMAGE_FORMAT_PNG
	}
	return ifcv1.ImageFormat_IMAGE_FORMAT_UNSPECIFIED
}

// ReadHeader reads the size of a JPEG or PNG image from its header and checks that the
// stream is complete (a JPEG ends with EOI after its scan, a PNG with IEND), so truncated
// uploads are refused before any pixel is decoded. Errors wrap ErrInvalidImage.
func ReadHeader(data []byte) (Header, error) {
	switch Sniff(data) {
	case ifcv1.ImageFormat_IMAGE_FORMAT_JPEG:
		return readJPEG(data)
	case ifcv1.ImageFormat_IMAGE_FORMAT_PNG:
		return readPNG(data)
	}
	return Header{}, fmt.Errorf("%w: not a JPEG or PNG (%d bytes)", ErrInvalidImage, len(data))
}

// readJPEG walks the marker segments up to the first scan, taking the size from the
// frame header (SOFn), then checks an EOI marker follows the scan data.
func readJPEG(data []byte) (Header, error) {
	h := Header{Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}
	sawFrame := false
	i := 2 // after SOI
	for {
		// Markers are 0xFF followed by a code; any number of 0xFF fill bytes may precede it.
		if i >= len(data) || data[i] != 0xFF {
			return Header{}, fmt.Errorf("%w: JPEG: expected a marker at byte %d", ErrInvalidImage, i)
		}
		for i < len(data) && data[i] == 0xFF {
			i++
		}
		if i >= len(data) {
			return Header{}, fmt.Errorf("%w: JPEG: truncated header", ErrInvalidImage)
		}
		code := data[i]
		i++
		switch {
		case code == 0x01 || (code >= 0xD0 && code <= 0xD7): // TEM, RSTn: no length
			continue
		case code == 0xD8 || code == 0xD9 || code == 0x00:
			return Header{}, fmt.Errorf("%w: JPEG: unexpected marker 0x%02X in header", ErrInvalidImage, code)
		}
		if i+2 > len(data) {
			return Header{}, fmt.Errorf("%w: JPEG: truncated header", ErrInvalidImage)
		}
		n := int(binary.BigEndian.Uint16(data[i:]))
		if n < 2 || i+n > len(data) {
			return Header{}, fmt.Errorf("%w: JPEG: segment 0x%02X of length %d overruns the data", ErrInvalidImage, code, n)
		}
		seg := data[i+2 : i+n]
		i += n
		switch {
		case code >= 0xC0 && code <= 0xCF && code != 0xC4 && code != 0xC8 && code != 0xCC: // SOFn
			if sawFrame {
				return Header{}, fmt.Errorf("%w: JPEG: more than one frame header", ErrInvalidImage)
			}
			if len(seg) < 6 {
				return Header{}, fmt.Errorf("%w: JPEG: short frame header", ErrInvalidImage)
			}
			h.Height = int(binary.BigEndian.Uint16(seg[1:]))
			h.Width = int(binary.BigEndian.Uint16(seg[3:]))
			comps := int(seg[5])
			if h.Width == 0 || h.Height == 0 {
				return Header{}, fmt.Errorf("%w: JPEG: frame size %dx%d", ErrInvalidImage, h.Width, h.Height)
			}
			if comps != 1 && comps != 3 && comps != 4 {
				return Header{}, fmt.Errorf("%w: JPEG: %d components", ErrInvalidImage, comps)
			}
			if len(seg) < 6+3*comps {
				return Header{}, fmt.Errorf("%w: JPEG: short frame header", ErrInvalidImage)
			}
			h.Gray = comps == 1
			sawFrame = true
		case code == 0xDA: // SOS: entropy-coded data follows
			if !sawFrame {
				return Header{}, fmt.Errorf("%w: JPEG: scan before frame header", ErrInvalidImage)
			}
			if bytes.LastIndex(data[i:], []byte{0xFF, 0xD9}) < 0 {
				return Header{}, fmt.Errorf("%w: JPEG: truncated (no end-of-image marker)", ErrInvalidImage)
			}
			return h, nil
		}
	}
}

// readPNG reads IHDR (checking its CRC) and requires the stream to end with IEND.
func readPNG(data []byte) (Header, error) {
	h := Header{Format: ifcv1.ImageFormat_IMAGE_FORMAT_PNG}
	const ihdrEnd = 8 + 8 + 13 + 4
	if len(data) < ihdrEnd {
		return Header{}, fmt.Errorf("%w: PNG: truncated header", ErrInvalidImage)
	}
	chunk := data[8:]
	if binary.BigEndian.Uint32(chunk) != 13 || string(chunk[4:8]) != "IHDR" {
		return Header{}, fmt.Errorf("%w: PNG: first chunk is not IHDR", ErrInvalidImage)
	}
	if crc32.ChecksumIEEE(chunk[4:21]) != binary.BigEndian.Uint32(chunk[21:]) {
		return Header{}, fmt.Errorf("%w: PNG: IHDR checksum mismatch", ErrInvalidImage)
	}
	w, hh := binary.BigEndian.Uint32(chunk[8:]), binary.BigEndian.Uint32(chunk[12:])
	if w == 0 || hh == 0 || w > 1<<31-1 || hh > 1<<31-1 {
		return Header{}, fmt.Errorf("%w: PNG: size %dx%d", ErrInvalidImage, w, hh)
	}
	h.Width, h.Height = int(w), int(hh)
	depth, color := chunk[16], chunk[17]
	switch color {
	case 0: // grey
		h.Gray = true
	case 2, 3, 4, 6: // RGB, palette, grey+alpha, RGBA
	default:
		return Header{}, fmt.Errorf("%w: PNG: colour type %d", ErrInvalidImage, color)
	}
	switch depth {
	case 1, 2, 4, 8, 16:
	default:
		return Header{}, fmt.Errorf("%w: PNG: bit depth %d", ErrInvalidImage, depth)
	}
	if !bytes.HasSuffix(data, pngIEND) {
		return Header{}, fmt.Errorf("%w: PNG: truncated (no IEND chunk at the end)", ErrInvalidImage)
	}
	return h, nil
}
