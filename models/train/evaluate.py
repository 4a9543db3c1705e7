"""Decoding and metrics, written to match docs/model-bundle.md."""
import numpy as np


def maxpool3(a):
    """3x3 max over each cell's neighbourhood; cells outside the map are ignored."""
    p = np.pad(a, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    h, w = a.shape[1:]
    return np.max(np.stack([p[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)]), axis=0)


def iou(a, b):
    """IoU of box a [4] against boxes b [N,4], boxes as x0,y0,x1,y1."""
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return inter / np.maximum(ua, 1e-9)


def decode(heatmap, wh, offset, threshold, stride, geo, img_w, img_h, nms_iou=0.5, max_det=50):
    """heatmap [C,h,w], wh [2,h,w], offset [2,h,w] (batch dim removed).

    Returns a list of (class, score, x0, y0, x1, y1) in original-image pixels.
    """
    r, left, top = geo
    peaks = (heatmap == maxpool3(heatmap)) & (heatmap >= threshold)
    c, ys, xs = np.nonzero(peaks)
    scores = heatmap[c, ys, xs]
    order = np.argsort(-scores, kind="stable")[:max_det]
    c, ys, xs, scores = c[order], ys[order], xs[order], scores[order]
    cx = (xs + offset[0, ys, xs]) * stride
    cy = (ys + offset[1, ys, xs]) * stride
    w, h = wh[0, ys, xs], wh[1, ys, xs]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    boxes[:, [0, 2]] = np.clip((boxes[:, [0, 2]] - left) / r, 0, img_w)
    boxes[:, [1, 3]] = np.clip((boxes[:, [1, 3]] - top) / r, 0, img_h)
    keep = []
    for k in range(len(scores)):  # already sorted by score: class-wise greedy NMS
        if all(c[j] != c[k] or iou(boxes[k], boxes[j:j + 1])[0] <= nms_iou for j in keep):
            keep.append(k)
    return [(int(c[k]), float(scores[k]), *map(float, boxes[k])) for k in keep]


def average_precision(dets, gts, num_classes, iou_thr=0.5):
    """dets: per image list of (class, score, x0,y0,x1,y1); gts: per image [K,5] (class, box).

    All-point interpolated AP per class; mean over classes with ground truth.
    """
    aps = {}
    for cls in range(num_classes):
        npos = sum(int((g[:, 0] == cls).sum()) for g in gts)
        if npos == 0:
            continue
        cand = [(d[1], i, np.asarray(d[2:])) for i, ds in enumerate(dets) for d in ds if d[0] == cls]
        cand.sort(key=lambda t: -t[0])
        used = [np.zeros(int((g[:, 0] == cls).sum()), bool) for g in gts]
        tp = np.zeros(len(cand))
        for k, (_, i, box) in enumerate(cand):
            g = gts[i][gts[i][:, 0] == cls][:, 1:]
            if len(g) == 0:
                continue
            ious = iou(box, g)
            j = int(np.argmax(ious))
            if ious[j] >= iou_thr and not used[i][j]:
                used[i][j] = True
                tp[k] = 1
        ctp = np.cumsum(tp)
        rec = ctp / npos
        prec = ctp / np.arange(1, len(cand) + 1)
        mrec = np.concatenate([[0], rec, [1]])
        mpre = np.concatenate([[0], prec, [0]])
        for k in range(len(mpre) - 2, -1, -1):
            mpre[k] = max(mpre[k], mpre[k + 1])
        idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
        aps[cls] = float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))
    return float(np.mean(list(aps.values()))) if aps else 0.0, aps


def auroc(scores, labels):
    """Area under the ROC curve (ties counted half)."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    npos, nneg = labels.sum(), (~labels).sum()
    return float((ranks[labels].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def threshold_for_recall(scores, labels, recall=0.99):
    """Highest threshold t with recall(score >= t) >= recall on the positives."""
    pos = np.sort(np.asarray(scores)[np.asarray(labels, bool)])
    k = int(np.floor((1 - recall) * len(pos)))
    return float(pos[k])
