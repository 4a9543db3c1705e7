package prefilter_test

import (
	"testing"

	"github.com/imageflowcanvas/ifc/edge/prefilter"
	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/infer"
	embedded "github.com/imageflowcanvas/ifc/models/prefilter"
	"github.com/imageflowcanvas/ifc/models/synth"
)

// BenchmarkClassify is the pre-filter on one 1280×720 camera frame, one
// core (IntraOpThreads 1): letterbox to 320×320, normalise, infer.
//
//	go test -run '^$' -bench Classify -benchtime 300x -cpu 1 ./edge/prefilter
func BenchmarkClassify(b *testing.B) {
	f, err := prefilter.Open("", prefilter.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	opt := synth.DefaultOptions()
	opt.Width, opt.Height = 1280, 720
	s, err := synth.Generate(99, 0, opt)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("mat", func(b *testing.B) {
		mat, err := infer.MatFromImage(s.Image)
		if err != nil {
			b.Fatal(err)
		}
		defer mat.Close()
		for b.Loop() {
			if _, err := f.Classify(mat, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The two halves of "mat", measured apart on the same frame.
	bb, err := bundle.LoadFS(embedded.FS)
	if err != nil {
		b.Fatal(err)
	}
	c, err := infer.NewClassifier(bb, infer.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	input, err := c.Preprocess(s.Image)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("preprocess-only", func(b *testing.B) {
		pre := infer.NewPreprocessor(bb.Manifest)
		mat, err := infer.MatFromImage(s.Image)
		if err != nil {
			b.Fatal(err)
		}
		defer mat.Close()
		buf := make([]float32, pre.Elements())
		for b.Loop() {
			if _, err := pre.Apply(mat, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("inference-only", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.RunTensor(input); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.ClassifyImage(s.Image, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
