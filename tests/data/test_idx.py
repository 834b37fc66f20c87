"""IDX reader on the real MNIST test files and on broken fixtures."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from pilotlab.core.errors import PilotlabError
from pilotlab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, read_images_labels, write_idx

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.shared_mnist
def test_real_mnist_test_set(shared_mnist) -> None:
    x, y = read_images_labels(shared_mnist / "t10k-images-idx3-ubyte.gz", shared_mnist / "t10k-labels-idx1-ubyte.gz")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == MNIST_TEST_COUNTS
    assert x.max() == 255 and x.min() == 0


@pytest.mark.shared_mnist
def test_raw_uncompressed_file(shared_mnist, tmp_path) -> None:
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    raw.write_bytes(gzip.decompress((shared_mnist / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    assert np.bincount(read_idx(raw, LABELS_MAGIC)).tolist() == MNIST_TEST_COUNTS


def test_round_trip(tmp_path) -> None:
    arr = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    write_idx(tmp_path / "a.gz", arr)
    assert np.array_equal(read_idx(tmp_path / "a.gz", IMAGES_MAGIC), arr)


def test_wrong_magic(tmp_path) -> None:
    write_idx(tmp_path / "labels", np.zeros(3, np.uint8))
    with pytest.raises(PilotlabError, match="magic number 2049, expected 2051"):
        read_idx(tmp_path / "labels", IMAGES_MAGIC)
    (tmp_path / "junk").write_bytes(b"PK\x03\x04 not idx at all")
    with pytest.raises(PilotlabError, match="is not an IDX file"):
        read_idx(tmp_path / "junk")


def test_truncated_and_oversized(tmp_path) -> None:
    write_idx(tmp_path / "a", np.zeros((4, 2, 2), np.uint8))
    blob = (tmp_path / "a").read_bytes()
    (tmp_path / "short").write_bytes(blob[:-3])
    with pytest.raises(PilotlabError, match="needs 16"):
        read_idx(tmp_path / "short")
    (tmp_path / "long").write_bytes(blob + b"x")
    with pytest.raises(PilotlabError, match="needs 16"):
        read_idx(tmp_path / "long")
    (tmp_path / "header").write_bytes(blob[:6])
    with pytest.raises(PilotlabError, match="truncated inside its IDX header"):
        read_idx(tmp_path / "header")


def test_corrupt_gzip(tmp_path) -> None:
    write_idx(tmp_path / "a.gz", np.zeros((4, 2, 2), np.uint8))
    blob = (tmp_path / "a.gz").read_bytes()
    (tmp_path / "b.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(PilotlabError, match="corrupt gzip file"):
        read_idx(tmp_path / "b.gz")


def test_count_mismatch_and_missing(tmp_path) -> None:
    write_idx(tmp_path / "x", np.zeros((4, 2, 2), np.uint8))
    write_idx(tmp_path / "y", np.zeros(3, np.uint8))
    with pytest.raises(PilotlabError, match="holds 4 images but .* holds 3 labels"):
        read_images_labels(tmp_path / "x", tmp_path / "y")
    with pytest.raises(PilotlabError, match="file not found"):
        read_idx(tmp_path / "nope")
