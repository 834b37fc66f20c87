"""Detection metrics: COCO box AP (pycocotools), bird's-eye centre-distance AP, range-binned position error.

- 2D AP: the COCO evaluator itself (`pycocotools.cocoeval.COCOeval`, iouType "bbox"): AP over IoU 0.5:0.95
  and AP at IoU 0.5, on the split's own COCO file.
- Bird's-eye AP (nuScenes-style, Caesar et al. 2020, sec. 3.1): a detection matches a ground-truth vehicle
  of the same image when their centres lie within a distance threshold (1, 2, 4 m) in the ground plane.
  Detections of all images are ranked by score and each takes the nearest unmatched vehicle within the
  threshold; AP is the area under the precision-recall curve made monotone (all-point interpolation).
  nuScenes then drops recall and precision below 0.1; this AP keeps the whole curve.
- Position error by range: each vehicle's error to the detection matched to it at the 4 m threshold, averaged
  in bins of its true distance, with the recall of that bin.
"""

from __future__ import annotations

import contextlib
import io
import itertools
from typing import Any

import numpy as np

from pilotlab.core.errors import PilotlabError

BEV_THRESHOLDS = (1.0, 2.0, 4.0)  # [m]
RANGE_BINS = (0.0, 20.0, 40.0, 80.0, float("inf"))  # [m]


def average_precision(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> float:
    """All-point interpolated AP of detections with `scores` and true-positive flags; `n_gt` positives."""
    if n_gt == 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    hits = tp[order].astype(float)
    ctp, cfp = np.cumsum(hits), np.cumsum(1.0 - hits)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, 1e-12)
    # monotone envelope, then the area under the step function of recall
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    r = np.concatenate([[0.0], recall])
    return float(np.sum((r[1:] - r[:-1]) * precision))


def match_centres(det_pos: list[np.ndarray], det_score: list[np.ndarray], gt_pos: list[np.ndarray],
                  threshold: float) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Greedy matching by score over all images: (scores (D,), tp (D,), per image the matched detection index
    of each vehicle, -1 for none)."""
    flat = [(float(s), i, k) for i, ss in enumerate(det_score) for k, s in enumerate(ss)]
    flat.sort(key=lambda t: -t[0])
    taken = [np.full(len(g), -1) for g in gt_pos]
    scores, tp = np.zeros(len(flat)), np.zeros(len(flat), dtype=bool)
    for n, (s, i, k) in enumerate(flat):
        scores[n] = s
        g = gt_pos[i]
        if len(g) == 0:
            continue
        d = np.hypot(*(g - det_pos[i][k]).T)
        d[taken[i] >= 0] = np.inf
        j = int(np.argmin(d))
        if d[j] <= threshold:
            taken[i][j] = k
            tp[n] = True
    return scores, tp, taken


def bev_metrics(det_pos: list[np.ndarray], det_score: list[np.ndarray], gt_pos: list[np.ndarray],
                thresholds: tuple[float, ...] = BEV_THRESHOLDS, bins: tuple[float, ...] = RANGE_BINS
                ) -> dict[str, float]:
    """``bev_ap_<t>m`` per threshold, their mean ``bev_ap``, and per range bin ``pos_err_<lo>_<hi>m`` [m] and
    ``recall_<lo>_<hi>m`` (matches at the largest threshold). Positions are (D, 2) / (G, 2) [m] per image."""
    out: dict[str, float] = {}
    n_gt = sum(len(g) for g in gt_pos)
    taken: list[np.ndarray] = []
    for t in thresholds:
        scores, tp, taken = match_centres(det_pos, det_score, gt_pos, t)
        out[f"bev_ap_{t:g}m"] = average_precision(scores, tp, n_gt)
    out["bev_ap"] = float(np.mean([out[f"bev_ap_{t:g}m"] for t in thresholds]))
    err, rng_, hit = [], [], []
    for i, g in enumerate(gt_pos):
        for j in range(len(g)):
            k = taken[i][j]
            rng_.append(float(np.hypot(*g[j])))
            hit.append(k >= 0)
            err.append(float(np.hypot(*(det_pos[i][k] - g[j]))) if k >= 0 else np.nan)
    err_a, rng_a, hit_a = np.array(err), np.array(rng_), np.array(hit, dtype=bool)
    for lo, hi in itertools.pairwise(bins):
        name = f"{lo:g}_{hi:g}m" if np.isfinite(hi) else f"{lo:g}m_plus"
        sel = (rng_a >= lo) & (rng_a < hi)
        out[f"pos_err_{name}"] = float(np.mean(err_a[sel & hit_a])) if (sel & hit_a).any() else float("nan")
        out[f"recall_{name}"] = float(hit_a[sel].mean()) if sel.any() else float("nan")
    return out


def coco_ap(coco_doc: dict[str, Any], boxes: list[np.ndarray], scores: list[np.ndarray],
            image_ids: list[int]) -> dict[str, float]:
    """``ap`` (IoU 0.5:0.95) and ``ap50`` of 2D boxes (x, y, w, h) by pycocotools' COCOeval on `coco_doc`."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise PilotlabError("2D AP needs pycocotools: pip install -e '.[perception]'") from None
    gt = COCO()
    gt.dataset = {"images": coco_doc["images"], "annotations": coco_doc["annotations"],
                  "categories": coco_doc["categories"]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dets = [{"image_id": int(i), "category_id": 1, "bbox": [float(v) for v in b], "score": float(s)}
                for i, bb, ss in zip(image_ids, boxes, scores) for b, s in zip(bb, ss)]
        if not dets:
            return {"ap": 0.0, "ap50": 0.0}
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.imgIds = [int(i) for i in image_ids]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"ap": float(max(ev.stats[0], 0.0)), "ap50": float(max(ev.stats[1], 0.0))}


__all__ = ["BEV_THRESHOLDS", "RANGE_BINS", "average_precision", "bev_metrics", "coco_ap", "match_centres"]
