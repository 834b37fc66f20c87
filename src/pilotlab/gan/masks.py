"""Inpainting masks: which pixels of an image are missing. 1 marks a missing pixel (the hole), 0 a known one.

- centre: one `size` x `size` square in the middle (the context encoder's central region, Pathak et al. 2016).
- box: one `size` x `size` square at a uniformly random position inside the image.
- free-form: a few random brush strokes (Yu et al. 2019, Algorithm 1, scaled to small images): each stroke
  starts at a random pixel and walks 2-5 segments of random direction and length, drawn with a round brush.

Every random mask comes from a `torch.Generator` the caller seeds, so a training step's masks depend only on
(seed, step) and a resumed run draws the same ones, and an evaluation's masks are the same for every method.
A mask file (`read_mask`) is a grey image or a .npy array of the image's height and width: white (> 0.5)
marks the pixels to fill.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from pilotlab.core.errors import PilotlabError, one_line

KINDS = ("centre", "box", "free-form")


def centre_mask(h: int, w: int, size: int) -> torch.Tensor:
    """(1, h, w) float mask with a `size` x `size` hole in the middle (offset down-right by half a pixel
    when the sizes' parities differ)."""
    m = torch.zeros(1, h, w)
    top, left = (h - size) // 2, (w - size) // 2
    m[:, top:top + size, left:left + size] = 1.0
    return m


def box_masks(n: int, h: int, w: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """(n, 1, h, w) masks, each one `size` x `size` hole at a random position fully inside the image."""
    top = torch.randint(0, h - size + 1, (n,), generator=gen)
    left = torch.randint(0, w - size + 1, (n,), generator=gen)
    rows, cols = torch.arange(h), torch.arange(w)
    in_rows = (rows[None] >= top[:, None]) & (rows[None] < top[:, None] + size)  # (n, h)
    in_cols = (cols[None] >= left[:, None]) & (cols[None] < left[:, None] + size)  # (n, w)
    return (in_rows[:, :, None] & in_cols[:, None, :]).float().unsqueeze(1)


def free_form_masks(n: int, h: int, w: int, gen: torch.Generator, max_strokes: int = 3) -> torch.Tensor:
    """(n, 1, h, w) masks of 1 to `max_strokes` random strokes each (at least one hole pixel per mask).

    Brush width is 10-25% of the shorter side (at least 1 px), a segment 15-45% of it long, so the hole
    covers roughly 10-40% of the image whatever its size.
    """
    side = min(h, w)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    out = torch.zeros(n, 1, h, w)

    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=gen))

    for i in range(n):
        m = torch.zeros(h, w, dtype=torch.bool)
        for _ in range(int(torch.randint(1, max_strokes + 1, (), generator=gen))):
            radius = max(0.5, u(0.10, 0.25) * side / 2)
            y, x = u(0, h - 1), u(0, w - 1)
            angle = u(0, 2 * math.pi)
            for _ in range(int(torch.randint(2, 6, (), generator=gen))):
                angle += u(-math.pi / 2, math.pi / 2)  # a brush turns, it rarely doubles back
                length = u(0.15, 0.45) * side
                y2 = min(max(y + length * math.sin(angle), 0.0), h - 1.0)
                x2 = min(max(x + length * math.cos(angle), 0.0), w - 1.0)
                m |= _segment_distance(yy, xx, y, x, y2, x2) <= radius
                y, x = y2, x2
        out[i, 0] = m.float()
    return out


def _segment_distance(yy: torch.Tensor, xx: torch.Tensor, y1: float, x1: float, y2: float, x2: float) -> torch.Tensor:
    """Distance [px] of every pixel centre (yy, xx) to the segment (y1, x1)-(y2, x2)."""
    dy, dx = y2 - y1, x2 - x1
    t = ((yy - y1) * dy + (xx - x1) * dx) / max(dy * dy + dx * dx, 1e-12)
    t = t.clamp(0.0, 1.0)
    return torch.hypot(yy - (y1 + t * dy), xx - (x1 + t * dx))


