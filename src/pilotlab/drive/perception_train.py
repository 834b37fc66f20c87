"""``pilotlab drive train-perception``: train the camera detector (`perception.CenterNet`) on recorded frames.

Reads the train and test splits of a `pilotlab drive record` dataset (all checked before the run directory
is touched), trains with AdamW on a cosine schedule with left-right flips, and evaluates the last weights
on the test split: COCO box AP, bird's-eye AP at 1/2/4 m, position error by range and the normalised
error (NEES) of the predicted covariances. `--pretrained RUN` starts the backbone from another run's
weights (a detector run, or any run whose checkpoint holds a ``backbone`` of the same width).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError, check_finite
from pilotlab.core.progress import Progress
from pilotlab.core.run import RunDir
from pilotlab.core.session import BatchSchedule, restore, save_state, setup
from pilotlab.core.summary import (
    DATA_TEST_SIZE,
    TRAIN_CPU_S,
    TRAIN_STEPS,
    TRAIN_WALL_S,
    perception_key,
)
from pilotlab.drive import perception as P
from pilotlab.drive.perception_metrics import bev_metrics, coco_ap
from pilotlab.drive.record import Split, load_meta, load_split


@dataclass(frozen=True, kw_only=True)
class TrainPerceptionConfig(RunConfig):
    data_dir: str
    """Dataset folder written by `pilotlab drive record` (its train and test splits are used)."""
    labels: int | None = None
    """Labelled training frames to use (the first N of the train split); default: all."""
    test_frames: int | None = None
    """Test frames to evaluate on (the first N of the test split); default: all."""
    epochs: int = 30
    """Passes over the labelled frames."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (default: epochs decide)."""
    batch_size: int = 32
    """Frames per step."""
    lr: float = 3e-3
    """Peak AdamW learning rate (cosine decay to 5 % of it)."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    width: int = 16
    """Backbone width (feature channels 4 x width at stride 4)."""
    flip: bool = True
    """Mirror half of each batch left-right (boxes, offsets and lateral positions follow)."""
    score_threshold: float = 0.3
    """Heat-map peak a detection needs (evaluation and driving)."""
    pretrained: str | None = None
    """Run directory whose checkpoints/last holds a backbone to start from (same width)."""
    log_every: int = 20
    """Steps between train/ metric rows."""
    checkpoint_every: int = 200
    """Steps between checkpoints (and at the end)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("epochs", "batch_size", "width", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("labels", "test_frames", "max_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise PilotlabError(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise PilotlabError(f"weight-decay must be >= 0, got {self.weight_decay}")
        if not 0.0 < self.score_threshold < 1.0:
            raise PilotlabError(f"score-threshold must lie in (0, 1), got {self.score_threshold}")


def lr_at(step: int, total: int, peak: float) -> float:
    """Cosine decay from `peak` to 5 % of it over `total` steps, after a 5 % linear warm-up."""
    warm = max(1, total // 20)
    if step < warm:
        return peak * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return peak * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * t)))


def pretrained_backbone(path: str, width: int) -> dict[str, torch.Tensor]:
    """The ``backbone.*`` weights of checkpoints/last of run `path` (one-line error if absent or mismatched)."""
    from pilotlab.core.session import load_weights

    run = RunDir.open(path)
    state, _ = load_weights(run, "last")
    model = state.get("model", state) if isinstance(state, dict) else {}
    model = model if isinstance(model, dict) else {}
    prefix = "backbone."
    weights = {k[len(prefix):]: v for k, v in model.items() if isinstance(k, str) and k.startswith(prefix)}
    if not weights:
        raise PilotlabError(f"--pretrained {path}: checkpoints/last holds no backbone.* weights")
    probe = P.CenterNet(width).backbone
    try:
        probe.load_state_dict(weights)
    except RuntimeError as e:
        raise PilotlabError(f"--pretrained {path}: its backbone is not a StrideFourBackbone of width {width} "
                            f"({' '.join(str(e).split())[:120]})") from None
    return weights


