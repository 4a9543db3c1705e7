package eval

import (
	"errors"
	"math"
	"testing"
	"time"
)

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestAUROC(t *testing.T) {
	cases := []struct {
		name   string
		scores []float64
		pos    []bool
		want   float64
	}{
		// Pairs (pos, neg): (0.35,0.1)+ (0.35,0.4)- (0.8,0.1)+ (0.8,0.4)+ -> 3/4.
		{"textbook", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		{"all tied", []float64{0.5, 0.5, 0.5}, []bool{false, true, true}, 0.5},
		// Pairs: (0.5 vs 0.5) = 1/2, (0.5 vs 0.2) = 1, (0.9 vs 0.5) = 1, (0.9 vs 0.2) = 1 -> 3.5/4.
		{"partial tie", []float64{0.5, 0.2, 0.5, 0.9}, []bool{false, false, true, true}, 0.875},
	}
	for _, c := range cases {
		got, err := AUROC(c.scores, c.pos)
		if err != nil || !approx(got, c.want) {
			t.Errorf("%s: AUROC = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := AUROC([]float64{1, 2}, []bool{true, true}); !errors.Is(err, ErrOneClass) {
		t.Errorf("one class: err = %v", err)
	}
	if _, err := AUROC([]float64{1}, []bool{true, false}); err == nil {
		t.Error("length mismatch accepted")
	}
}

func TestAtThreshold(t *testing.T) {
	r := AtThreshold([]float64{0.2, 0.5, 0.7, 0.49, 0.5, 0.1}, []bool{true, true, true, false, false, false}, 0.5)
	if r.Positives != 3 || r.Negatives != 3 || r.TruePositives != 2 || r.FalsePositives != 1 ||
		!approx(float64(r.Recall), 2.0/3) || !approx(float64(r.FalsePositiveRate), 1.0/3) {
		t.Fatalf("rates = %+v", r)
	}
	if r := AtThreshold(nil, nil, 0.5); !math.IsNaN(float64(r.Recall)) {
		t.Fatalf("empty recall = %v", r.Recall)
	}
}

func box(x, y, w, h float64) Box { return Box{X: x, Y: y, W: w, H: h} }

func TestAveragePrecisionHandComputed(t *testing.T) {
	// Class "a": 3 ground-truth boxes over two images. Detections by score:
	//   0.9 TP, 0.8 FP (no overlap), 0.7 TP, 0.6 FP (duplicate of a matched box), one GT missed.
	// recall    1/3  1/3  2/3  2/3
	// precision 1    1/2  2/3  1/2
	// envelope  1    2/3  2/3  1/2 -> AP = 1/3*1 + 1/3*2/3 = 5/9.
	images := []Image{
		{
			Truth: []Object{{"a", box(0, 0, 10, 10)}, {"a", box(50, 50, 10, 10)}, {"b", box(20, 20, 5, 5)}},
			Preds: []Scored{
				{"a", 0.9, box(1, 1, 10, 10)},   // IoU 81/119 = 0.68 -> TP
				{"a", 0.8, box(30, 30, 10, 10)}, // FP
				{"a", 0.6, box(0, 0, 10, 10)},   // duplicate -> FP
				{"b", 0.95, box(20, 20, 5, 5)},  // other class
			},
		},
		{
			Truth: []Object{{"a", box(100, 100, 20, 20)}},
			Preds: []Scored{{"a", 0.7, box(105, 100, 20, 20)}}, // IoU 300/500 = 0.6 -> TP
		},
	}
	r := AveragePrecision(images, "a", 0.5)
	if r.GroundTruth != 3 || r.Predictions != 4 || r.TruePos != 2 || !approx(r.AP, 5.0/9) {
		t.Fatalf("AP(a) = %+v, want 5/9", r)
	}
	rb := AveragePrecision(images, "b", 0.5)
	if !approx(rb.AP, 1) {
		t.Fatalf("AP(b) = %+v", rb)
	}
	mAP, per := MeanAP(images, []string{"a", "b", "c"}, 0.5)
	if !approx(mAP, (5.0/9+1)/2) || !math.IsNaN(per["c"].AP) || per["c"].GroundTruth != 0 {
		t.Fatalf("mAP = %v, per = %+v", mAP, per)
	}
	// IoU exactly at the threshold counts (>=): these boxes have IoU 50/150 = 1/3.
	edge := []Image{{Truth: []Object{{"a", box(0, 0, 10, 10)}}, Preds: []Scored{{"a", 0.5, box(5, 0, 10, 10)}}}}
	if r := AveragePrecision(edge, "a", 1.0/3); !approx(r.AP, 1) {
		t.Fatalf("IoU at threshold: %+v", r)
	}
	if r := AveragePrecision(edge, "a", 0.5); r.AP != 0 {
		t.Fatalf("IoU below threshold: %+v", r)
	}
}

func TestAveragePrecisionEnvelope(t *testing.T) {
	// Two GT; detections TP (0.9), FP (0.8), TP (0.7): precision 1, 1/2, 2/3; recall 1/2, 1/2, 1.
	// Envelope at recall 1/2 = 1, at 1 = 2/3 -> AP = 1/2 + 1/2*2/3 = 5/6.
	images := []Image{{
		Truth: []Object{{"a", box(0, 0, 10, 10)}, {"a", box(100, 0, 10, 10)}},
		Preds: []Scored{{"a", 0.9, box(0, 0, 10, 10)}, {"a", 0.8, box(50, 50, 1, 1)}, {"a", 0.7, box(100, 0, 10, 10)}},
	}}
	if r := AveragePrecision(images, "a", 0.5); !approx(r.AP, 5.0/6) {
		t.Fatalf("AP = %v, want 5/6", r.AP)
	}
	// No predictions at all: AP 0.
	if r := AveragePrecision([]Image{{Truth: images[0].Truth}}, "a", 0.5); r.AP != 0 {
		t.Fatalf("AP without predictions = %v", r.AP)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	d := ms(5, 1, 4, 2, 3, 10, 7, 6, 9, 8) // 1..10
	for _, c := range []struct {
		p    float64
		want int
	}{{50, 5}, {95, 10}, {90, 9}, {10, 1}, {100, 10}, {1, 1}} {
		if got := Percentile(d, c.p); got != time.Duration(c.want)*time.Millisecond {
			t.Errorf("p%v = %v, want %dms", c.p, got, c.want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty")
	}
	if d[0] != 5*time.Millisecond {
		t.Error("Percentile sorted its input")
	}
}
