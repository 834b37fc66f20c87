"""Entry points other code calls: train and score a model, re-evaluate a run, sample from a run.

    from pilotlab.gan.pipeline import train_and_eval, evaluate_run, sample_run
    summary = train_and_eval("cgan", epochs=5, seed=0, run_dir="runs/gan-cgan")  # summary.json as a dict
    evaluate_run("runs/gan-cgan")                      # recompute eval/* from checkpoints/last
    evaluate_run("runs/gan-cgan", "best", noise_seed=1, repeats=5)  # mean and std over 5 fresh noise seeds
    sample_run("runs/gan-cgan", n=64, out="grid.png")  # a PNG grid from the EMA generator
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pilotlab.core import registry
from pilotlab.core.config import build_config, from_dict
from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.core.session import load_weights
from pilotlab.core.summary import (
    GAN_CHECKPOINT,
    GAN_FD,
    GAN_FD_PER_SEED,
    GAN_FD_STD,
    GAN_METRIC,
    GAN_NOISE_SEED,
    GAN_NOISE_SEEDS,
    GAN_REPEATS,
    GAN_STEP,
)
from pilotlab.gan import MODEL, figures
from pilotlab.gan.config import GANConfig
from pilotlab.gan.images import gan_dataset, make_evaluator, resolve
from pilotlab.gan.metrics import EVAL_SEED
from pilotlab.report.figures import save_image_grid


def train_and_eval(model: str, epochs: int, seed: int = 0, run_dir: str | None = None,
                   **overrides: Any) -> dict[str, Any]:
    """Train GAN `model` for `epochs` (plus any config field in `overrides`) and return its summary.

    The returned dict is summary.json: ``eval/fd``, ``eval/fd_floor``, ``eval/gan_test_acc`` (None for
    unconditional models), ``eval/coverage_entropy``, ``train/wall_s``, ``train/images_per_s``, ...
    """
    from pilotlab.gan.train import train

    cfg_cls = registry.config_class(MODEL, model)
    cfg = build_config(cfg_cls, {"model": model, "epochs": epochs, "seed": seed, "run_dir": run_dir, **overrides})
    run = train(cfg)
    return {**run.summary(), "run_dir": str(run.path)}


def load_generator(run_dir: str | Path, which: str = "last") -> tuple[torch.nn.Module, GANConfig, dict[str, Any]]:
    """The run's generator (its EMA copy when the run kept one) in eval mode, its config and checkpoint meta."""
    run = RunDir.open(run_dir)
    saved = run.config()
    model = saved.get("config", {}).get("model")
    if saved.get("pillar") != "gan" or model not in registry.names(MODEL):
        raise PilotlabError(f"{run_dir} is not a GAN run (pillar {saved.get('pillar')!r}, model {model!r})")
    cfg = from_dict(registry.config_class(MODEL, model), {**saved["config"], "resume": False})
    ds = gan_dataset(cfg)
    cfg = resolve(cfg, ds)  # runs from before issue 16 saved "auto": decided as their training decided it
    gan = registry.implementation(MODEL, model).build(cfg, ds.shape, ds.num_classes)
    state, meta = load_weights(run, which)
    weights = dict(state["ema"] if "ema" in state else state["generator"])
    weights.pop("__updates__", None)  # the EMA's update counter
    gan.generator.load_state_dict(weights)
    # the layout training evaluates in (train.fit): the same conv kernels, so re-scores repeat its numbers exactly
    return gan.generator.to(memory_format=torch.channels_last).eval(), cfg, meta


def score_seeds(generator: torch.nn.Module, cfg: GANConfig, seeds: list[int],
                samples: int | None = None) -> list[dict[str, float]]:
    """eval/* scores (FD, GAN-test, coverage) of `generator` on each latent noise seed in `seeds`, with the
    run's scoring classifier; `samples` defaults to the run's eval-samples. Writes nothing."""
    n = samples if samples is not None else cfg.eval_samples
    if n < 2:
        raise PilotlabError(f"samples must be >= 2 (a covariance needs two points), got {n}")
    evaluator = make_evaluator(dataclasses.replace(cfg, eval_samples=n), gan_dataset(cfg))
    conditional = bool(getattr(generator, "conditional", False))
    return [evaluator.score(generator, cfg.z_dim, conditional, n, s) for s in seeds]


def evaluate_run(run_dir: str | Path, which: str = "last", samples: int | None = None,
                 noise_seed: int = EVAL_SEED, repeats: int = 1) -> dict[str, Any]:
    """Score checkpoints/`which` of a finished run and merge the eval/* numbers into summary.json.

    With the defaults (`last`, the run's own sample count, `noise_seed` = `EVAL_SEED`) this reproduces
    the training run's final evaluation exactly: same noise seed, same classifier. checkpoints/best was
    chosen as the lowest of many evaluations with that one noise seed, so its FD there is biased low;
    `repeats` K > 1 scores it on the K noise seeds `noise_seed`, ..., `noise_seed` + K - 1 instead and
    writes the means, ``eval/fd_std`` (sample standard deviation) and ``eval/fd_per_seed``.
    """
    if repeats < 1:
        raise PilotlabError(f"repeats must be >= 1, got {repeats}")
    if noise_seed < 0:
        raise PilotlabError(f"noise-seed must be >= 0, got {noise_seed}")
    generator, cfg, meta = load_generator(run_dir, which)
    seeds = list(range(noise_seed, noise_seed + repeats))
    per_seed = score_seeds(generator, cfg, seeds, samples)
    conditional = bool(getattr(generator, "conditional", False))
    scores = {k: float(np.mean([p[k] for p in per_seed])) for k in per_seed[0]}  # NaN stays NaN
    fds = [p[GAN_FD] for p in per_seed]
    spread = repeats > 1  # None for a single seed, so a re-score leaves no stale spread behind
    extra = {GAN_NOISE_SEED: noise_seed, GAN_REPEATS: repeats,
             GAN_FD_STD: float(np.std(fds, ddof=1)) if spread else None,
             GAN_FD_PER_SEED: fds if spread else None, GAN_NOISE_SEEDS: seeds if spread else None}
    finite = {k: (v if v == v else None) for k, v in scores.items()}
    with RunDir.open(run_dir) as run:  # closing sends the scores and figure to a tracked run's tracker
        summary = run.update_summary({**finite, **extra, GAN_CHECKPOINT: which, GAN_METRIC: cfg.metric,
                                      GAN_STEP: int(meta.get("step", 0))})
        figures.interpolation_strip(generator, cfg.z_dim, conditional, run.figure("interpolation.png"))
    return summary


def sample_run(run_dir: str | Path, n: int = 64, out: str | Path = "grid.png", seed: int = 0,
               label: int | None = None, which: str = "last") -> Path:
    """Write a grid of `n` samples of the run's generator to `out` (PNG); `label` picks a class (cGAN)."""
    if n < 1:
        raise PilotlabError(f"n must be >= 1, got {n}")
    generator, cfg, _ = load_generator(run_dir, which)
    conditional = bool(getattr(generator, "conditional", False))
    if label is not None and not conditional:
        raise PilotlabError(f"--label needs a conditional model; {cfg.model} is unconditional")
    k = figures.classes_of(generator)
    if label is not None and not 0 <= label < k:
        raise PilotlabError(f"label must be a class 0-{k - 1}, got {label}")
    z, y, nrow = figures.grid_inputs(cfg.z_dim, conditional, n, seed=seed, label=label, num_classes=k)
    return save_image_grid(figures.generate(generator, z, y), out, nrow=nrow)
