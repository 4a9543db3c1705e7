package conductor

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// jpegQuality is used when the conductor has to encode a raw image itself.
const jpegQuality = 90

// formatOf identifies an encoded image by its magic bytes, falling back to
// the declared content type.
func formatOf(data []byte, contentType string) ifcv1.ImageFormat {
	switch {
	case bytes.HasPrefix(data, []byte{0xff, 0xd8, 0xff}):
		return ifcv1.ImageFormat_IMAGE_FORMAT_JPEG
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return ifcv1.ImageFormat_IMAGE_FORMAT_PNG
	}
	switch contentType {
	case "image/jpeg":
		return ifcv1.ImageFormat_IMAGE_FORMAT_JPEG
	case "image/png":
		return ifcv1.ImageFormat_IMAGE_FORMAT_PNG
	}
	return ifcv1.ImageFormat_IMAGE_FORMAT_UNSPECIFIED
}

func contentTypeOf(f ifcv1.ImageFormat) string {
	if f == ifcv1.ImageFormat_IMAGE_FORMAT_PNG {
		return "image/png"
	}
	return "image/jpeg"
}

func isEncoded(img *ifcv1.Image) bool {
	f := img.GetFormat()
	return len(img.GetData()) > 0 && (f == ifcv1.ImageFormat_IMAGE_FORMAT_JPEG || f == ifcv1.ImageFormat_IMAGE_FORMAT_PNG)
}

// encodedOf returns the JPEG (or PNG) of a response: the service's when it
// sent one, else the image itself when already encoded, else the raw image
// encoded here (slower: services are asked to encode).
func encodedOf(resp *ifcv1.ProcessResponse) (*ifcv1.Image, error) {
	if isEncoded(resp.GetEncoded()) {
		return resp.GetEncoded(), nil
	}
	if isEncoded(resp.GetImage()) {
		return resp.GetImage(), nil
	}
	if resp.GetImage() == nil {
		return nil, errNoEncoded
	}
	return encodeRaw(resp.GetImage())
}

// encodeRaw JPEG-encodes a RAW_BGR8 or RAW_GRAY8 image.
func encodeRaw(img *ifcv1.Image) (*ifcv1.Image, error) {
	w, h := int(img.GetWidth()), int(img.GetHeight())
	if w <= 0 || h <= 0 || w > 1<<15 || h > 1<<15 {
		return nil, fmt.Errorf("raw image %dx%d out of bounds", w, h)
	}
	data := img.GetData()
	var src image.Image
	switch img.GetFormat() {
	case ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8:
		if len(data) != w*h {
			return nil, fmt.Errorf("raw gray image %dx%d has %d bytes", w, h, len(data))
		}
		src = &image.Gray{Pix: data, Stride: w, Rect: image.Rect(0, 0, w, h)}
	case ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8:
		if len(data) != w*h*3 {
			return nil, fmt.Errorf("raw BGR image %dx%d has %d bytes", w, h, len(data))
		}
		rgba := image.NewRGBA(image.Rect(0, 0, w, h))
		for p, q := 0, 0; p < len(data); p, q = p+3, q+4 {
			rgba.Pix[q], rgba.Pix[q+1], rgba.Pix[q+2], rgba.Pix[q+3] = data[p+2], data[p+1], data[p], 0xff
		}
		src = rgba
	default:
		return nil, fmt.Errorf("cannot encode image format %v", img.GetFormat())
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, fmt.Errorf("encode jpeg: %w", err)
	}
	return &ifcv1.Image{Data: buf.Bytes(), Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG, Width: int32(w), Height: int32(h)}, nil
}
