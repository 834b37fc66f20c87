"""Joint-embedding pretraining shared by SimCLR and VICReg: backbone + projector, two views, one loss.

Each method module (simclr.py, vicreg.py) supplies its config class (a `JointConfig` with its own
loss fields) and a pure loss function; this module owns the network and the training loop:

    views (2B, C, H, W) --backbone--> h (2B, F) --projector--> z (2B, P) --loss(z1, z2)--> scalar

The probes read `h` (pre-projection features), as in SimCLR section 4.2, where the layer before
the projection head is the better representation. Optimiser: AdamW with a linear warm-up and a
cosine decay (a LARS-free recipe that works at the small batch sizes a CPU affords).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from pilotlab.core import distributed
from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError, check_finite
from pilotlab.core.progress import Progress
from pilotlab.core.run import RunDir
from pilotlab.core.session import BatchSchedule, restore, save_state, setup
from pilotlab.core.summary import TRAIN_STEPS, TRAIN_WALL_S
from pilotlab.data import DATASETS, load_dataset
from pilotlab.nn import ConvEncoder, mlp
from pilotlab.ssl.augment import ViewSpec, two_views, view_augmentation
from pilotlab.ssl.probe import quick_probe

LossFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, float]]]
"""(z1 (B, P), z2 (B, P)) -> (loss, extra scalars to log under train/)."""


@dataclass(frozen=True, kw_only=True)
class JointConfig(RunConfig):
    """Fields every joint-embedding method shares (defaults tuned on MNIST-5k, see docs/ssl.md)."""

    dataset: str = "mnist-5k"
    """Dataset name (see `pilotlab data list`); labels are used only by the probes."""
    data_dir: str | None = None
    """Folder holding the dataset's files (required for `folder`)."""
    epochs: int = 30
    """Passes over the training images."""
    batch_size: int = 256
    """Global batch size in images (each gives two views), split evenly across torchrun processes."""
    lr: float = 2e-3
    """Peak AdamW learning rate (after warm-up; cosine decay to a hundredth of it)."""
    weight_decay: float = 1e-4
    """AdamW decoupled weight decay."""
    warmup_epochs: float = 1.0
    """Linear learning-rate warm-up, in epochs."""
    width: int = 16
    """Channels of the first conv layer of the backbone (then 2x and 4x); 16 keeps a CPU epoch short."""
    feature_dim: int = 256
    """Size of the backbone's output, the representation the probes read."""
    proj_hidden: int = 512
    """Hidden width of the projection head (Linear-BN-ReLU-Linear)."""
    proj_dim: int = 128
    """Output size of the projection head, where the loss is computed."""
    crop_min: float = 0.4
    """Smallest area fraction kept by the random resized crop."""
    degrees: float = 15.0
    """Max rotation of the random affine transform [deg]."""
    translate: float = 0.1
    """Max shift of the random affine transform, fraction of the side."""
    shear: float = 10.0
    """Max shear of the random affine transform [deg]."""
    jitter: float = 0.4
    """Colour jitter strength (1-channel images: brightness and contrast only)."""
    probe_every: int = 5
    """Run a quick kNN / 10-label probe every this many epochs (logged as eval/...); 0 disables it."""
    log_every: int = 10
    """Log train/loss every this many steps."""
    checkpoint_every: int = 50
    """Save checkpoints/last every this many steps (and at the end)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (for quick runs); default: epochs x steps per epoch."""
    evaluate: bool = True
    """After training, run the full probe protocol with baselines (as `pilotlab ssl eval`)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dataset not in DATASETS:
            raise PilotlabError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        for name in ("epochs", "batch_size", "width", "feature_dim", "proj_hidden", "proj_dim", "log_every",
                     "checkpoint_every"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise PilotlabError(f"batch-size must be >= 2 (negatives/variances need pairs), got {self.batch_size}")
        if self.lr <= 0 or self.weight_decay < 0 or self.warmup_epochs < 0:
            raise PilotlabError("lr must be > 0, weight-decay and warmup-epochs >= 0")
        if self.probe_every < 0:
            raise PilotlabError(f"probe-every must be >= 0, got {self.probe_every}")
        if self.max_steps is not None and self.max_steps < 1:
            raise PilotlabError(f"max-steps must be >= 1, got {self.max_steps}")
        self.view_spec()  # validates the augmentation fields

    def view_spec(self) -> ViewSpec:
        return ViewSpec(crop_scale=(self.crop_min, 1.0), degrees=self.degrees, translate=self.translate,
                        shear=self.shear, jitter=self.jitter)


class Backbone(nn.Module):
    """`ConvEncoder` followed by BatchNorm + ReLU: (B, C, H, W) -> (B, feature_dim) features."""

    def __init__(self, shape: tuple[int, int, int], width: int, feature_dim: int):
        super().__init__()
        c, h, _ = shape
        self.conv = ConvEncoder(c, feature_dim, width=width, image_size=h)
        self.out = nn.Sequential(nn.BatchNorm1d(feature_dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.conv(x))  # (B, feature_dim)


class JointEmbedding(nn.Module):
    """Backbone and projection head; `forward` returns projections, `backbone` gives features."""

    def __init__(self, shape: tuple[int, int, int], cfg: JointConfig):
        super().__init__()
        self.backbone = Backbone(shape, cfg.width, cfg.feature_dim)
        self.projector = mlp(cfg.feature_dim, [cfg.proj_hidden], cfg.proj_dim, batch_norm=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone(x))  # (B, proj_dim)


def lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay from `peak` to `peak / 100` at `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train_joint(cfg: JointConfig, method: str, loss_fn: LossFn) -> RunDir:
    """Pretrain a `JointEmbedding` on `cfg.dataset` without labels; returns the run directory."""
    run, device = setup(cfg, "ssl", method)
    with run:
        ds = load_dataset(cfg.dataset, cfg.data_dir)
        x_train = ds.train_x
        model = JointEmbedding(ds.shape, cfg).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        start = restore(run, cfg, {"model": model, "optim": opt})
        step, wall = start.step, start.wall_s
        batches = BatchSchedule(len(x_train), cfg.batch_size, cfg.seed)
        total = batches.total_steps(cfg.epochs, cfg.max_steps)
        warmup = round(cfg.warmup_epochs * batches.per_epoch)
        net = distributed.wrap(model)
        aug = view_augmentation(ds.shape, cfg.view_spec()).to(device)
        progress = run.own(Progress(total, f"ssl {method}", initial=step, enabled=run.writable))
        t0 = time.perf_counter()
        while step < total:
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total, warmup, cfg.lr)
            batch = x_train[batches.indices(step)].to(device)  # (B, C, H, W)
            v1, v2 = two_views(aug, batch)
            z = net(torch.cat([v1, v2]))  # (2B, P): one pass, so BatchNorm sees both views
            z1, z2 = z.chunk(2)  # (B, P) each
            loss, extra = loss_fn(z1, z2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step % cfg.log_every == 0 or step == total:
                metrics = distributed.all_reduce_mean({"train/loss": loss.item(), **extra})
                check_finite(metrics["train/loss"], "train/loss", step)
                metrics["train/epoch"] = step / batches.per_epoch
                metrics["train/lr"] = opt.param_groups[0]["lr"]
                run.log(step, metrics)
                progress.update(0, loss=metrics["train/loss"])
            progress.update(1)
            end_of_epoch = step % batches.per_epoch == 0
            # checkpoint first: a probe that fails must not lose the training since the last one
            if step % cfg.checkpoint_every == 0 or step == total:
                save_state(run, step, {"model": model.state_dict(), "optim": opt.state_dict()},
                           {"wall_s": wall + time.perf_counter() - t0})
            if run.writable and (step == total or (cfg.probe_every and end_of_epoch
                                                   and (step // batches.per_epoch) % cfg.probe_every == 0)):
                wall += time.perf_counter() - t0  # probes are evaluation, not pretraining time
                run.log(step, quick_probe(model.backbone, ds, device, cfg.seed))
                t0 = time.perf_counter()
        progress.close()
        wall += time.perf_counter() - t0
        run.update_summary({TRAIN_WALL_S: wall, TRAIN_STEPS: step})
    return run


def load_backbone(run: RunDir, config_cls: type[JointConfig], state: dict[str, Any],
                  shape: tuple[int, int, int]) -> nn.Module:
    """The trained backbone of a finished run (eval mode), from its saved config and checkpoint."""
    from pilotlab.core.config import from_dict

    cfg = from_dict(config_cls, run.config()["config"])
    model = JointEmbedding(shape, cfg)
    model.load_state_dict(state["model"])
    return model.backbone.eval()


def random_backbone(cfg: JointConfig, shape: tuple[int, int, int], seed: int) -> nn.Module:
    """The random-init baseline: the same backbone architecture, freshly initialised with `seed`."""
    torch.manual_seed(seed)
    return JointEmbedding(shape, cfg).backbone.eval()
