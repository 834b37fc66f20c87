"""``pilotlab gan train --model M | eval RUN_DIR | sample RUN_DIR | augment | inpaint train|eval|apply``.

`train` takes its fields from the chosen model's own config class (``--model wgan-gp`` shows the
critic's fields and the paper's defaults); model modules are imported only when chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pilotlab.core.command import Command, Group
from pilotlab.core.config import positional
from pilotlab.core.errors import PilotlabError
from pilotlab.gan import DEFAULT_MODEL, MODEL
from pilotlab.gan.video_cli import COMMANDS as VIDEO_COMMANDS


def run_train(cfg: object) -> int:
    from pilotlab.core import distributed
    from pilotlab.gan.train import train

    run = train(cfg)  # type: ignore[arg-type]
    if not distributed.is_main():
        return 0
    summary = run.summary()
    print(f"run directory: {run.path}")
    print("  " + "  ".join(f"{k}={v:.4g}" for k, v in summary.items() if isinstance(v, float)))
    return 0


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    run_dir: str = positional()
    """Run directory of a `pilotlab gan train`."""
    checkpoint: Literal["last", "best"] = "last"
    """Which checkpoint to score: last (the end of training) or best (lowest FD seen)."""
    samples: int | None = None
    """Generated images to score; default: the run's eval-samples (5,000 matches the floor)."""
    noise_seed: int | None = None
    """Seed of the latent noise (and labels) of the scored samples; default: the seed every evaluation
    during training uses (1234), so the defaults reproduce the run's own numbers. checkpoints/best is the lowest
    of many evaluations with that seed, hence biased low: score it with other seeds."""
    repeats: int = 1
    """Score on this many noise seeds (noise-seed, noise-seed + 1, ...) and report FD mean ± std."""
    threads: int = 1
    """torch intra-op threads."""

    def __post_init__(self) -> None:
        if self.samples is not None and self.samples < 2:
            raise PilotlabError(f"samples must be >= 2, got {self.samples}")
        if self.noise_seed is not None and self.noise_seed < 0:
            raise PilotlabError(f"noise-seed must be >= 0, got {self.noise_seed}")
        if self.repeats < 1:
            raise PilotlabError(f"repeats must be >= 1, got {self.repeats}")


def run_eval(cfg: EvalConfig) -> int:
    import torch

    from pilotlab.gan.metrics import EVAL_SEED
    from pilotlab.gan.pipeline import evaluate_run

    torch.set_num_threads(cfg.threads)
    seed = EVAL_SEED if cfg.noise_seed is None else cfg.noise_seed
    s = evaluate_run(cfg.run_dir, cfg.checkpoint, cfg.samples, seed, cfg.repeats)
    acc = s["eval/gan_test_acc"]
    if cfg.repeats > 1:
        seeds = f"noise seeds {seed}-{seed + cfg.repeats - 1}"
        fd = (f"FD {s['eval/fd']:.3f} ± {s['eval/fd_std']:.3f} (mean ± std over {cfg.repeats} {seeds}: "
              f"{', '.join(f'{v:.2f}' for v in s['eval/fd_per_seed'])})")
    else:
        fd = f"FD {s['eval/fd']:.3f} (noise seed {seed})"
    mean = "mean " if cfg.repeats > 1 else ""
    head = (f"{cfg.run_dir} ({cfg.checkpoint}, step {int(s['eval/step'])}): {fd} "
            f"(real-vs-real floor {s['eval/fd_floor']:.3f}, ratio {s['eval/fd'] / s['eval/fd_floor']:.2f})")
    if s.get("eval/metric") == "ssl":
        print(f"{head} on the data set's VICReg features, {mean}KID {s['eval/kid']:.4f} (floor "
              f"{s['eval/kid_floor']:.4f}), {mean}precision {s['eval/precision']:.3f} (floor "
              f"{s['eval/precision_floor']:.3f}), {mean}recall {s['eval/recall']:.3f} "
              f"(floor {s['eval/recall_floor']:.3f})")
        return 0
    print(f"{head}, {mean}GAN-test {'n/a (unconditional)' if acc is None else f'{acc:.4f}'}, "
          f"{mean}coverage entropy {s['eval/coverage_entropy']:.4f} (max ln 10 = 2.3026)")
    return 0


