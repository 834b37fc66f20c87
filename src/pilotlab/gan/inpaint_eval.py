"""Scoring inpainting and its baselines (the trainer's evaluations; `pilotlab.gan.inpaint_run` for finished runs).

Every method fills the same test images under the same masks (seeded by `EVAL_SEED`), and is scored on:

- PSNR [dB] and L1 on the hole's pixels (values in [0, 1]); PSNR per image, averaged;
- FD of the completed images to the real test images, on the features of the GAN pillar's digit classifier
  (`pilotlab.gan.metrics`; its real-vs-real floor beside it);
- the same classifier's accuracy on the completed images, beside its accuracy on the originals: does a restored
  digit keep its class?

FD and accuracy need the classifier's input, 28x28 grey images in ten classes (MNIST, Fashion-MNIST, KMNIST);
on other data sets they are None. The baselines: mean fill (the per-pixel mean of the training images),
nearest patch (the hole copied from the training image closest in squared distance on the known pixels) and the
L2-only network trained in the same run (`pilotlab.gan.inpaint`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pilotlab.core.run import RunDir
from pilotlab.core.summary import (
    DATA_TEST_SET,
    DATA_TEST_SIZE,
    GAN_FD_FLOOR,
    INPAINT_ACC,
    INPAINT_FD,
    INPAINT_HOLE_FRACTION,
    INPAINT_L1,
    INPAINT_L2,
    INPAINT_MASK,
    INPAINT_MEAN,
    INPAINT_MODEL,
    INPAINT_NEAREST,
    INPAINT_ORIGINAL_ACC,
    INPAINT_PSNR,
    inpaint_key,
)
from pilotlab.data.registry import ImageDataset
from pilotlab.gan import masks

EVAL_SEED = 1234
"""Seed of the evaluation masks: every method and every evaluation of a run sees the same holes."""
BATCH = 500
FIGURE_IMAGES = 8


def classifier_epochs(cfg: Any, n_train: int) -> int:
    """The scoring classifier's epochs: the config's, else 30 for up to 5,000 images (the GAN scorer's, shared
    through its cache), else about 150,000 images' worth."""
    if cfg.classifier_epochs is not None:
        return cfg.classifier_epochs
    return 30 if n_train <= 5000 else max(1, round(150_000 / n_train))


def scorable(ds: ImageDataset) -> bool:
    """Whether the digit classifier can score these images (FD, accuracy)."""
    return ds.shape == (1, 28, 28) and ds.num_classes == 10


def psnr_l1(completed: torch.Tensor, original: torch.Tensor, m: torch.Tensor) -> tuple[float, float]:
    """(mean per-image PSNR [dB], mean absolute error) over the hole pixels of images in [0, 1]."""
    err = (completed - original) * m  # (N, C, H, W)
    pixels = m.sum(dim=(1, 2, 3)) * completed.shape[1]  # (N,)
    mse = err.square().sum(dim=(1, 2, 3)) / pixels.clamp_min(1.0)
    psnr = 10 * torch.log10(1.0 / mse.clamp_min(1e-10))  # a perfect fill counts as 100 dB
    return float(psnr.mean()), float(err.abs().sum() / pixels.sum().clamp_min(1.0))


def mean_fill(x: torch.Tensor, m: torch.Tensor, mean_image: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] with the hole set to the mean training image (C, H, W)."""
    return x * (1 - m) + mean_image * m


def nearest_patch(x: torch.Tensor, m: torch.Tensor, train: torch.Tensor, chunk: int = 250) -> torch.Tensor:
    """Images with the hole copied from the training image closest on each image's known pixels.

    The squared distance over the known pixels k = 1 - m of image x to training image t is
    sum k x^2 - 2 sum (k x) t + sum k t^2; the first term does not depend on t, the other two are matrix
    products, so masks may differ from image to image.
    """
    t = train.flatten(1)  # (M, D)
    t_sq = t.square()
    out = []
    for i in range(0, len(x), chunk):
        xb, mb = x[i:i + chunk], m[i:i + chunk].expand_as(x[i:i + chunk])
        k = (1 - mb).flatten(1)  # (B, D) known pixels
        dist = k @ t_sq.T - 2 * (k * xb.flatten(1)) @ t.T  # (B, M), up to a per-row constant
        best = train[dist.argmin(dim=1)]  # (B, C, H, W)
        out.append(xb * (1 - mb) + best * mb)
    return torch.cat(out)


@torch.no_grad()
def run_network(net: nn.Module, x: torch.Tensor, m: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """The network's completions of images x (N, C, H, W) in [0, 1] under masks m, in [0, 1] (eval mode)."""
    was_training = net.training
    net.eval()
    out = []
    for i in range(0, len(x), BATCH):
        xb = x[i:i + BATCH].to(device) * 2 - 1
        mb = m[i:i + BATCH].to(device)
        out.append(((xb * (1 - mb) + net(xb, mb) * mb + 1) / 2).clamp(0, 1).cpu())  # the known pixels kept
    net.train(was_training)
    return torch.cat(out)


def mask_words(kind: str, size: int) -> str:
    return f"{kind} {size}x{size}" if kind in ("centre", "box") else kind


