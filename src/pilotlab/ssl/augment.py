"""Batched view augmentations for contrastive and non-contrastive learning (kornia, on the device).

SimCLR (Chen et al., 2020, Appendix A) composes random resized crop, colour distortion (jitter
0.8 x strength, grayscale p=0.2) and Gaussian blur. Digits differ from photographs: they carry no
colour, and their identity survives small rotations, shears and shifts but not large crops, so
for 1-channel images the pipeline is crop (scale 0.4-1, SimCLR uses 0.08-1) + affine, with an
optional brightness/contrast jitter (kornia's ColorJitter accepts only those two on 1 channel).
The defaults were picked on MNIST-5k (see docs/ssl.md). Every transform keeps shape and [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import kornia.augmentation as K
import torch
from torch import nn

from pilotlab.core.errors import PilotlabError


@dataclass(frozen=True)
class ViewSpec:
    """Strengths of the view augmentations (all probabilities in [0, 1])."""

    crop_scale: tuple[float, float] = (0.4, 1.0)
    """Area fraction range of the random resized crop."""
    degrees: float = 15.0
    """Max rotation of the affine transform [deg]."""
    translate: float = 0.1
    """Max shift of the affine transform, fraction of width/height."""
    shear: float = 10.0
    """Max shear of the affine transform [deg]."""
    affine_p: float = 0.8
    """Probability of the affine transform."""
    jitter: float = 0.4
    """Colour jitter strength s (brightness/contrast/saturation s, hue s/4), as in SimCLR."""
    jitter_p: float = 0.8
    """Probability of the colour jitter (for 1-channel images: brightness/contrast only)."""
    grayscale_p: float = 0.2
    """Probability of grayscale (3-channel images only)."""
    blur_p: float = 0.5
    """Probability of a Gaussian blur (3-channel images only; 10% of the side as kernel)."""

    def __post_init__(self) -> None:
        lo, hi = self.crop_scale
        if not 0 < lo <= hi <= 1:
            raise PilotlabError(f"crop scale must satisfy 0 < min <= max <= 1, got {self.crop_scale}")
        for name in ("affine_p", "jitter_p", "grayscale_p", "blur_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be in [0, 1], got {getattr(self, name)}")
        if self.degrees < 0 or self.shear < 0 or not 0 <= self.translate <= 1 or self.jitter < 0:
            raise PilotlabError("augmentation strengths must be >= 0 (translate <= 1)")


def view_augmentation(shape: tuple[int, int, int], spec: ViewSpec = ViewSpec()) -> nn.Module:
    """The random view transform for images of `shape` (C, H, W): (B, C, H, W) -> (B, C, H, W)."""
    c, h, w = shape
    ops: list[nn.Module] = [
        K.RandomResizedCrop((h, w), scale=spec.crop_scale, ratio=(3 / 4, 4 / 3)),
    ]
    if spec.affine_p > 0:
        ops.append(K.RandomAffine(degrees=spec.degrees, translate=(spec.translate, spec.translate),
                                  shear=spec.shear, p=spec.affine_p))
    if spec.jitter > 0 and spec.jitter_p > 0:
        s = spec.jitter
        if c == 3:
            ops.append(K.ColorJitter(s, s, s, s / 4, p=spec.jitter_p))
        else:  # kornia's ColorJitter needs 3 channels for saturation and hue
            ops.append(K.ColorJitter(brightness=s, contrast=s, p=spec.jitter_p))
    if c == 3:
        if spec.grayscale_p > 0:
            ops.append(K.RandomGrayscale(p=spec.grayscale_p))
        if spec.blur_p > 0:
            k = max(3, (h // 10) | 1)  # odd kernel, about 10% of the side as in SimCLR
            ops.append(K.RandomGaussianBlur((k, k), (0.1, 2.0), p=spec.blur_p))
    return _Clamp01(K.AugmentationSequential(*ops))


class _Clamp01(nn.Module):
    """Apply `inner` and clamp to [0, 1] (jitter and interpolation can step slightly outside)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x).clamp(0.0, 1.0)


def two_views(aug: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independent random views of the batch `x` (B, C, H, W)."""
    with torch.no_grad():
        return aug(x), aug(x)
