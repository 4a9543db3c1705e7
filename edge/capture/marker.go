package capture

import (
	"image"
	"image/color"
	"time"
)

// The marker is 112 bits drawn as two rows of 56 square blocks in the frame's top-left
// corner, white for 1 and black for 0, most significant bit first:
//
//	magic (8 bits, 0xA5) | seq (40 bits) | capture time in unix microseconds (56 bits) | CRC-8 (8 bits)
//
// Blocks are MarkerBlock(width) pixels square, big enough to survive lossy video coding.
// A one-block grey margin separates the marker from the picture.
const (
	markerMagic = 0xA5
	markerBits  = 112
	markerCols  = 56
	markerRows  = 2
)

// MarkerBlock returns the marker block size for a frame of the given width, or 0 when the
// frame is too narrow to carry a marker (under 256 pixels).
func MarkerBlock(width int) int {
	b := width / 64
	if b < 4 {
		return 0
	}
	return b
}

// MarkerBounds returns the rectangle the marker (with its margin) covers in a frame of size b.
func MarkerBounds(b image.Rectangle) image.Rectangle {
	s := MarkerBlock(b.Dx())
	if s == 0 || b.Dy() < (markerRows+1)*s {
		return image.Rectangle{}
	}
	return image.Rect(b.Min.X, b.Min.Y, b.Min.X+(markerCols+1)*s, b.Min.Y+(markerRows+1)*s)
}

func markerPayload(seq uint64, at time.Time) [markerBits]bool {
	var bits [markerBits]bool
	put := func(off, n int, v uint64) {
		for i := range n {
			bits[off+i] = v>>(n-1-i)&1 == 1
		}
	}
	put(0, 8, markerMagic)
	put(8, 40, seq&(1<<40-1))
	put(48, 56, uint64(at.UnixMicro())&(1<<56-1))
	put(104, 8, uint64(crc8(bits[:104])))
	return bits
}

// crc8 is CRC-8 (polynomial 0x07) over a bit string.
func crc8(bits []bool) uint8 {
	var c uint8
	for _, b := range bits {
		top := c&0x80 != 0
		c <<= 1
		if top != b {
			c ^= 0x07
		}
	}
	return c
}

// DrawMarker draws seq and at into img's top-left corner; it does nothing when img is too small.
func DrawMarker(img *image.RGBA, seq uint64, at time.Time) {
	r := MarkerBounds(img.Bounds())
	if r.Empty() {
		return
	}
	s := MarkerBlock(img.Bounds().Dx())
	grey := color.RGBA{128, 128, 128, 255}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, grey)
		}
	}
	bits := markerPayload(seq, at)
	for i, on := range bits {
		v := uint8(0)
		if on {
			v = 255
		}
		c := color.RGBA{v, v, v, 255}
		x0, y0 := r.Min.X+(i%markerCols)*s, r.Min.Y+(i/markerCols)*s
		for y := y0; y < y0+s; y++ {
			row := img.Pix[img.PixOffset(x0, y):]
			for x := range s {
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = c.R, c.G, c.B, c.A
			}
		}
	}
}

// ReadMarker decodes a marker drawn by DrawMarker from img (also after lossy coding),
// sampling the luma at the centre of each block. ok is false when no valid marker is found.
func ReadMarker(img image.Image) (seq uint64, at time.Time, ok bool) {
	b := img.Bounds()
	s := MarkerBlock(b.Dx())
	if MarkerBounds(b).Empty() {
		return 0, time.Time{}, false
	}
	var bits [markerBits]bool
	for i := range bits {
		x := b.Min.X + (i%markerCols)*s + s/2
		y := b.Min.Y + (i/markerCols)*s + s/2
		bits[i] = luma(img, x, y) >= 128
	}
	get := func(off, n int) uint64 {
		var v uint64
		for i := range n {
			v <<= 1
			if bits[off+i] {
				v |= 1
			}
		}
		return v
	}
	if get(0, 8) != markerMagic || uint8(get(104, 8)) != crc8(bits[:104]) {
		return 0, time.Time{}, false
	}
	return get(8, 40), time.UnixMicro(int64(get(48, 56))), true
}

// luma returns the 8-bit luma of img at (x, y), reading YCbCr planes directly.
func luma(img image.Image, x, y int) uint8 {
	switch m := img.(type) {
	case *image.YCbCr:
		return m.Y[m.YOffset(x, y)]
	case *image.RGBA:
		o := m.PixOffset(x, y)
		return uint8((299*int(m.Pix[o]) + 587*int(m.Pix[o+1]) + 114*int(m.Pix[o+2])) / 1000)
	}
	r, g, bl, _ := img.At(x, y).RGBA()
	return uint8((299*r + 587*g + 114*bl) / 1000 >> 8)
}
