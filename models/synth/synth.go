// Package synth draws deterministic synthetic images of manufactured parts
// (brushed metal plates, PCBs, molded plastic) with labelled defects.
//
// Every image is a pure function of (seed, index, Options): the same triple
// gives the same pixels and the same labels on the same architecture. Splits
// are told apart by seed (train 1, val 2, test 99 by convention, see
// SplitSeed), so a test image can never leak into training.
//
// The pieces Generate composes (DrawBackground, RandomPart, Part.DrawAt,
// RandomCamera, Camera.Apply) are exported so that a synthetic camera can
// move parts across a frame of its own.
package synth

import (
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"slices"
)

// Version names the generator in model manifests; bump it when images change.
const Version = "models/synth v1"

// Defect class names, in the order the detector's heatmap channels use.
const (
	Scratch = "scratch"
	Dent    = "dent"
	Crack   = "crack"
	Stain   = "stain"
	Missing = "missing" // a missing feature: screw, component or molded hole
)

// Surface names.
const (
	Metal   = "metal"   // brushed metal plate with four screws
	PCB     = "pcb"     // populated printed circuit board
	Plastic = "plastic" // painted/molded plastic part with molded holes
)

// Classes lists the defect classes in label order.
var Classes = []string{Scratch, Dent, Crack, Stain, Missing}

// Surfaces lists the part surfaces.
var Surfaces = []string{Metal, PCB, Plastic}

// ErrBadOptions is wrapped by every Options validation error.
var ErrBadOptions = errors.New("synth: bad options")

// Options controls what Generate draws.
type Options struct {
	Width, Height int      // image size in pixels, 64..4096
	DefectRate    float64  // probability that a part has at least one defect, 0..1
	MaxDefects    int      // a defective part has 1..MaxDefects defects, 1..8
	Surfaces      []string // surfaces to draw from; empty means all
}

// DefaultOptions returns 320×320 images, half of them defective, up to 3 defects each.
func DefaultOptions() Options {
	return Options{Width: 320, Height: 320, DefectRate: 0.5, MaxDefects: 3}
}

// Validate reports the first bad field.
func (o Options) Validate() error {
	switch {
	case o.Width < 64 || o.Width > 4096:
		return fmt.Errorf("%w: width %d not in 64..4096", ErrBadOptions, o.Width)
	case o.Height < 64 || o.Height > 4096:
		return fmt.Errorf("%w: height %d not in 64..4096", ErrBadOptions, o.Height)
	case math.IsNaN(o.DefectRate) || o.DefectRate < 0 || o.DefectRate > 1:
		return fmt.Errorf("%w: defect rate %v not in 0..1", ErrBadOptions, o.DefectRate)
	case o.MaxDefects < 1 || o.MaxDefects > 8:
		return fmt.Errorf("%w: max defects %d not in 1..8", ErrBadOptions, o.MaxDefects)
	}
	for _, s := range o.Surfaces {
		if !slices.Contains(Surfaces, s) {
			return fmt.Errorf("%w: unknown surface %q", ErrBadOptions, s)
		}
	}
	return nil
}

// Defect is one labelled defect: its class and its tight box in image pixels
// (Max exclusive) around the pixels the defect changed.
type Defect struct {
	Class string
	Box   image.Rectangle
}

// Sample is one generated image with its labels.
type Sample struct {
	Image   *image.RGBA
	Defects []Defect // empty for an OK part
	Surface string
	Seed    uint64
	Index   int
}

// SplitSeed returns the conventional seed of a split: train 1, val 2, test 99.
func SplitSeed(split string) (uint64, error) {
	switch split {
	case "train":
		return 1, nil
	case "val":
		return 2, nil
	case "test":
		return 99, nil
	}
	return 0, fmt.Errorf("synth: unknown split %q (want train, val or test)", split)
}

// NewRand returns the PCG-seeded source Generate uses for (seed, index).
func NewRand(seed uint64, index int) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix(seed^0x6a09e667f3bcc909), splitmix(uint64(index)^0xbb67ae8584caa73b)))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Generate draws image index of the stream seed: a background, one part fully
// inside the frame at a random pose, camera lighting, blur and noise.
func Generate(seed uint64, index int, opt Options) (Sample, error) {
	if err := opt.Validate(); err != nil {
		return Sample{}, err
	}
	if index < 0 {
		return Sample{}, fmt.Errorf("%w: negative index %d", ErrBadOptions, index)
	}
	r := NewRand(seed, index)
	img := image.NewRGBA(image.Rect(0, 0, opt.Width, opt.Height))
	DrawBackground(img, r)
	p := RandomPart(r, opt)
	ex := p.Extent()
	const margin = 6
	cx := ex.X + margin + r.IntN(max(1, opt.Width-2*(ex.X+margin)))
	cy := ex.Y + margin + r.IntN(max(1, opt.Height-2*(ex.Y+margin)))
	defects := p.DrawAt(img, image.Pt(cx, cy))
	RandomCamera(r).Apply(img, r)
	return Sample{Image: img, Defects: defects, Surface: p.Surface, Seed: seed, Index: index}, nil
}
