"""Differentiable augmentation for data-efficient GAN training (DiffAugment).

Zhao, Liu, Lin, Zhu & Han, 2020, "Differentiable Augmentation for Data-Efficient GAN Training":
with few training images the discriminator memorises them, its outputs on real and generated
images drift apart, and the generator's samples lose variety (FD rises again while they look
cleaner). DiffAugment applies the *same* family of random transforms T to real and to generated
images every time D sees them, in D's update (D(T(x)), D(T(G(z)))) and in G's update
(D(T(G(z)))). Because every T is differentiable in its input, G's gradient flows through the
augmentation; because D only ever sees augmented images of both kinds, G is not pushed to produce
augmented-looking images (the paper's section 3 shows that augmenting reals only leaks the
augmentation into the samples).

Transforms (each drawn independently per image; the paper's defaults in parentheses):

- ``translation``: shift by up to ``round(ratio * size)`` pixels in each axis (ratio 1/8: 4 px on
  28x28), filling the uncovered border with ``fill``;
- ``cutout``: set a square of side ``round(ratio * size)`` (ratio 1/2: 14 px) at a uniformly random
  centre to ``fill`` (the square may stick out of the image);
- ``brightness`` / ``contrast``: add U(-0.5, 0.5), scale contrast about the image mean by U(0.5, 1.5)
  (the paper's "color" without the saturation term, which is undefined for one channel).

Images are in [-1, 1] with a background of -1 (the GAN pipeline's range), so ``fill`` defaults to
-1: a shifted or cut-out digit keeps a black background instead of the paper's grey 0.
Randomness comes from an optional ``torch.Generator`` so a test can fix it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Transform = Callable[[torch.Tensor, "torch.Generator | None", float], torch.Tensor]


def _uniform(n: int, x: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    """(n, 1, 1, 1) draws from U[0, 1) on x's device and dtype."""
    return torch.rand(n, 1, 1, 1, generator=gen, device=x.device, dtype=x.dtype)


def translation(x: torch.Tensor, gen: torch.Generator | None = None, fill: float = -1.0,
                ratio: float = 0.125) -> torch.Tensor:
    """Shift each image of (B, C, H, W) by its own integer offset in [-s, s]^2, s = round(ratio * H)."""
    b, _, h, w = x.shape
    sh, sw = int(ratio * h + 0.5), int(ratio * w + 0.5)
    if sh == 0 and sw == 0:
        return x
    dy = torch.randint(-sh, sh + 1, (b,), generator=gen, device=x.device)  # (B,) rows moved down by dy
    dx = torch.randint(-sw, sw + 1, (b,), generator=gen, device=x.device)  # (B,)
    padded = torch.nn.functional.pad(x, (sw, sw, sh, sh), value=fill)  # (B, C, H + 2sh, W + 2sw)
    rows = sh - dy[:, None] + torch.arange(h, device=x.device)  # (B, H) source row of each output row
    cols = sw - dx[:, None] + torch.arange(w, device=x.device)  # (B, W)
    batch = torch.arange(b, device=x.device)[:, None, None]  # (B, 1, 1)
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # advanced indices first: (B, H, W, C)
    return out.permute(0, 3, 1, 2)  # (B, C, H, W)


def cutout(x: torch.Tensor, gen: torch.Generator | None = None, fill: float = -1.0,
           ratio: float = 0.5) -> torch.Tensor:
    """Set one square of side round(ratio * H) per image, centred uniformly at random, to `fill`."""
    b, _, h, w = x.shape
    size_h, size_w = int(ratio * h + 0.5), int(ratio * w + 0.5)
    cy = torch.randint(0, h, (b, 1), generator=gen, device=x.device)  # (B, 1) centre row
    cx = torch.randint(0, w, (b, 1), generator=gen, device=x.device)  # (B, 1)
    r = torch.arange(h, device=x.device)[None, :] - (cy - size_h // 2)  # (B, H) offset into the square
    c = torch.arange(w, device=x.device)[None, :] - (cx - size_w // 2)  # (B, W)
    inside = ((r >= 0) & (r < size_h))[:, :, None] & ((c >= 0) & (c < size_w))[:, None, :]  # (B, H, W)
    keep = (~inside).unsqueeze(1).to(x.dtype)  # (B, 1, H, W)
    return x * keep + fill * (1.0 - keep)


def brightness(x: torch.Tensor, gen: torch.Generator | None = None, fill: float = -1.0) -> torch.Tensor:
    """Add one U(-0.5, 0.5) offset per image."""
    return x + (_uniform(x.shape[0], x, gen) - 0.5)


def contrast(x: torch.Tensor, gen: torch.Generator | None = None, fill: float = -1.0) -> torch.Tensor:
    """Scale each image's deviation from its mean by U(0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return (x - mean) * (_uniform(x.shape[0], x, gen) + 0.5) + mean


TRANSFORMS: dict[str, Transform] = {
    "translation": translation,  # type: ignore[dict-item]
    "cutout": cutout,  # type: ignore[dict-item]
    "brightness": brightness,
    "contrast": contrast,
}
"""Name -> transform, applied in the order the policy lists them."""


def parse_policy(policy: str) -> tuple[str, ...]:
    """"translation,cutout" -> ("translation", "cutout"); "" -> () (no augmentation). Raises ValueError."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [n for n in names if n not in TRANSFORMS]
    if unknown:
        raise ValueError(f"unknown DiffAugment transform(s) {', '.join(unknown)}; choose from {', '.join(TRANSFORMS)}")
    return names


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], gen: torch.Generator | None = None,
                 fill: float = -1.0) -> torch.Tensor:
    """Apply the policy's transforms in order to (B, C, H, W) images; differentiable in `x`."""
    for name in policy:
        x = TRANSFORMS[name](x, gen, fill)
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
