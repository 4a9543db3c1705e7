package bundle

import (
	"fmt"
	"image"
	"math"
	"sort"
)

// Runner is what the golden check needs from an inference engine built from this bundle.
// models/infer's Classifier and Detector implement it.
type Runner interface {
	// Preprocess turns an image into the network input tensor (NCHW float32).
	Preprocess(img image.Image) ([]float32, error)
	// RunTensor runs the network on an input tensor and returns every output by name.
	RunTensor(input []float32) (map[string][]float32, error)
	// Predict runs the whole Go path (preprocess, network, decode) on an image.
	Predict(img image.Image) (Prediction, error)
}

// Prediction is the decoded result of one image: a score (classification) or detections.
type Prediction struct {
	Score      float64
	Detections []Detection
}

// Diff describes the largest element-wise difference between two tensors.
type Diff struct {
	Max   float64
	Index int
	Got   float32
	Want  float32
}

// MaxAbsDiff returns the largest absolute difference between got and want, which must have
// the same length. A NaN on either side counts as an infinite difference.
func MaxAbsDiff(got, want []float32) (Diff, error) {
	if len(got) != len(want) {
		return Diff{}, fmt.Errorf("length %d, want %d", len(got), len(want))
	}
	var d Diff
	for i := range got {
		v := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(v) {
			v = math.Inf(1)
		}
		if v > d.Max || (i == 0 && v >= d.Max) {
			d = Diff{Max: v, Index: i, Got: got[i], Want: want[i]}
		}
	}
	return d, nil
}

// CheckGolden runs r on every golden image and compares with what PyTorch produced:
//
//  1. the Go preprocessing of the PNG against golden_<n>.input.bin (tolerance.input_abs);
//  2. the network on the Python input tensor against each golden_<n>.output.<t>.bin
//     (tolerance.output_abs) — this isolates the export from the preprocessing;
//  3. the full Go path on the PNG against expected_score (tolerance.score_abs) or the
//     expected detections (label equal, score within score_abs, every box edge within box_px).
//
// For detections, an expected or produced detection whose score is within score_abs of the
// threshold may be missing on the other side: it sits on the decision boundary.
// Every failure wraps ErrGolden.
func CheckGolden(b *Bundle, r Runner) error {
	m := b.Manifest
	for i, g := range m.Golden {
		img, err := b.GoldenImage(i)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrGolden, err)
		}
		wantIn, err := b.GoldenInput(i)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrGolden, err)
		}
		gotIn, err := r.Preprocess(img)
		if err != nil {
			return fmt.Errorf("%w: %s: preprocess: %v", ErrGolden, g.Image, err)
		}
		d, err := MaxAbsDiff(gotIn, wantIn)
		if err != nil {
			return fmt.Errorf("%w: %s: input tensor %v", ErrGolden, g.Image, err)
		}
		if d.Max > m.Tolerance.InputAbs {
			return fmt.Errorf("%w: %s: Go preprocessing differs from %s by %.6g at element %d (got %g, want %g; tolerance %g)",
				ErrGolden, g.Image, g.Input, d.Max, d.Index, d.Got, d.Want, m.Tolerance.InputAbs)
		}
		outs, err := r.RunTensor(wantIn)
		if err != nil {
			return fmt.Errorf("%w: %s: run: %v", ErrGolden, g.Input, err)
		}
		for _, name := range sortedKeys(g.Outputs) {
			want, _, err := b.GoldenOutput(i, name)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrGolden, err)
			}
			d, err := MaxAbsDiff(outs[name], want)
			if err != nil {
				return fmt.Errorf("%w: output %s on %s: %v", ErrGolden, name, g.Input, err)
			}
			if d.Max > m.Tolerance.OutputAbs {
				return fmt.Errorf("%w: output %s on %s differs from %s by %.6g at element %d (got %g, want %g; tolerance %g)",
					ErrGolden, name, g.Input, g.Outputs[name], d.Max, d.Index, d.Got, d.Want, m.Tolerance.OutputAbs)
			}
		}
		pred, err := r.Predict(img)
		if err != nil {
			return fmt.Errorf("%w: %s: predict: %v", ErrGolden, g.Image, err)
		}
		switch m.Task {
		case TaskClassification:
			if diff := math.Abs(pred.Score - *g.ExpectedScore); !(diff <= m.Tolerance.ScoreAbs) {
				return fmt.Errorf("%w: %s: score %.4f, expected %.4f (tolerance %g)",
					ErrGolden, g.Image, pred.Score, *g.ExpectedScore, m.Tolerance.ScoreAbs)
			}
		case TaskDetection:
			if err := MatchDetections(pred.Detections, g.Expected.Detections, m.Threshold, m.Tolerance); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrGolden, g.Image, err)
			}
		}
	}
	return nil
}

// MatchDetections checks got against want within tol (see CheckGolden for the rule).
func MatchDetections(got, want []Detection, threshold float64, tol Tolerance) error {
	used := make([]bool, len(got))
	borderline := func(s float64) bool { return s < threshold+tol.ScoreAbs }
	for j, w := range want {
		best, bestErr := -1, math.Inf(1)
		for i, g := range got {
			if used[i] || g.Label != w.Label || math.Abs(g.Score-w.Score) > tol.ScoreAbs {
				continue
			}
			e := boxErr(g.Box, w.Box)
			if e <= tol.BoxPx && e < bestErr {
				best, bestErr = i, e
			}
		}
		if best >= 0 {
			used[best] = true
			continue
		}
		if !borderline(w.Score) {
			return fmt.Errorf("expected detection %d (%s %.3f at x=%.1f y=%.1f w=%.1f h=%.1f) not produced; got %s",
				j, w.Label, w.Score, w.Box.X, w.Box.Y, w.Box.W, w.Box.H, describe(got))
		}
	}
	for i, g := range got {
		if !used[i] && !borderline(g.Score) {
			return fmt.Errorf("unexpected detection %s %.3f at x=%.1f y=%.1f w=%.1f h=%.1f",
				g.Label, g.Score, g.Box.X, g.Box.Y, g.Box.W, g.Box.H)
		}
	}
	return nil
}

// boxErr is the largest difference between corresponding box edges.
func boxErr(a, b Box) float64 {
	return max(math.Abs(a.X-b.X), math.Abs(a.Y-b.Y),
		math.Abs((a.X+a.W)-(b.X+b.W)), math.Abs((a.Y+a.H)-(b.Y+b.H)))
}

func describe(ds []Detection) string {
	if len(ds) == 0 {
		return "none"
	}
	s := ""
	for i, d := range ds {
		if i == 5 {
			return s + fmt.Sprintf(" ... (%d in all)", len(ds))
		}
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %.3f [%.1f %.1f %.1f %.1f]", d.Label, d.Score, d.Box.X, d.Box.Y, d.Box.W, d.Box.H)
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
