"""Re-estimates BatchNorm statistics, then picks the threshold on the val split.

BatchNorm running averages lag behind the weights at the end of a short
one-cycle schedule (and the detector trains mostly on crops), so the running
statistics are recomputed from whole, unaugmented training images with the
final weights before anything is evaluated. Writes <name>.final.pt and
<name>.final.json next to the checkpoint.
"""
import argparse
import json
import os

import numpy as np
import torch

import evaluate
import prep
import train_detector
import train_prefilter
from nets import Detector, PreFilter


def recalibrate(model, images, n, size_batch=32):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the passes below
    model.train()
    with torch.no_grad():
        for s in range(0, n, size_batch):
            x = torch.from_numpy(np.asarray(images[s:s + size_batch])).permute(0, 3, 1, 2).float().mul_(prep.SCALE)
            model(x.contiguous())
    model.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["prefilter", "detector"], required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--images", type=int, default=2000, help="training images used to re-estimate BatchNorm")
    ap.add_argument("--recall", type=float, default=0.99)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    ckpt = os.path.join(a.work, a.model + ".pt")
    info = json.load(open(ckpt + ".json"))
    if a.model == "prefilter":
        size, model = train_prefilter.SIZE, PreFilter()
    else:
        size, model = train_detector.SIZE, Detector()
    model.load_state_dict(torch.load(ckpt))
    images, _, _ = prep.load_split(os.path.join(a.data, "train"), size, "area", a.cache)
    vimages, vlabels, _ = prep.load_split(os.path.join(a.data, "val"), size, "area", a.cache)
    recalibrate(model, images, min(a.images, len(images)))
    info["bn_recalibration_images"] = min(a.images, len(images))

    if a.model == "prefilter":
        vs = train_prefilter.predict(model, vimages)
        vy = np.asarray([1 if l["defects"] else 0 for l in vlabels])
        thr = evaluate.threshold_for_recall(vs, vy, a.recall)
        info.update({"threshold": thr, "val_auroc": evaluate.auroc(vs, vy),
                     "val_recall": float(((vs >= thr) & (vy == 1)).sum() / (vy == 1).sum()),
                     "val_fpr": float(((vs >= thr) & (vy == 0)).sum() / (vy == 0).sum())})
    else:
        outs = train_detector.predict(model, vimages)
        res = {}
        for thr in (0.1, 0.2, 0.3, 0.4):
            m, aps, _ = train_detector.evaluate_split(model, vimages, vlabels, thr, outs)
            res[thr] = (m, aps)
            print(f"val threshold {thr}: mAP@0.5 {m:.4f} {json.dumps({k: round(v, 3) for k, v in aps.items()})}", flush=True)
        best = max(v[0] for v in res.values())
        thr = max(t for t, v in res.items() if v[0] >= best - 0.01)
        info.update({"threshold": thr, "val_map50": res[thr][0], "val_ap50": res[thr][1]})
    torch.save(model.state_dict(), os.path.join(a.work, a.model + ".final.pt"))
    with open(os.path.join(a.work, a.model + ".final.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
