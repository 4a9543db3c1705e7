package sender

import (
	"math/rand/v2"
	"time"
)

// Backoff yields exponentially growing waits (x2 from min, capped at max)
// with "equal jitter": half of each wait is fixed and half random, so a
// fleet that lost the cloud together does not return in lockstep, yet no
// wait is shorter than half its step. It is not safe for concurrent use.
type Backoff struct {
	min, max time.Duration
	rnd      func() float64
	step     time.Duration // last step; 0 after Reset
}

// NewBackoff returns a Backoff from min to max; rnd returns values in [0,1)
// (nil: math/rand/v2).
func NewBackoff(min, max time.Duration, rnd func() float64) *Backoff {
	if rnd == nil {
		rnd = rand.Float64
	}
	if max < min {
		max = min
	}
	return &Backoff{min: min, max: max, rnd: rnd}
}

// Next returns the next wait, in [step/2, step] where step doubles each call up to max.
func (b *Backoff) Next() time.Duration {
	switch {
	case b.step == 0:
		b.step = b.min
	case b.step > b.max/2:
		b.step = b.max
	default:
		b.step *= 2
	}
	half := b.step / 2
	return half + time.Duration(b.rnd()*float64(b.step-half))
}

// Reset starts the sequence again at min.
func (b *Backoff) Reset() { b.step = 0 }
