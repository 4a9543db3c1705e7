"""Trains the CenterNet-style defect detector on synthgen output.

Training crops (fully convolutional, so the network runs at 320x320 natively)
keep the CPU budget small; the last epoch runs on whole letterboxed images.
Evaluation uses the manifest preprocessing on whole images.
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
from nets import Detector

SIZE, STRIDE, C = 320, 4, len(prep.CLASSES)


def targets(boxes_list, size):
    """Heatmap (elliptical Gaussians, 1 at each centre), regression targets
    (log w, log h, offset x, offset y), the centre mask (offsets are learnt
    there) and size weights: every cell where an object's Gaussian is >= 0.3
    learns that object's size, weighted by the Gaussian (smaller objects win
    shared cells)."""
    out = size // STRIDE
    B = len(boxes_list)
    hm = np.zeros((B, C, out, out), np.float32)
    reg = np.zeros((B, 4, out, out), np.float32)
    mask = np.zeros((B, 1, out, out), np.float32)
    wgt = np.zeros((B, 1, out, out), np.float32)
    yy, xx = np.mgrid[0:out, 0:out].astype(np.float32)
    for b, boxes in enumerate(boxes_list):
        order = np.argsort(-(boxes[:, 3] - boxes[:, 1]) * (boxes[:, 4] - boxes[:, 2]), kind="stable")
        for cls, x0, y0, x1, y1 in boxes[order]:
            w, h = x1 - x0, y1 - y0
            cx, cy = (x0 + x1) / 2 / STRIDE, (y0 + y1) / 2 / STRIDE
            ix, iy = min(out - 1, int(cx)), min(out - 1, int(cy))
            sx, sy = max(0.7, 0.54 * w / STRIDE / 6 * 2), max(0.7, 0.54 * h / STRIDE / 6 * 2)
            g = np.exp(-((xx - ix) ** 2 / (2 * sx * sx) + (yy - iy) ** 2 / (2 * sy * sy)))
            hm[b, int(cls)] = np.maximum(hm[b, int(cls)], g)
            hm[b, int(cls), iy, ix] = 1.0
            area = g >= 0.3
            lw, lh = math.log(max(w, 1) / Detector.WH_BASE), math.log(max(h, 1) / Detector.WH_BASE)
            reg[b, 0][area], reg[b, 1][area] = lw, lh
            wgt[b, 0][area] = g[area]
            reg[b, :, iy, ix] = (lw, lh, cx - ix, cy - iy)
            mask[b, 0, iy, ix] = 1.0
    return torch.from_numpy(hm), torch.from_numpy(reg), torch.from_numpy(mask), torch.from_numpy(wgt)


def focal(hm_logit, t_hm):
    """CenterNet's penalty-reduced focal loss, normalised by the number of centres."""
    logp = torch.nn.functional.logsigmoid(hm_logit)
    log1mp = torch.nn.functional.logsigmoid(-hm_logit)
    p = torch.sigmoid(hm_logit)
    pos = t_hm.eq(1).float()
    npos = pos.sum().clamp(min=1)
    lpos = (logp * (1 - p) ** 2 * pos).sum()
    lneg = (log1mp * p ** 2 * (1 - t_hm) ** 4 * (1 - pos)).sum()
    return -(lpos + lneg) / npos


def loss_fn(hm_logit, reg, t_hm, t_reg, t_mask, t_wgt, wh_weight=1.0):
    npos = t_hm.eq(1).float().sum().clamp(min=1)
    lhm = focal(hm_logit, t_hm)
    lwh = (torch.abs(reg[:, 0:2] - t_reg[:, 0:2]) * t_wgt).sum() / t_wgt.sum().clamp(min=1)
    loff = (torch.abs(torch.sigmoid(reg[:, 2:4]) - t_reg[:, 2:4]) * t_mask).sum() / npos
    return lhm + wh_weight * lwh + loff, (lhm.item(), lwh.item(), loff.item())


