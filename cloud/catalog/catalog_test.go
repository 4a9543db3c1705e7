package catalog

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func TestDefaultListsEveryPart(t *testing.T) {
	want := []string{"resize", "grayscale", "gaussian_blur", "median_blur", "threshold", "canny",
		"clahe", "morphology", "crop", "rotate", "detect"}
	list := Default().List()
	if len(list) != len(want) {
		t.Fatalf("List has %d parts, want %d", len(list), len(want))
	}
	for i, d := range list {
		if d.GetId() != want[i] {
			t.Errorf("List[%d] = %s, want %s", i, d.GetId(), want[i])
		}
		if d.GetTitle() == "" || d.GetDescription() == "" {
			t.Errorf("%s: missing title or description", d.GetId())
		}
		if len(d.GetInputs()) == 0 || len(d.GetOutputs()) == 0 {
			t.Errorf("%s: missing inputs or outputs", d.GetId())
		}
		var schema map[string]any
		if err := json.Unmarshal([]byte(d.GetParamsSchemaJson()), &schema); err != nil {
			t.Errorf("%s: schema is not JSON: %v", d.GetId(), err)
			continue
		}
		if schema["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema = %v", d.GetId(), schema["$schema"])
		}
		if schema["additionalProperties"] != false {
			t.Errorf("%s: additionalProperties must be false", d.GetId())
		}
		// Every default must itself be valid: an empty params object validates
		// (crop requires its size, so give it one).
		params := map[string]any{}
		if d.GetId() == PartCrop {
			params = map[string]any{"width": 1, "height": 1}
		}
		if _, err := Default().ValidateParams(d.GetId(), params); err != nil {
			t.Errorf("%s: defaults do not validate: %v", d.GetId(), err)
		}
	}
}

func TestGetAndServices(t *testing.T) {
	c := Default()
	d, ok := c.Get("detect")
	if !ok || d.GetService() != ServiceDetect {
		t.Fatalf("Get(detect) = %v, %v", d, ok)
	}
	if got := d.GetOutputs(); len(got) != 2 || got[1] != ifcv1.PortType_PORT_TYPE_DETECTIONS {
		t.Errorf("detect outputs = %v", got)
	}
	if _, ok := c.Get("nope"); ok {
		t.Error("Get(nope) found a part")
	}
	d.Title = "changed"
	if d2, _ := c.Get("detect"); d2.GetTitle() == "changed" {
		t.Error("Get returned a shared descriptor")
	}
	if got := strings.Join(c.Services(), ","); got != "detect,filter,resize" {
		t.Errorf("Services = %s", got)
	}
	if n := len(c.ByService(ServiceFilter)); n != 9 {
		t.Errorf("filter serves %d parts, want 9", n)
	}
}

func TestValidateParamsAppliesDefaults(t *testing.T) {
	in := map[string]any{"width": float64(320)}
	out, err := Default().ValidateParams("resize", in)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 1 {
		t.Errorf("input map modified: %v", in)
	}
	if v, _ := AsInt(out["width"]); v != 320 {
		t.Errorf("width = %v", out["width"])
	}
	if v, _ := AsInt(out["height"]); v != 640 {
		t.Errorf("height default = %v", out["height"])
	}
	if out["interpolation"] != "linear" || out["keep_aspect"] != true || out["letterbox"] != false {
		t.Errorf("defaults = %v", out)
	}
	if _, set := mustValidate(t, "detect", nil)["score_threshold"]; set {
		t.Error("detect score_threshold must default to the model's, not the catalogue's")
	}
}

func mustValidate(t *testing.T, part string, p map[string]any) map[string]any {
	t.Helper()
	out, err := Default().ValidateParams(part, p)
	if err != nil {
		t.Fatalf("%s %v: %v", part, p, err)
	}
	return out
}

