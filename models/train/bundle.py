"""Exports the trained networks to ONNX and writes the model bundles.

For each bundle: model.onnx (opset 17), test-split metrics measured through
ONNX Runtime on the manifest preprocessing, one-core latency, golden images
with the tensors PyTorch produced (checked against ONNX Runtime), manifest.json,
MODEL.md and embed.go. The detector is also copied into the Triton repository.
"""
import argparse
import hashlib
import json
import os
import platform
import shutil
import time

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch

import evaluate
import prep
from nets import Detector, PreFilter

OPSET = 17
PRE_SIZE, DET_SIZE, STRIDE = 320, 320, 4
# The training/val/test images are synthgen JPEG files (quality 95); the Go evaluator
# (models/eval) reads these keys to feed its test images through the same round trip.
IMAGE_FORMAT = {"format": "jpg", "jpeg_quality": 95}
PREPROCESS = {"resize": "letterbox", "interpolation": "area", "pad_value": prep.PAD, "color": "RGB",
              "scale": prep.SCALE, "mean": list(prep.MEAN), "std": list(prep.STD)}


class ScoreOnly(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)


def export(model, size, path, outputs):
    model.eval()  # the exporter restores the mode it found; it must find eval
    x = torch.zeros(1, 3, size, size)
    torch.onnx.export(model, (x,), path, dynamo=False, opset_version=OPSET, input_names=["images"],
                      output_names=outputs, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    model.eval()


def session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def latency(path, size, runs=300):
    s = session(path, 1)
    x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
    for _ in range(30):
        s.run(None, {"images": x})
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        s.run(None, {"images": x})
        t.append((time.perf_counter() - t0) * 1000)
    return float(np.median(t)), float(np.percentile(t, 95))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def nchw(images_rgb_uint8):
    """Cached letterboxed RGB uint8 [H,W,3] -> the manifest's float tensor [1,3,H,W]."""
    return np.ascontiguousarray(images_rgb_uint8.transpose(2, 0, 1)[None].astype(np.float32) * np.float32(prep.SCALE))


def write_bin(path, a):
    np.ascontiguousarray(a, dtype="<f4").tofile(path)


def pick_goldens(data, golden_dir):
    """golden_0: a test image with defects, golden_1: an OK test image, golden_2: a 400x300 image with defects."""
    labels = prep.read_labels(os.path.join(data, "test"))
    bad = next(l for l in labels if len(l["defects"]) >= 2 and len({d["class"] for d in l["defects"]}) >= 2)
    ok = next(l for l in labels if not l["defects"])
    glabels = prep.read_labels(golden_dir)
    odd = next(l for l in glabels if l["defects"])
    return [(os.path.join(data, "test", bad["file"]), bad), (os.path.join(data, "test", ok["file"]), ok),
            (os.path.join(golden_dir, odd["file"]), odd)]


def clean_dir(d):
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("golden_") or f in ("model.onnx", "manifest.json"):
            os.remove(os.path.join(d, f))


def write_embed(d, pkg, what):
    with open(os.path.join(d, "embed.go"), "w") as f:
        f.write(f"// Package {pkg} embeds the {what} model bundle (see docs/model-bundle.md).\n"
                f"package {pkg}\n\nimport \"embed\"\n\n"
                f"// FS holds model.onnx, manifest.json and the golden files.\n"
                f"//\n//go:embed model.onnx manifest.json golden_*\nvar FS embed.FS\n")


def env_info():
    return {"python": platform.python_version(), "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": ort.__version__, "opencv": cv2.__version__, "numpy": np.__version__}


def bundle_prefilter(a, goldens):
    d = os.path.join(a.repo, "models", "prefilter")
    clean_dir(d)
    info = json.load(open(os.path.join(a.work, "prefilter.final.json")))
    net = PreFilter()
    net.load_state_dict(torch.load(os.path.join(a.work, "prefilter.final.pt")))
    net.eval()
    path = os.path.join(d, "model.onnx")
    export(ScoreOnly(net), PRE_SIZE, path, ["score"])
    thr = info["threshold"]

    s = session(path, 2)
    images, labels, _ = prep.load_split(os.path.join(a.data, "test"), PRE_SIZE, "area", a.cache)
    scores = np.asarray([s.run(None, {"images": nchw(im)})[0][0, 0] for im in images])
    y = np.asarray([1 if l["defects"] else 0 for l in labels])
    metrics = {"test_seed": 99, "test_images": len(labels), "auroc": round(evaluate.auroc(scores, y), 5),
               "recall_at_threshold": round(float(((scores >= thr) & (y == 1)).sum() / (y == 1).sum()), 5),
               "false_positive_rate_at_threshold": round(float(((scores >= thr) & (y == 0)).sum() / (y == 0).sum()), 5),
               "recall_by_class_at_threshold": {
                   c: round(float(np.mean([sc >= thr for sc, l in zip(scores, labels)
                                           if any(d["class"] == c for d in l["defects"])])), 5) for c in prep.CLASSES},
               "val_auroc": round(info["val_auroc"], 5), "val_recall_at_threshold": round(info["val_recall"], 5),
               "threshold_rule": "highest threshold with >= 99% recall of defective parts on the val split (seed 2)"}
    p50, p95 = latency(path, PRE_SIZE)
    metrics.update({"latency_ms_p50_1thread": round(p50, 3), "latency_ms_p95_1thread": round(p95, 3),
                    "measured_with": f"onnxruntime {ort.__version__} (Python), intra_op_num_threads=1"})

    golden, maxdiff = [], 0.0
    for i, (src, _) in enumerate(goldens):
        name = f"golden_{i}"
        img = cv2.imread(src, cv2.IMREAD_COLOR)
        cv2.imwrite(os.path.join(d, name + ".png"), img)
        img = cv2.imread(os.path.join(d, name + ".png"), cv2.IMREAD_COLOR)
        x, _ = prep.preprocess(img, PRE_SIZE, "area")
        with torch.no_grad():
            out = net(torch.from_numpy(x)).numpy()
        o = s.run(None, {"images": x})[0]
        maxdiff = max(maxdiff, float(np.abs(o - out).max()))
        write_bin(os.path.join(d, name + ".input.bin"), x)
        write_bin(os.path.join(d, name + ".output.score.bin"), out)
        golden.append({"image": name + ".png", "input": name + ".input.bin",
                       "outputs": {"score": name + ".output.score.bin"}, "expected_score": round(float(out[0, 0]), 6)})
    manifest = {
        "name": "prefilter", "version": "1.0.0", "task": "classification", "file": "model.onnx",
        "sha256": sha256(path), "opset": OPSET,
        "input": {"name": "images", "shape": [1, 3, PRE_SIZE, PRE_SIZE], "layout": "NCHW", "dtype": "float32"},
        "outputs": [{"name": "score", "shape": [1, 1]}],
        "preprocess": PREPROCESS, "classes": ["ok", "suspect"], "threshold": round(thr, 6),
        "training": {"seed": info["seed"], "train_seed": 1, "val_seed": 2, "train_images": info["train_images"],
                     "val_images": info["val_images"], "generator": "models/synth v1", "image_size": [320, 320],
                     "defect_rate": 0.5, **IMAGE_FORMAT, "epochs": info["epochs"], "crop_epochs": info["crop_epochs"],
                     "crop": info["crop"], "full_epochs": info["full_epochs"], "batch": info["batch"], "lr": info["lr"],
                     "bn_recalibration_images": info["bn_recalibration_images"],
                     "parameters": sum(p.numel() for p in net.parameters()),
                     "train_seconds": info["train_seconds"], "command": "make models (models/train/run.sh)",
                     "environment": env_info()},
        "metrics": metrics, "golden": golden,
        "tolerance": {"input_abs": 0.02, "output_abs": max(1e-3, round(10 * maxdiff, 6)), "box_px": 2.0, "score_abs": 0.01},
    }
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    write_embed(d, "prefilter", "pre-filter")
    print("prefilter", json.dumps(metrics), "ort-vs-torch max abs", maxdiff, "bytes", os.path.getsize(path), flush=True)
    return manifest, maxdiff


def det_dicts(dets, classes):
    return [{"label": classes[c], "score": round(sc, 6),
             "box": {"x": round(x0, 3), "y": round(y0, 3), "w": round(x1 - x0, 3), "h": round(y1 - y0, 3)}}
            for c, sc, x0, y0, x1, y1 in dets]


def bundle_detector(a, goldens):
    d = os.path.join(a.repo, "models", "detector")
    clean_dir(d)
    info = json.load(open(os.path.join(a.work, "detector.final.json")))
    net = Detector()
    net.load_state_dict(torch.load(os.path.join(a.work, "detector.final.pt")))
    net.eval()
    path = os.path.join(d, "model.onnx")
    names = ["heatmap", "wh", "offset"]
    export(net, DET_SIZE, path, names)
    thr = info["threshold"]

    s = session(path, 2)
    images, labels, _ = prep.load_split(os.path.join(a.data, "test"), DET_SIZE, "area", a.cache)
    dets, gts = [], []
    for im, l in zip(images, labels):
        hm, wh, off = s.run(names, {"images": nchw(im)})
        r, _, _, left, top = prep.letterbox_geometry(l["width"], l["height"], DET_SIZE, DET_SIZE)
        dets.append(evaluate.decode(hm[0], wh[0], off[0], thr, STRIDE, (r, left, top), l["width"], l["height"]))
        gts.append(np.asarray([[prep.CLASSES.index(x["class"]), *x["box"]] for x in l["defects"]], np.float32).reshape(-1, 5))
    m, aps = evaluate.average_precision(dets, gts, len(prep.CLASSES))
    metrics = {"test_seed": 99, "test_images": len(labels), "map50": round(m, 5),
               "ap50_per_class": {prep.CLASSES[k]: round(v, 5) for k, v in aps.items()},
               "val_map50": round(info["val_map50"], 5),
               "map_rule": "VOC all-point AP at IoU 0.5 per class, mean over classes; detections decoded at the manifest threshold with class-wise NMS"}
    p50, p95 = latency(path, DET_SIZE)
    metrics.update({"latency_ms_p50_1thread": round(p50, 3), "latency_ms_p95_1thread": round(p95, 3),
                    "measured_with": f"onnxruntime {ort.__version__} (Python), intra_op_num_threads=1"})

    golden, maxdiff = [], 0.0
    for i, (src, l) in enumerate(goldens):
        name = f"golden_{i}"
        img = cv2.imread(src, cv2.IMREAD_COLOR)
        cv2.imwrite(os.path.join(d, name + ".png"), img)
        img = cv2.imread(os.path.join(d, name + ".png"), cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        x, geo = prep.preprocess(img, DET_SIZE, "area")
        with torch.no_grad():
            outs = [t.numpy() for t in net(torch.from_numpy(x))]
        o = s.run(names, {"images": x})
        maxdiff = max(maxdiff, max(float(np.abs(p - q).max()) for p, q in zip(o, outs)))
        write_bin(os.path.join(d, name + ".input.bin"), x)
        for n, t in zip(names, outs):
            write_bin(os.path.join(d, f"{name}.output.{n}.bin"), t)
        found = evaluate.decode(outs[0][0], outs[1][0], outs[2][0], thr, STRIDE, geo, w, h)
        golden.append({"image": name + ".png", "input": name + ".input.bin",
                       "outputs": {n: f"{name}.output.{n}.bin" for n in names},
                       "expected": {"detections": det_dicts(found, prep.CLASSES)}})
        print(f"{name}: truth {[(x['class'], x['box']) for x in l['defects']]} found {det_dicts(found, prep.CLASSES)}", flush=True)
    out = DET_SIZE // STRIDE
    manifest = {
        "name": "detector", "version": "1.0.0", "task": "detection", "file": "model.onnx",
        "sha256": sha256(path), "opset": OPSET,
        "input": {"name": "images", "shape": [1, 3, DET_SIZE, DET_SIZE], "layout": "NCHW", "dtype": "float32"},
        "outputs": [{"name": "heatmap", "shape": [1, len(prep.CLASSES), out, out]},
                    {"name": "wh", "shape": [1, 2, out, out]}, {"name": "offset", "shape": [1, 2, out, out]}],
        "preprocess": PREPROCESS, "classes": prep.CLASSES, "threshold": thr,
        "postprocess": {"type": "centernet", "stride": STRIDE, "nms_iou": 0.5, "max_detections": 50},
        "training": {"seed": info["seed"], "train_seed": 1, "val_seed": 2, "train_images": info["train_images"],
                     "val_images": info["val_images"], "generator": "models/synth v1", "image_size": [320, 320],
                     "defect_rate": 0.5, **IMAGE_FORMAT, "epochs": info["epochs"], "crop_epochs": info["crop_epochs"],
                     "crop": info["crop"], "full_epochs": info["full_epochs"], "batch": info["batch"], "lr": info["lr"],
                     "wh_weight": info.get("wh_weight", 1.0), "full_images": info.get("full_images"),
                     "stage1": info.get("stage1"), "stages": info.get("stages"),
                     "total_epochs": sum(st["epochs"] for st in info.get("stages", [])) + info["epochs"],
                     "bn_recalibration_images": info["bn_recalibration_images"],
                     "parameters": sum(p.numel() for p in net.parameters()),
                     "train_seconds": info["train_seconds"], "command": "make models (models/train/run.sh)",
                     "environment": env_info()},
        "metrics": metrics, "golden": golden,
        "tolerance": {"input_abs": 0.02, "output_abs": max(1e-3, round(10 * maxdiff, 6)), "box_px": 2.0, "score_abs": 0.01},
    }
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    write_embed(d, "detector", "defect detector")
    triton = os.path.join(a.repo, "models", "triton", "detector", "1")
    os.makedirs(triton, exist_ok=True)
    shutil.copyfile(path, os.path.join(triton, "model.onnx"))
    print("detector", json.dumps(metrics), "ort-vs-torch max abs", maxdiff, "bytes", os.path.getsize(path), flush=True)
    return manifest, maxdiff


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--work", required=True, help="directory holding the checkpoints")
    ap.add_argument("--golden", required=True, help="synthgen output with 400x300 PNG images")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--only", choices=["prefilter", "detector"])
    a = ap.parse_args()
    torch.set_num_threads(2)
    goldens = pick_goldens(a.data, a.golden)
    if a.only != "detector":
        bundle_prefilter(a, goldens)
    if a.only != "prefilter":
        bundle_detector(a, goldens)


if __name__ == "__main__":
    main()
