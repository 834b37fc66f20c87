"""A short training on Tiny Shakespeare learns more than character frequencies."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from pilotlab.cli import main
from pilotlab.data.text import load_text, split_text

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tinyshakespeare"


def unigram_loss(train: str, val: str) -> float:
    """Cross-entropy (nats/char) of the validation text under the training split's character frequencies."""
    counts = Counter(train)
    total = sum(counts.values())
    return -sum(math.log(counts[c] / total) for c in val if c in counts) / sum(1 for c in val if c in counts)


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/tinyshakespeare not found")
def test_short_training_beats_the_unigram_loss(tmp_path: Path) -> None:
    train, val = split_text(load_text("tinyshakespeare", None, allow_download=False)[0], 0.1)
    floor = unigram_loss(train, val)
    assert 3.0 < floor < 3.5  # ~3.3 nats/char: what knowing only the character frequencies gives
    run = tmp_path / "run"
    assert main(["text", "train", "--context", "64", "--layers", "2", "--heads", "4", "--width", "64",
                 "--batch-size", "32", "--max-steps", "300", "--lr", "3e-3", "--warmup-steps", "30",
                 "--eval-every", "0", "--run-dir", str(run)]) == 0
    loss = json.loads((run / "summary.json").read_text())["eval/val_loss"]
    assert loss < floor - 0.5, (loss, floor)