@dataclass(frozen=True, kw_only=True)
class SampleConfig:
    run_dir: str = positional()
    """Run directory of a `pilotlab gan train`."""
    n: int = 64
    """Number of images in the grid."""
    out: str = "grid.png"
    """Output image path (.png, or .jpg, .bmp, .gif, .webp, .tif); its folder must exist."""
    seed: int = 0
    """Seed of the latent noise."""
    label: int | None = None
    """Draw only this class (conditional models); default: one column per class."""
    checkpoint: Literal["last", "best"] = "last"
    """Which checkpoint's generator to sample."""

    def __post_init__(self) -> None:
        if self.n < 1:
            raise PilotlabError(f"n must be >= 1, got {self.n}")
        from pilotlab.report.figures import check_output_file

        check_output_file(self.out, "--out")  # before the generator is loaded and run


def run_sample(cfg: SampleConfig) -> int:
    from pilotlab.gan.pipeline import sample_run

    path = sample_run(cfg.run_dir, cfg.n, cfg.out, cfg.seed, cfg.label, cfg.checkpoint)
    print(f"wrote {path}")
    return 0


def run_augment(cfg: object) -> int:
    from pilotlab.gan.augment import print_report, run_augment

    print_report(run_augment(cfg))  # type: ignore[arg-type]
    return 0


def run_inpaint_train(cfg: object) -> int:
    from pilotlab.gan.inpaint import train
    from pilotlab.gan.inpaint_run import print_table

    run = train(cfg)  # type: ignore[arg-type]
    print(f"run directory: {run.path}")
    print_table(run.summary())
    return 0


def run_inpaint_eval(cfg: object) -> int:
    from pilotlab.gan.inpaint_run import evaluate_run, print_table

    print_table(evaluate_run(cfg))  # type: ignore[arg-type]
    return 0


def run_inpaint_apply(cfg: object) -> int:
    from pilotlab.gan.inpaint_run import apply_file

    print(f"wrote {apply_file(cfg)}")  # type: ignore[arg-type]
    return 0


INPAINT = Group("inpainting: fill centre, box or free-form holes (gated convolutions, L2 or L1 + adversarial loss)", {
    "train": Command("pilotlab.gan.inpaint:InpaintConfig", run_inpaint_train, "train an inpainting network and "
                     "score it against mean fill, nearest patch and an L2-only network; writes a run directory"),
    "eval": Command("pilotlab.gan.inpaint_run:InpaintEvalConfig", run_inpaint_eval, "score a run and the "
                    "baselines on the test images: PSNR, L1, FD and classifier accuracy of the completed images"),
    "apply": Command("pilotlab.gan.inpaint_run:InpaintApplyConfig", run_inpaint_apply, "restore the masked "
                     "pixels of your image file (PNG, PGM, .npy) with a trained run"),
})

COMMANDS = {
    "train": Command(None, run_train, "train a GAN (mlp-gan, dcgan, wgan-gp, cgan, sn-resnet) on any image "
                     "set; writes a run directory",
                     choices=MODEL, default=DEFAULT_MODEL),
    "eval": Command(EvalConfig, run_eval, "score a run: FD and its real-vs-real floor, GAN-test and coverage "
                    "(digits) or KID and precision/recall"),
    "sample": Command(SampleConfig, run_sample, "write a PNG grid of samples from a trained run"),
    "augment": Command("pilotlab.gan.augment:AugmentConfig", run_augment, "does cGAN data augmentation help a "
                       "classifier with 10 or 100 labels per class? real vs real+synthetic vs synthetic"),
    "inpaint": INPAINT,
}
COMMANDS.update(VIDEO_COMMANDS)
