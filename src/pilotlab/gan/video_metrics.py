"""Scores of a video predictor on the fixed Moving MNIST test sequences, beside the copy-last-frame baseline.

Prediction (OpenSTL's convention, pixels in [0, 1]):
- MSE and MAE per frame: squared (absolute) error summed over the 64x64 pixels of a predicted frame, averaged
  over the predicted frames and the sequences. ``eval/mse_per_frame`` lists the MSE of each future frame.
- SSIM: kornia's (Gaussian 11x11 window, sigma 1.5), averaged over frames and sequences.
- The baseline: copy the last context frame into every future frame, scored the same way on the same
  sequences (``baseline/copy_last_*``); ``eval/mse_vs_copy_last`` is its MSE over the model's.

Generation (the model as a sampler of futures; z ~ N(0, I) where it has a latent):
- FD: the Frechet distance between Gaussians fitted to per-frame features of generated future frames and of
  the true future frames of the same test sequences. The features are those of the conv trunk of gan/'s
  digit classifier (`pilotlab.gan.classifier`, trained once on the training digits and cached), run on the
  whole 64x64 frame and pooled over space (mean and max of its last conv block: 128 numbers for width 32).
  The floor is the same FD between the true future frames of two disjoint sets of test sequences.
- Consistency: the mean absolute change between consecutive frames (summed over pixels, from the last
  context frame through the future), generated over true (1 = moves as much as real digits; a blurred
  prediction fades and changes less, a flickering one more).
- Diversity: the per-pixel standard deviation across the futures drawn for one context, summed over a
  frame's pixels and averaged (0 for a deterministic predictor).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from pilotlab.core.summary import (
    DATA_TEST_SET,
    DATA_TEST_SIZE,
    VIDEO_CONSISTENCY,
    VIDEO_COPY_LAST_MAE,
    VIDEO_COPY_LAST_MSE,
    VIDEO_COPY_LAST_SSIM,
    VIDEO_DIVERSITY,
    VIDEO_FD,
    VIDEO_FD_FLOOR,
    VIDEO_FRAME_CHANGE,
    VIDEO_MAE,
    VIDEO_MSE,
    VIDEO_MSE_PER_FRAME,
    VIDEO_MSE_VS_COPY,
    VIDEO_REAL_FRAME_CHANGE,
    VIDEO_SSIM,
)
from pilotlab.data.moving_mnist import MovingMNIST
from pilotlab.gan.metrics import frechet_distance, gaussian_stats

EVAL_BATCH = 50
EVAL_SEED = 1234  # the latent noise of every generator score, so scores compare like with like


def ssim(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """kornia's SSIM of frames (N, 1, H, W) in [0, 1], one value per frame (N,)."""
    import kornia

    return kornia.metrics.ssim(pred, true, window_size=11, max_val=1.0).mean(dim=(1, 2, 3))


@torch.no_grad()
def predict(model: torch.nn.Module, context: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
    """The model's future (B, Tf, 1, H, W) for `context` (B, Tc, 1, H, W), in eval mode."""
    was = model.training
    model.eval()
    out = model(context, z)
    model.train(was)
    return out.clamp(0, 1)


class _Sums:
    """Running sums of the per-frame errors of one predictor."""

    def __init__(self, future: int):
        self.mse = torch.zeros(future, dtype=torch.float64)
        self.mae = torch.zeros(future, dtype=torch.float64)
        self.ssim = 0.0
        self.n = 0

    def add(self, pred: torch.Tensor, true: torch.Tensor) -> None:
        err = (pred - true).double()  # (B, Tf, 1, H, W)
        self.mse += err.pow(2).sum(dim=(2, 3, 4)).sum(0)
        self.mae += err.abs().sum(dim=(2, 3, 4)).sum(0)
        self.ssim += float(ssim(pred.flatten(0, 1).float(), true.flatten(0, 1).float()).double().sum())
        self.n += len(pred)

    def scores(self) -> tuple[float, float, float, list[float]]:
        per_frame = (self.mse / self.n).tolist()
        frames = self.n * len(self.mse)
        return float(self.mse.sum() / frames), float(self.mae.sum() / frames), self.ssim / frames, per_frame


def evaluate(model: torch.nn.Module, test: MovingMNIST, context: int, n: int, device: torch.device | str = "cpu",
             digits: str = "") -> dict[str, Any]:
    """Prediction scores of `model` and of copy-last-frame on the first `n` test sequences (eval/, baseline/)."""
    future = test.frames - context
    ours, copy = _Sums(future), _Sums(future)
    for start in range(0, n, EVAL_BATCH):
        x = test.batch(range(start, min(n, start + EVAL_BATCH)))  # (B, T, 1, H, W)
        ctx, true = x[:, :context], x[:, context:]
        z = _zeros(model, len(x))
        ours.add(predict(model, ctx.to(device), None if z is None else z.to(device)).cpu(), true)
        copy.add(ctx[:, -1:].expand_as(true), true)
    mse, mae, s, per_frame = ours.scores()
    c_mse, c_mae, c_s, _ = copy.scores()
    out: dict[str, Any] = {VIDEO_MSE: mse, VIDEO_MAE: mae, VIDEO_SSIM: s, VIDEO_MSE_PER_FRAME: per_frame,
                           VIDEO_COPY_LAST_MSE: c_mse, VIDEO_COPY_LAST_MAE: c_mae, VIDEO_COPY_LAST_SSIM: c_s,
                           VIDEO_MSE_VS_COPY: c_mse / mse if mse > 0 else math.inf, DATA_TEST_SIZE: n}
    if digits:
        out[DATA_TEST_SET] = digits
    return out


def z_dim(model: torch.nn.Module) -> int:
    """Size of the model's latent (0 without one)."""
    layer = getattr(model, "z", None)
    return int(layer.in_features) if layer is not None else 0


def _zeros(model: torch.nn.Module, b: int) -> torch.Tensor | None:
    """The latent's mean, for the prediction scores (None without a latent)."""
    d = z_dim(model)
    return torch.zeros(b, d) if d else None


def sample_latents(model: torch.nn.Module, b: int, seed: int) -> torch.Tensor | None:
    """b latents z ~ N(0, I) from a private generator seeded `seed` (None without a latent)."""
    d = z_dim(model)
    return torch.randn(b, d, generator=torch.Generator().manual_seed(seed)) if d else None


# -- generation scores ----------------------------------------------------------------------------------


class FrameFeatures:
    """Per-frame features: the digit classifier's conv trunk on a whole frame, mean- and max-pooled over space."""

    def __init__(self, classifier: torch.nn.Module):
        body = list(classifier.body)
        cut = next(i for i, m in enumerate(body) if isinstance(m, torch.nn.Flatten))
        self.trunk = torch.nn.Sequential(*body[:cut]).eval()

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor, batch: int = 200) -> np.ndarray:
        """Frames (N, 1, H, W) in [0, 1] -> float64 (N, 2 * channels of the last conv block)."""
        out = []
        for i in range(0, len(frames), batch):
            f = self.trunk(frames[i:i + batch].float())  # (B, C, h, w)
            out.append(torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], 1).double())
        return torch.cat(out).numpy()


