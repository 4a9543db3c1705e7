package synth

import "math"

type featureKind int

const (
	fScrew   featureKind = iota // metal: screw head; missing shows the bare threaded hole
	fHole                       // plastic: molded hole with boss; missing shows a shallow dimple
	fIC                         // pcb: IC body with pins; missing shows pads
	fPassive                    // pcb: chip resistor/capacitor; missing shows two pads
	fCap                        // pcb: electrolytic capacitor, top view; missing shows two pads
)

// feature is a part feature that a "missing" defect can remove. For the pcb
// kinds a and b are half sizes in the component frame (rot swaps u and v);
// for round kinds a is the radius.
type feature struct {
	kind    featureKind
	c       vec2
	a, b    float64
	ang     float64 // screw slot / capacitor mark angle
	rot     bool
	pins    int
	col     rgb
	missing bool
}

const pinLen = 3.0

var (
	silk   = rgb{230, 230, 222}
	solder = rgb{205, 205, 198}
)

// bounds is a local box that contains everything the feature draws.
func (f *feature) bounds() rectF {
	e := max(f.a, f.b)
	switch f.kind {
	case fScrew:
		e *= 1.25
	case fHole:
		e *= 1.35
	case fIC:
		e += pinLen + 4
	default:
		e += 4
	}
	return rectF{f.c.u - e, f.c.v - e, f.c.u + e, f.c.v + e}
}

// local returns (x, y) in the feature's own frame.
func (f *feature) local(u, v float64) (float64, float64) {
	x, y := u-f.c.u, v-f.c.v
	if f.rot {
		x, y = y, x
	}
	return x, y
}

// footprint reports whether (u, v) belongs to what the feature covers: the
// region a missing feature changes, hence its box.
func (f *feature) footprint(u, v float64) bool {
	x, y := f.local(u, v)
	switch f.kind {
	case fScrew:
		return x*x+y*y <= f.a*f.a
	case fHole:
		return x*x+y*y <= 1.2*1.2*f.a*f.a
	case fIC:
		return math.Abs(x) <= f.a && math.Abs(y) <= f.b+pinLen
	case fPassive:
		return math.Abs(x) <= 1.1*f.a && math.Abs(y) <= 1.1*f.b
	default: // fCap
		return x*x+y*y <= f.a*f.a
	}
}

func mix(c, to rgb, t float64) rgb {
	return rgb{c[0] + (to[0]-c[0])*t, c[1] + (to[1]-c[1])*t, c[2] + (to[2]-c[2])*t}
}

func scale(c rgb, f float64) rgb { return rgb{c[0] * f, c[1] * f, c[2] * f} }

// silkscreen draws the printed outline that stays when a component is missing.
func (f *feature) silkscreen(x, y float64, col rgb) rgb {
	switch f.kind {
	case fIC, fPassive:
		ea, eb := f.a+2.5, f.b+2.5
		if f.kind == fIC {
			eb += pinLen
		}
		ax, ay := math.Abs(x), math.Abs(y)
		if (ax <= ea+0.5 && ay <= eb+0.5) && (ax >= ea-0.5 || ay >= eb-0.5) {
			return silk
		}
	case fCap:
		if d := math.Hypot(x, y); math.Abs(d-(f.a+2.5)) <= 0.6 {
			return silk
		}
	}
	return col
}