def predict(model: P.CenterNet, images: np.ndarray, threshold: float, std_scale: float = 1.0,
            batch: int = 256, focal: np.ndarray | None = None) -> list[P.CameraDetections]:
    """Detections of every image; `focal` [px] per image (None: all taken with `P.FOCAL_REF`)."""
    model.eval()
    focal = np.full(len(images), P.FOCAL_REF) if focal is None else np.asarray(focal, dtype=float)
    out: list[P.CameraDetections] = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            out += P.decode(model(P.to_input(images[i:i + batch])), threshold, std_scale=std_scale,
                            focal=focal[i:i + batch])
    model.train()
    return out


def evaluate(model: P.CenterNet, test: Split, threshold: float) -> dict[str, float]:
    """COCO AP (all detections above 0.05, as COCO ranks them), bird's-eye AP and errors, NEES, detector speed."""
    dets = predict(model, test.images, 0.05, focal=test.focal)
    ids = [int(im["id"]) for im in test.coco["images"][:len(test.images)]]
    res = coco_ap(test.coco, [d.box for d in dets], [d.score for d in dets], ids)
    gt = [np.array([a["position_camera"] for a in anns], dtype=float).reshape(-1, 2) for anns in test.annotations]
    res.update(bev_metrics([d.position for d in dets], [d.score for d in dets], gt))
    names = sorted(set(test.cameras))
    if len(names) > 1:  # per camera: bird's-eye AP at 2 m and the near recall (where the side cameras matter)
        for name in names:
            sel = [i for i, c in enumerate(test.cameras) if c == name]
            part = bev_metrics([dets[i].position for i in sel], [dets[i].score for i in sel], [gt[i] for i in sel])
            res[f"bev_ap_2m_{name}"] = part["bev_ap_2m"]
            res[f"recall_0_20m_{name}"] = part["recall_0_20m"]
    # normalised estimation error squared of the detections kept for driving, matched within 4 m (2 if calibrated)
    nees = []
    for d, g in zip(dets, gt):
        keep = d.score >= threshold
        for p, c in zip(d.position[keep], d.cov[keep]):
            if len(g):
                e = g - p
                j = int(np.argmin(np.hypot(*e.T)))
                if np.hypot(*e[j]) <= 4.0:
                    nees.append(float(e[j] @ np.linalg.solve(c, e[j])))
    res["nees"] = float(np.mean(nees)) if nees else float("nan")
    # one frame at a time through the driving loop's `Detector` (network + decoding), per second of this
    # process's CPU time (with one torch thread: one core's worth; other processes on a shared machine do not count)
    one = test.images[:1]
    detector = P.Detector(model, threshold)  # an inference copy: `model` stays as it is
    detector.detect(one)
    n, t0 = 50, time.process_time()
    for _ in range(n):
        detector.detect(one)
    res["detect_fps"] = n / max(time.process_time() - t0, 1e-9)
    return res


def check_data(cfg: TrainPerceptionConfig) -> tuple[Split, Split]:
    root = Path(cfg.data_dir)
    if not root.is_dir():
        raise PilotlabError(f"data-dir {cfg.data_dir!r} is not a folder")
    load_meta(root)
    train = load_split(root, "train", cfg.labels)
    test = load_split(root, "test", cfg.test_frames)
    if cfg.labels is not None and len(train.images) < cfg.labels:
        raise PilotlabError(f"labels {cfg.labels}: the train split of {cfg.data_dir} holds only "
                            f"{len(train.images)} frames")
    if len(train.images) < cfg.batch_size:
        raise PilotlabError(f"batch-size {cfg.batch_size} is larger than the {len(train.images)} training frames")
    return train, test


