package infer

import (
	"fmt"
	"image"
	"image/color"

	"gocv.io/x/gocv"
)

// palette holds one BGR-friendly colour per class id (wrapping around).
var palette = []color.RGBA{
	{R: 230, G: 25, B: 75, A: 255},  // scratch: red
	{R: 245, G: 130, B: 48, A: 255}, // dent: orange
	{R: 255, G: 225, B: 25, A: 255}, // crack: yellow
	{R: 60, G: 180, B: 75, A: 255},  // stain: green
	{R: 0, G: 130, B: 200, A: 255},  // missing: blue
	{R: 145, G: 30, B: 180, A: 255}, // purple
	{R: 70, G: 240, B: 240, A: 255}, // cyan
	{R: 240, G: 50, B: 230, A: 255}, // magenta
}

// ClassColor returns the colour used to draw class id.
func ClassColor(id int) color.RGBA {
	if id < 0 {
		id = -id
	}
	return palette[id%len(palette)]
}

// Draw annotates img (BGR, 8-bit, 3 channels) in place: each detection's box in its class
// colour and a filled label "name 0.93" above it (inside the box when there is no room).
// Line width and text size scale with the image.
func Draw(img *gocv.Mat, dets []Detection) {
	if img.Empty() {
		return
	}
	side := min(img.Cols(), img.Rows())
	thick := max(1, side/320)
	fontScale := max(0.35, float64(side)/900)
	bounds := image.Rect(0, 0, img.Cols(), img.Rows())
	for _, d := range dets {
		r := d.Rect().Intersect(bounds)
		if r.Empty() {
			continue
		}
		col := ClassColor(d.ClassID)
		gocv.Rectangle(img, r, col, thick)
		text := fmt.Sprintf("%s %.2f", d.Label, d.Score)
		ts := gocv.GetTextSize(text, gocv.FontHersheySimplex, fontScale, 1)
		pad := 2
		top := r.Min.Y - ts.Y - 2*pad
		if top < 0 {
			top = r.Min.Y
		}
		// Near the right edge the label shifts left so it stays readable.
		left := max(0, min(r.Min.X, bounds.Max.X-ts.X-2*pad))
		bg := image.Rect(left, top, left+ts.X+2*pad, top+ts.Y+2*pad).Intersect(bounds)
		gocv.Rectangle(img, bg, col, -1)
		gocv.PutText(img, text, image.Pt(bg.Min.X+pad, bg.Min.Y+pad+ts.Y), gocv.FontHersheySimplex,
			fontScale, textColor(col), 1)
	}
}

// textColor picks black or white for legibility on bg.
func textColor(bg color.RGBA) color.RGBA {
	if 299*int(bg.R)+587*int(bg.G)+114*int(bg.B) > 128000 {
		return color.RGBA{A: 255}
	}
	return color.RGBA{R: 255, G: 255, B: 255, A: 255}
}
