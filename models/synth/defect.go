package synth

import (
	"math"
	"math/rand/v2"
)

// defectSpec is a planned defect in part-local coordinates.
type defectSpec struct {
	class    string
	box      rectF    // local box containing every pixel the defect may touch
	lines    [][]vec2 // scratch, crack
	width    float64
	strength float64
	c        vec2    // dent, stain centre
	a, b     float64 // dent, stain radii
	cs, sn   float64 // dent, stain rotation
	lobe     [4]float64
	col      rgb
	feat     int // missing: index into Part.features
}

// planDefects plans n defects, keeping them apart from each other and, when
// possible, from the part's features.
func (p *Part) planDefects(r *rand.Rand, n int) {
	var taken []rectF
	for k := range n {
		class := Classes[r.IntN(len(Classes))]
		if class == Missing {
			var free []int
			for i, f := range p.features {
				if !f.missing && !overlapsAny(f.bounds(), taken) {
					free = append(free, i)
				}
			}
			if len(free) == 0 {
				class = Scratch
			} else {
				i := free[r.IntN(len(free))]
				p.features[i].missing = true
				d := defectSpec{class: Missing, box: p.features[i].bounds(), feat: i}
				p.defects = append(p.defects, d)
				taken = append(taken, d.box)
				continue
			}
		}
		var d defectSpec
		placed := false
		for try := range 150 {
			var ok bool
			d, ok = p.newDefect(r, class)
			if !ok {
				continue
			}
			// Prefer clear surface; then accept crossing a feature; the
			// first defect finally accepts overlapping nothing in particular.
			if (try < 30 && p.hitsFeature(d.box)) || (overlapsAny(d.box.grow(3), taken) && (k > 0 || try < 120)) {
				continue
			}
			placed = true
			break
		}
		if !placed {
			continue
		}
		p.defects = append(p.defects, d)
		taken = append(taken, d.box)
	}
}

func overlapsAny(b rectF, rs []rectF) bool {
	for _, r := range rs {
		if b.overlaps(r) {
			return true
		}
	}
	return false
}

func (p *Part) hitsFeature(b rectF) bool {
	for _, f := range p.features {
		if b.overlaps(f.bounds()) {
			return true
		}
	}
	return false
}

