"""Does GAN data augmentation help a classifier trained on few labels? Measured, not assumed.

For each labelled budget N (images per class, drawn from the 5,000 mnist-5k training digits) and
each seed: train the conditional GAN (`pilotlab.gan.cgan`) on those 10 N images only, draw
`synthetic_per_class` images per class from its EMA generator, then train the same classifier
(`pilotlab.gan.classifier`, same architecture, augmentation and number of optimizer steps) on

- real: the 10 N real images;
- real+synthetic: the real images plus the synthetic ones;
- synthetic: the synthetic images only;
- real+filtered (only with `synthetic_filter` p > 0): the real images plus the synthetic images to
  which the real-only classifier gives their conditioning label a probability >= p;

and measure accuracy on the mnist-5k test digits (summary key data/test_set says which ones). The seed
changes the labelled subset, the GAN and the classifiers. Reported per arm: mean ± std over seeds; the
gain of real+synthetic (and of synthetic) over real with a 95% confidence interval from the
t-distribution of the paired per-seed differences (undefined with one seed).

    from pilotlab.gan.augment import AugmentConfig, run_augment
    result = run_augment(AugmentConfig(per_class=(10,), seeds=1, gan_steps=300))   # the quick version
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from scipy import stats

from pilotlab.core.checkpoint import atomic_write_text
from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.core.seed import seed_everything
from pilotlab.core.summary import DATA_TEST_SET, DATA_TEST_SIZE, GAN_FD, GAN_TEST_ACC, augment_key
from pilotlab.data.registry import cached_dataset as dataset
from pilotlab.data.registry import per_class_subset
from pilotlab.gan.classifier import ClassifierConfig, accuracy, inference_copy, train_classifier
from pilotlab.gan.diffaugment import parse_policy
from pilotlab.gan.metrics import sample_images

ARMS = ("real", "real+synthetic", "synthetic", "real+filtered")
"""Training sets compared; real+filtered only with a synthetic-filter. Gains are relative to real."""


@dataclass(frozen=True, kw_only=True)
class AugmentConfig(RunConfig):
    model: Literal["cgan"] = "cgan"
    """The generator of the synthetic images (the class-conditional GAN)."""
    per_class: tuple[int, ...] = (10, 100)
    """Labelled real images per class, one experiment each."""
    seeds: int = 3
    """Repetitions (seed, seed+1, ...): labelled subset, GAN and classifiers change with the seed."""
    gan_steps: int = 3000
    """Generator updates of each cGAN (on the 10 N labelled images only)."""
    gan_width: int = 32
    """Base channel width of the cGAN."""
    gan_lr: float = 5e-4
    """Adam learning rate of the cGAN's generator and discriminator (`gan train --model cgan`'s default)."""
    gan_loss: Literal["ns", "hinge"] = "hinge"
    """Adversarial loss of the cGANs: hinge (`gan train --model cgan`'s default) or ns (non-saturating)."""
    gan_spectral_norm: bool = True
    """Spectral norm on the cGANs' discriminator layers."""
    gan_beta1: float = 0.0
    """Adam beta1 of the cGANs (0 as SNGAN, the cgan default; DCGAN's is 0.5)."""
    gan_beta2: float = 0.9
    """Adam beta2 of the cGANs (0.9 as SNGAN, the cgan default; DCGAN's is 0.999)."""
    gan_d_batch_norm: bool = False
    """Batch norm in the cGANs' discriminator (off, as SNGAN's and the cgan default; DCGAN has it)."""
    gan_diffaugment: str = ""
    """DiffAugment policy of the cGANs (see `pilotlab gan train --diffaugment`); "" = off."""
    synthetic_filter: float = 0.0
    """With p > 0, add the arm real+filtered: the real images plus only those synthetic images to which
    the real-only classifier gives their conditioning label a probability >= p (no extra label is spent)."""
    synthetic_per_class: int = 500
    """Synthetic images per class added to (or replacing) the real ones."""
    classifier_steps: int = 1500
    """Optimizer steps of every classifier (equal across arms, so no arm gets more updates)."""
    classifier_width: int = 32
    """First-layer channels of the classifiers compared (32 = the scoring classifier's architecture)."""
    eval_samples: int = 1000
    """Samples for each cGAN's own FD/GAN-test evaluation (logged in its run directory)."""
    scorer_epochs: int = 30
    """Epochs of the cached scoring classifier behind the cGANs' FD (fewer only for quick tests)."""
    scorer_width: int = 32
    """First-layer channels of that scoring classifier (smaller only for tests)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.resume:
            raise PilotlabError("augment does not resume; rerun it into a new --run-dir")
        if not self.per_class or min(self.per_class) < 1 or max(self.per_class) > 500:
            raise PilotlabError(f"per-class values must lie in 1..500 (mnist-5k has 500 per class), "
                                f"got {self.per_class}")
        for name in ("seeds", "gan_steps", "gan_width", "synthetic_per_class", "classifier_steps",
                     "classifier_width", "scorer_epochs", "scorer_width"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        try:
            parse_policy(self.gan_diffaugment)
        except ValueError as e:
            raise PilotlabError(f"gan-diffaugment: {e}") from None
        if self.gan_loss not in ("ns", "hinge"):
            raise PilotlabError(f"gan-loss must be ns or hinge, got {self.gan_loss!r}")
        if not 0.0 <= self.synthetic_filter < 1.0:
            raise PilotlabError(f"synthetic-filter must lie in [0, 1), got {self.synthetic_filter}")
        if not (0.0 <= self.gan_beta1 < 1.0 and 0.0 <= self.gan_beta2 < 1.0):
            raise PilotlabError(f"gan-beta1 and gan-beta2 must lie in [0, 1), got {self.gan_beta1}, {self.gan_beta2}")
        if self.gan_lr <= 0:
            raise PilotlabError(f"gan-lr must be > 0, got {self.gan_lr}")
        if self.eval_samples < 2:
            raise PilotlabError(f"eval-samples must be >= 2, got {self.eval_samples}")


def classifier_for(n_images: int, steps: int, seed: int, width: int = 32) -> ClassifierConfig:
    """The scoring classifier's recipe with epochs chosen so that training takes about `steps` updates."""
    batch = 64
    return ClassifierConfig(epochs=max(1, math.ceil(steps * batch / n_images)), batch_size=batch, seed=seed,
                            width=width)


def mean_ci(values: list[float], confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sample std, CI low, CI high) with a t-interval; the interval is NaN for one value."""
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan, math.nan
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1)) * sd / math.sqrt(len(x))
    return mean, sd, mean - half, mean + half


@torch.no_grad()
def label_confidence(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 200) -> torch.Tensor:
    """(N,) softmax probability the classifier gives each image's label y (images (N, C, H, W) in [0, 1])."""
    fast = inference_copy(model)  # type: ignore[arg-type]
    probs = [torch.softmax(fast(x[i:i + batch].contiguous(memory_format=torch.channels_last)), dim=1)
             for i in range(0, len(x), batch)]  # each (b, classes)
    return torch.cat(probs).gather(1, y[:, None]).squeeze(1)  # (N,)


def one_cell(cfg: AugmentConfig, run: RunDir, n: int, seed: int) -> dict[str, Any]:
    """Train the cGAN on N per class (this seed), then the three classifiers; return their test accuracies."""
    from pilotlab.gan.pipeline import load_generator, train_and_eval

    ds = dataset("mnist-5k")
    gan_dir = run.path / f"cgan-n{n}-seed{seed}"
    gan_summary = train_and_eval(
        "cgan", epochs=10**6, seed=seed, run_dir=str(gan_dir), max_steps=cfg.gan_steps, train_per_class=n,
        width=cfg.gan_width, lr_g=cfg.gan_lr, lr_d=cfg.gan_lr, eval_every=cfg.gan_steps, checkpoint_every=cfg.gan_steps,
        eval_samples=cfg.eval_samples, classifier_epochs=cfg.scorer_epochs, diffaugment=cfg.gan_diffaugment,
        loss=cfg.gan_loss, spectral_norm=cfg.gan_spectral_norm, beta1=cfg.gan_beta1, beta2=cfg.gan_beta2,
        d_batch_norm=cfg.gan_d_batch_norm,
        classifier_width=cfg.scorer_width, threads=cfg.threads, device=cfg.device,
        batch_size=min(64, 10 * n), final_figures=False,  # its samples.png is kept; the rest is not read
    )
    generator, _, _ = load_generator(gan_dir)
    x_syn, y_syn = sample_images(generator, 10 * cfg.synthetic_per_class, generator.z_dim, True, seed=10_000 + seed)
    keep = per_class_subset(ds.train_y, n, seed)  # the same subset the cGAN saw
    x_real, y_real = ds.train_x[keep], ds.train_y[keep]
    out: dict[str, Any] = {"per_class": n, "seed": seed, "gan_fd": gan_summary[GAN_FD],
                           "gan_test_acc": gan_summary[GAN_TEST_ACC]}

    def fit_and_score(arm: str, x: torch.Tensor, y: torch.Tensor) -> torch.nn.Module:
        clf = train_classifier(x, y, classifier_for(len(x), cfg.classifier_steps, seed, cfg.classifier_width))
        out[arm] = accuracy(clf, ds.test_x, ds.test_y)
        print(f"augment N={n} seed={seed} {arm}: test accuracy {out[arm]:.4f} ({len(x)} images)", flush=True)
        return clf

    clf_real = fit_and_score("real", x_real, y_real)
    fit_and_score("real+synthetic", torch.cat([x_real, x_syn]), torch.cat([y_real, y_syn]))
    fit_and_score("synthetic", x_syn, y_syn)
    if cfg.synthetic_filter > 0:  # the real-only classifier vets the synthetic digits
        keep_syn = label_confidence(clf_real, x_syn, y_syn) >= cfg.synthetic_filter  # (10 S,) bool
        out["synthetic_kept"] = float(keep_syn.float().mean())  # 0: the arm trains on the real images alone
        fit_and_score("real+filtered", torch.cat([x_real, x_syn[keep_syn]]), torch.cat([y_real, y_syn[keep_syn]]))
    return out


def summarise(cells: list[dict[str, Any]], per_class: tuple[int, ...]) -> dict[str, Any]:
    """Flat summary keys ``augment/n{N}/{arm}_acc_mean`` ..., gains with 95% t-intervals over paired seeds."""
    out: dict[str, Any] = {}
    for n in per_class:
        rows = [c for c in cells if c["per_class"] == n]
        if not rows:
            continue
        out[augment_key(n, "seeds")] = len(rows)
        arms = [a for a in ARMS if all(a in r for r in rows)]
        for arm in arms:
            mean, sd, _, _ = mean_ci([r[arm] for r in rows])
            out[augment_key(n, f"{arm}_acc_mean")], out[augment_key(n, f"{arm}_acc_std")] = mean, sd
        if all("synthetic_kept" in r for r in rows):
            out[augment_key(n, "synthetic_kept_mean")] = float(np.mean([r["synthetic_kept"] for r in rows]))
        for arm in arms[1:]:
            mean, _, lo, hi = mean_ci([r[arm] - r["real"] for r in rows])
            out[augment_key(n, f"gain_{arm}")] = mean
            out[augment_key(n, f"gain_{arm}_ci95")] = [lo, hi]
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else
                [None if not math.isfinite(u) else u for u in v] if isinstance(v, list) else v)
            for k, v in out.items()}


