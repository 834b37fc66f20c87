"""The user's own images: one subfolder per class, PNG/JPEG read with Pillow and resized."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pilotlab.core.errors import PilotlabError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def read_folder(
    root: str | Path, image_size: int = 32, channels: int = 3
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read ``root/<class>/*.png|jpg`` into uint8 (N, C, H, W), int64 labels and class names."""
    from PIL import Image, UnidentifiedImageError

    base = Path(root)
    if not base.is_dir():
        raise PilotlabError(f"image folder not found: {base}")
    classes = tuple(sorted(d.name for d in base.iterdir() if d.is_dir() and not d.name.startswith(".")))
    if not classes:
        raise PilotlabError(f"{base} has no class subfolders (expected {base}/<class>/<image>.png)")
    mode = {1: "L", 3: "RGB"}[channels]
    images, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(f for f in (base / name).iterdir() if f.suffix.lower() in EXTENSIONS)
        for f in files:
            try:
                with Image.open(f) as im:
                    im = im.convert(mode).resize((image_size, image_size), Image.Resampling.BILINEAR)
                    arr = np.asarray(im, dtype=np.uint8)
            except (UnidentifiedImageError, OSError) as e:
                raise PilotlabError(f"cannot read image {f}: {e}") from None
            images.append(arr[None] if channels == 1 else arr.transpose(2, 0, 1))  # (C, H, W)
            labels.append(label)
    if not images:
        raise PilotlabError(f"{base} holds no PNG/JPEG images in its class subfolders")
    return np.stack(images), np.asarray(labels, dtype=np.int64), classes
