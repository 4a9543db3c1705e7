package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

type rgb = [3]float64

// Part is one randomly drawn manufactured part with its planned defects.
// Geometry is held in part-local coordinates (u along the long side, v
// across, origin at the part's centre), so the same Part can be drawn at any
// position of any frame.
type Part struct {
	Surface string  // Metal, PCB or Plastic
	Angle   float64 // rotation in radians, counter-clockwise on screen

	hw, hh, radius float64 // half width, half height, corner radius
	disc           bool    // round part of radius hw
	base           rgb
	texSeed        uint32
	streak         []float64 // metal: brushing profile along v
	sheenU, sheenW float64   // metal: position and width of the reflection
	wave           [4]float64
	traces         []rectF // pcb: traces under the solder mask
	vias           []vec2  // pcb
	features       []feature
	defects        []defectSpec
}

type vec2 struct{ u, v float64 }

type rectF struct{ u0, v0, u1, v1 float64 }

func (a rectF) overlaps(b rectF) bool {
	return a.u0 < b.u1 && b.u0 < a.u1 && a.v0 < b.v1 && b.v0 < a.v1
}

func (a rectF) grow(d float64) rectF { return rectF{a.u0 - d, a.v0 - d, a.u1 + d, a.v1 + d} }

func (a rectF) has(u, v float64) bool { return u >= a.u0 && u <= a.u1 && v >= a.v0 && v <= a.v1 }

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

func clamp01(x float64) float64 { return min(1, max(0, x)) }

// RandomPart draws a part description that fits, at any rotation, inside a
// frame of opt.Width×opt.Height. It plans defects with probability opt.DefectRate.
// opt must be valid (see Options.Validate).
func RandomPart(r *rand.Rand, opt Options) *Part {
	surfaces := opt.Surfaces
	if len(surfaces) == 0 {
		surfaces = Surfaces
	}
	p := &Part{Surface: surfaces[r.IntN(len(surfaces))], Angle: r.Float64() * 2 * math.Pi, texSeed: r.Uint32()}
	m := float64(min(opt.Width, opt.Height))
	p.hw = m * uniform(r, 0.25, 0.36)
	p.hh = p.hw * uniform(r, 0.55, 0.85)
	switch p.Surface {
	case Metal:
		p.radius = uniform(r, 2, 7)
	case PCB:
		p.radius = uniform(r, 1.5, 3.5)
	case Plastic:
		if r.Float64() < 0.4 {
			p.disc = true
			p.hh = p.hw * uniform(r, 0.85, 0.95)
			p.hw = p.hh
		}
		p.radius = p.hh * uniform(r, 0.15, 0.35)
	}
	if d, lim := math.Hypot(p.hw, p.hh), m/2-8; !p.disc && d > lim {
		p.hw, p.hh, p.radius = p.hw*lim/d, p.hh*lim/d, p.radius*lim/d
	}
	switch p.Surface {
	case Metal:
		p.setupMetal(r)
	case PCB:
		p.setupPCB(r)
	case Plastic:
		p.setupPlastic(r)
	}
	if r.Float64() < opt.DefectRate {
		p.planDefects(r, 1+r.IntN(opt.MaxDefects))
	}
	return p
}

// Extent returns the half size of the part's axis-aligned bounding box at its
// angle, shadow included: the part fits in [centre-Extent, centre+Extent].
func (p *Part) Extent() image.Point {
	if p.disc {
		e := int(math.Ceil(p.hw)) + 6
		return image.Pt(e, e)
	}
	c, s := math.Abs(math.Cos(p.Angle)), math.Abs(math.Sin(p.Angle))
	return image.Pt(int(math.Ceil(p.hw*c+p.hh*s))+6, int(math.Ceil(p.hw*s+p.hh*c))+6)
}

// Classes returns the planned defect classes, in the order DrawAt reports them.
func (p *Part) Classes() []string {
	out := make([]string, len(p.defects))
	for i, d := range p.defects {
		out[i] = d.class
	}
	return out
}

