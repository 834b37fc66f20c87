"""Figure helpers shared by every pillar: image grids (PIL), line plots (matplotlib, Agg)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from pilotlab.core.errors import PilotlabError

# extension -> Pillow format of the image files `save_image_grid` writes (those Pillow can save RGB as)
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".gif": "GIF", ".webp": "WEBP",
                 ".tif": "TIFF", ".tiff": "TIFF", ".ppm": "PPM"}
GIF_EXTENSIONS = (".gif",)  # what `save_gif` writes


def image_format(path: str | Path, flag: str = "the output file") -> str:
    """The Pillow format for `path`'s extension; a one-line `PilotlabError` for an extension no writer knows."""
    from PIL import Image

    Image.init()  # loads every format plugin once, so that Image.SAVE is complete
    suffix = Path(path).suffix.lower()
    fmt = IMAGE_FORMATS.get(suffix)
    if fmt is None or fmt not in Image.SAVE:
        known = ", ".join(k for k, v in IMAGE_FORMATS.items() if v in Image.SAVE)
        raise PilotlabError(f"{flag} {str(path)!r}: cannot write images {_extension(Path(path))}; use a name "
                            f"ending in one of {known}")
    return fmt


def _extension(p: Path) -> str:
    return f"with extension {p.suffix!r}" if p.suffix else "without an extension"


def check_output_file(path: str | Path, flag: str, extensions: tuple[str, ...] | None = None) -> Path:
    """Refuse, before any work, an output file a writer would fail on at the end: an unknown extension
    (`extensions`, default the image formats of `image_format`), a missing or unwritable parent folder, or
    a path that is a folder. `flag` names the option in the message."""
    p = Path(path)
    if p.is_dir():
        example = str(p / ("out" + (extensions[0] if extensions else ".png")))
        raise PilotlabError(f"{flag} {str(path)!r} is a folder; give a file name such as {example!r}")
    if extensions is None:
        image_format(p, flag)
    elif p.suffix.lower() not in extensions:
        raise PilotlabError(f"{flag} {str(path)!r}: cannot write a file {_extension(p)}; use a name ending in "
                            f"{' or '.join(extensions)}")
    parent = p.parent
    if not parent.is_dir():
        raise PilotlabError(f"{flag} {str(path)!r}: folder {str(parent)!r} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PilotlabError(f"{flag} {str(path)!r}: folder {str(parent)!r} is not writable; choose another path")
    return p


def grid_array(images: torch.Tensor, nrow: int = 8, pad: int = 2, scale: int = 1) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> uint8 (H', W', 3) tiled grid."""
    x = images.detach().float().clamp(0, 1).cpu()
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)  # (N, 3, H, W)
    n, c, h, w = x.shape
    ncol = min(nrow, n)
    rows = (n + ncol - 1) // ncol
    out = torch.ones(c, rows * (h + pad) + pad, ncol * (w + pad) + pad)
    for i in range(n):
        r, k = divmod(i, ncol)
        out[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + k * (w + pad) : pad + k * (w + pad) + w] = x[i]
    arr = (out.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)  # (H', W', 3)
    if scale > 1:
        arr = arr.repeat(scale, axis=0).repeat(scale, axis=1)
    return arr


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, scale: int = 2) -> Path:
    """Save a grid of (N, C, H, W) images in [0, 1] as PNG."""
    from PIL import Image

    p = Path(path)
    fmt = image_format(p)  # before the folder is made: an unknown extension writes nothing
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid_array(images, nrow, scale=scale)).save(p, format=fmt)
    return p


def save_line_plot(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    title: str = "",
    xlabel: str = "step",
    ylabel: str = "",
    hlines: Mapping[str, float] | None = None,
) -> Path:
    """Plot named (x, y) series (and labelled horizontal reference lines) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    for name, (xs, ys) in series.items():
        ax.plot(list(xs), list(ys), label=name)
    for name, y in (hlines or {}).items():
        ax.axhline(y, linestyle="--", color="gray", linewidth=1)
        ax.annotate(name, xy=(0.01, y), xycoords=("axes fraction", "data"), fontsize=8, color="gray", va="bottom")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if series:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(p)
    plt.close(fig)
    return p


def save_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float = 10.0) -> Path:
    """Write uint8 (H, W, 3) frames as an animated GIF (imageio)."""
    import imageio.v3 as iio

    p = Path(path)
    if p.suffix.lower() not in GIF_EXTENSIONS:
        raise PilotlabError(f"cannot write an animated GIF to {str(p)!r}; its name must end in .gif")
    p.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(p, np.stack(list(frames)), duration=1000.0 / fps, loop=0)
    return p
