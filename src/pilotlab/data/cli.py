"""``pilotlab data list | fetch NAME | inspect NAME``."""

from __future__ import annotations

from dataclasses import dataclass

from pilotlab.core.command import Command
from pilotlab.core.config import positional
from pilotlab.core.errors import PilotlabError
from pilotlab.data.registry import DATASETS, load_dataset


@dataclass(frozen=True, kw_only=True)
class ListConfig:
    """No options."""


@dataclass(frozen=True, kw_only=True)
class DatasetConfig:
    name: str = positional()
    """Dataset name (see `pilotlab data list`)."""
    data_dir: str | None = None
    """Folder that already holds the dataset's files; nothing is downloaded into it."""

    def __post_init__(self) -> None:
        if self.name not in DATASETS:
            raise PilotlabError(f"unknown dataset {self.name!r}; choose one of {', '.join(DATASETS)}")


def run_list(cfg: ListConfig) -> int:
    for name, info in DATASETS.items():
        print(f"{name:14s} {info.description}")
    return 0


def run_fetch(cfg: DatasetConfig) -> int:
    ds = load_dataset(cfg.name, cfg.data_dir, allow_download=True)
    print(f"{cfg.name}: {len(ds.train_x)} train + {len(ds.test_x)} test images ready ({ds.note})")
    return 0


def run_inspect(cfg: DatasetConfig) -> int:
    ds = load_dataset(cfg.name, cfg.data_dir, allow_download=False)
    counts = ds.train_y.bincount(minlength=ds.num_classes).tolist()
    print(f"dataset   {ds.name}")
    print(f"source    {ds.note}")
    print(f"shape     {tuple(ds.shape)} (C, H, W), float32 in [0, 1]")
    print(f"train     {len(ds.train_x)} images, per class {counts}")
    print(f"test      {len(ds.test_x)} images")
    print(f"classes   {', '.join(ds.classes)}")
    print(f"pixel mean {ds.train_x.mean():.4f} std {ds.train_x.std():.4f}")
    return 0


COMMANDS = {
    "list": Command(ListConfig, run_list, "list the datasets"),
    "fetch": Command(DatasetConfig, run_fetch, "download (sha256-verified) or locate a dataset"),
    "inspect": Command(DatasetConfig, run_inspect, "print a dataset's shape, classes and source"),
}
