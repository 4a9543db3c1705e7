// Package testimg generates deterministic test images for the part services' tests and
// benchmarks: a scene with a gradient, shapes and seeded noise, so filters have edges to
// find and noise to remove.
package testimg

import (
	"image"
	"image/color"
	"math/rand/v2"

	"gocv.io/x/gocv"
)

// Scene returns a w×h BGR image: a diagonal gradient, a filled rectangle, a circle and
// seeded noise (noise 0 for none). The caller closes it.
func Scene(w, h int, noise int, seed uint64) gocv.Mat {
	pix := make([]byte, w*h*3)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for y := range h {
		for x := range w {
			i := (y*w + x) * 3
			g := (x*255/max(1, w-1) + y*255/max(1, h-1)) / 2
			pix[i], pix[i+1], pix[i+2] = byte(g), byte(255-g), byte((g*3)%256)
		}
	}
	m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, pix)
	if err != nil {
		panic(err)
	}
	out := m.Clone() // own the pixels in C memory
	m.Close()
	gocv.Rectangle(&out, image.Rect(w/8, h/8, w/2, h/2), color.RGBA{R: 250, G: 250, B: 250, A: 255}, -1)
	gocv.Circle(&out, image.Pt(w*2/3, h*2/3), max(1, min(w, h)/6), color.RGBA{R: 10, G: 10, B: 200, A: 255}, -1)
	if noise > 0 {
		data, err := out.DataPtrUint8()
		if err != nil {
			panic(err)
		}
		for i := range data {
			v := int(data[i]) + r.IntN(2*noise+1) - noise
			data[i] = byte(max(0, min(255, v)))
		}
	}
	return out
}

// Gray returns Scene converted to one grey channel. The caller closes it.
func Gray(w, h int, noise int, seed uint64) gocv.Mat {
	c := Scene(w, h, noise, seed)
	defer c.Close()
	g := gocv.NewMat()
	gocv.CvtColor(c, &g, gocv.ColorBGRToGray)
	return g
}

// Solid returns a w×h BGR image of one colour. The caller closes it.
func Solid(w, h int, b, g, r uint8) gocv.Mat {
	return gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(b), float64(g), float64(r), 0), h, w, gocv.MatTypeCV8UC3)
}

// JPEG encodes m as a JPEG of quality 90.
func JPEG(m gocv.Mat) []byte {
	return encode(gocv.JPEGFileExt, m)
}

// PNG encodes m as a PNG.
func PNG(m gocv.Mat) []byte {
	return encode(gocv.PNGFileExt, m)
}

func encode(ext gocv.FileExt, m gocv.Mat) []byte {
	buf, err := gocv.IMEncodeWithParams(ext, m, []int{gocv.IMWriteJpegQuality, 90})
	if err != nil {
		panic(err)
	}
	defer buf.Close()
	return append([]byte(nil), buf.GetBytes()...)
}

// Colour is a convenience for drawing in tests.
func Colour(b, g, r uint8) color.RGBA { return color.RGBA{R: r, G: g, B: b, A: 255} }
