"""Preprocessing shared by training, evaluation and bundle writing.

The evaluation path follows docs/model-bundle.md exactly: OpenCV on a BGR
uint8 image, letterbox with the manifest's interpolation and pad value,
BGR->RGB, float32, x*scale, (x-mean)/std, HWC->NCHW.
"""
import json
import math
import os

import cv2
import numpy as np

INTERP = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}
SCALE = 1.0 / 255.0
MEAN = (0.0, 0.0, 0.0)
STD = (1.0, 1.0, 1.0)
PAD = 114
CLASSES = ["scratch", "dent", "crack", "stain", "missing"]


def round_half_up(x):
    """Go's math.Round for positive numbers (Python's round() is banker's)."""
    return int(math.floor(x + 0.5))


def letterbox_geometry(w, h, W, H):
    r = min(W / w, H / h)
    nw, nh = round_half_up(w * r), round_half_up(h * r)
    return r, nw, nh, (W - nw) // 2, (H - nh) // 2


def letterbox(img_bgr, W, H, interpolation="area", pad=PAD):
    """Returns the letterboxed BGR uint8 canvas and (r, left, top)."""
    h, w = img_bgr.shape[:2]
    r, nw, nh, left, top = letterbox_geometry(w, h, W, H)
    resized = cv2.resize(img_bgr, (nw, nh), interpolation=INTERP[interpolation])
    canvas = np.full((H, W, 3), pad, dtype=np.uint8)
    canvas[top:top + nh, left:left + nw] = resized
    return canvas, (r, left, top)


def to_tensor(canvas_bgr, scale=SCALE, mean=MEAN, std=STD):
    """BGR uint8 HWC -> float32 NCHW [1,3,H,W] following the manifest."""
    x = canvas_bgr[:, :, ::-1].astype(np.float32) * np.float32(scale)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def preprocess(img_bgr, size, interpolation="area"):
    canvas, geo = letterbox(img_bgr, size, size, interpolation)
    return to_tensor(canvas), geo


def read_labels(split_dir):
    with open(os.path.join(split_dir, "labels.jsonl")) as f:
        return [json.loads(line) for line in f]


def load_split(split_dir, size, interpolation, cache_dir):
    """Letterboxes every image of a split once and caches RGB uint8 arrays.

    Returns (images [N,size,size,3] RGB uint8, labels, boxes) where boxes[i]
    is a float32 [K,5] array (class, x0, y0, x1, y1) in network-input pixels.
    """
    labels = read_labels(split_dir)
    os.makedirs(cache_dir, exist_ok=True)
    tag = f"{os.path.basename(os.path.normpath(split_dir))}_{size}_{interpolation}_{len(labels)}"
    path = os.path.join(cache_dir, tag + ".npy")
    if os.path.exists(path):
        images = np.load(path, mmap_mode="r")
    else:
        images = np.empty((len(labels), size, size, 3), np.uint8)
        for i, l in enumerate(labels):
            img = cv2.imread(os.path.join(split_dir, l["file"]), cv2.IMREAD_COLOR)
            canvas, _ = letterbox(img, size, size, interpolation)
            images[i] = canvas[:, :, ::-1]
        np.save(path + ".tmp.npy", images)
        os.replace(path + ".tmp.npy", path)
    boxes = []
    for l in labels:
        r, _, _, left, top = letterbox_geometry(l["width"], l["height"], size, size)
        b = [[CLASSES.index(d["class"]), d["box"][0] * r + left, d["box"][1] * r + top,
              d["box"][2] * r + left, d["box"][3] * r + top] for d in l["defects"]]
        boxes.append(np.asarray(b, np.float32).reshape(-1, 5))
    return np.asarray(images), labels, boxes
