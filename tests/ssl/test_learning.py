"""Learning tests: a short SimCLR run must beat its random-init encoder on the same probes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pilotlab.ssl.pipeline import pretrain_and_probe


@pytest.mark.slow
def test_short_simclr_beats_random_init_encoder(tmp_path: Path) -> None:
    summary = pretrain_and_probe("simclr", "digits", epochs=6, seed=0, run_dir=tmp_path / "run", batch_size=128,
                                 probe_every=3)
    # digits (8x8, 1,437 training images): random-init about 87% with 10 labels/class, 95% with all
    assert summary["eval/linear_acc_10pc"] > summary["baseline/random_linear_acc_10pc"] + 0.02
    assert summary["eval/linear_acc_all"] > summary["baseline/random_linear_acc_all"]
    assert (tmp_path / "run" / "figures" / "probe_accuracy.png").is_file()
