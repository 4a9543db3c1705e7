// Package eval measures model bundles: the metrics (AUROC, recall at a threshold, mAP@0.5
// with per-class AP, latency percentiles) and the runs that compute them over a fresh
// synthetic test set through the same Go/ONNX Runtime path production uses.
//
// Definitions, so numbers mean the same thing everywhere:
//   - AUROC is the Mann–Whitney statistic: the probability that a random positive scores
//     higher than a random negative, ties counting one half.
//   - Recall at threshold is the fraction of positives with score >= threshold; the false
//     positive rate is the fraction of negatives with score >= threshold.
//   - AP is PASCAL VOC all-point interpolated average precision (VOC 2010 and later):
//     detections of a class over all images are sorted by descending score (stable); each
//     is a true positive when its best-overlapping ground-truth box of the same class in the
//     same image has IoU >= 0.5 and is not yet matched, else a false positive; precision is
//     made monotone from the right and integrated over the recall steps. A class without
//     ground truth has no AP (reported as null) and is left out of the mAP, which is the mean
//     over the classes with ground truth.
//   - Latency percentiles use the nearest-rank method on the per-image times.
package eval

import (
	"errors"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/infer"
)

// Box is an axis-aligned box: top-left corner, width and height, in pixels.
type Box = bundle.Box

// IoU is the intersection over union of two boxes (0 when either is empty); it is
// infer.IoU, the overlap the detector's NMS uses, so evaluation and inference agree.
func IoU(a, b Box) float64 { return infer.IoU(a, b) }

// ErrOneClass means AUROC is undefined: the labels hold no positive or no negative.
var ErrOneClass = errors.New("AUROC needs both positive and negative examples")

// AUROC returns the area under the ROC curve of scores against binary labels.
func AUROC(scores []float64, positive []bool) (float64, error) {
	if len(scores) != len(positive) {
		return 0, errors.New("scores and labels differ in length")
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	// Sum of the (average, 1-based) ranks of the positives.
	var rankSum float64
	var nPos, nNeg int
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+1+j) / 2 // mean of ranks i+1 .. j
		for k := i; k < j; k++ {
			if positive[idx[k]] {
				rankSum += avg
				nPos++
			} else {
				nNeg++
			}
		}
		i = j
	}
	if nPos == 0 || nNeg == 0 {
		return 0, ErrOneClass
	}
	u := rankSum - float64(nPos)*float64(nPos+1)/2
	return u / (float64(nPos) * float64(nNeg)), nil
}

// Rates holds the outcome of thresholding scores: score >= Threshold is predicted positive.
type Rates struct {
	Threshold Metric `json:"threshold"`
	// Recall is TP / positives (NaN without positives).
	Recall Metric `json:"recall"`
	// FalsePositiveRate is FP / negatives (NaN without negatives).
	FalsePositiveRate Metric `json:"false_positive_rate"`
	Positives         int    `json:"positives"`
	Negatives         int    `json:"negatives"`
	TruePositives     int    `json:"true_positives"`
	FalsePositives    int    `json:"false_positives"`
}

// AtThreshold counts the outcome of predicting positive when score >= threshold.
func AtThreshold(scores []float64, positive []bool, threshold float64) Rates {
	r := Rates{Threshold: Metric(threshold)}
	for i, s := range scores {
		hit := s >= threshold
		if positive[i] {
			r.Positives++
			if hit {
				r.TruePositives++
			}
		} else {
			r.Negatives++
			if hit {
				r.FalsePositives++
			}
		}
	}
	r.Recall = ratio(r.TruePositives, r.Positives)
	r.FalsePositiveRate = ratio(r.FalsePositives, r.Negatives)
	return r
}

func ratio(a, b int) Metric {
	if b == 0 {
		return Metric(math.NaN())
	}
	return Metric(float64(a) / float64(b))
}

// Object is a ground-truth box.
type Object struct {
	Class string
	Box   Box
}

// Scored is a predicted box with its score.
type Scored struct {
	Class string
	Score float64
	Box   Box
}

// Image pairs the ground truth and the predictions of one image.
type Image struct {
	Truth []Object
	Preds []Scored
}

// APResult is the average precision of one class.
type APResult struct {
	AP          float64
	GroundTruth int
	Predictions int
	TruePos     int
}

// AveragePrecision computes the VOC all-point AP of class over images at the IoU threshold
// (see the package doc). With no ground truth of the class, AP is NaN.
func AveragePrecision(images []Image, class string, iouThreshold float64) APResult {
	type pred struct {
		img   int
		score float64
		box   Box
	}
	var preds []pred
	var res APResult
	matched := make([][]bool, len(images))
	for i, im := range images {
		matched[i] = make([]bool, len(im.Truth))
		for _, o := range im.Truth {
			if o.Class == class {
				res.GroundTruth++
			}
		}
		for _, p := range im.Preds {
			if p.Class == class {
				preds = append(preds, pred{i, p.Score, p.Box})
			}
		}
	}
	res.Predictions = len(preds)
	if res.GroundTruth == 0 {
		res.AP = math.NaN()
		return res
	}
	slices.SortStableFunc(preds, func(a, b pred) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	recall := make([]float64, len(preds))
	precision := make([]float64, len(preds))
	tp := 0
	for k, p := range preds {
		best, bestIoU := -1, 0.0
		for j, o := range images[p.img].Truth {
			if o.Class != class {
				continue
			}
			if v := IoU(p.box, o.Box); v > bestIoU {
				best, bestIoU = j, v
			}
		}
		if best >= 0 && bestIoU >= iouThreshold && !matched[p.img][best] {
			matched[p.img][best] = true
			tp++
		}
		recall[k] = float64(tp) / float64(res.GroundTruth)
		precision[k] = float64(tp) / float64(k+1)
	}
	res.TruePos = tp
	res.AP = voc(recall, precision)
	return res
}

// voc integrates the monotone (from the right) precision envelope over the recall steps.
func voc(recall, precision []float64) float64 {
	mrec := append(append([]float64{0}, recall...), 1)
	mpre := append(append([]float64{0}, precision...), 0)
	for i := len(mpre) - 2; i >= 0; i-- {
		mpre[i] = math.Max(mpre[i], mpre[i+1])
	}
	ap := 0.0
	for i := 1; i < len(mrec); i++ {
		if mrec[i] != mrec[i-1] {
			ap += (mrec[i] - mrec[i-1]) * mpre[i]
		}
	}
	return ap
}

// MeanAP computes the AP of each class and their mean over classes with ground truth
// (NaN when no class has any).
func MeanAP(images []Image, classes []string, iouThreshold float64) (mAP float64, perClass map[string]APResult) {
	perClass = make(map[string]APResult, len(classes))
	sum, n := 0.0, 0
	for _, c := range classes {
		r := AveragePrecision(images, c, iouThreshold)
		perClass[c] = r
		if r.GroundTruth > 0 {
			sum += r.AP
			n++
		}
	}
	if n == 0 {
		return math.NaN(), perClass
	}
	return sum / float64(n), perClass
}

// Percentile returns the p-th percentile (0 < p <= 100) of ds by the nearest-rank method,
// or 0 for no samples.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}
