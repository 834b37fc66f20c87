"""The augmentation experiment: statistics by hand, and a tiny end-to-end run through the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from scipy import stats

from pilotlab.cli import main
from pilotlab.data.registry import per_class_subset
from pilotlab.gan.augment import classifier_for, label_confidence, mean_ci, summarise
from pilotlab.gan.classifier import DigitClassifier
from pilotlab.gan.metrics import Evaluator


def test_mean_ci_is_the_t_interval() -> None:
    mean, sd, lo, hi = mean_ci([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)  # sd of (1, 2, 3) is 1
    assert (mean, sd) == (pytest.approx(2.0), pytest.approx(1.0))
    assert (lo, hi) == (pytest.approx(2.0 - half), pytest.approx(2.0 + half))
    assert math.isnan(mean_ci([0.5])[2])  # one seed: no interval


def test_gain_is_paired_over_seeds() -> None:
    cells = [{"per_class": 10, "seed": s, "real": r, "real+synthetic": r + g, "synthetic": 0.5}
             for s, (r, g) in enumerate([(0.6, 0.01), (0.7, 0.03), (0.8, 0.02)])]
    out = summarise(cells, (10,))
    assert out["augment/n10/gain_real+synthetic"] == pytest.approx(0.02)
    lo, hi = out["augment/n10/gain_real+synthetic_ci95"]
    assert lo < 0.02 < hi
    assert hi - lo < 0.1  # paired: the large spread of "real" across seeds does not widen it


def test_per_class_subset_and_equal_step_budgets() -> None:
    labels = torch.arange(100) % 10
    idx = per_class_subset(labels, 3, seed=0)
    assert torch.bincount(labels[idx]).tolist() == [3] * 10
    assert torch.equal(idx, per_class_subset(labels, 3, seed=0))
    assert not torch.equal(idx, per_class_subset(labels, 3, seed=1))
    assert classifier_for(100, 300, 0).epochs * 100 >= 300 * 64  # small sets get more epochs
    assert classifier_for(5100, 300, 0).epochs == 4


def test_tiny_augment_run_through_the_cli(tmp_path: Path, scorer: Evaluator) -> None:
    run = tmp_path / "augment"
    args = ["gan", "augment", "--per-class", "2", "--seeds", "1", "--gan-steps", "2", "--gan-width", "4",
            "--synthetic-per-class", "3", "--classifier-steps", "2", "--classifier-width", "4", "--eval-samples", "20",
            "--scorer-epochs", "1", "--scorer-width", "8", "--gan-lr", "1e-3", "--run-dir", str(run),
            "--gan-diffaugment", "translation", "--synthetic-filter", "0.01", "--gan-loss", "ns",
            "--no-gan-spectral-norm", "--gan-beta1", "0.5", "--gan-beta2", "0.999", "--gan-d-batch-norm"]
    assert main(args) == 0
    summary = json.loads((run / "summary.json").read_text())
    for arm in ("real", "real+synthetic", "synthetic"):
        assert 0.0 <= summary[f"augment/n2/{arm}_acc_mean"] <= 1.0
    assert summary["augment/n2/gain_real+synthetic_ci95"] == [None, None]  # one seed
    assert (run / "augment.md").is_file()
    assert (run / "cgan-n2-seed0" / "summary.json").is_file()
    cells = json.loads((run / "cells.json").read_text())
    assert len(cells) == 1 and 0.0 < cells[0]["synthetic_kept"] <= 1.0
    assert 0.0 <= summary["augment/n2/real+filtered_acc_mean"] <= 1.0
    assert "gain real+filtered" in (run / "augment.md").read_text()
    gan_cfg = json.loads((run / "cgan-n2-seed0" / "config.json").read_text())["config"]
    assert gan_cfg["lr_g"] == gan_cfg["lr_d"] == 1e-3
    # the flags (here the previous, DCGAN-style recipe: not the defaults) reach every cGAN
    assert (gan_cfg["diffaugment"], gan_cfg["loss"], gan_cfg["spectral_norm"]) == ("translation", "ns", False)
    assert (gan_cfg["beta1"], gan_cfg["beta2"], gan_cfg["d_batch_norm"]) == (0.5, 0.999, True)


def test_label_confidence_is_the_softmax_probability_of_the_label() -> None:
    torch.manual_seed(0)
    model = DigitClassifier(width=4, feature_dim=8)
    for m in model.modules():  # non-trivial batch-norm statistics, so the folded copy is really tested
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    model.eval()
    x, y = torch.rand(7, 1, 28, 28), torch.randint(0, 10, (7,))
    expected = torch.softmax(model(x), dim=1)[torch.arange(7), y]
    assert torch.allclose(label_confidence(model, x, y, batch=3), expected, atol=1e-5)


@pytest.mark.parametrize(("flag", "value"), [("--synthetic-filter", "1.0"), ("--gan-diffaugment", "zoom"),
                                                ("--gan-beta1", "1.0"), ("--gan-beta2", "-0.1")])
def test_augment_rejects_bad_options(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gan", "augment", flag, value]) == 2
    assert flag.lstrip("-") in capsys.readouterr().err
