package whep

import "image"

// ToI420 converts src into dst (4:2:0, same size, zero origin) with BT.601 studio-swing
// coefficients, averaging each 2×2 block for chroma. *image.RGBA and *image.YCbCr have fast paths.
func ToI420(dst *image.YCbCr, src image.Image) {
	b := src.Bounds()
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	switch s := src.(type) {
	case *image.RGBA:
		rgbaToI420(dst, s)
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

// rgbaToI420 converts two rows at a time: four luma samples and one chroma pair per 2×2
// block, on re-sliced rows so the compiler drops the bounds checks in the inner loop.
func rgbaToI420(dst *image.YCbCr, s *image.RGBA) {
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	b := s.Rect.Min
	luma := func(p []uint8) uint8 {
		return uint8((66*int(p[0]) + 129*int(p[1]) + 25*int(p[2]) + 128 + 16<<8) >> 8)
	}
	for y := 0; y < h; y += 2 {
		y1 := min(y+1, h-1)
		r0 := s.Pix[s.PixOffset(b.X, b.Y+y):][: 4*w : 4*w]
		r1 := s.Pix[s.PixOffset(b.X, b.Y+y1):][: 4*w : 4*w]
		l0 := dst.Y[y*dst.YStride:][:w:w]
		l1 := dst.Y[y1*dst.YStride:][:w:w]
		cb := dst.Cb[(y/2)*dst.CStride:][: (w+1)/2 : (w+1)/2]
		cr := dst.Cr[(y/2)*dst.CStride:][: (w+1)/2 : (w+1)/2]
		for x := 0; x < w; x += 2 {
			x1 := min(x+1, w-1)
			a, c := r0[4*x:4*x+3:4*x+3], r0[4*x1:4*x1+3:4*x1+3]
			d, e := r1[4*x:4*x+3:4*x+3], r1[4*x1:4*x1+3:4*x1+3]
			l0[x], l0[x1] = luma(a), luma(c)
			l1[x], l1[x1] = luma(d), luma(e)
			r := int(a[0]) + int(c[0]) + int(d[0]) + int(e[0])
			g := int(a[1]) + int(c[1]) + int(d[1]) + int(e[1])
			bl := int(a[2]) + int(c[2]) + int(d[2]) + int(e[2])
			cb[x/2] = uint8((-38*r - 74*g + 112*bl + 512 + 128<<10) >> 10)
			cr[x/2] = uint8((112*r - 94*g - 18*bl + 512 + 128<<10) >> 10)
		}
	}
}