def make_masks(kind: str, n: int, h: int, w: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """(n, 1, h, w) masks of `kind` (one of `KINDS`); `size` is the square's side for centre and box."""
    if kind == "centre":
        return centre_mask(h, w, size).expand(n, 1, h, w).clone()
    if kind == "box":
        return box_masks(n, h, w, size, gen)
    if kind == "free-form":
        return free_form_masks(n, h, w, gen)
    raise PilotlabError(f"unknown mask kind {kind!r}; choose one of {', '.join(KINDS)}")


def step_generator(seed: int, step: int) -> torch.Generator:
    """The generator of training step `step`'s masks: a function of (seed, step) alone, so resuming is exact."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))


def check_size(kind: str, size: int, h: int, w: int, where: str) -> None:
    """Refuse a square hole that does not fit the images (or covers all of them)."""
    if kind in ("centre", "box") and not 1 <= size < min(h, w):
        raise PilotlabError(f"{where}: mask-size {size} does not fit {h}x{w} images; a {kind} hole needs "
                            f"1 <= mask-size < {min(h, w)} (some pixels must stay known)")


def read_mask(path: str | Path, h: int, w: int) -> torch.Tensor:
    """A user's mask file as a (1, h, w) float mask: a grey image (PNG, PGM, BMP, ...) or a 2-D .npy array
    of shape (h, w); pixels above half the maximum brightness (values > 0.5 for .npy) are the hole."""
    p = Path(path)
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise PilotlabError(f"cannot read mask {str(p)!r}: {one_line(e)}; give a .npy array or an image") from None
        arr = np.squeeze(arr)
        if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise PilotlabError(f"mask {str(p)!r} is a {arr.dtype} array of shape {arr.shape}; give a 2-D "
                                f"({h}, {w}) array of numbers")
        values = arr.astype(np.float64)
        if not np.isfinite(values).all():
            raise PilotlabError(f"mask {str(p)!r} holds NaN or Inf; give 0 (known) and 1 (missing) values")
        hole = values > 0.5
    else:
        grey = read_image_file(p, "L", "mask")  # (H, W, 1)
        hole = grey[..., 0] > 127
    if hole.shape != (h, w):
        raise PilotlabError(f"mask {str(p)!r} is {hole.shape[0]}x{hole.shape[1]} but the image is {h}x{w}; "
                            "give a mask of the image's size")
    if not hole.any():
        raise PilotlabError(f"mask {str(p)!r} marks no pixel to fill; white (or > 0.5) marks the missing pixels")
    if hole.all():
        raise PilotlabError(f"mask {str(p)!r} marks every pixel as missing; some pixels must stay known")
    return torch.from_numpy(hole.astype(np.float32))[None]


def read_image_file(path: str | Path, mode: str, what: str = "image") -> np.ndarray:
    """An image file (anything Pillow decodes: PNG, PGM, JPEG, ...) as uint8 (H, W, C) in `mode` (L or RGB),
    or a .npy array of shape (H, W) or (H, W, C) with values in [0, 1] (float) or 0-255 (integers)."""
    import warnings

    p = Path(path)
    if not p.is_file():
        raise PilotlabError(f"{what} {str(p)!r} not found; give the path of an image file")
    channels = 1 if mode == "L" else 3
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise PilotlabError(f"cannot read {what} {str(p)!r}: {one_line(e)}") from None
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3 or arr.shape[2] not in (1, 3) or not np.issubdtype(arr.dtype, np.number):
            raise PilotlabError(f"{what} {str(p)!r} is a {arr.dtype} array of shape {arr.shape}; give (H, W) or "
                                "(H, W, 1 or 3) numbers")
        values = arr.astype(np.float64)
        if not np.isfinite(values).all():
            raise PilotlabError(f"{what} {str(p)!r} holds NaN or Inf")
        if np.issubdtype(arr.dtype, np.floating):
            if values.min() < 0 or values.max() > 1:
                raise PilotlabError(f"{what} {str(p)!r}: float values span [{values.min():.3g}, {values.max():.3g}]"
                                    ", not [0, 1]")
            values = values * 255.0
        elif values.min() < 0 or values.max() > 255:
            raise PilotlabError(f"{what} {str(p)!r}: integer values outside 0-255")
        if arr.shape[2] != channels:
            values = values.mean(axis=2, keepdims=True) if channels == 1 else np.repeat(values, 3, axis=2)
        return values.round().astype(np.uint8)
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(p) as im:
                out = np.array(im.convert(mode), dtype=np.uint8)  # a writable copy
        except Exception as e:  # whatever Pillow raises on a damaged file is the file's fault
            raise PilotlabError(f"cannot read {what} {str(p)!r}: {one_line(e)}; give a PNG, PGM or other image "
                                "file, or a .npy array") from None
    return out[..., None] if out.ndim == 2 else out