def crop_batch(images, boxes, idx, crop, rng):
    xs, bs = [], []
    for i in idx:
        img, bx = images[i], boxes[i]
        if crop < SIZE:
            if len(bx) and rng.random() < 0.85:
                d = bx[rng.integers(len(bx))]
                lo_x, hi_x = max(0, int(d[3]) - crop + 1), min(SIZE - crop, int(d[1]))
                lo_y, hi_y = max(0, int(d[4]) - crop + 1), min(SIZE - crop, int(d[2]))
                ox = rng.integers(lo_x, hi_x + 1) if hi_x >= lo_x else rng.integers(0, SIZE - crop + 1)
                oy = rng.integers(lo_y, hi_y + 1) if hi_y >= lo_y else rng.integers(0, SIZE - crop + 1)
            else:
                ox, oy = rng.integers(0, SIZE - crop + 1), rng.integers(0, SIZE - crop + 1)
            img = img[oy:oy + crop, ox:ox + crop]
            keep = []
            for c, x0, y0, x1, y1 in bx:
                nx0, ny0, nx1, ny1 = max(x0 - ox, 0), max(y0 - oy, 0), min(x1 - ox, crop), min(y1 - oy, crop)
                if nx1 - nx0 > 0 and ny1 - ny0 > 0 and (nx1 - nx0) * (ny1 - ny0) >= 0.6 * (x1 - x0) * (y1 - y0):
                    keep.append((c, nx0, ny0, nx1, ny1))
            bx = np.asarray(keep, np.float32).reshape(-1, 5)
        bx = bx.copy()
        # flips and 90-degree rotations (square input)
        if rng.random() < 0.5:
            img = img[:, ::-1]
            bx[:, [1, 3]] = crop - bx[:, [3, 1]]
        if rng.random() < 0.5:
            img = img[::-1]
            bx[:, [2, 4]] = crop - bx[:, [4, 2]]
        if rng.random() < 0.5:
            img = img.transpose(1, 0, 2)
            bx = bx[:, [0, 2, 1, 4, 3]]
        xs.append(np.ascontiguousarray(img))
        bs.append(bx)
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float().mul_(prep.SCALE)
    return x.contiguous(), bs


def predict(model, images, batch=32):
    """images: RGB uint8 [N,S,S,3] already letterboxed -> numpy outputs."""
    model.eval()
    hms, whs, offs = [], [], []
    with torch.no_grad():
        for s in range(0, len(images), batch):
            x = torch.from_numpy(np.asarray(images[s:s + batch])).permute(0, 3, 1, 2).float().mul_(prep.SCALE)
            hm, wh, off = model(x.contiguous())
            hms.append(hm.numpy()), whs.append(wh.numpy()), offs.append(off.numpy())
    return np.concatenate(hms), np.concatenate(whs), np.concatenate(offs)