def train(cfg: TrainPerceptionConfig) -> RunDir:
    """Train and evaluate; returns the run directory."""
    train_split, test = check_data(cfg)
    backbone = pretrained_backbone(cfg.pretrained, cfg.width) if cfg.pretrained else None
    run, device = setup(cfg, "drive", "perception")
    cpu0 = time.process_time()
    with run:
        model = P.CenterNet(cfg.width).to(device)
        if backbone is not None:
            model.backbone.load_state_dict(backbone)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        start = restore(run, cfg, {"model": model, "optim": opt})
        step, wall = start.step, start.wall_s
        before = start.meta.get("cpu_s", 0.0)  # a resumed run counts the CPU time before it too
        cpu0 -= float(before) if isinstance(before, (int, float)) and not isinstance(before, bool) else 0.0
        h, w = train_split.images.shape[1:3]
        tg = P.encode(train_split.annotations, h, w, train_split.focal)
        x_all = torch.as_tensor(train_split.images)
        heat_all, reg_all, mask_all = (torch.as_tensor(a) for a in tg)
        batches = BatchSchedule(len(x_all), cfg.batch_size, cfg.seed)
        total = batches.total_steps(cfg.epochs, cfg.max_steps)
        progress = run.own(Progress(total, "drive perception", initial=step, enabled=run.writable))
        flip_gen = torch.Generator().manual_seed(cfg.seed + 1)
        t0 = time.perf_counter()
        model.train()
        while step < total:
            idx = batches.indices(step)
            x = P.to_input(x_all[idx]).to(device)
            heat, reg, mask = heat_all[idx].to(device), reg_all[idx].to(device), mask_all[idx].to(device)
            if cfg.flip:
                flip_gen.manual_seed(cfg.seed * 1_000_003 + step)  # the k-th batch's flips depend on k only
                sel = torch.rand(len(idx), generator=flip_gen) < 0.5
                if sel.any():
                    fx, fh, fr, fm = P.flip_targets(x[sel], heat[sel], reg[sel], mask[sel])
                    x, heat, reg, mask = x.clone(), heat.clone(), reg.clone(), mask.clone()
                    x[sel], heat[sel], reg[sel], mask[sel] = fx, fh, fr, fm
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, cfg.lr)
            parts = P.losses(model(x), heat, reg, mask)
            opt.zero_grad(set_to_none=True)
            parts.total.backward()
            opt.step()
            step += 1
            if step % cfg.log_every == 0 or step == total:
                metrics = {"train/loss": parts.total.item(), "train/heat_loss": parts.heat.item(),
                           "train/offset_loss": parts.offset.item(), "train/size_loss": parts.size.item(),
                           "train/position_nll": parts.position.item(), "train/lr": lr_at(step - 1, total, cfg.lr),
                           "train/epoch": step / batches.per_epoch}
                check_finite(metrics["train/loss"], "train/loss", step)
                run.log(step, metrics)
                progress.update(0, loss=metrics["train/loss"])
            progress.update(1)
            if step % cfg.checkpoint_every == 0 or step == total:
                save_state(run, step, {"model": model.state_dict(), "optim": opt.state_dict()},
                           {"wall_s": wall + time.perf_counter() - t0, "cpu_s": time.process_time() - cpu0,
                            "width": cfg.width, "backbone": "StrideFourBackbone", "std_scale": 1.0})
        progress.close()
        wall += time.perf_counter() - t0
        res = evaluate(model, test, cfg.score_threshold)
        summary: dict[str, Any] = {perception_key(k): v for k, v in res.items()}
        summary.update({TRAIN_WALL_S: wall, TRAIN_CPU_S: time.process_time() - cpu0, TRAIN_STEPS: step,
                        DATA_TEST_SIZE: len(test.images), "data/train_frames": len(x_all),
                        "data/train_vehicles": int(mask_all.sum().item())})
        run.log(step, {k: v for k, v in summary.items() if k.startswith("eval/")})
        run.update_summary(summary)
    print(f"AP {res['ap']:.3f}  AP50 {res['ap50']:.3f}  BEV AP@1/2/4m {res['bev_ap_1m']:.3f}/"
          f"{res['bev_ap_2m']:.3f}/{res['bev_ap_4m']:.3f}  NEES {res['nees']:.2f}  "
          f"{res['detect_fps']:.0f} frames/s  ({wall:.0f} s)")
    print(f"run directory: {run.path}")
    return run


__all__ = ["TrainPerceptionConfig", "check_data", "evaluate", "lr_at", "predict", "pretrained_backbone", "train"]
