package capture

import (
	"context"
	"fmt"
	"image"
	"image/draw"
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
	sprite     *image.RGBA // the current part drawn over its strip of background
	spriteIdx  int
	truth      []synth.Defect // in sprite coordinates
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
	sw := s.sprite.Rect.Dx()
	// The part enters fully hidden at the left and leaves fully hidden at the right.
	x0 := -sw + int(math.Round(float64(step)*float64(s.cfg.width+sw)/float64(s.perPart-1)))
	y0 := (s.cfg.height - s.sprite.Rect.Dy()) / 2
	off := image.Pt(x0, y0)
	dst := s.sprite.Rect.Add(off).Intersect(img.Rect)
	draw.Draw(img, dst, s.sprite, dst.Min.Sub(off), draw.Src)
	var truth []synth.Defect
	for _, d := range s.truth {
		if b := d.Box.Add(off).Intersect(img.Rect); !b.Empty() {
			truth = append(truth, synth.Defect{Class: d.Class, Box: b})
		}
	}
	return img, truth
}

// drawSprite draws part i over the background strip it travels along.
func (s *scene) drawSprite(i int) {
	p := synth.RandomPart(synth.NewRand(s.cfg.seed, i), s.cfg.parts)
	ex := p.Extent()
	r := image.Rect(0, 0, min(2*ex.X+1, s.cfg.width), min(2*ex.Y+1, s.cfg.height))
	sp := image.NewRGBA(r)
	src := image.Pt((s.cfg.width-r.Dx())/2, (s.cfg.height-r.Dy())/2)
	draw.Draw(sp, r, s.background, src, draw.Src)
	s.truth = p.DrawAt(sp, image.Pt(r.Dx()/2, r.Dy()/2))
	s.sprite, s.spriteIdx = sp, i
}
