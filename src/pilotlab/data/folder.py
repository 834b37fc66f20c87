"""The user's own images: one subfolder per class, PNG/JPEG read with Pillow and resized."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from pilotlab.core.errors import PilotlabError, one_line

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def read_image(path: Path, mode: str, image_size: int) -> np.ndarray:
    """One image file as uint8 (H, W) or (H, W, 3), resized to `image_size` square.

    Any failure to decode is the file's fault, whatever Pillow raises: OSError (truncated), SyntaxError
    (broken PNG chunks), ValueError, `DecompressionBombError` (a header claiming billions of pixels, not an
    OSError); a header between Pillow's limit and twice it only warns, so that warning is an error here too.
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                im = im.convert(mode).resize((image_size, image_size), Image.Resampling.BILINEAR)
                return np.asarray(im, dtype=np.uint8)
        except Exception as e:
            raise PilotlabError(f"cannot read image {str(path)!r} in --data-dir: {one_line(e)}; "
                                "remove or replace the file") from None


def read_folder(
    root: str | Path, image_size: int = 32, channels: int = 3
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read ``root/<class>/*.png|jpg`` into uint8 (N, C, H, W), int64 labels and class names."""
    base = Path(root)
    if not base.is_dir():
        raise PilotlabError(f"--data-dir image folder not found: {str(base)!r}")
    classes = tuple(sorted(d.name for d in base.iterdir() if d.is_dir() and not d.name.startswith(".")))
    if not classes:
        raise PilotlabError(f"--data-dir {str(base)!r} has no class subfolders (expected <dir>/<class>/<image>.png)")
    mode = {1: "L", 3: "RGB"}[channels]
    images, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(f for f in (base / name).iterdir() if f.suffix.lower() in EXTENSIONS and f.is_file())
        for f in files:
            arr = read_image(f, mode, image_size)
            images.append(arr[None] if channels == 1 else arr.transpose(2, 0, 1))  # (C, H, W)
            labels.append(label)
    if not images:
        raise PilotlabError(f"--data-dir {str(base)!r} holds no PNG/JPEG images in its class subfolders")
    return np.stack(images), np.asarray(labels, dtype=np.int64), classes