// newDefect draws one defect of class; ok is false when it does not lie
// inside the part.
func (p *Part) newDefect(r *rand.Rand, class string) (defectSpec, bool) {
	short := 2 * min(p.hw, p.hh)
	d := defectSpec{class: class}
	lum := (p.base[0] + p.base[1] + p.base[2]) / 3
	switch class {
	case Scratch:
		l := short * uniform(r, 0.25, 0.55)
		t := r.Float64() * 2 * math.Pi
		p0 := vec2{uniform(r, -p.hw, p.hw), uniform(r, -p.hh, p.hh)}
		bend := l * uniform(r, -0.1, 0.1)
		var pts []vec2
		for i := range 5 {
			s := float64(i) / 4
			off := bend * 4 * s * (1 - s)
			pts = append(pts, vec2{p0.u + math.Cos(t)*l*s - math.Sin(t)*off, p0.v + math.Sin(t)*l*s + math.Cos(t)*off})
		}
		d.lines = [][]vec2{pts}
		d.width = uniform(r, 1.2, 2.4)
		d.strength = uniform(r, 0.65, 0.95)
		switch {
		case p.Surface == Metal:
			d.col = rgb{240, 240, 245}
		case p.Surface == PCB:
			d.col = rgb{235, 175, 100} // exposed copper
		case lum > 140:
			d.col = scale(p.base, 0.45)
		default:
			d.col = mix(p.base, rgb{235, 235, 235}, 0.7)
		}
	case Crack:
		t := r.Float64() * 2 * math.Pi
		pt := vec2{uniform(r, -p.hw, p.hw), uniform(r, -p.hh, p.hh)}
		main := []vec2{pt}
		steps := 6 + r.IntN(5)
		for range steps {
			t += r.NormFloat64() * 0.5
			s := uniform(r, 3, 7) * short / 130
			pt = vec2{pt.u + math.Cos(t)*s, pt.v + math.Sin(t)*s}
			main = append(main, pt)
		}
		d.lines = [][]vec2{main}
		if r.IntN(2) == 0 {
			bp := main[steps/2]
			bt := t + math.Copysign(uniform(r, 0.6, 1.2), r.NormFloat64())
			br := []vec2{bp}
			for range 2 + r.IntN(3) {
				bt += r.NormFloat64() * 0.4
				s := uniform(r, 3, 6) * short / 130
				bp = vec2{bp.u + math.Cos(bt)*s, bp.v + math.Sin(bt)*s}
				br = append(br, bp)
			}
			d.lines = append(d.lines, br)
		}
		d.width = uniform(r, 1.0, 1.8)
		d.strength = uniform(r, 0.75, 0.92)
	case Dent:
		d.c = vec2{uniform(r, -p.hw, p.hw), uniform(r, -p.hh, p.hh)}
		d.a = short * uniform(r, 0.04, 0.09)
		d.b = d.a * uniform(r, 0.6, 1)
		t := r.Float64() * math.Pi
		d.cs, d.sn = math.Cos(t), math.Sin(t)
		d.strength = uniform(r, 0.7, 1.1)
	case Stain:
		d.c = vec2{uniform(r, -p.hw, p.hw), uniform(r, -p.hh, p.hh)}
		d.a = short * uniform(r, 0.05, 0.12)
		d.b = d.a * uniform(r, 0.6, 1)
		t := r.Float64() * math.Pi
		d.cs, d.sn = math.Cos(t), math.Sin(t)
		d.lobe = [4]float64{uniform(r, 0.08, 0.22), r.Float64() * 6.3, uniform(r, 0.04, 0.12), r.Float64() * 6.3}
		d.strength = uniform(r, 0.5, 0.8)
		stains := []rgb{{70, 50, 30}, {150, 80, 35}, {40, 40, 30}, {225, 220, 200}}
		d.col = stains[r.IntN(len(stains))]
		if lum > 150 && d.col[0] > 200 {
			d.col = stains[1]
		}
		if lum < 60 && d.col[0] < 80 {
			d.col = stains[3]
		}
	}
	const edge = 2.5
	switch class {
	case Scratch, Crack:
		b := rectF{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
		for _, l := range d.lines {
			for _, q := range l {
				if !p.inside(q.u, q.v, 6) {
					return d, false
				}
				b = rectF{min(b.u0, q.u), min(b.v0, q.v), max(b.u1, q.u), max(b.v1, q.v)}
			}
		}
		d.box = b.grow(d.width/2 + 1)
	default:
		e := max(d.a, d.b) * 1.3
		d.box = rectF{d.c.u - e, d.c.v - e, d.c.u + e, d.c.v + e}
		for _, q := range [4]vec2{{d.box.u0, d.box.v0}, {d.box.u1, d.box.v0}, {d.box.u0, d.box.v1}, {d.box.u1, d.box.v1}} {
			if !p.inside(q.u, q.v, edge) {
				return d, false
			}
		}
	}
	return d, true
}

func distSeg(u, v float64, a, b vec2) float64 {
	du, dv := b.u-a.u, b.v-a.v
	l2 := du*du + dv*dv
	t := 0.0
	if l2 > 0 {
		t = clamp01(((u-a.u)*du + (v-a.v)*dv) / l2)
	}
	return math.Hypot(u-a.u-t*du, v-a.v-t*dv)
}

// apply shades col at (u, v) and reports whether the pixel counts for the box.
func (d *defectSpec) apply(u, v float64, col rgb, lu, lv float64) (rgb, bool) {
	switch d.class {
	case Scratch, Crack:
		dist := math.Inf(1)
		for _, l := range d.lines {
			for i := 1; i < len(l); i++ {
				dist = min(dist, distSeg(u, v, l[i-1], l[i]))
			}
		}
		a := clamp01(d.width/2+0.5-dist) * d.strength
		if a <= 0 {
			return col, false
		}
		if d.class == Crack {
			return scale(col, 1-a*0.9), a >= 0.3
		}
		return mix(col, d.col, a), a >= 0.3
	case Dent:
		x, y := u-d.c.u, v-d.c.v
		x, y = d.cs*x+d.sn*y, -d.sn*x+d.cs*y
		xn, yn := x/d.a, y/d.b
		r2 := xn*xn + yn*yn
		if r2 >= 1 {
			return col, false
		}
		llu, llv := d.cs*lu+d.sn*lv, -d.sn*lu+d.cs*lv
		g := xn*llu + yn*llv
		f := 1 - d.strength*1.6*g*(1-r2) - 0.06
		return scale(col, f), r2 < 0.8*0.8
	case Stain:
		x, y := u-d.c.u, v-d.c.v
		x, y = d.cs*x+d.sn*y, -d.sn*x+d.cs*y
		rn := math.Hypot(x/d.a, y/d.b)
		if rn > 1.35 {
			return col, false
		}
		t := math.Atan2(y, x)
		rb := 1 + d.lobe[0]*math.Sin(3*t+d.lobe[1]) + d.lobe[2]*math.Sin(5*t+d.lobe[3])
		e := clamp01((rb-rn)*min(d.a, d.b)/1.2 + 0.5)
		ring := min(1, 0.7+0.4*rn/rb)
		a := d.strength * e * ring
		return mix(col, d.col, a), a >= 0.3
	}
	return col, false
}
