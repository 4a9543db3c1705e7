"""Trains the OK-vs-suspect pre-filter on synthgen output (any defect = suspect)."""
import argparse
import json
import math
import os
import time

import numpy as np
import torch

import evaluate
import prep
from nets import PreFilter

SIZE = 192


def batch(images, idx, rng, augment):
    xs = []
    for i in idx:
        img = images[i]
        if augment:
            if rng.random() < 0.5:
                img = img[:, ::-1]
            if rng.random() < 0.5:
                img = img[::-1]
            if rng.random() < 0.5:
                img = img.transpose(1, 0, 2)
        xs.append(np.ascontiguousarray(img))
    return torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float().mul_(prep.SCALE).contiguous()


def predict(model, images, bs=128):
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(images), bs):
            out.append(model(batch(images, range(s, min(len(images), s + bs)), None, False)).numpy()[:, 0])
    return np.concatenate(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recall", type=float, default=0.99)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    images, labels, _ = prep.load_split(os.path.join(a.data, "train"), SIZE, "area", a.cache)
    vimages, vlabels, _ = prep.load_split(os.path.join(a.data, "val"), SIZE, "area", a.cache)
    y = np.asarray([1.0 if l["defects"] else 0.0 for l in labels], np.float32)
    vy = np.asarray([1 if l["defects"] else 0 for l in vlabels])

    model = PreFilter()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    n = len(images)
    steps = math.ceil(n / a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps * a.epochs, pct_start=0.1)
    t0 = time.time()
    for e in range(a.epochs):
        model.train()
        perm = rng.permutation(n)
        te, tot = time.time(), 0.0
        for s in range(steps):
            idx = perm[s * a.batch:(s + 1) * a.batch]
            x = batch(images, idx, rng, True)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model.logits(x)[:, 0], torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item()
        vs = predict(model, vimages)
        print(f"epoch {e + 1}/{a.epochs} loss {tot / steps:.4f} val AUROC {evaluate.auroc(vs, vy):.4f} {time.time() - te:.0f}s", flush=True)
    train_s = time.time() - t0
    torch.save(model.state_dict(), a.out)
    vs = predict(model, vimages)
    thr = evaluate.threshold_for_recall(vs, vy, a.recall)
    rec = float(((vs >= thr) & (vy == 1)).sum() / (vy == 1).sum())
    fpr = float(((vs >= thr) & (vy == 0)).sum() / (vy == 0).sum())
    info = {"train_seconds": round(train_s), "epochs": a.epochs, "batch": a.batch, "lr": a.lr, "seed": a.seed,
            "train_images": n, "val_images": len(vimages), "threshold": thr, "val_auroc": evaluate.auroc(vs, vy),
            "val_recall": rec, "val_fpr": fpr}
    with open(a.out + ".json", "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