// sdf is the signed distance to the part outline: negative inside.
func (p *Part) sdf(u, v float64) float64 {
	if p.disc {
		return math.Hypot(u, v) - p.hw
	}
	qx, qy := math.Abs(u)-p.hw+p.radius, math.Abs(v)-p.hh+p.radius
	return math.Hypot(max(qx, 0), max(qy, 0)) + min(max(qx, qy), 0) - p.radius
}

// inside reports whether (u, v) is at least margin pixels inside the outline.
func (p *Part) inside(u, v, margin float64) bool { return p.sdf(u, v) <= -margin }

// hnoise is a cheap deterministic per-pixel noise in [-1, 1].
func hnoise(x, y int, seed uint32) float64 {
	h := uint32(x)*0x8da6b343 ^ uint32(y)*0xd8163841 ^ seed*0xcb1ab31f
	h ^= h >> 15
	h *= 0x2c1b3c6d
	h ^= h >> 12
	h *= 0x297a2d39
	h ^= h >> 15
	return float64(h)/float64(math.MaxUint32)*2 - 1
}

func (p *Part) surfaceColor(u, v float64) rgb {
	iu, iv := int(math.Floor(u)), int(math.Floor(v))
	switch p.Surface {
	case Metal:
		i := min(len(p.streak)-1, max(0, iv+int(p.hh)+2))
		du := (u - p.sheenU) / p.sheenW
		f := (1 + p.streak[i]) * (0.86 + 0.26*math.Exp(-du*du)) * (1 + 0.04*math.Sin(u*p.wave[0]+p.wave[1]))
		n := 2.5 * hnoise(iu, iv, p.texSeed)
		return rgb{p.base[0]*f + n, p.base[1]*f + n, p.base[2]*f + n}
	case PCB:
		c := p.base
		n := 3 * hnoise(iu, iv, p.texSeed)
		for _, t := range p.traces {
			if t.has(u, v) {
				c = rgb{c[0] * 1.35, c[1] * 1.3, c[2] * 1.2}
				break
			}
		}
		for _, w := range p.vias {
			du, dv := u-w.u, v-w.v
			if d2 := du*du + dv*dv; d2 < 2.6*2.6 {
				if d2 < 1.1*1.1 {
					c = rgb{25, 25, 20}
				} else {
					c = rgb{200, 185, 140}
				}
				break
			}
		}
		return rgb{c[0] + n, c[1] + n, c[2] + n}
	default: // Plastic
		f := 1 + 0.035*math.Sin(u*p.wave[0]+p.wave[1])*math.Sin(v*p.wave[2]+p.wave[3])
		n := 2 * hnoise(iu, iv, p.texSeed)
		return rgb{p.base[0]*f + n, p.base[1]*f + n, p.base[2]*f + n}
	}
}

func (p *Part) setupMetal(r *rand.Rand) {
	g := uniform(r, 120, 185)
	p.base = rgb{g, g * uniform(r, 0.99, 1.02), g * uniform(r, 1.0, 1.06)}
	n := int(2*p.hh) + 6
	raw := make([]float64, n)
	for i := range raw {
		raw[i] = r.NormFloat64()
	}
	p.streak = make([]float64, n)
	amp := uniform(r, 0.04, 0.09)
	for i := range p.streak {
		s := 0.0
		for k := -2; k <= 2; k++ {
			s += raw[min(n-1, max(0, i+k))]
		}
		p.streak[i] = amp * (0.35*s/math.Sqrt(5) + 0.65*raw[i])
	}
	p.sheenU = uniform(r, -p.hw, p.hw)
	p.sheenW = p.hw * uniform(r, 0.3, 0.8)
	p.wave = [4]float64{uniform(r, 0.02, 0.08), uniform(r, 0, 6.3)}
	a := min(14, max(4.5, p.hh*uniform(r, 0.08, 0.12)))
	mu, mv := max(a*1.9, 0.14*p.hh), max(a*1.9, 0.14*p.hh)
	for _, s := range [4]vec2{{-1, -1}, {1, -1}, {1, 1}, {-1, 1}} {
		p.features = append(p.features, feature{kind: fScrew, c: vec2{s.u * (p.hw - mu), s.v * (p.hh - mv)}, a: a, b: a, ang: r.Float64() * math.Pi})
	}
}

