"""Tiny end-to-end runs through the CLI for every model: train, sample, eval, resume, NaN stop."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest
import torch

from pilotlab.cli import main
from pilotlab.core import checkpoint, registry
from pilotlab.gan import MODEL, losses
from pilotlab.gan.metrics import Evaluator

from .conftest import TINY_FLAGS

SUMMARY_KEYS = {"eval/fd", "eval/fd_floor", "eval/gan_test_acc", "eval/coverage_entropy", "train/wall_s",
                "train/images_per_s"}
SIZE = {"mlp-gan": ["--g-hidden", "32", "64", "--d-hidden", "32"], "dcgan": ["--width", "4"],
        "wgan-gp": ["--width", "4", "--n-critic", "2"], "cgan": ["--width", "4", "--embed-dim", "4"],
        "sn-resnet": ["--width", "4", "--embed-dim", "4"]}


def tiny(model: str, run_dir: Path, steps: int = 4, *extra: str) -> list[str]:
    return ["gan", "train", "--model", model, "--run-dir", str(run_dir), "--max-steps", str(steps),
            "--batch-size", "16", "--z-dim", "8", "--eval-every", "2", "--eval-samples", "64", "--log-every", "2",
            "--checkpoint-every", "2", *TINY_FLAGS, *SIZE[model], *extra]


@pytest.mark.parametrize("model", registry.names(MODEL))
def test_train_sample_eval_every_model(model: str, tmp_path: Path, scorer: Evaluator) -> None:
    run = tmp_path / model
    assert main(tiny(model, run)) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["eval/fd_floor"] == pytest.approx(scorer.real.floor)
    assert summary["eval/fd"] > 0
    assert 0 <= summary["eval/coverage_entropy"] <= math.log(10) + 1e-9
    if model in ("cgan", "sn-resnet"):  # conditional on labelled digits (--conditional auto)
        assert 0 <= summary["eval/gan_test_acc"] <= 1
    else:
        assert summary["eval/gan_test_acc"] is None  # undefined without conditioning
    assert summary["train/images_per_s"] > 0
    for name in ("last", "best"):
        assert checkpoint.exists(run / "checkpoints" / name)
    figs = {p.name for p in (run / "figures").iterdir()}
    assert {"samples.png", "samples.gif", "losses.png", "fd.png", "interpolation.png"} <= figs
    assert len(list((run / "figures" / "samples").glob("step_*.png"))) == 2  # evaluations at steps 2 and 4
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("train/d_loss" in r for r in rows)
    assert any("eval/fd" in r for r in rows)

    out = tmp_path / "grid.png"
    assert main(["gan", "sample", str(run), "--n", "12", "--out", str(out)]) == 0
    assert out.is_file()
    fd_trained = summary["eval/fd"]
    assert main(["gan", "eval", str(run)]) == 0  # same checkpoint, noise and classifier: same FD
    assert json.loads((run / "summary.json").read_text())["eval/fd"] == pytest.approx(fd_trained, rel=1e-9)


@pytest.mark.parametrize("flags", [
    [],
    # DiffAugment draws from the restored RNG state; the EMA switches from copying G to averaging after the
    # resume (step 4); LeCam's moving averages travel in the checkpoint; R1's double backward; D without BN
    ["--diffaugment", "translation,cutout", "--ema-start", "5", "--loss", "hinge", "--spectral-norm",
     "--lecam", "0.3", "--r1-gamma", "1", "--no-d-batch-norm"],
], ids=["plain", "regularised"])
def test_resume_continues_exactly(flags: list[str], tmp_path: Path, scorer: Evaluator) -> None:
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(tiny("cgan", straight, 6, *flags)) == 0
    assert main(tiny("cgan", split, 4, *flags)) == 0
    assert main([*tiny("cgan", split, 6, *flags), "--resume"]) == 0
    a, _ = checkpoint.load(straight / "checkpoints" / "last")
    b, _ = checkpoint.load(split / "checkpoints" / "last")
    for part in ("generator", "discriminator", "ema"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k} differs after resume"
    assert a["opt_g"]["state"][0]["exp_avg"].equal(b["opt_g"]["state"][0]["exp_avg"])
    assert ("lecam_anchors" in a) == ("--lecam" in flags)
    if "--lecam" in flags:
        assert torch.equal(a["lecam_anchors"], b["lecam_anchors"])
    def g_losses(run: Path) -> list[float]:
        rows = map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
        return [r["train/g_loss"] for r in rows if "train/g_loss" in r]

    assert g_losses(straight) == g_losses(split)


def test_nan_loss_stops_with_exit_1_and_keeps_the_checkpoint(
        tmp_path: Path, scorer: Evaluator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    calls = {"n": 0}
    real_loss = losses.g_loss_nonsaturating

    def nan_after_two(fake_logits: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return real_loss(fake_logits) * (math.nan if calls["n"] > 2 else 1.0)

    monkeypatch.setattr(losses, "g_loss_nonsaturating", nan_after_two)
    run = tmp_path / "nan"
    assert main(tiny("dcgan", run, 6)) == 1
    err = capsys.readouterr().err
    assert "train/g_loss is nan at step 3" in err
    _, meta = checkpoint.load(run / "checkpoints" / "last")
    assert meta["step"] == 2


def test_discriminator_collapse_is_warned(tmp_path: Path, scorer: Evaluator, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(losses, "d_loss_nonsaturating", lambda r, f, s=0.0: (r.mean() + f.mean()) * 0 + 1e-6)
    assert main(tiny("mlp-gan", tmp_path / "collapse", 2)) == 0
    assert "warning: discriminator loss" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "nope"], "unknown GAN model 'nope'"),
    (["--model", "dcgan", "--lr-g", "-1"], "lr-g must be > 0"),
    (["--model", "wgan-gp", "--label-smoothing", "0.1"], "label-smoothing applies"),
    (["--model", "cgan", "--ema-decay", "1.5"], "ema-decay"),
    (["--model", "cgan", "--ema-start", "-1"], "ema-start must be an integer in [0"),
    (["--model", "cgan", "--d-width", "0"], "d-width"),
    (["--model", "wgan-gp", "--loss", "hinge"], "wgan-gp uses the Wasserstein loss"),
    (["--model", "cgan", "--loss", "hinge", "--label-smoothing", "0.1"], "not to the hinge loss"),
    (["--model", "cgan", "--diffaugment", "translation,zoom"], "unknown DiffAugment transform(s) zoom"),
    (["--model", "cgan", "--lecam", "-0.1"], "lecam and r1-gamma must be >= 0"),
    (["--model", "cgan", "--r1-gamma", "-1"], "lecam and r1-gamma must be >= 0"),
    (["--model", "cgan", "--lecam-decay", "1"], "lecam-decay must lie in [0, 1)"),
    (["--model", "wgan-gp", "--lecam", "0.3"], "wgan-gp has its gradient penalty"),
])
def test_bad_input_exits_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gan", "train", *args]) == 2
    assert message in capsys.readouterr().err


def test_eval_noise_seed_and_repeats(tmp_path: Path, scorer: Evaluator, capsys: pytest.CaptureFixture[str]) -> None:
    """--noise-seed draws other samples; --repeats K reports the mean and std of K single-seed scores."""
    run = tmp_path / "cgan"
    assert main(tiny("cgan", run, 2)) == 0
    trained = json.loads((run / "summary.json").read_text())["eval/fd"]
    fd = {}
    for seed in (7, 8, 9):
        assert main(["gan", "eval", str(run), "--noise-seed", str(seed)]) == 0
        summary = json.loads((run / "summary.json").read_text())
        assert summary["eval/noise_seed"] == seed and summary["eval/fd_std"] is None
        fd[seed] = summary["eval/fd"]
    assert len({trained, *fd.values()}) == 4  # other noise, other samples, other FD
    assert main(["gan", "eval", str(run), "--noise-seed", "7", "--repeats", "3"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["eval/fd_per_seed"] == pytest.approx([fd[7], fd[8], fd[9]], rel=1e-9)
    assert summary["eval/noise_seeds"] == [7, 8, 9]
    per_seed = summary["eval/fd_per_seed"]
    assert summary["eval/fd"] == pytest.approx(sum(per_seed) / 3, rel=1e-12)
    assert summary["eval/fd_std"] == pytest.approx(statistics.stdev(per_seed), rel=1e-9)
    assert "mean ± std over 3 noise seeds 7-9" in capsys.readouterr().out
    assert main(["gan", "eval", str(run)]) == 0  # the default is still the training's evaluation noise
    summary = json.loads((run / "summary.json").read_text())
    assert summary["eval/fd"] == pytest.approx(trained, rel=1e-9)
    assert summary["eval/fd_std"] is None and summary["eval/repeats"] == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--repeats", "0"], "repeats must be >= 1"),
    (["--noise-seed", "-1"], "noise-seed must be >= 0"),
    (["--noise-seed", "x"], "error:"),
])
def test_eval_rejects_bad_noise_options(args: list[str], message: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gan", "eval", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_eval_and_sample_reject_non_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gan", "eval", str(tmp_path)]) == 2
    assert main(["gan", "sample", str(tmp_path), "--n", "0"]) == 2
    assert "error:" in capsys.readouterr().err


def test_cgan_discriminator_width_can_differ_from_the_generator() -> None:
    from pilotlab.gan.cgan import CGANConfig, build
    from pilotlab.gan.modules import count_parameters

    same, wide = build(CGANConfig(width=4), (1, 28, 28), 10), build(CGANConfig(width=4, d_width=8), (1, 28, 28), 10)
    assert count_parameters(wide.generator) == count_parameters(same.generator)
    assert count_parameters(wide.discriminator) > count_parameters(same.discriminator)
    assert wide.discriminator(torch.rand(3, 1, 28, 28), torch.tensor([0, 1, 2])).shape == (3,)


def test_lr_decay_is_linear_in_the_step(tmp_path: Path, scorer: Evaluator) -> None:
    run = tmp_path / "decay"
    assert main([*tiny("cgan", run, 4), "--lr-decay", "--lr-g", "4e-4", "--lr-d", "2e-4"]) == 0
    state, _ = checkpoint.load(run / "checkpoints" / "last")
    # the last of 4 steps (step index 3) trains at 1 - 3/4 of the base rates
    assert state["opt_g"]["param_groups"][0]["lr"] == pytest.approx(4e-4 / 4)
    assert state["opt_d"]["param_groups"][0]["lr"] == pytest.approx(2e-4 / 4)


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_time_budget_stops_training_on_either_clock(clock: str, tmp_path: Path, scorer: Evaluator) -> None:
    """A budget of 1e-9 s stops after the first step; training CPU and wall time are both recorded."""
    run = tmp_path / clock
    assert main([*tiny("cgan", run, 50), "--time-budget-s", "1e-9", "--budget-clock", clock,
                 "--loss", "hinge", "--spectral-norm"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["train/steps"] == 1
    assert summary["train/cpu_s"] > 0 and summary["train/wall_s"] > 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    (at_eval,) = [r["eval/train_cpu_s"] for r in rows if "eval/fd" in r]  # one evaluation, at the stop
    assert 0 < at_eval <= summary["train/cpu_s"]  # the summary adds the final checkpoint's save


def _spectrally_normalised(module: torch.nn.Module) -> bool:
    from torch.nn.utils import parametrize

    layers = [m for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    return bool(layers) and all(parametrize.is_parametrized(m, "weight") for m in layers)


def test_cgan_discriminator_batch_norm_is_optional() -> None:
    """The default D is SNGAN's (spectral norm, no batch norm); DCGAN's batch-normed D is a flag away."""
    from pilotlab.gan.cgan import CGANConfig, build
    from pilotlab.gan.modules import has_batch_norm

    default = build(CGANConfig(width=4), (1, 28, 28), 10).discriminator
    assert not has_batch_norm(default) and _spectrally_normalised(default)
    assert default(torch.rand(3, 1, 28, 28), torch.tensor([0, 1, 2])).shape == (3,)
    dcgan_like = build(CGANConfig(width=4, d_batch_norm=True, spectral_norm=False), (1, 28, 28), 10).discriminator
    assert has_batch_norm(dcgan_like) and not _spectrally_normalised(dcgan_like)


def test_cgan_defaults_are_the_benchmark_recipe_and_the_old_one_is_reachable_by_flags() -> None:
    """`gan train --model cgan` with no flags trains the recipe of docs/benchmarks.md ("GAN: cgan on MNIST-5k");
    the previous DCGAN-style recipe parses from its flags; `gan augment`'s cGANs default to the same recipe."""
    import argparse

    from pilotlab.core.config import add_arguments, build_config
    from pilotlab.gan.augment import AugmentConfig
    from pilotlab.gan.cgan import CGANConfig

    cfg = CGANConfig()
    recipe = (cfg.loss, cfg.spectral_norm, cfg.d_batch_norm, cfg.lr_g, cfg.lr_d, cfg.beta1, cfg.beta2)
    assert recipe == ("hinge", True, False, 5e-4, 5e-4, 0.0, 0.9)
    aug = AugmentConfig()
    assert (aug.gan_loss, aug.gan_spectral_norm, aug.gan_d_batch_norm, aug.gan_lr, aug.gan_lr, aug.gan_beta1,
            aug.gan_beta2) == recipe
    parser = argparse.ArgumentParser()
    add_arguments(parser, CGANConfig)
    flags = "--loss ns --no-spectral-norm --d-batch-norm --lr-g 2e-4 --lr-d 2e-4 --beta1 0.5 --beta2 0.999"
    old = build_config(CGANConfig, vars(parser.parse_args(flags.split())))
    assert (old.loss, old.spectral_norm, old.d_batch_norm, old.lr_g, old.lr_d, old.beta1, old.beta2) == (
        "ns", False, True, 2e-4, 2e-4, 0.5, 0.999)