func TestValidateParamsRejects(t *testing.T) {
	tests := []struct {
		name   string
		part   string
		params map[string]any
		field  string
		want   string // substring of the reason
	}{
		{"width above max", "resize", map[string]any{"width": 9000}, "width", "<= 8192, got 9000"},
		{"width zero", "resize", map[string]any{"width": 0.0}, "width", ">= 1, got 0"},
		{"width fractional", "resize", map[string]any{"width": 10.5}, "width", "must be integer"},
		{"width string", "resize", map[string]any{"width": "big"}, "width", "must be integer, got string"},
		{"interpolation enum", "resize", map[string]any{"interpolation": "lanczos"}, "interpolation", "nearest, linear, area, cubic"},
		{"unknown param", "resize", map[string]any{"widht": 3}, "", "unknown parameter(s) widht"},
		{"gaussian even ksize", "gaussian_blur", map[string]any{"ksize": 4}, "ksize", "must be odd, got 4"},
		{"gaussian ksize above", "gaussian_blur", map[string]any{"ksize": 33}, "ksize", "<= 31"},
		{"median even ksize", "median_blur", map[string]any{"ksize": 6.0}, "ksize", "must be odd"},
		{"median ksize below", "median_blur", map[string]any{"ksize": 1}, "ksize", ">= 3"},
		{"threshold even block", "threshold", map[string]any{"type": "adaptive_mean", "block_size": 10}, "block_size", "must be odd"},
		{"threshold type", "threshold", map[string]any{"type": "triangle"}, "type", "must be one of"},
		{"canny aperture", "canny", map[string]any{"aperture": 4}, "aperture", "must be one of 3, 5, 7"},
		{"canny low above high", "canny", map[string]any{"low": 200, "high": 100}, "low", "must be <= high"},
		{"clahe clip", "clahe", map[string]any{"clip_limit": 0}, "clip_limit", ">= 0.1"},
		{"morphology even ksize", "morphology", map[string]any{"ksize": 2}, "ksize", "must be odd"},
		{"morphology op", "morphology", map[string]any{"op": "tophat"}, "op", "must be one of"},
		{"crop missing size", "crop", map[string]any{"x": 1}, "", "missing required parameter(s)"},
		{"crop negative x", "crop", map[string]any{"x": -1, "width": 2, "height": 2}, "x", ">= 0"},
		{"rotate angle", "rotate", map[string]any{"angle": 45}, "angle", "must be one of 0, 90, 180, 270"},
		{"rotate flip", "rotate", map[string]any{"flip": "diagonal"}, "flip", "must be one of"},
		{"detect score", "detect", map[string]any{"score_threshold": 1.5}, "score_threshold", "<= 1, got 1.5"},
		{"detect annotate type", "detect", map[string]any{"annotate": "yes"}, "annotate", "must be boolean"},
		{"NaN", "gaussian_blur", map[string]any{"sigma": math.NaN()}, "sigma", "must be a finite number, got NaN"},
		{"infinity", "resize", map[string]any{"width": math.Inf(1)}, "width", "must be a finite number"},
		{"array", "gaussian_blur", map[string]any{"ksize": []any{3}}, "ksize", "must be integer, got array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Default().ValidateParams(tt.part, tt.params)
			if !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("err = %v, want ErrInvalidParams", err)
			}
			var perr *ParamsError
			if !errors.As(err, &perr) {
				t.Fatalf("err %T is not *ParamsError", err)
			}
			if perr.Part != tt.part {
				t.Errorf("Part = %q", perr.Part)
			}
			found := false
			for _, f := range perr.Fields {
				if f.Field == tt.field && strings.Contains(f.Reason, tt.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("err = %v; want field %q with %q", err, tt.field, tt.want)
			}
		})
	}
}

func TestValidateParamsUnknownPart(t *testing.T) {
	_, err := Default().ValidateParams("sharpen", nil)
	if !errors.Is(err, ErrUnknownPart) || !strings.Contains(err.Error(), "sharpen") {
		t.Fatalf("err = %v", err)
	}
}

func TestAsInt(t *testing.T) {
	for _, tt := range []struct {
		in   any
		want int
		ok   bool
	}{
		{3, 3, true}, {3.0, 3, true}, {3.5, 0, false}, {int64(7), 7, true}, {json.Number("9"), 9, true},
		{"3", 0, false}, {1e12, 0, false},
	} {
		got, ok := AsInt(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("AsInt(%v) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzValidateParams feeds arbitrary JSON objects as params to every part: the result is
// either a ParamsError or params that validate again unchanged (defaults are idempotent).
func FuzzValidateParams(f *testing.F) {
	f.Add("resize", `{"width": 320, "letterbox": true}`)
	f.Add("gaussian_blur", `{"ksize": 4}`)
	f.Add("threshold", `{"type": "adaptive_mean", "block_size": 1e300}`)
	f.Add("crop", `{"x": -0, "width": 1.0, "height": 8192}`)
	f.Add("canny", `{"low": 1e-320, "high": 0}`)
	f.Fuzz(func(t *testing.T, part, doc string) {
		var params map[string]any
		if json.Unmarshal([]byte(doc), &params) != nil {
			return
		}
		out, err := Default().ValidateParams(part, params)
		if err != nil {
			if !errors.Is(err, ErrInvalidParams) && !errors.Is(err, ErrUnknownPart) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		again, err := Default().ValidateParams(part, out)
		if err != nil || len(again) != len(out) {
			t.Fatalf("validated params %v do not validate again: %v", out, err)
		}
	})
}
