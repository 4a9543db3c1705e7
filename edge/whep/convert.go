package whep

import "image"

// ToI420 converts src into dst (4:2:0, same size, zero origin) with BT.601 studio-swing
// coefficients, averaging each 2×2 block for chroma. *image.RGBA and *image.YCbCr have fast paths.
func ToI420(dst *image.YCbCr, src image.Image) {
	b := src.Bounds()
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	switch s := src.(type) {
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			yr := dst.Y[y*dst.YStride:]
			for x := 0; x < w; x++ {
				r, g, bl := int(row[4*x]), int(row[4*x+1]), int(row[4*x+2])
				yr[x] = uint8((66*r + 129*g + 25*bl + 128 + 16<<8) >> 8)
			}
		}
		for y := 0; y < (h+1)/2; y++ {
			r0 := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+2*y):]
			r1 := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+min(2*y+1, h-1)):]
			cb, cr := dst.Cb[y*dst.CStride:], dst.Cr[y*dst.CStride:]
			for x := 0; x < (w+1)/2; x++ {
				o0, o1 := 8*x, 4*min(2*x+1, w-1)
				r := int(r0[o0]) + int(r0[o1]) + int(r1[o0]) + int(r1[o1])
				g := int(r0[o0+1]) + int(r0[o1+1]) + int(r1[o0+1]) + int(r1[o1+1])
				bl := int(r0[o0+2]) + int(r0[o1+2]) + int(r1[o0+2]) + int(r1[o1+2])
				cb[x] = uint8((-38*r - 74*g + 112*bl + 512 + 128<<10) >> 10)
				cr[x] = uint8((112*r - 94*g - 18*bl + 512 + 128<<10) >> 10)
			}
		}
		return
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			copy(dst.Y[y*dst.YStride:y*dst.YStride+w], s.Y[s.YOffset(b.Min.X, b.Min.Y+y):])
		}
		for y := 0; y < (h+1)/2; y++ {
			for x := 0; x < (w+1)/2; x++ {
				o := s.COffset(b.Min.X+2*x, b.Min.Y+2*y)
				dst.Cb[y*dst.CStride+x] = s.Cb[o]
				dst.Cr[y*dst.CStride+x] = s.Cr[o]
			}
		}
		return
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, _ := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
			dst.Y[y*dst.YStride+x] = uint8((66*int(r>>8) + 129*int(g>>8) + 25*int(bl>>8) + 128 + 16<<8) >> 8)
			if x%2 == 0 && y%2 == 0 {
				o := (y/2)*dst.CStride + x/2
				dst.Cb[o] = uint8((-38*int(r>>8) - 74*int(g>>8) + 112*int(bl>>8) + 128 + 128<<8) >> 8)
				dst.Cr[o] = uint8((112*int(r>>8) - 94*int(g>>8) - 18*int(bl>>8) + 128 + 128<<8) >> 8)
			}
		}
	}
}