func (f *feature) shade(u, v float64, col rgb, lu, lv float64) rgb {
	x, y := f.local(u, v)
	switch f.kind {
	case fScrew:
		d := math.Hypot(x, y) / f.a
		switch {
		case d <= 0.9:
			g := 150 + 60*(1-d*d) + 45*math.Max(0, -(x*lu+y*lv)/f.a)
			c := rgb{g, g, g * 1.02}
			cs, sn := math.Cos(f.ang), math.Sin(f.ang)
			sx, sy := cs*x+sn*y, -sn*x+cs*y
			if d < 0.7 && (math.Abs(sx) < 0.12*f.a+0.5 || math.Abs(sy) < 0.12*f.a+0.5) {
				c = rgb{45, 45, 48}
			}
			return c
		case d <= 1:
			return rgb{80, 80, 84}
		case d <= 1.2:
			return scale(col, 0.75)
		}
	case fHole:
		d := math.Hypot(x, y) / f.a
		switch {
		case d <= 0.85:
			wall := math.Max(0, (x*lu+y*lv)/f.a) // far wall is lit
			return mix(rgb{22, 22, 24}, col, 0.15+0.35*wall)
		case d <= 1:
			return scale(col, 0.55)
		case d <= 1.2:
			return scale(col, 1.12)
		case d <= 1.3:
			return scale(col, 0.9)
		}
	case fIC:
		ax, ay := math.Abs(x), math.Abs(y)
		if ax <= f.a && ay <= f.b {
			c := rgb{30, 30, 34}
			if dx, dy := x+f.a-3.5, y+f.b-3.5; dx*dx+dy*dy < 2.2 {
				c = rgb{70, 70, 75}
			}
			return c
		}
		if ay > f.b && ay <= f.b+pinLen && f.onPin(x) {
			return rgb{190, 190, 185}
		}
		return f.silkscreen(x, y, col)
	case fPassive:
		ax, ay := math.Abs(x), math.Abs(y)
		if ax <= f.a && ay <= f.b {
			if ax > 0.62*f.a {
				return rgb{210, 210, 205}
			}
			return f.col
		}
		return f.silkscreen(x, y, col)
	case fCap:
		d := math.Hypot(x, y)
		if d <= f.a {
			g := 150 + 40*(1-d/f.a)
			c := rgb{g, g + 2, g + 8}
			if math.Cos(f.ang)*x+math.Sin(f.ang)*y > 0.45*f.a {
				c = rgb{40, 40, 70}
			}
			if math.Abs(x) < 0.6 || math.Abs(y) < 0.6 {
				c = scale(c, 0.6)
			}
			return c
		}
		return f.silkscreen(x, y, col)
	}
	return col
}

func (f *feature) onPin(x float64) bool {
	pitch := 2 * f.a / float64(f.pins)
	k := math.Floor((x + f.a) / pitch)
	cx := -f.a + (k+0.5)*pitch
	return k >= 0 && k < float64(f.pins) && math.Abs(x-cx) <= pitch*0.25+0.3
}

func (f *feature) shadeMissing(u, v float64, col rgb) rgb {
	x, y := f.local(u, v)
	switch f.kind {
	case fScrew:
		d := math.Hypot(x, y) / f.a
		switch {
		case d <= 0.5:
			return rgb{28, 28, 30}
		case d <= 0.6:
			return rgb{95, 95, 98}
		case d <= 0.72:
			return scale(col, 0.8)
		}
	case fHole: // the core pin broke: a shallow dimple with a flash ring where the hole belongs
		d := math.Hypot(x, y) / f.a
		switch {
		case d <= 0.85:
			return scale(col, 0.93+0.05*(x*0.6+y*0.8)/f.a)
		case d <= 1.05:
			return scale(col, 0.8)
		}
		return col
	case fIC:
		ay := math.Abs(y)
		if ay > f.b-1.5 && ay <= f.b+pinLen && f.onPin(x) {
			return solder
		}
		return f.silkscreen(x, y, col)
	case fPassive:
		ax, ay := math.Abs(x), math.Abs(y)
		if ax >= 0.5*f.a && ax <= 1.1*f.a && ay <= 1.1*f.b {
			return solder
		}
		return f.silkscreen(x, y, col)
	case fCap:
		if dx, dy := math.Abs(x)-0.5*f.a, y; dx*dx+dy*dy <= 0.3*0.3*f.a*f.a {
			return solder
		}
		return f.silkscreen(x, y, col)
	}
	return col
}