def frame_change(frames: torch.Tensor) -> float:
    """Mean over consecutive frames of (B, T, 1, H, W) of the absolute change summed over pixels."""
    return float((frames[:, 1:] - frames[:, :-1]).abs().sum(dim=(2, 3, 4)).mean())


def generation_scores(model: torch.nn.Module, test: MovingMNIST, context: int, n: int, samples: int,
                      features: FrameFeatures, device: torch.device | str = "cpu") -> dict[str, float]:
    """FD (and its floor), consistency and diversity of the futures `model` draws for the first `n` test
    contexts (`samples` draws each when it has a latent, else one)."""
    draws = samples if z_dim(model) else 1
    gen_feats, real_feats, other_feats = [], [], []
    change_gen = change_real = spread = 0.0
    for start in range(0, n, EVAL_BATCH):
        ids = range(start, min(n, start + EVAL_BATCH))
        x = test.batch(ids)
        ctx, true = x[:, :context], x[:, context:]
        futures = []
        for k in range(draws):
            z = sample_latents(model, len(x), EVAL_SEED + 7919 * k + start)
            futures.append(predict(model, ctx.to(device), None if z is None else z.to(device)).cpu())
        stack = torch.stack(futures)  # (K, B, Tf, 1, H, W)
        gen_feats.append(features(stack.flatten(0, 2)))
        real_feats.append(features(true.flatten(0, 1)))
        other = test.batch(range(n + start, n + start + len(x)))[:, context:]  # disjoint true futures: the floor
        other_feats.append(features(other.flatten(0, 1)))
        last = ctx[:, -1:]
        change_gen += sum(frame_change(torch.cat([last, f], 1)) for f in futures) / draws * len(x)
        change_real += frame_change(torch.cat([last, true], 1)) * len(x)
        spread += float(stack.std(0, unbiased=False).sum(dim=(2, 3, 4)).mean()) * len(x) if draws > 1 else 0.0
    g, r, o = (gaussian_stats(np.concatenate(f)) for f in (gen_feats, real_feats, other_feats))
    return {VIDEO_FD: frechet_distance(*g, *r), VIDEO_FD_FLOOR: frechet_distance(*o, *r),
            VIDEO_FRAME_CHANGE: change_gen / n, VIDEO_REAL_FRAME_CHANGE: change_real / n,
            VIDEO_CONSISTENCY: change_gen / change_real if change_real > 0 else math.nan,
            VIDEO_DIVERSITY: spread / n}


def generation_summary(model: torch.nn.Module, cfg: Any, data: Any, device: torch.device | str = "cpu",
                       sequences: int | None = None) -> dict[str, float]:
    """`generation_scores` of `model` with the digit classifier of the run's config (`VideoConfig`), on its
    `fd_sequences` (or `sequences`) first test contexts and `fd_samples` draws each."""
    from pilotlab.gan.classifier import ClassifierConfig, load_or_train

    clf = load_or_train(ClassifierConfig(epochs=cfg.classifier_epochs, width=cfg.classifier_width), cfg.dataset,
                        data_dir=cfg.data_dir)
    n = cfg.fd_sequences if sequences is None else sequences
    return generation_scores(model, data.test, cfg.context, n, cfg.fd_samples, FrameFeatures(clf), device)
