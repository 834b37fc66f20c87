"""Bad data-set contents are refused in one line (exit 2) that names the input, before anything is written.

Every loader's output passes `validate_dataset`; unreadable image files are refused by the folder reader.
The bad inputs are built here: tiny IDX files with `write_idx`, tiny PNGs with Pillow.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from clihelp import refused
from pilotlab.core.errors import PilotlabError
from pilotlab.data.idx import write_idx
from pilotlab.data.registry import ImageDataset, validate_dataset


def _idx_dir(folder: Path, train_labels: np.ndarray | None = None, n_train: int = 20, n_test: int = 10,
             test_size: int = 28, n_train_labels: int | None = None) -> Path:
    """An MNIST-format folder of random images; labels cycle 0..9 unless given."""
    rng = np.random.default_rng(0)
    folder.mkdir(exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8))
    labels = np.arange(n_train_labels or n_train) % 10 if train_labels is None else train_labels
    write_idx(folder / "train-labels-idx1-ubyte", labels.astype(np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, test_size, test_size), dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte", (np.arange(n_test) % 10).astype(np.uint8))
    return folder


def _png(path: Path, value: int = 128, size: int = 4) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)
    return path


def _image_folder(root: Path, per_class: dict[str, int]) -> Path:
    for name, n in per_class.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            _png(root / name / f"{i}.png", 20 * i)
    return root


def test_label_outside_the_classes_names_the_label_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = np.arange(20) % 10
    labels[3] = 200
    d = _idx_dir(tmp_path / "d", labels)
    err = refused(["data", "inspect", "mnist", "--data-dir", str(d)], capsys)
    assert "--data-dir" in err and "label 200" in err and "image 3" in err and "train-labels-idx1-ubyte" in err


def test_gan_refuses_bad_labels_before_the_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = np.arange(20) % 10
    labels[0] = 10
    d = _idx_dir(tmp_path / "d", labels)
    run = tmp_path / "run"
    err = refused(["gan", "train", "--model", "dcgan", "--dataset", "mnist", "--data-dir", str(d), "--max-steps", "1",
                    "--run-dir", str(run)], capsys)
    assert "label 10" in err and str(d) in err
    assert not run.exists()


def test_gan_refuses_fewer_images_than_one_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _idx_dir(tmp_path / "d", n_train=20)
    run = tmp_path / "run"
    err = refused(["gan", "train", "--model", "dcgan", "--dataset", "mnist", "--data-dir", str(d), "--max-steps", "1",
                    "--batch-size", "32", "--run-dir", str(run)], capsys)
    assert "20 training images" in err and "--batch-size 32" in err and str(d) in err
    assert not run.exists()


def test_train_and_test_images_of_different_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _idx_dir(tmp_path / "d", test_size=20)
    err = refused(["data", "inspect", "mnist", "--data-dir", str(d)], capsys)
    assert "(1, 20, 20)" in err and "(1, 28, 28)" in err and "t10k-images-idx3-ubyte" in err


def test_image_label_count_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _idx_dir(tmp_path / "d", n_train_labels=19)
    err = refused(["data", "inspect", "mnist", "--data-dir", str(d)], capsys)
    assert "20 images" in err and "19 labels" in err and "train-labels-idx1-ubyte" in err


def test_empty_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _idx_dir(tmp_path / "d", n_train=0)
    err = refused(["data", "inspect", "mnist", "--data-dir", str(d)], capsys)
    assert "train split has no images" in err and "train-images-idx3-ubyte" in err


def test_single_label_training_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _idx_dir(tmp_path / "d", np.full(20, 4))
    err = refused(["data", "inspect", "mnist", "--data-dir", str(d)], capsys)
    assert "label 4" in err and "at least 2 classes" in err


def test_folder_with_one_class(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _image_folder(tmp_path / "imgs", {"cats": 5})
    err = refused(["data", "inspect", "folder", "--data-dir", str(root)], capsys)
    assert "1 class ['cats']" in err and "at least 2" in err and str(root) in err


def test_folder_with_one_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _image_folder(tmp_path / "imgs", {"cats": 1})
    err = refused(["data", "inspect", "folder", "--data-dir", str(root)], capsys)
    assert "holds 1 image ('0.png')" in err and "at least 2" in err


def test_folder_class_without_training_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _image_folder(tmp_path / "imgs", {"cats": 5, "dogs": 1, "empty": 0})
    err = refused(["data", "inspect", "folder", "--data-dir", str(root)], capsys)
    assert "['dogs', 'empty']" in err and "no training images" in err and "at least 2 images" in err


def _bomb_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A valid 1x1 PNG whose IHDR (with a fixed CRC) claims width x height pixels."""
    _png(path, size=1)
    raw = bytearray(path.read_bytes())
    ihdr = raw.index(b"IHDR")
    raw[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    raw[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(raw[ihdr:ihdr + 17])))
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(("make", "what"), [
    (lambda p: _bomb_png(p), "DecompressionBombError"),
    (lambda p: p.write_bytes(_png(p.with_suffix(".tmp.png"), size=32).read_bytes()[:60]), "bad.png"),
    (lambda p: p.write_text("not an image\n"), "UnidentifiedImageError"),
])
def test_unreadable_image_names_the_file(make, what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _image_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    bad = root / "b" / "bad.png"
    make(bad)
    for stray in root.glob("b/*.tmp.png"):
        stray.unlink()
    err = refused(["data", "inspect", "folder", "--data-dir", str(root)], capsys)
    assert what in err and repr(str(bad)) in err and "remove or replace" in err


def test_bomb_below_twice_the_limit_is_refused_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Between Pillow's limit and twice it Pillow only warns and would decode the whole image."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 30)
    root = _image_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    _png(root / "b" / "big.png", size=7)  # 49 pixels: above 30, below 60
    err = refused(["data", "inspect", "folder", "--data-dir", str(root)], capsys)
    assert "DecompressionBombWarning" in err and "big.png" in err


def test_file_name_with_a_newline_stays_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _image_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    (root / "b" / "evil\nname.png").write_text("junk")
    err = refused(["data", "inspect", "folder", "--data-dir", str(root)], capsys)
    assert "evil\\nname.png" in err


def _dataset(**change: object) -> ImageDataset:
    fields: dict[str, object] = {"name": "toy", "train_x": torch.rand(6, 1, 4, 4), "train_y": torch.arange(6) % 2,
                                 "test_x": torch.rand(2, 1, 4, 4), "test_y": torch.arange(2), "classes": ("a", "b")}
    return ImageDataset(**{**fields, **change})  # type: ignore[arg-type]


def test_validate_accepts_a_good_set_and_checks_values() -> None:
    ds = _dataset()
    assert validate_dataset(ds) is ds
    x = torch.rand(6, 1, 4, 4)
    x[2, 0, 1, 1] = float("nan")
    with pytest.raises(PilotlabError, match="pixel values"):
        validate_dataset(_dataset(train_x=x))
    with pytest.raises(PilotlabError, match="test label -1"):
        validate_dataset(_dataset(test_y=torch.tensor([0, -1])))
    with pytest.raises(PilotlabError, match="not int64"):
        validate_dataset(_dataset(train_y=(torch.arange(6) % 2).float()))
    with pytest.raises(PilotlabError, match=r"--data-dir '/x\\ny'"):
        validate_dataset(_dataset(classes=("a",)), "/x\ny")


def test_digest_changes_with_the_data() -> None:
    a = _dataset()
    assert a.digest == replace(a, train_y=a.train_y.clone(), note="same arrays").digest
    assert a.digest != replace(a, train_y=1 - a.train_y).digest
    assert a.digest != replace(a, classes=("b", "a")).digest