def markdown(summary: dict[str, Any], per_class: tuple[int, ...]) -> str:
    """The results table: accuracy per arm (mean ± std over seeds) and gains with 95% CIs."""
    def pct(v: Any) -> str:
        return "n/a" if v is None else f"{100 * v:.2f}"

    arms = [a for a in ARMS if any(f"augment/n{n}/{a}_acc_mean" in summary for n in per_class)]
    short = {"real+synthetic": "real+syn", "synthetic": "syn", "real+filtered": "real+filtered"}
    lines = ["| labels/class | seeds | " + " | ".join(arms) + " | "
             + " | ".join(f"gain {short[a]} (95% CI)" for a in arms[1:]) + " |",
             "|---|---|" + "---|" * (2 * len(arms) - 1)]
    for n in per_class:
        if f"augment/n{n}/seeds" not in summary:
            continue
        accs = [f"{pct(summary.get(f'augment/n{n}/{a}_acc_mean'))} ± {pct(summary.get(f'augment/n{n}/{a}_acc_std'))}"
                for a in arms]
        gains = []
        for arm in arms[1:]:
            lo, hi = summary.get(f"augment/n{n}/gain_{arm}_ci95", [None, None])
            gains.append(f"{pct(summary.get(f'augment/n{n}/gain_{arm}')):>5} [{pct(lo)}, {pct(hi)}]")
        lines.append(f"| {n} | {summary[f'augment/n{n}/seeds']} | " + " | ".join(accs + gains) + " |")
    kept = [f"N={n}: {100 * summary[f'augment/n{n}/synthetic_kept_mean']:.1f}%" for n in per_class
            if f"augment/n{n}/synthetic_kept_mean" in summary]
    note = f" Synthetic digits kept by the filter: {', '.join(kept)}." if kept else ""
    test_set = summary.get(DATA_TEST_SET) or "the test digits"
    return "\n".join(lines) + f"\n\nAccuracies and gains in % on {test_set}.{note}\n"


def run_augment(cfg: AugmentConfig) -> dict[str, Any]:
    """Run the experiment; writes runs/gan-augment-*/ (cells.json, summary.json, augment.md) and returns
    the summary dict plus ``run_dir`` and ``table`` (markdown)."""
    seed_everything(cfg.seed, cfg.threads)
    run = RunDir.create("gan", "augment", cfg, cfg.run_dir)
    with run:  # closes the tracker (--track) also when a cell fails
        cells = []
        for n in cfg.per_class:
            for s in range(cfg.seeds):
                cells.append(one_cell(cfg, run, n, cfg.seed + s))
                atomic_write_text(run.path / "cells.json", json.dumps(cells, indent=2) + "\n")
        summary = summarise(cells, cfg.per_class)
        test = dataset("mnist-5k")
        summary.update({DATA_TEST_SET: test.test_description, DATA_TEST_SIZE: len(test.test_y)})
        run.update_summary(summary)
        table = markdown(summary, cfg.per_class)
        atomic_write_text(run.path / "augment.md", table)
    return {**summary, "run_dir": str(run.path), "table": table}


def print_report(result: dict[str, Any]) -> None:
    print(result["table"])
    print(f"run directory: {result['run_dir']}")
