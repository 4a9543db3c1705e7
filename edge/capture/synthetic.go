package capture

import (
	"context"
	"fmt"
	"image"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/imageflowcanvas/ifc/models/synth"
)

// syntheticConfig is the parsed "synthetic:" spec.
type syntheticConfig struct {
	width, height int
	fps           float64
	seed          uint64
	crossing      time.Duration // time a part takes to cross the frame
	parts         synth.Options
}

// synthetic draws parts from models/synth moving left to right along a conveyor, one part
// at a time, each part crossing the frame in crossing. Frame k of a seed is the same on every
// run except for the marker: the background is drawn from (seed, -1), part i from (seed, i).
type synthetic struct{ cfg syntheticConfig }

// newSynthetic parses synthetic:?width=1280&height=720&fps=30&defect_rate=0.3&seed=1&max_defects=3&crossing=3s.
func newSynthetic(u *url.URL, _ Options) (Source, error) {
	if p := specPath(u); p != "" {
		return nil, fmt.Errorf("%w: synthetic takes no path, got %q", ErrBadSpec, p)
	}
	q := newQuery(u)
	cfg := syntheticConfig{
		width:  q.int("width", 1280, 256, 4096),
		height: q.int("height", 720, 64, 4096),
		fps:    q.float("fps", 30, 0.1, 240),
	}
	cfg.parts = synth.DefaultOptions()
	cfg.parts.Width, cfg.parts.Height = cfg.width, cfg.height
	cfg.parts.DefectRate = q.float("defect_rate", 0.3, 0, 1)
	cfg.parts.MaxDefects = q.int("max_defects", 3, 1, 8)
	if s := q.str("seed", "1"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			q.fail("seed=%q not an unsigned integer", s)
		}
		cfg.seed = n
	}
	d, err := time.ParseDuration(q.str("crossing", "3s"))
	if err != nil || d < 100*time.Millisecond || d > time.Hour {
		q.fail("crossing=%q not a duration in 100ms..1h", q.v.Get("crossing"))
	}
	cfg.crossing = d
	if err := q.done(); err != nil {
		return nil, err
	}
	if err := cfg.parts.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSpec, err)
	}
	return &synthetic{cfg: cfg}, nil
}

func (s *synthetic) Device() string { return "synthetic" }

func (s *synthetic) Mode() (int, int, float64) { return s.cfg.width, s.cfg.height, s.cfg.fps }

func (s *synthetic) Open(context.Context) (Stream, error) {
	return &syntheticStream{scene: newScene(s.cfg), pace: newPacer(s.cfg.fps)}, nil
}

type syntheticStream struct {
	*scene
	pace *pacer
	next int
}

func (s *syntheticStream) Next(ctx context.Context) (Frame, error) {
	if err := s.pace.wait(ctx); err != nil {
		return Frame{}, err
	}
	img, truth := s.render(s.next)
	s.next++
	at := time.Now()
	DrawMarker(img, uint64(s.next), at)
	return Frame{CapturedAt: at, Image: img, Truth: truth}, nil
}

func (s *syntheticStream) Close() error { return nil }

// scene renders the synthetic conveyor frame by frame index. It is not safe for concurrent use.
type scene struct {
	cfg        syntheticConfig
	background *image.RGBA
	perPart    int
	sprite     sprite
	spriteIdx  int
}

// sprite is a part drawn once and composited over any background: DrawAt blends the part
// over dst and darkens dst for the shadow, both linear in dst, so drawing it over black
// (giving base) and over white (giving base+mul) yields out = base + mul·bg/255 exactly,
// up to rounding. The part thus moves over the real background without a visible patch.
type sprite struct {
	base, mul *image.RGBA
	truth     []synth.Defect // in sprite coordinates
}

// newScene prepares the background; parts are drawn lazily as they enter.
func newScene(cfg syntheticConfig) *scene {
	bg := image.NewRGBA(image.Rect(0, 0, cfg.width, cfg.height))
	synth.DrawBackground(bg, synth.NewRand(cfg.seed, -1))
	return &scene{
		cfg:        cfg,
		background: bg,
		perPart:    max(2, int(math.Round(cfg.crossing.Seconds()*cfg.fps))),
		spriteIdx:  -1,
	}
}

// render draws frame k (without marker) and returns it with the visible defects.
func (s *scene) render(k int) (*image.RGBA, []synth.Defect) {
	part, step := k/s.perPart, k%s.perPart
	if part != s.spriteIdx {
		s.drawSprite(part)
	}
	img := image.NewRGBA(s.background.Rect)
	copy(img.Pix, s.background.Pix)
	sr := s.sprite.base.Rect
	// The part enters fully hidden at the left and leaves fully hidden at the right.
	x0 := -sr.Dx() + int(math.Round(float64(step)*float64(s.cfg.width+sr.Dx())/float64(s.perPart-1)))
	y0 := (s.cfg.height - sr.Dy()) / 2
	off := image.Pt(x0, y0)
	dst := sr.Add(off).Intersect(img.Rect)
	for y := dst.Min.Y; y < dst.Max.Y; y++ {
		o := img.PixOffset(dst.Min.X, y)
		so := s.sprite.base.PixOffset(dst.Min.X-x0, y-y0)
		n := 4 * dst.Dx()
		out, base, mul := img.Pix[o:o+n], s.sprite.base.Pix[so:so+n], s.sprite.mul.Pix[so:so+n]
		for i := 0; i < n; i += 4 {
			for c := i; c < i+3; c++ {
				out[c] = uint8(min(255, int(base[c])+(int(mul[c])*int(out[c])+127)/255))
			}
		}
	}
	var truth []synth.Defect
	for _, d := range s.sprite.truth {
		if b := d.Box.Add(off).Intersect(img.Rect); !b.Empty() {
			truth = append(truth, synth.Defect{Class: d.Class, Box: b})
		}
	}
	return img, truth
}

// drawSprite draws part i (shadow included, with a margin for it) over black and white.
func (s *scene) drawSprite(i int) {
	const margin = 12
	draw := func(fill uint8) (*image.RGBA, []synth.Defect) {
		p := synth.RandomPart(synth.NewRand(s.cfg.seed, i), s.cfg.parts)
		ex := p.Extent()
		img := image.NewRGBA(image.Rect(0, 0, 2*(ex.X+margin)+1, 2*(ex.Y+margin)+1))
		for j := range img.Pix {
			img.Pix[j] = fill
		}
		return img, p.DrawAt(img, image.Pt(ex.X+margin, ex.Y+margin))
	}
	base, truth := draw(0)
	white, _ := draw(255)
	for j := range white.Pix {
		white.Pix[j] -= min(base.Pix[j], white.Pix[j]) // base ≤ white up to rounding
	}
	s.sprite, s.spriteIdx = sprite{base: base, mul: white, truth: truth}, i
}
