"""A tiny-budget scoring classifier shared by the GAN tests (trained once per session, ~10 s)."""

from __future__ import annotations

import pytest

from pilotlab.gan.classifier import ClassifierConfig
from pilotlab.gan.metrics import Evaluator

TINY = ClassifierConfig(epochs=1, width=8)  # ~10x cheaper than the real scorer; > 90% test accuracy
TINY_FLAGS = ["--classifier-epochs", "1", "--classifier-width", "8"]


@pytest.fixture(scope="session")
def scorer(tmp_path_factory: pytest.TempPathFactory) -> Evaluator:
    """The Evaluator the tiny training runs use, cached in the session's temporary data cache."""
    with pytest.MonkeyPatch.context() as mp:  # same cache as the autouse _isolated_cache fixture
        mp.setenv("PILOTLAB_DATA", str(tmp_path_factory.getbasetemp() / "pilotlab-cache"))
        return Evaluator(TINY)
