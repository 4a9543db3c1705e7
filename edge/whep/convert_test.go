package whep

import (
	"image"
	"image/color"
	"testing"
)

func TestToI420MatchesBT601(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 7, 5)) // odd sizes exercise the edges
	for i := 0; i < len(src.Pix); i += 4 {
		src.Pix[i], src.Pix[i+1], src.Pix[i+2], src.Pix[i+3] = uint8(i*7), uint8(i*13), uint8(i*29), 255
	}
	for _, in := range []image.Image{src, toGeneric{src}} {
		dst := image.NewYCbCr(src.Rect, image.YCbCrSubsampleRatio420)
		ToI420(dst, in)
		for y := range 5 {
			for x := range 7 {
				c := src.RGBAAt(x, y)
				want := (66*int(c.R) + 129*int(c.G) + 25*int(c.B) + 128 + 16<<8) >> 8
				if got := int(dst.Y[dst.YOffset(x, y)]); got != want {
					t.Fatalf("%T: Y(%d,%d) = %d, want %d", in, x, y, got, want)
				}
			}
		}
		// Chroma of a grey pixel block is neutral.
		grey := image.NewUniform(color.RGBA{90, 90, 90, 255})
		ToI420(dst, &image.Uniform{C: grey.C})
		if dst.Cb[0] != 128 || dst.Cr[0] != 128 {
			t.Fatalf("grey chroma %d %d", dst.Cb[0], dst.Cr[0])
		}
	}
}

// toGeneric hides the concrete type to exercise the slow path.
type toGeneric struct{ image.Image }

func BenchmarkToI420RGBA720p(b *testing.B) {
	src := image.NewRGBA(image.Rect(0, 0, 1280, 720))
	for i := range src.Pix {
		src.Pix[i] = uint8(i)
	}
	dst := image.NewYCbCr(src.Rect, image.YCbCrSubsampleRatio420)
	b.ResetTimer()
	for range b.N {
		ToI420(dst, src)
	}
}
