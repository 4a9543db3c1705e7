package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// Camera is the lighting and sensor model applied to a whole frame.
type Camera struct {
	Gain         float64    // overall exposure
	GradX, GradY float64    // linear illumination ramp across the frame, ±
	Vignette     float64    // darkening at the corners, 0..1
	Tint         [3]float64 // per-channel white balance
	Blur         int        // 0 none, 1 = [1 2 1], 2 = [1 4 6 4 1] separable defocus
	Noise        float64    // sensor noise standard deviation in 8-bit levels
}

// RandomCamera draws lighting, blur and noise settings.
func RandomCamera(r *rand.Rand) Camera {
	c := Camera{
		Gain:     uniform(r, 0.75, 1.2),
		GradX:    uniform(r, -0.15, 0.15),
		GradY:    uniform(r, -0.15, 0.15),
		Vignette: uniform(r, 0, 0.3),
		Noise:    uniform(r, 1, 6),
	}
	for i := range c.Tint {
		c.Tint[i] = uniform(r, 0.95, 1.05)
	}
	switch k := r.Float64(); {
	case k < 0.55:
	case k < 0.85:
		c.Blur = 1
	default:
		c.Blur = 2
	}
	return c
}

// Apply lights, blurs and adds noise (drawn from r) to img in place.
func (c Camera) Apply(img *image.RGBA, r *rand.Rand) {
	b := img.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		ny := (float64(y-b.Min.Y)+0.5)/h*2 - 1
		row := img.Pix[(y-b.Min.Y)*img.Stride:]
		for x := b.Min.X; x < b.Max.X; x++ {
			nx := (float64(x-b.Min.X)+0.5)/w*2 - 1
			f := c.Gain * (1 + c.GradX*nx + c.GradY*ny) * (1 - c.Vignette*(nx*nx+ny*ny)/2)
			o := (x - b.Min.X) * 4
			for ch := range 3 {
				row[o+ch] = uint8(min(255, max(0, float64(row[o+ch])*f*c.Tint[ch]+0.5)))
			}
		}
	}
	switch c.Blur {
	case 1:
		blur(img, []int{1, 2, 1})
	case 2:
		blur(img, []int{1, 4, 6, 4, 1})
	}
	if c.Noise > 0 {
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := img.Pix[(y-b.Min.Y)*img.Stride:]
			for x := 0; x < b.Dx(); x++ {
				o := x * 4
				for ch := range 3 {
					row[o+ch] = uint8(min(255, max(0, float64(row[o+ch])+r.NormFloat64()*c.Noise+0.5)))
				}
			}
		}
	}
}

// blur applies a normalised separable kernel, clamping at the borders.
func blur(img *image.RGBA, k []int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	sum := 0
	for _, v := range k {
		sum += v
	}
	half := len(k) / 2
	tmp := make([]uint8, len(img.Pix))
	pass := func(src, dst []uint8, dx, dy int) {
		for y := range h {
			for x := range w {
				for ch := range 3 {
					acc := 0
					for i, kv := range k {
						xx := min(w-1, max(0, x+(i-half)*dx))
						yy := min(h-1, max(0, y+(i-half)*dy))
						acc += kv * int(src[yy*img.Stride+xx*4+ch])
					}
					dst[y*img.Stride+x*4+ch] = uint8((acc + sum/2) / sum)
				}
				dst[y*img.Stride+x*4+3] = src[y*img.Stride+x*4+3]
			}
		}
	}
	pass(img.Pix, tmp, 1, 0)
	pass(tmp, img.Pix, 0, 1)
}

// DrawBackground fills dst with a conveyor belt, a light table or an
// inspection mat.
func DrawBackground(dst *image.RGBA, r *rand.Rand) {
	b := dst.Bounds()
	seed := r.Uint32()
	var base rgb
	var ribs, speck, period float64
	switch r.IntN(3) {
	case 0: // conveyor belt: dark, fine ribs
		g := uniform(r, 40, 80)
		base, ribs, speck, period = rgb{g, g, g * 1.03}, uniform(r, 3, 7), 5, uniform(r, 3, 7)
	case 1: // light table
		g := uniform(r, 165, 215)
		base, speck = rgb{g, g, g * 0.98}, 2
	default: // anti-static mat
		base, speck = rgb{uniform(r, 50, 80), uniform(r, 70, 110), uniform(r, 80, 120)}, 6
	}
	gx, gy := uniform(r, -0.1, 0.1), uniform(r, -0.1, 0.1)
	w, h := float64(b.Dx()), float64(b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := dst.Pix[(y-b.Min.Y)*dst.Stride:]
		rib := 0.0
		if period > 0 {
			rib = ribs * math.Sin(float64(y)*2*math.Pi/period)
		}
		for x := b.Min.X; x < b.Max.X; x++ {
			f := 1 + gx*(float64(x-b.Min.X)/w-0.5) + gy*(float64(y-b.Min.Y)/h-0.5)
			n := speck*hnoise(x, y, seed) + rib
			o := (x - b.Min.X) * 4
			for ch := range 3 {
				row[o+ch] = uint8(min(255, max(0, base[ch]*f+n+0.5)))
			}
			row[o+3] = 255
		}
	}
}