def evaluate_split(model, images, labels, threshold, outputs=None):
    hm, wh, off = outputs if outputs is not None else predict(model, images)
    dets, gts = [], []
    for i, l in enumerate(labels):
        r, _, _, left, top = prep.letterbox_geometry(l["width"], l["height"], SIZE, SIZE)
        dets.append(evaluate.decode(hm[i], wh[i], off[i], threshold, STRIDE, (r, left, top), l["width"], l["height"]))
        gts.append(np.asarray([[prep.CLASSES.index(d["class"]), *d["box"]] for d in l["defects"]], np.float32).reshape(-1, 5))
    m, aps = evaluate.average_precision(dets, gts, C)
    return m, {prep.CLASSES[k]: v for k, v in aps.items()}, dets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--out", required=True, help="checkpoint path")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--full-epochs", type=int, default=1, help="final epochs on whole 320x320 images")
    ap.add_argument("--full-images", type=int, default=2000, help="images per full-size epoch")
    ap.add_argument("--crop", type=int, default=192)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training images")
    ap.add_argument("--wh-weight", type=float, default=1.0, help="weight of the size (log w, log h) loss")
    ap.add_argument("--init", help="start from this checkpoint (second stage) instead of random weights")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    t0 = time.time()
    images, labels, boxes = prep.load_split(os.path.join(a.data, "train"), SIZE, "area", a.cache)
    if a.limit:
        images, labels, boxes = images[:a.limit], labels[:a.limit], boxes[:a.limit]
    vimages, vlabels, _ = prep.load_split(os.path.join(a.data, "val"), SIZE, "area", a.cache)
    print(f"data loaded in {time.time() - t0:.0f}s: train {len(images)} val {len(vimages)}", flush=True)

    model = Detector()
    stage1 = None
    if a.init:
        model.load_state_dict(torch.load(a.init))
        with open(a.init + ".json") as f:
            stage1 = json.load(f)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    # Every image is used each epoch; defective ones are what the detector learns from.
    n = len(images)
    epochs = a.epochs + a.full_epochs
    steps_per = [math.ceil(n / a.batch) if e < a.epochs else math.ceil(min(n, a.full_images) / (a.batch // 2))
                 for e in range(epochs)]
    total = sum(steps_per)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=total, pct_start=0.1)
    t_train = time.time()
    for e in range(epochs):
        crop = a.crop if e < a.epochs else SIZE
        bs = a.batch if e < a.epochs else a.batch // 2
        model.train()
        perm = rng.permutation(n)
        te, agg = time.time(), np.zeros(3)
        for s in range(steps_per[e]):
            x, bxs = crop_batch(images, boxes, perm[s * bs:(s + 1) * bs], crop, rng)
            t_hm, t_reg, t_mask, t_wgt = targets(bxs, crop)
            hm, reg = model.raw(x)
            loss, parts = loss_fn(hm, reg, t_hm, t_reg, t_mask, t_wgt, a.wh_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            agg += parts
        print(f"epoch {e + 1}/{epochs} crop {crop} loss hm {agg[0] / steps_per[e]:.3f} wh {agg[1] / steps_per[e]:.3f} "
              f"off {agg[2] / steps_per[e]:.3f} {time.time() - te:.0f}s", flush=True)
    train_s = time.time() - t_train
    torch.save(model.state_dict(), a.out)
    te = time.time()
    outs = predict(model, vimages)
    res = {}
    for thr in (0.1, 0.2, 0.3, 0.4):
        m, aps, _ = evaluate_split(model, vimages, vlabels, thr, outs)
        res[thr] = (m, aps)
        print(f"val threshold {thr}: mAP@0.5 {m:.4f} {json.dumps({k: round(v, 3) for k, v in aps.items()})}", flush=True)
    best = max(v[0] for v in res.values())
    thr = max(t for t, v in res.items() if v[0] >= best - 0.01)
    info = {"train_seconds": round(train_s), "epochs": epochs, "crop_epochs": a.epochs, "crop": a.crop,
            "full_epochs": a.full_epochs, "batch": a.batch, "lr": a.lr, "wh_weight": a.wh_weight, "seed": a.seed, "train_images": n,
            "val_images": len(vimages), "threshold": thr, "val_map50": res[thr][0], "val_ap50": res[thr][1]}
    if stage1 is not None:
        # The checkpoint this run started from, and the stages before it (oldest first).
        keys = ("train_seconds", "epochs", "crop_epochs", "crop", "full_epochs", "full_images", "lr", "wh_weight", "seed")
        prev = {k: stage1[k] for k in keys if k in stage1}
        if "stages" in stage1:
            earlier = stage1["stages"]
        elif "stage1" in stage1:
            earlier = [stage1["stage1"]]
        else:
            earlier = []
        if earlier:  # train_seconds of a later stage's json is cumulative; keep each stage's own time
            prev["train_seconds"] = stage1["train_seconds"] - sum(s["train_seconds"] for s in earlier)
        info["stages"] = earlier + [prev]
        info["stage1"] = info["stages"][0]
        info["train_seconds"] += stage1["train_seconds"]
    info["full_images"] = min(n, a.full_images)
    with open(a.out + ".json", "w") as f:
        json.dump(info, f, indent=1)
    print(f"trained in {train_s:.0f}s, val eval {time.time() - te:.0f}s, threshold {thr}", flush=True)


if __name__ == "__main__":
    main()
