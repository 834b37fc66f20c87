"""The images a GAN trains on: any data set, centre-cropped and resized to one square resolution and
converted to 1 or 3 channels, and what follows from them (conditional or not, which metric).

`gan_dataset(cfg)` returns the data set exactly as loaded when nothing needs changing (MNIST at its 28
px, one channel), so the digit runs, their cached classifier and its statistics are those of before;
otherwise a new `ImageDataset` whose digest (the key of every cache derived from it) covers the change.
"""

from __future__ import annotations

import dataclasses
import functools

import torch
import torch.nn.functional as F

from pilotlab.core import registry
from pilotlab.core.errors import PilotlabError
from pilotlab.data.registry import ImageDataset, cached_dataset
from pilotlab.gan import MODEL
from pilotlab.gan.config import GANConfig

MIN_SIDE, MAX_SIDE = 16, 64
FOLDER_SIDE = 32
"""Default side of a folder's images (they have no one native size)."""
CLASSIFIER_SETS = ("mnist-5k", "mnist")
RESIZED = "resized/converted to"
"""What `load` adds to the note of a data set it resized or converted (the classifier metric refuses those)."""
"""Data sets `metric` auto scores with the digit classifier (and GAN-test, coverage)."""


def to_square(x: torch.Tensor, side: int) -> torch.Tensor:
    """Centre-crop (N, C, H, W) images to a square and resize to `side` (bilinear, antialiased); stays in [0, 1]."""
    h, w = x.shape[-2:]
    m = min(h, w)
    x = x[..., (h - m) // 2: (h - m) // 2 + m, (w - m) // 2: (w - m) // 2 + m]
    if m == side:
        return x.contiguous()
    out = [F.interpolate(x[i:i + 4096], size=(side, side), mode="bilinear", antialias=True, align_corners=False)
           for i in range(0, len(x), 4096)]
    return torch.cat(out).clamp_(0.0, 1.0)


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, 1 or 3, H, W) -> (N, channels, H, W): grey repeated to RGB, RGB to grey by ITU-R 601 luminance."""
    c = x.shape[1]
    if c == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1).contiguous()
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def gan_dataset(cfg: GANConfig) -> ImageDataset:
    """The data set of `cfg` at its resolution and channels (memoised per process; treat as read-only)."""
    return _gan_dataset(cfg.dataset, cfg.data_dir, cfg.resolution, cfg.channels, cfg.mixed_images)


@functools.lru_cache(maxsize=2)
def _gan_dataset(name: str, data_dir: str | None, resolution: int | None, channels: int,
                 mixed: str) -> ImageDataset:
    if name == "folder":  # read at the resolution directly: its files have no one native size
        return cached_dataset(name, data_dir, unlabelled=True, image_size=resolution or FOLDER_SIDE,
                              channels=channels, mixed=mixed)
    ds = cached_dataset(name, data_dir)
    c, h, w = ds.shape
    side = resolution if resolution is not None else min(MAX_SIDE, max(MIN_SIDE, min(h, w)))
    want = channels or c
    if (h, w) == (side, side) and want == c:
        return ds
    changed = {split: to_channels(to_square(getattr(ds, split), side), want) for split in ("train_x", "test_x")}
    what = f"{side}x{side}, {want} channel{'s' if want > 1 else ''}"
    return dataclasses.replace(ds, **changed, note=f"{ds.note}; {RESIZED} {what}")


def resolve(cfg: GANConfig, ds: ImageDataset) -> GANConfig:
    """`cfg` with `conditional` and `metric` decided ("on"/"off", "classifier"/"ssl") for the data `ds`; refuses
    combinations that cannot work (conditioning without labels or with a model that cannot condition, the
    digit classifier on images it cannot score)."""
    can = bool(getattr(registry.implementation(MODEL, cfg.model), "CAN_CONDITION", False))
    where = f"--data-dir {cfg.data_dir!r} ({cfg.dataset})" if cfg.data_dir is not None else f"--dataset {cfg.dataset}"
    if cfg.conditional == "on":
        if not can:
            raise PilotlabError(f"--conditional on: {cfg.model} is unconditional; choose --model cgan or sn-resnet")
        if not ds.labelled:
            raise PilotlabError(f"--conditional on: {where} has no labels (no class subfolders); use "
                                "--conditional off or put the images in <dir>/<class>/ folders")
    conditional = cfg.conditional if cfg.conditional != "auto" else ("on" if can and ds.labelled else "off")
    metric = cfg.metric
    if metric == "auto":
        metric = "classifier" if cfg.dataset in CLASSIFIER_SETS and ds.shape == (1, 28, 28) else "ssl"
    if metric == "classifier" and (ds.shape != (1, 28, 28) or ds.num_classes != 10 or cfg.dataset == "folder"
                                   or RESIZED in ds.note):
        raise PilotlabError(f"--metric classifier scores 28x28 grey ten-class digits as loaded; {where} gives "
                            f"{ds.shape} (C, H, W) images in {ds.num_classes} classes"
                            f"{' (a folder is resized on reading)' if cfg.dataset == 'folder' else ''}; "
                            "use --metric ssl")
    return dataclasses.replace(cfg, conditional=conditional, metric=metric)


def make_evaluator(cfg: GANConfig, ds: ImageDataset):
    """The scorer of a resolved `cfg` (see `resolve`): both have `score(generator, z_dim, conditional, n, seed,
    device)` returning eval/fd, eval/fd_floor, eval/gan_test_acc, eval/coverage_entropy (and, for ssl, KID and
    precision/recall)."""
    if cfg.metric == "classifier":
        from pilotlab.gan.config import scorer_config
        from pilotlab.gan.metrics import Evaluator

        return Evaluator(scorer_config(cfg), cfg.dataset, cfg.data_dir)
    from pilotlab.gan.ssl_metric import EncoderConfig, SSLEvaluator

    return SSLEvaluator(ds, EncoderConfig(steps=cfg.ssl_steps, width=cfg.ssl_width), cfg.eval_samples)
