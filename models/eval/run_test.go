package eval

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/infer"
	"github.com/imageflowcanvas/ifc/models/infer/infertest"
	"github.com/imageflowcanvas/ifc/models/synth"
)

// oracle answers from the labels of the same synth stream, in call order; flip makes it wrong.
type oracle struct {
	cfg   Config
	i     int
	flip  bool
	sizes [][2]int
}

func (o *oracle) truth(t int) []synth.Defect {
	s, err := synth.Generate(o.cfg.Seed, t, o.cfg.Options)
	if err != nil {
		panic(err)
	}
	return s.Defects
}

func (o *oracle) Classify(img gocv.Mat) (infer.Verdict, error) {
	o.sizes = append(o.sizes, [2]int{img.Cols(), img.Rows()})
	d := o.truth(o.i)
	o.i++
	score := float32(0.1)
	if (len(d) > 0) != o.flip {
		score = 0.9
	}
	return infer.Verdict{Score: score}, nil
}

func (o *oracle) Threshold() float32 { return 0.5 }

func (o *oracle) Detect(gocv.Mat) ([]infer.Detection, error) {
	d := o.truth(o.i)
	o.i++
	var out []infer.Detection
	for _, x := range d {
		out = append(out, infer.Detection{Label: x.Class, Score: 0.9, Box: rectBox(x.Box)})
	}
	if o.flip && len(out) > 0 {
		out[0].Box.X += 1000 // miss
	}
	return out, nil
}

func smallConfig() Config {
	opt := synth.DefaultOptions()
	opt.Width, opt.Height = 96, 80
	return Config{Seed: 7, N: 24, Options: opt}
}

func TestEvaluateClassifierOracle(t *testing.T) {
	cfg := smallConfig()
	o := &oracle{cfg: cfg}
	rep, err := EvaluateClassifier(context.Background(), "prefilter@test", o, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.AUROC != 1 || rep.AtThreshold.Recall != 1 || rep.AtThreshold.FalsePositiveRate != 0 {
		t.Fatalf("report %+v", rep)
	}
	if rep.AtThreshold.Positives+rep.AtThreshold.Negatives != cfg.N || rep.AtThreshold.Positives == 0 {
		t.Fatalf("counts %+v", rep.AtThreshold)
	}
	if o.sizes[0] != [2]int{96, 80} {
		t.Fatalf("image size %v", o.sizes[0])
	}
	if rep.Latency.P50 < 0 || rep.Latency.P95 < rep.Latency.P50 {
		t.Fatalf("latency %+v", rep.Latency)
	}
	raw, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(raw), `"auroc":1`) {
		t.Fatalf("json %s %v", raw, err)
	}
	cfg.JPEGQuality = 90
	o = &oracle{cfg: cfg, flip: true}
	rep, err = EvaluateClassifier(context.Background(), "prefilter@test", o, cfg)
	if err != nil || rep.AUROC != 0 || rep.TestSet.JPEGQuality != 90 {
		t.Fatalf("flipped: %+v %v", rep, err)
	}
}

func TestEvaluateDetectorOracle(t *testing.T) {
	cfg := smallConfig()
	rep, err := EvaluateDetector(context.Background(), "detector@test", &oracle{cfg: cfg}, synth.Classes, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.MAP50 != 1 {
		t.Fatalf("perfect detector mAP = %v (%+v)", rep.MAP50, rep)
	}
	total := 0
	for c, n := range rep.GroundTruthPerClass {
		total += n
		if ap := rep.AP50PerClass[c]; n > 0 && ap != 1 || n == 0 && !math.IsNaN(float64(ap)) {
			t.Fatalf("class %s: n=%d ap=%v", c, n, ap)
		}
	}
	if total == 0 || total != rep.Detections {
		t.Fatalf("ground truth %d, detections %d", total, rep.Detections)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
	rep, err = EvaluateDetector(context.Background(), "detector@test", &oracle{cfg: cfg, flip: true}, synth.Classes, cfg)
	if err != nil || !(rep.MAP50 < 1) {
		t.Fatalf("flipped: %v %v", rep.MAP50, err)
	}
}

func TestEvaluateCancelAndValidate(t *testing.T) {
	cfg := smallConfig()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := EvaluateClassifier(ctx, "x", &oracle{cfg: cfg}, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	cfg.N = 0
	if _, err := EvaluateClassifier(context.Background(), "x", &oracle{cfg: cfg}, cfg); err == nil {
		t.Fatal("n=0 accepted")
	}
}

func TestConfigFromManifest(t *testing.T) {
	m := &bundle.Manifest{Name: "detector",
		Training: map[string]any{"seed": 1.0, "format": "jpg", "synth": map[string]any{"size": 256.0, "defect_rate": 0.6}},
		Metrics:  map[string]any{"test_seed": 99.0, "test_images": 500.0}}
	cfg, err := ConfigFromManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Seed != 99 || cfg.N != 500 || cfg.Options.Width != 256 || cfg.Options.Height != 256 ||
		cfg.Options.DefectRate != 0.6 || cfg.Options.MaxDefects != 3 || cfg.JPEGQuality != 95 {
		t.Fatalf("cfg = %+v", cfg)
	}
	// The shape models/train/bundle.py writes.
	cfg, err = ConfigFromManifest(&bundle.Manifest{Training: map[string]any{"image_size": []any{400.0, 300.0}, "defect_rate": 0.5}})
	if err != nil || cfg.Options.Width != 400 || cfg.Options.Height != 300 || cfg.Options.DefectRate != 0.5 {
		t.Fatalf("image_size pair: %+v %v", cfg, err)
	}
	cfg, err = ConfigFromManifest(&bundle.Manifest{})
	if err != nil || cfg.Seed != 99 || cfg.N != DefaultImages || cfg.Options.Width != 320 || cfg.JPEGQuality != 0 {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	if _, err := ConfigFromManifest(&bundle.Manifest{Training: map[string]any{"width": 5.0}}); err == nil {
		t.Fatal("bad width accepted")
	}
}

func TestBundleTinyModels(t *testing.T) {
	for _, task := range []string{bundle.TaskClassification, bundle.TaskDetection} {
		t.Run(task, func(t *testing.T) {
			dir := t.TempDir()
			if err := infertest.WriteBundle(dir, task); err != nil {
				t.Fatal(err)
			}
			b, err := bundle.LoadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := ConfigFromManifest(b.Manifest)
			if err != nil {
				t.Fatal(err)
			}
			cfg.N = 8
			rep, err := Bundle(context.Background(), b, cfg, infer.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Verified || rep.Name != b.Manifest.Name {
				t.Fatalf("report %+v", rep)
			}
			if (rep.Classifier != nil) != (task == bundle.TaskClassification) || (rep.Detector != nil) != (task == bundle.TaskDetection) {
				t.Fatalf("report %+v", rep)
			}
			if _, err := json.Marshal(rep); err != nil {
				t.Fatal(err)
			}
		})
	}
}
