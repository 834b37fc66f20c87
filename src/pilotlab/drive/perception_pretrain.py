"""``pilotlab drive pretrain-perception``: self-supervised pretraining of the detector's backbone on unlabelled frames.

The backbone is the detector's own (`nn.StrideFourBackbone`), so `drive train-perception --pretrained RUN`
starts from these weights. Methods, with the ssl pillar's losses and view augmentations:

- ``vicreg``: VICReg (Bardes et al., 2022; `ssl.losses.vicreg`) on the pooled features through an expander;
- ``simclr``: SimCLR's NT-Xent (Chen et al., 2020; `ssl.losses.nt_xent`) on the same, temperature 0.2;
- ``masked``: masked reconstruction in the spirit of MAE (He et al., 2022): half of the 8 x 8 patches of the
  input are blanked and a light decoder (1x1 conv + 4x upsampling) reconstructs the image from the stride-4
  map; the loss is the squared error on the blanked pixels only.

Views for the joint-embedding methods are mild for a driving scene (`VIEWS`): crops of 50-100 % of the area,
small shifts, no rotation or shear (the horizon and the road's perspective carry the geometry the detector
needs), colour jitter and blur.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError, check_finite
from pilotlab.core.progress import Progress
from pilotlab.core.run import RunDir
from pilotlab.core.session import BatchSchedule, restore, save_state, setup
from pilotlab.core.summary import TRAIN_CPU_S, TRAIN_STEPS, TRAIN_WALL_S
from pilotlab.nn.backbone import StrideFourBackbone
from pilotlab.nn.mlp import mlp

PATCH = 8  # [px] masking patch of the masked-reconstruction method


@dataclass(frozen=True, kw_only=True)
class PretrainPerceptionConfig(RunConfig):
    data_dir: str
    """Dataset folder written by `pilotlab drive record`."""
    method: Literal["vicreg", "simclr", "masked"] = "vicreg"
    """Self-supervised method (module docstring)."""
    split: Literal["unlabelled", "train"] = "unlabelled"
    """Split whose frames are used (their labels, if any, are ignored)."""
    frames: int | None = None
    """Use the first N frames of the split; default: all."""
    epochs: int = 20
    """Passes over the frames."""
    max_steps: int | None = None
    """Stop after this many optimizer steps."""
    batch_size: int = 64
    """Frames per step."""
    lr: float = 2e-3
    """AdamW learning rate (cosine decay)."""
    width: int = 16
    """Backbone width (must match the detector's --width)."""
    proj_dim: int = 256
    """Expander / projector output size (vicreg, simclr)."""
    temperature: float = 0.2
    """NT-Xent temperature (simclr)."""
    mask_ratio: float = 0.5
    """Fraction of 8 x 8 patches blanked (masked)."""
    log_every: int = 20
    """Steps between train/ metric rows."""
    checkpoint_every: int = 200
    """Steps between checkpoints (and at the end)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("epochs", "batch_size", "width", "proj_dim", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("frames", "max_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise PilotlabError("batch-size must be >= 2 (the losses compare samples of a batch)")
        if not self.lr > 0 or not self.temperature > 0:
            raise PilotlabError("lr and temperature must be > 0")
        if not 0.0 < self.mask_ratio < 1.0:
            raise PilotlabError(f"mask-ratio must lie in (0, 1), got {self.mask_ratio}")


class Pretrainer(nn.Module):
    """The backbone plus the method's head; `backbone.*` is what the detector takes over."""

    def __init__(self, cfg: PretrainPerceptionConfig):
        super().__init__()
        self.backbone = StrideFourBackbone(3, cfg.width)
        c = self.backbone.out_channels
        self.masked = cfg.method == "masked"
        if self.masked:
            self.head = nn.Sequential(nn.Conv2d(c, 3 * 16, 1), nn.PixelShuffle(4))  # stride 4 back to pixels
        else:
            self.head = mlp(c, [4 * c], cfg.proj_dim, batch_norm=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction (masked) or projection (joint-embedding methods) of a batch in [-1, 1]."""
        if self.masked:
            return self.head(self.backbone(x))
        return self.head(self.backbone.embed(x))


def random_mask(x: torch.Tensor, ratio: float, gen: torch.Generator) -> torch.Tensor:
    """(B, 1, H, W) float mask, 1 on the blanked 8 x 8 patches."""
    b, _, h, w = x.shape
    cells = (torch.rand(b, 1, (h + PATCH - 1) // PATCH, (w + PATCH - 1) // PATCH, generator=gen) < ratio).float()
    return F.interpolate(cells, scale_factor=PATCH, mode="nearest")[..., :h, :w]


def train(cfg: PretrainPerceptionConfig) -> RunDir:
    from pilotlab.drive.perception import to_input
    from pilotlab.drive.record import load_meta, load_split
    from pilotlab.ssl.augment import ViewSpec, two_views, view_augmentation
    from pilotlab.ssl.losses import nt_xent, vicreg

    root = Path(cfg.data_dir)
    if not root.is_dir():
        raise PilotlabError(f"data-dir {cfg.data_dir!r} is not a folder")
    load_meta(root)
    data = load_split(root, cfg.split, cfg.frames)
    if len(data.images) < cfg.batch_size:
        raise PilotlabError(f"batch-size {cfg.batch_size} is larger than the {len(data.images)} frames")
    run, device = setup(cfg, "drive", f"pretrain-{cfg.method}")
    cpu0 = time.process_time()
    with run:
        model = Pretrainer(cfg).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
        start = restore(run, cfg, {"model": model, "optim": opt})
        step, wall = start.step, start.wall_s
        x_all = torch.as_tensor(data.images)
        batches = BatchSchedule(len(x_all), cfg.batch_size, cfg.seed)
        total = batches.total_steps(cfg.epochs, cfg.max_steps)
        h, w = x_all.shape[1:3]
        views = view_augmentation((3, h, w), ViewSpec(crop_scale=(0.5, 1.0), degrees=0.0, translate=0.05, shear=0.0,
                                                      jitter=0.4, grayscale_p=0.1, blur_p=0.3))
        gen = torch.Generator().manual_seed(cfg.seed + 7)
        progress = run.own(Progress(total, f"drive pretrain {cfg.method}", initial=step, enabled=run.writable))
        t0 = time.perf_counter()
        model.train()
        while step < total:
            x01 = x_all[batches.indices(step)].permute(0, 3, 1, 2).float().div(255.0).to(device)  # [0, 1]
            torch.manual_seed(cfg.seed * 1_000_003 + step)  # the views of batch k depend on k only (resume)
            gen.manual_seed(cfg.seed * 1_000_003 + step)
            if cfg.method == "masked":
                m = random_mask(x01, cfg.mask_ratio, gen).to(device)
                x = to_input((x01 * (1 - m)).permute(0, 2, 3, 1) * 255.0)
                recon = model(x)[..., :h, :w]
                target = x01 * 2.0 - 1.0
                loss = (((recon - target) ** 2) * m).sum() / (m.sum() * 3).clamp(min=1.0)
            else:
                v1, v2 = two_views(views, x01)
                z1, z2 = model(v1 * 2.0 - 1.0), model(v2 * 2.0 - 1.0)
                loss = vicreg(z1, z2).loss if cfg.method == "vicreg" else nt_xent(z1, z2, cfg.temperature)
            for g in opt.param_groups:
                g["lr"] = cfg.lr * (0.05 + 0.95 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * step / total)).item()))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step % cfg.log_every == 0 or step == total:
                check_finite(loss.item(), "train/loss", step)
                run.log(step, {"train/loss": loss.item(), "train/epoch": step / batches.per_epoch})
                progress.update(0, loss=loss.item())
            progress.update(1)
            if step % cfg.checkpoint_every == 0 or step == total:
                save_state(run, step, {"model": model.state_dict(), "optim": opt.state_dict()},
                           {"wall_s": wall + time.perf_counter() - t0, "width": cfg.width,
                            "backbone": "StrideFourBackbone"})
        progress.close()
        wall += time.perf_counter() - t0
        run.update_summary({TRAIN_WALL_S: wall, TRAIN_CPU_S: time.process_time() - cpu0, TRAIN_STEPS: step,
                            "data/pretrain_frames": len(x_all)})
    print(f"pretrained {cfg.method} for {step} steps ({wall:.0f} s); run directory: {run.path}")
    return run


__all__ = ["PretrainPerceptionConfig", "Pretrainer", "random_mask", "train"]
