"""Trains the OK-vs-suspect pre-filter on synthgen output (any defect = suspect).

The network predicts a class-agnostic stride-4 heatmap of defect centres
(focal loss, the detector's targets with every class merged) plus an
image-level loss on its maximum, which is the exported score. Like the
detector it trains on crops, then on whole images.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch

import evaluate
import prep
import train_detector as td
from nets import PreFilter

SIZE = 320


def agnostic(boxes):
    b = boxes.copy()
    b[:, 0] = 0
    return b


def predict(model, images, bs=32):
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(images), bs):
            x = torch.from_numpy(np.asarray(images[s:s + bs])).permute(0, 3, 1, 2).float().mul_(prep.SCALE)
            out.append(model(x.contiguous()).numpy()[:, 0])
    return np.concatenate(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--full-epochs", type=int, default=1)
    ap.add_argument("--full-images", type=int, default=1500)
    ap.add_argument("--crop", type=int, default=160)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--recall", type=float, default=0.99)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    images, labels, boxes = prep.load_split(os.path.join(a.data, "train"), SIZE, "area", a.cache)
    boxes = [agnostic(b) for b in boxes]
    vimages, vlabels, _ = prep.load_split(os.path.join(a.data, "val"), SIZE, "area", a.cache)
    vy = np.asarray([1 if l["defects"] else 0 for l in vlabels])

    model = PreFilter()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    n = len(images)
    epochs = a.epochs + a.full_epochs
    steps_per = [math.ceil(n / a.batch) if e < a.epochs else math.ceil(min(n, a.full_images) / (a.batch // 2))
                 for e in range(epochs)]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=sum(steps_per), pct_start=0.1)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    t0 = time.time()
    for e in range(epochs):
        crop = a.crop if e < a.epochs else SIZE
        bs = a.batch if e < a.epochs else a.batch // 2
        model.train()
        perm = rng.permutation(n)
        te, tot = time.time(), np.zeros(2)
        for s in range(steps_per[e]):
            x, bxs = td.crop_batch(images, boxes, perm[s * bs:(s + 1) * bs], crop, rng)
            t_hm = td.targets(bxs, crop)[0][:, :1]
            logits = model.cell_logits(x)
            lhm = td.focal(logits, t_hm)
            y = torch.tensor([1.0 if len(b) else 0.0 for b in bxs])
            limg = bce(logits.amax(dim=(2, 3))[:, 0], y)
            loss = lhm + limg
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += (lhm.item(), limg.item())
        print(f"epoch {e + 1}/{epochs} crop {crop} loss hm {tot[0] / steps_per[e]:.4f} image {tot[1] / steps_per[e]:.4f} "
              f"{time.time() - te:.0f}s", flush=True)
    train_s = time.time() - t0
    torch.save(model.state_dict(), a.out)
    vs = predict(model, vimages)
    thr = evaluate.threshold_for_recall(vs, vy, a.recall)
    info = {"train_seconds": round(train_s), "epochs": epochs, "crop_epochs": a.epochs, "crop": a.crop,
            "full_epochs": a.full_epochs, "batch": a.batch, "lr": a.lr, "seed": a.seed,
            "train_images": n, "val_images": len(vimages), "threshold": thr, "val_auroc": evaluate.auroc(vs, vy)}
    with open(a.out + ".json", "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
