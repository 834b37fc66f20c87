"""IDX files (the MNIST family's format), raw or gzipped, validated before use.

Format (LeCun et al.): big-endian magic ``0x00 0x00 <dtype> <ndim>``, then ``ndim`` uint32 sizes,
then the data. MNIST images use magic 2051 (uint8, 3 dims), labels 2049 (uint8, 1 dim).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from pilotlab.core.errors import PilotlabError, one_line

_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise PilotlabError(f"file not found: {str(path)!r}")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise PilotlabError(f"corrupt gzip file {str(path)!r}: {one_line(e)}; replace the file") from None
    return raw


def read_idx(path: str | Path, expect_magic: int | None = None) -> np.ndarray:
    """Read an IDX file into an array, checking its magic number and that the size matches."""
    p = Path(path)
    data = _read_bytes(p)
    if len(data) < 4:
        raise PilotlabError(f"{str(p)!r} is too short to be an IDX file ({len(data)} bytes)")
    magic = struct.unpack(">I", data[:4])[0]
    zero, dtype_code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if zero != 0 or dtype_code not in _DTYPES or ndim == 0:
        raise PilotlabError(f"{str(p)!r} is not an IDX file (magic number {magic})")
    if expect_magic is not None and magic != expect_magic:
        raise PilotlabError(f"{str(p)!r} has IDX magic number {magic}, expected {expect_magic}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise PilotlabError(f"{str(p)!r} is truncated inside its IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_DTYPES[dtype_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise PilotlabError(f"{str(p)!r} holds {len(data) - header} data bytes but its header {tuple(shape)} "
                            f"needs {expected}; the file is truncated or corrupt")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_images_labels(images: str | Path, labels: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a matching (images, labels) pair: uint8 (N, H, W) and uint8 (N,)."""
    x = read_idx(images, IMAGES_MAGIC)
    y = read_idx(labels, LABELS_MAGIC)
    if len(x) != len(y):
        raise PilotlabError(f"{str(images)!r} holds {len(x)} images but {str(labels)!r} holds {len(y)} labels; "
                            "give one label per image (the two files must belong together)")
    return x, y


def write_idx(path: str | Path, arr: np.ndarray, compress: bool | None = None) -> None:
    """Write a uint8 array as IDX (gzipped when the name ends in .gz); used for fixtures and exports."""
    a = np.ascontiguousarray(arr, dtype=np.uint8)
    blob = struct.pack(">I", (0x08 << 8) | a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
    p = Path(path)
    if compress or (compress is None and p.suffix == ".gz"):
        blob = gzip.compress(blob, mtime=0)
    p.write_bytes(blob)
