package eval

import (
	"fmt"
	"strings"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/synth"
)

// DefaultImages is the test-set size when neither the caller nor the manifest gives one.
const DefaultImages = 1000

// ConfigFromManifest returns the test-set configuration a bundle was measured with: the
// seed and size from its "metrics" section (test_seed, test_images; else the synth test
// split seed and DefaultImages) and the generator options its training data used, read from
// the "training" section. Option keys are looked up at the top of the section and inside a
// nested "synth" or "options" object: width, height (or image_size/size: a number for
// both or [width, height]),
// defect_rate, max_defects, surfaces, and format/image_format ("jpg" means the images were
// JPEG files, jpeg_quality default 95). Missing keys keep synth.DefaultOptions.
func ConfigFromManifest(m *bundle.Manifest) (Config, error) {
	seed, _ := synth.SplitSeed("test")
	cfg := Config{Seed: seed, N: DefaultImages, Options: synth.DefaultOptions()}
	if v, ok := number(m.Metrics, "test_seed"); ok && v >= 0 {
		cfg.Seed = uint64(v)
	}
	if v, ok := number(m.Metrics, "test_images"); ok && v >= 1 {
		cfg.N = int(v)
	}
	sections := []map[string]any{m.Training}
	for _, k := range []string{"synth", "options"} {
		if sub, ok := m.Training[k].(map[string]any); ok {
			sections = append(sections, sub)
		}
	}
	for _, sec := range sections {
		for _, k := range []string{"image_size", "size"} {
			if v, ok := number(sec, k); ok {
				cfg.Options.Width, cfg.Options.Height = int(v), int(v)
			}
			if wh, ok := sec[k].([]any); ok && len(wh) == 2 {
				w, okW := wh[0].(float64)
				h, okH := wh[1].(float64)
				if okW && okH {
					cfg.Options.Width, cfg.Options.Height = int(w), int(h)
				}
			}
		}
		if v, ok := number(sec, "width"); ok {
			cfg.Options.Width = int(v)
		}
		if v, ok := number(sec, "height"); ok {
			cfg.Options.Height = int(v)
		}
		if v, ok := number(sec, "defect_rate"); ok {
			cfg.Options.DefectRate = v
		}
		if v, ok := number(sec, "max_defects"); ok {
			cfg.Options.MaxDefects = int(v)
		}
		if list, ok := sec["surfaces"].([]any); ok {
			cfg.Options.Surfaces = nil
			for _, s := range list {
				if str, ok := s.(string); ok {
					cfg.Options.Surfaces = append(cfg.Options.Surfaces, str)
				}
			}
		}
		for _, k := range []string{"format", "image_format"} {
			if f, ok := sec[k].(string); ok {
				switch strings.ToLower(f) {
				case "jpg", "jpeg":
					cfg.JPEGQuality = 95
				default:
					cfg.JPEGQuality = 0
				}
			}
		}
		if v, ok := number(sec, "jpeg_quality"); ok && cfg.JPEGQuality > 0 {
			cfg.JPEGQuality = int(v)
		}
	}
	if err := cfg.Options.Validate(); err != nil {
		return Config{}, fmt.Errorf("training options of %s: %w", m.Name, err)
	}
	return cfg, nil
}

func number(m map[string]any, key string) (float64, bool) {
	v, ok := m[key].(float64)
	return v, ok
}
