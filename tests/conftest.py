"""Shared fixtures. Tests run with one torch thread, like the trainers (docs/foundation.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = (ROOT / ".." / "shared" / "data" / "mnist").resolve()

torch.set_num_threads(1)
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


@pytest.fixture
def shared_mnist() -> Path:
    """Folder with the official MNIST test files (tests using it carry the shared_mnist marker)."""
    return SHARED_MNIST


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads go to a temporary cache, never the user's ~/.cache/pilotlab."""
    monkeypatch.setenv("PILOTLAB_DATA", str(tmp_path_factory.getbasetemp() / "pilotlab-cache"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need ../shared/data/mnist are skipped with a reason where it is absent."""
    if SHARED_MNIST.is_dir():
        return
    skip = pytest.mark.skip(reason=f"real MNIST test set not found at {SHARED_MNIST}")
    for item in items:
        if "shared_mnist" in item.keywords:
            item.add_marker(skip)
