"""The user's own images: one subfolder per class (or a flat folder of unlabelled images), read with Pillow.

Every image is centre-cropped to a square and resized to `image_size` (bilinear, with Pillow's
antialiasing), so a folder of photographs of different sizes and aspect ratios becomes one array.
What differs between files is never changed silently: with ``mixed="convert"`` (the default) images
of other sizes are cropped/resized and other colour modes converted (grey <-> RGB, palette, alpha
dropped), and one ``note:`` line on stderr says how many; with ``mixed="reject"`` the first differing
files are named in one error line instead.
"""

from __future__ import annotations

import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import Literal

import numpy as np

from pilotlab.core.errors import PilotlabError, one_line

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
"""Pillow modes without colour: a folder holding only these is read with one channel when channels is 0 (auto)."""
UNLABELLED = "(unlabelled)"
"""The one class name of a flat folder (images directly in --data-dir, no class subfolders)."""


def _open(path: Path):
    from PIL import Image

    return Image.open(path)


def _fail(path: Path, e: BaseException) -> PilotlabError:
    return PilotlabError(f"cannot read image {str(path)!r} in --data-dir: {one_line(e)}; remove or replace the file")


def read_header(path: Path) -> tuple[tuple[int, int], str]:
    """(width, height) and Pillow mode of an image file, from its header."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with _open(path) as im:
                return im.size, im.mode
        except Exception as e:
            raise _fail(path, e) from None


def read_image(path: Path, mode: str, image_size: int) -> np.ndarray:
    """One image file as uint8 (H, W) or (H, W, 3): centre-cropped to a square, resized to `image_size`.

    Any failure to decode is the file's fault, whatever Pillow raises: OSError (truncated), SyntaxError
    (broken PNG chunks), ValueError, `DecompressionBombError` (a header claiming billions of pixels, not an
    OSError); a header between Pillow's limit and twice it only warns, so that warning is an error here too.
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with _open(path) as im:
                w, h = im.size
                side = min(w, h)
                box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
                im = im.convert(mode).resize((image_size, image_size), Image.Resampling.BILINEAR, box=box)
                return np.asarray(im, dtype=np.uint8)
        except Exception as e:
            raise _fail(path, e) from None


def _image_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.suffix.lower() in EXTENSIONS and f.is_file())


def check_mixed(base: Path, headers: dict[Path, tuple[tuple[int, int], str]], image_size: int, channels: int,
                mixed: Literal["convert", "reject"]) -> str:
    """Apply the mixed-images policy: "" when all files share one size and mode, else a note (convert)
    or a `PilotlabError` naming the files that differ from the most common size or mode (reject)."""
    sizes = Counter(size for size, _ in headers.values())
    modes = Counter(mode for _, mode in headers.values())
    if len(sizes) <= 1 and len(modes) <= 1:
        return ""
    if mixed == "reject":
        (size, _), (mode, _) = sizes.most_common(1)[0], modes.most_common(1)[0]
        odd = [p for p, (s, m) in headers.items() if s != size or m != mode]
        named = ", ".join(f"{str(p.relative_to(base))!r} ({s[0]}x{s[1]} {m})" for p, (s, m) in
                          ((p, headers[p]) for p in odd[:3]))
        raise PilotlabError(
            f"--data-dir {str(base)!r}: {len(odd)} of {len(headers)} images differ from the most common "
            f"{size[0]}x{size[1]} {mode}: {named}{', ...' if len(odd) > 3 else ''}; convert them, or drop "
            "--mixed-images reject to crop/resize and convert them on reading")
    parts = []
    if len(sizes) > 1:
        parts.append(f"{len(sizes)} sizes ({', '.join(f'{w}x{h}: {n}' for (w, h), n in sizes.most_common(4))}"
                     f"{', ...' if len(sizes) > 4 else ''}) centre-cropped and resized to {image_size}x{image_size}")
    if len(modes) > 1:
        target = "L (grey)" if channels == 1 else "RGB"
        parts.append(f"modes {', '.join(f'{m}: {n}' for m, n in modes.most_common())} converted to {target}")
    return f"note: --data-dir {str(base)!r}: {len(headers)} images of mixed sizes/modes: {'; '.join(parts)}"


def read_folder(
    root: str | Path, image_size: int = 32, channels: int = 3, mixed: Literal["convert", "reject"] = "convert",
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read ``root/<class>/*.png|jpg`` (or ``root/*.png|jpg``, one class `UNLABELLED`) into uint8 (N, C, H, W),
    int64 labels and class names. `channels` 0 picks 1 when every file is grey, else 3."""
    base = Path(root)
    if not base.is_dir():
        raise PilotlabError(f"--data-dir image folder not found: {str(base)!r}")
    classes = tuple(sorted(d.name for d in base.iterdir() if d.is_dir() and not d.name.startswith(".")))
    groups = [_image_files(base / name) for name in classes]
    if not classes or not any(groups):
        flat = _image_files(base)
        if not flat:
            raise PilotlabError(f"--data-dir {str(base)!r} holds no PNG/JPEG images, neither in class subfolders "
                                "(<dir>/<class>/<image>.png) nor directly (<dir>/<image>.png)")
        classes, groups = (UNLABELLED,), [flat]
    headers = {f: read_header(f) for files in groups for f in files}
    if len(headers) < 2:
        only = next(iter(headers))
        raise PilotlabError(f"--data-dir {str(base)!r} holds 1 image ({only.name!r}); at least 2 are needed "
                            "(1 in 5 is held out for testing), and a GAN needs at least one batch")
    if channels == 0:
        channels = 1 if all(mode in GREY_MODES for _, mode in headers.values()) else 3
    if channels not in (1, 3):
        raise PilotlabError(f"channels must be 1 or 3, got {channels}")
    note = check_mixed(base, headers, image_size, channels, mixed)
    mode = {1: "L", 3: "RGB"}[channels]
    images, labels = [], []
    for label, files in enumerate(groups):
        for f in files:
            arr = read_image(f, mode, image_size)
            images.append(arr[None] if channels == 1 else arr.transpose(2, 0, 1))  # (C, H, W)
            labels.append(label)
    if note:  # only once every file has been read: a refused folder gets its one error line and nothing else
        print(note, file=sys.stderr, flush=True)
    return np.stack(images), np.asarray(labels, dtype=np.int64), classes