class Scorer:
    """The test images, their evaluation masks, the baselines' data and the cached classifier of a run."""

    def __init__(self, cfg: Any, ds: ImageDataset, mask: str | None = None, mask_size: int | None = None):
        """`cfg`: the run's `pilotlab.gan.inpaint.InpaintConfig` (not imported: the trainer imports this module)."""
        from pilotlab.gan.classifier import ClassifierConfig
        from pilotlab.gan.metrics import Evaluator

        self.kind = mask or cfg.mask
        self.size = cfg.mask_size if mask_size is None else mask_size
        _, h, w = ds.shape
        masks.check_size(self.kind, self.size, h, w, f"--dataset {ds.name}")
        self.ds = ds
        self.x, self.y = ds.test_x, ds.test_y  # (N, C, H, W) in [0, 1], (N,)
        self.m = masks.make_masks(self.kind, len(self.x), h, w, self.size, torch.Generator().manual_seed(EVAL_SEED))
        self.evaluator = None
        if scorable(ds):
            clf = ClassifierConfig(epochs=classifier_epochs(cfg, len(ds.train_x)), width=cfg.classifier_width)
            self.evaluator = Evaluator(clf, ds.name, cfg.data_dir)

    def classify(self, images: torch.Tensor) -> dict[str, float | None]:
        """FD and accuracy of images aligned with the first len(images) test images (None when not scorable)."""
        if self.evaluator is None:
            return {INPAINT_FD: None, INPAINT_ACC: None}
        from pilotlab.gan.classifier import features
        from pilotlab.gan.metrics import frechet_distance, gaussian_stats

        clf = self.evaluator.classifier
        feats = features(clf, images)  # (N, D) float64
        with torch.no_grad():
            pred = clf.head(feats.float()).argmax(1)
        real = self.evaluator.real
        return {INPAINT_FD: frechet_distance(*gaussian_stats(feats), real.mu, real.sigma),
                INPAINT_ACC: float((pred == self.y[:len(images)]).double().mean())}

    def score(self, method: str, completed: torch.Tensor) -> dict[str, float | None]:
        """The method's keys (`inpaint_key`) for completions of the first len(completed) test images."""
        n = len(completed)
        psnr, l1 = psnr_l1(completed, self.x[:n], self.m[:n])
        values = {INPAINT_PSNR: psnr, INPAINT_L1: l1, **self.classify(completed)}
        return {inpaint_key(method, k): v for k, v in values.items()}

    def score_networks(self, g: nn.Module, l2: nn.Module | None, n: int,
                       device: torch.device | str) -> dict[str, float]:
        """The networks' finite scores on the first n test images (the training-time evaluation)."""
        n = min(n, len(self.x))
        out = self.score(INPAINT_MODEL, run_network(g, self.x[:n], self.m[:n], device))
        if l2 is not None:
            out.update(self.score(INPAINT_L2, run_network(l2, self.x[:n], self.m[:n], device)))
        return {k: v for k, v in out.items() if v is not None and math.isfinite(v)}

    def score_all(self, g: nn.Module, l2: nn.Module | None, n: int | None,
                  device: torch.device | str) -> dict[str, Any]:
        """The full table on the first n test images (all by default): the network, every baseline, the
        originals' accuracy and the FD floor, and what was measured on."""
        n = len(self.x) if n is None else min(n, len(self.x))
        x, m = self.x[:n], self.m[:n]
        out: dict[str, Any] = self.score(INPAINT_MODEL, run_network(g, x, m, device))
        if l2 is not None:
            out.update(self.score(INPAINT_L2, run_network(l2, x, m, device)))
        train = self.ds.train_x
        out.update(self.score(INPAINT_NEAREST, nearest_patch(x, m, train)))
        out.update(self.score(INPAINT_MEAN, mean_fill(x, m, train.mean(dim=0))))
        original = self.classify(x)
        out[INPAINT_ORIGINAL_ACC] = original[INPAINT_ACC]
        out[GAN_FD_FLOOR] = self.evaluator.real.floor if self.evaluator is not None else None
        out[INPAINT_MASK] = mask_words(self.kind, self.size)
        out[INPAINT_HOLE_FRACTION] = float(m.mean())
        out[DATA_TEST_SET] = (self.ds.test_description if n == len(self.x)
                              else f"the first {n:,} of {self.ds.test_description}")
        out[DATA_TEST_SIZE] = n
        return out


def save_completions(run: RunDir, scorer: Scorer, g: nn.Module, l2: nn.Module | None, device: torch.device | str,
                     name: str) -> Path | None:
    """A grid under figures/: one column per test image; rows: the input (hole grey), mean fill, nearest patch,
    the L2 network, the run's network, the original."""
    if not run.writable:
        return None
    from pilotlab.report.figures import save_image_grid

    k = min(FIGURE_IMAGES, len(scorer.x))
    x, m = scorer.x[:k], scorer.m[:k]
    rows = [x * (1 - m) + 0.5 * m, mean_fill(x, m, scorer.ds.train_x.mean(dim=0)),
            nearest_patch(x, m, scorer.ds.train_x)]
    if l2 is not None:
        rows.append(run_network(l2, x, m, device))
    rows += [run_network(g, x, m, device), x]
    path = run.figure(name) if "/" not in name else run.figures / name
    return save_image_grid(torch.cat(rows), path, nrow=k)