func (p *Part) setupPCB(r *rand.Rand) {
	p.base = rgb{uniform(r, 20, 40), uniform(r, 85, 125), uniform(r, 40, 70)}
	for range 12 + r.IntN(9) {
		w := uniform(r, 0.6, 1.3)
		u, v := uniform(r, -p.hw, p.hw), uniform(r, -p.hh, p.hh)
		l := uniform(r, 0.2, 0.7) * 2 * p.hw
		if r.IntN(2) == 0 {
			p.traces = append(p.traces, rectF{u - l/2, v - w, u + l/2, v + w})
		} else {
			p.traces = append(p.traces, rectF{u - w, v - l/2, u + w, v + l/2})
		}
	}
	for range 8 + r.IntN(9) {
		p.vias = append(p.vias, vec2{uniform(r, -p.hw+5, p.hw-5), uniform(r, -p.hh+5, p.hh-5)})
	}
	const cols, rows = 3, 2
	m := 0.1 * p.hh
	cw, ch := (2*p.hw-2*m)/cols, (2*p.hh-2*m)/rows
	for j := range rows {
		for i := range cols {
			c := vec2{-p.hw + m + cw*(float64(i)+0.5+uniform(r, -0.06, 0.06)), -p.hh + m + ch*(float64(j)+0.5+uniform(r, -0.06, 0.06))}
			s := min(cw, ch)
			f := feature{c: c, rot: r.IntN(2) == 1}
			switch k := r.Float64(); {
			case k < 0.4:
				f.kind, f.a, f.b, f.pins = fIC, s*uniform(r, 0.22, 0.3), s*uniform(r, 0.14, 0.2), 3+r.IntN(4)
			case k < 0.75:
				f.kind, f.a = fPassive, s*uniform(r, 0.14, 0.2)
				f.b = f.a * uniform(r, 0.45, 0.6)
				if r.IntN(2) == 0 {
					f.col = rgb{uniform(r, 160, 200), uniform(r, 120, 150), uniform(r, 70, 100)}
				} else {
					f.col = rgb{35, 35, 38}
				}
			default:
				f.kind, f.a = fCap, s*uniform(r, 0.2, 0.27)
				f.b = f.a
				f.ang = r.Float64() * 2 * math.Pi
			}
			p.features = append(p.features, f)
		}
	}
}

var plasticColors = []rgb{{200, 200, 195}, {70, 72, 78}, {40, 70, 160}, {180, 40, 35}, {225, 215, 190}, {220, 180, 40}, {35, 35, 38}, {60, 120, 70}}

func (p *Part) setupPlastic(r *rand.Rand) {
	c := plasticColors[r.IntN(len(plasticColors))]
	for i := range c {
		c[i] = min(245, max(10, c[i]*uniform(r, 0.88, 1.12)))
	}
	p.base = c
	p.wave = [4]float64{uniform(r, 0.02, 0.06), uniform(r, 0, 6.3), uniform(r, 0.02, 0.06), uniform(r, 0, 6.3)}
	a := max(4, p.hh*uniform(r, 0.09, 0.13))
	var at []vec2
	switch {
	case p.disc:
		n := 3 + r.IntN(2)
		phase := r.Float64() * 2 * math.Pi
		rr := p.hw * uniform(r, 0.55, 0.65)
		for k := range n {
			t := phase + 2*math.Pi*float64(k)/float64(n)
			at = append(at, vec2{rr * math.Cos(t), rr * math.Sin(t)})
		}
	case r.IntN(2) == 0:
		mu, mv := max(a*2.2, 0.2*p.hh)+p.radius*0.3, max(a*2.2, 0.2*p.hh)+p.radius*0.3
		at = []vec2{{-p.hw + mu, -p.hh + mv}, {p.hw - mu, -p.hh + mv}, {p.hw - mu, p.hh - mv}, {-p.hw + mu, p.hh - mv}}
	default:
		x := p.hw * uniform(r, 0.5, 0.65)
		at = []vec2{{-x, 0}, {x, 0}}
	}
	for _, c := range at {
		p.features = append(p.features, feature{kind: fHole, c: c, a: a, b: a})
	}
}

