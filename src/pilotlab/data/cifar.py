"""CIFAR-10 from its "binary version" (preferred: no pickle at all) or its "python version" archive.

The binary version (cifar-10-binary.tar.gz, folder cifar-10-batches-bin) stores each image as one
record of 1 label byte and 3,072 pixel bytes (1,024 red, then green, then blue, row-major), read here
with NumPy alone. The python version stores each batch with Python pickle; we never run arbitrary
pickle code there: the unpickler below only rebuilds dicts, lists, strings, bytes and NumPy arrays,
and the downloaded archive's sha256 is checked before anything is read.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from pilotlab.core.errors import PilotlabError, one_line

ARCHIVE = "cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
URLS = ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
BINARY_ARCHIVE = "cifar-10-binary.tar.gz"
BINARY_DIR = "cifar-10-batches-bin"
BINARY_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
BINARY_TEST = "test_batch.bin"
RECORD = 1 + 3 * 32 * 32
"""Bytes per image in the binary version: the label, then the pixels."""

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def read_batch(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch -> uint8 images (N, 3, 32, 32) and int64 labels (N,)."""
    try:
        d = _SafeUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except Exception as e:
        raise PilotlabError(f"corrupt CIFAR-10 batch {str(where)!r}: {one_line(e)}") from None
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise PilotlabError(f"{str(where)!r} is not a CIFAR-10 batch (no data/labels)")
    data = np.asarray(d[b"data"], dtype=np.uint8)
    labels = np.asarray(d[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise PilotlabError(f"{str(where)!r} has data {data.shape} and {len(labels)} labels; expected (N, 3072)")
    return data.reshape(-1, 3, 32, 32), labels  # (N, C, H, W)


def read_archive(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read train and test splits from the archive (or an extracted cifar-10-batches-py folder)."""
    blobs: dict[str, bytes] = {}
    if path.is_dir():
        for name in (*TRAIN_BATCHES, TEST_BATCH):
            f = path / name
            if not f.is_file():
                raise PilotlabError(f"missing CIFAR-10 batch {str(f)!r}")
            blobs[name] = f.read_bytes()
    else:
        try:
            with tarfile.open(path, "r:gz") as tar:
                for member in tar.getmembers():
                    base = member.name.rsplit("/", 1)[-1]
                    if base in (*TRAIN_BATCHES, TEST_BATCH) and member.isfile():
                        fh = tar.extractfile(member)
                        assert fh is not None
                        blobs[base] = fh.read()
        except (tarfile.TarError, OSError, EOFError) as e:
            raise PilotlabError(f"corrupt CIFAR-10 archive {str(path)!r}: {one_line(e)}") from None
        missing = [n for n in (*TRAIN_BATCHES, TEST_BATCH) if n not in blobs]
        if missing:
            raise PilotlabError(f"{str(path)!r} lacks CIFAR-10 batches: {', '.join(missing)}")
    parts = [read_batch(blobs[n], n) for n in TRAIN_BATCHES]
    xtr = np.concatenate([p[0] for p in parts])
    ytr = np.concatenate([p[1] for p in parts])
    xte, yte = read_batch(blobs[TEST_BATCH], TEST_BATCH)
    return xtr, ytr, xte, yte


def read_binary_batch(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch -> uint8 images (N, 3, 32, 32) and int64 labels (N,)."""
    if len(blob) == 0 or len(blob) % RECORD:
        raise PilotlabError(f"{str(where)!r} is {len(blob):,} bytes, not a whole number of {RECORD:,}-byte CIFAR-10 "
                            "records (label + 3,072 pixels); the file is cut or not a CIFAR-10 binary batch")
    rec = np.frombuffer(blob, dtype=np.uint8).reshape(-1, RECORD)
    labels = rec[:, 0].astype(np.int64)
    if labels.max() >= len(CLASSES):
        i = int(np.argmax(labels >= len(CLASSES)))
        raise PilotlabError(f"{str(where)!r}: record {i} has label {int(labels[i])}, outside 0..9; the file is "
                            "damaged or not a CIFAR-10 binary batch")
    return rec[:, 1:].reshape(-1, 3, 32, 32).copy(), labels  # (N, C, H, W)


def read_binary(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train and test splits from the binary archive or an extracted cifar-10-batches-bin folder."""
    names = (*BINARY_TRAIN, BINARY_TEST)
    blobs: dict[str, bytes] = {}
    if path.is_dir():
        for name in names:
            if not (path / name).is_file():
                raise PilotlabError(f"missing CIFAR-10 batch {str(path / name)!r}")
            blobs[name] = (path / name).read_bytes()
    else:
        try:
            with tarfile.open(path, "r:gz") as tar:
                for member in tar.getmembers():
                    base = member.name.rsplit("/", 1)[-1]
                    if base in names and member.isfile():
                        fh = tar.extractfile(member)
                        assert fh is not None
                        blobs[base] = fh.read()
        except (tarfile.TarError, OSError, EOFError) as e:
            raise PilotlabError(f"corrupt CIFAR-10 archive {str(path)!r}: {one_line(e)}") from None
        missing = [n for n in names if n not in blobs]
        if missing:
            raise PilotlabError(f"{str(path)!r} lacks CIFAR-10 batches: {', '.join(missing)}")
    parts = [read_binary_batch(blobs[n], n) for n in BINARY_TRAIN]
    xte, yte = read_binary_batch(blobs[BINARY_TEST], BINARY_TEST)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), xte, yte