// DrawAt draws the part centred at centre (in dst's coordinates, which may
// lie partly or wholly outside dst) and returns the defects that are visible,
// with boxes clipped to dst.
func (p *Part) DrawAt(dst *image.RGBA, centre image.Point) []Defect {
	b := dst.Bounds()
	cs, sn := math.Cos(p.Angle), math.Sin(p.Angle)
	ex := p.Extent()
	cx, cy := float64(centre.X), float64(centre.Y)
	// World light comes from the top-left; express it in part coordinates.
	lx, ly := -0.6, -0.8
	lu, lv := cs*lx+sn*ly, -sn*lx+cs*ly
	p.shadow(dst, centre, cs, sn)

	boxes := make([]image.Rectangle, len(p.defects))
	area := image.Rect(centre.X-ex.X, centre.Y-ex.Y, centre.X+ex.X+1, centre.Y+ex.Y+1).Intersect(b)
	for y := area.Min.Y; y < area.Max.Y; y++ {
		dy := float64(y) + 0.5 - cy
		row := dst.Pix[(y-b.Min.Y)*dst.Stride:]
		for x := area.Min.X; x < area.Max.X; x++ {
			dx := float64(x) + 0.5 - cx
			u, v := cs*dx+sn*dy, -sn*dx+cs*dy
			d := p.sdf(u, v)
			if d > 0.5 {
				continue
			}
			alpha := clamp01(0.5 - d)
			col := p.surfaceColor(u, v)
			if d > -3 { // bevelled edge: lit on the light side, dark on the other
				t := (d + 3) / 3
				e := 0.0
				if !p.disc {
					if math.Abs(u)-p.hw > math.Abs(v)-p.hh {
						e = math.Copysign(1, u) * lu
					} else {
						e = math.Copysign(1, v) * lv
					}
				} else {
					e = (u*lu + v*lv) / p.hw
				}
				f := 1 + t*(0.25*e-0.12)
				col = rgb{col[0] * f, col[1] * f, col[2] * f}
			}
			for i := range p.features {
				f := &p.features[i]
				if !f.bounds().has(u, v) {
					continue
				}
				if f.missing {
					col = f.shadeMissing(u, v, col)
				} else {
					col = f.shade(u, v, col, lu, lv)
				}
			}
			for i := range p.defects {
				df := &p.defects[i]
				if !df.box.has(u, v) {
					continue
				}
				var in bool
				if df.class == Missing {
					in = p.features[df.feat].footprint(u, v)
				} else {
					col, in = df.apply(u, v, col, lu, lv)
				}
				if in && alpha >= 0.5 {
					boxes[i] = boxes[i].Union(image.Rect(x, y, x+1, y+1))
				}
			}
			o := (x - b.Min.X) * 4
			for c := range 3 {
				v := float64(row[o+c])*(1-alpha) + col[c]*alpha
				row[o+c] = uint8(min(255, max(0, v+0.5)))
			}
			row[o+3] = 255
		}
	}
	var out []Defect
	for i, bx := range boxes {
		if !bx.Empty() {
			out = append(out, Defect{Class: p.defects[i].class, Box: bx})
		}
	}
	return out
}

// shadow darkens a soft, offset copy of the outline under the part.
func (p *Part) shadow(dst *image.RGBA, centre image.Point, cs, sn float64) {
	const ox, oy, soft, depth = 3.0, 4.0, 4.0, 0.4
	b := dst.Bounds()
	ex := p.Extent()
	area := image.Rect(centre.X-ex.X, centre.Y-ex.Y, centre.X+ex.X+8, centre.Y+ex.Y+8).Intersect(b)
	cx, cy := float64(centre.X)+ox, float64(centre.Y)+oy
	for y := area.Min.Y; y < area.Max.Y; y++ {
		dy := float64(y) + 0.5 - cy
		row := dst.Pix[(y-b.Min.Y)*dst.Stride:]
		for x := area.Min.X; x < area.Max.X; x++ {
			dx := float64(x) + 0.5 - cx
			d := p.sdf(cs*dx+sn*dy, -sn*dx+cs*dy)
			if d > soft {
				continue
			}
			f := 1 - depth*clamp01(0.5-d/(2*soft))
			o := (x - b.Min.X) * 4
			for c := range 3 {
				row[o+c] = uint8(float64(row[o+c])*f + 0.5)
			}
		}
	}
}
