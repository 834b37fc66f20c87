"""``pilotlab gan video-train --model M | video-eval RUN_DIR | video-sample RUN_DIR``: video prediction.

    pilotlab gan video-train --model simvp --time-budget-s 1500     # Moving MNIST 10 -> 10, a run directory
    pilotlab gan video-eval runs/gan-video-simvp-... --sequences 10000   # all fixed test sequences
    pilotlab gan video-sample runs/gan-video-simvp-... --out pred.gif --samples 3
    pilotlab gan video-sample runs/... --input-video clip.gif --out pred.gif   # continue a user's clip
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilotlab.core.command import Command
from pilotlab.core.config import positional
from pilotlab.core.errors import PilotlabError
from pilotlab.data.moving_mnist import TEST_SEQUENCES
from pilotlab.gan import VIDEO_MODEL


def run_train(cfg: Any) -> int:
    from pilotlab.core.summary import VIDEO_COPY_LAST_MSE, VIDEO_MSE, VIDEO_MSE_VS_COPY, VIDEO_SSIM
    from pilotlab.gan.video_train import train

    run = train(cfg)
    s = run.summary()
    print(f"run directory: {run.path}")
    print(f"  per-frame MSE {s[VIDEO_MSE]:.2f} (copy-last-frame {s[VIDEO_COPY_LAST_MSE]:.2f}, "
          f"{s[VIDEO_MSE_VS_COPY]:.2f}x better), SSIM {s[VIDEO_SSIM]:.3f}")
    return 0


def load_run_model(run_dir: str) -> tuple[Any, Any, dict[str, Any]]:
    """A video run's predictor (eval mode), its config and its last checkpoint's metadata."""
    from pilotlab.core import registry
    from pilotlab.core.config import from_dict
    from pilotlab.core.run import RunDir
    from pilotlab.core.session import load_weights
    from pilotlab.gan.video_train import build_model

    run = RunDir.open(run_dir)
    saved = run.config()
    model = saved.get("config", {}).get("model")
    if saved.get("pillar") != "gan" or saved.get("method") != f"video-{model}" or \
            model not in registry.names(VIDEO_MODEL):
        raise PilotlabError(f"{run_dir} is not a video run of `pilotlab gan video-train` (pillar "
                            f"{saved.get('pillar')!r}, method {saved.get('method')!r})")
    cfg = from_dict(registry.config_class(VIDEO_MODEL, model), {**saved["config"], "resume": False})
    state, meta = load_weights(run, "last")
    net = build_model(cfg)
    try:
        net.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError, AttributeError) as e:
        raise PilotlabError(f"{run_dir}: checkpoints/last does not fit its config's model ({str(e)[:160]}); "
                            "it was damaged or written by another version") from None
    return net.eval(), cfg, meta


@dataclass(frozen=True, kw_only=True)
class VideoEvalConfig:
    run_dir: str = positional()
    """Run directory of a `pilotlab gan video-train`."""
    sequences: int | None = None
    """Test sequences to score (the first of the fixed 10,000); default: the run's eval-sequences."""
    fd_sequences: int | None = None
    """Test contexts scored as a generator (FD, consistency); default: the run's fd-sequences; 0 skips it."""
    threads: int = 1
    """torch intra-op threads."""

    def __post_init__(self) -> None:
        if self.sequences is not None and not 1 <= self.sequences <= TEST_SEQUENCES:
            raise PilotlabError(f"sequences must lie in [1, {TEST_SEQUENCES}], got {self.sequences}")
        if self.fd_sequences is not None and (self.fd_sequences == 1 or 2 * self.fd_sequences > TEST_SEQUENCES):
            raise PilotlabError(f"fd-sequences must be 0 or lie in [2, {TEST_SEQUENCES // 2}], got {self.fd_sequences}")
        if self.threads < 1:
            raise PilotlabError(f"threads must be >= 1, got {self.threads}")


def run_eval(cfg: VideoEvalConfig) -> int:
    import torch

    from pilotlab.core.run import RunDir
    from pilotlab.core.summary import (
        DATA_TEST_SET,
        VIDEO_COPY_LAST_MSE,
        VIDEO_FD,
        VIDEO_FD_FLOOR,
        VIDEO_MAE,
        VIDEO_MSE,
        VIDEO_SSIM,
        VIDEO_STEP,
    )
    from pilotlab.gan.video import video_data
    from pilotlab.gan.video_metrics import evaluate, generation_summary

    torch.set_num_threads(cfg.threads)
    model, rcfg, meta = load_run_model(cfg.run_dir)
    data = video_data(rcfg.dataset, rcfg.data_dir, rcfg.seed, rcfg.frames)
    n = cfg.sequences or rcfg.eval_sequences
    scores = evaluate(model, data.test, rcfg.context, n)
    scores[DATA_TEST_SET] = data.test_words(n)
    fd_n = rcfg.fd_sequences if cfg.fd_sequences is None else cfg.fd_sequences
    if fd_n:
        scores.update(generation_summary(model, rcfg, data, sequences=fd_n))
    with RunDir.open(cfg.run_dir) as run:
        run.update_summary({**scores, VIDEO_STEP: int(meta.get("step", 0))})
    fd = f", FD {scores[VIDEO_FD]:.3f} (floor {scores[VIDEO_FD_FLOOR]:.3f})" if fd_n else ""
    print(f"{cfg.run_dir} (step {meta.get('step')}), {n:,} test sequences: per-frame MSE {scores[VIDEO_MSE]:.2f}, "
          f"MAE {scores[VIDEO_MAE]:.2f}, SSIM {scores[VIDEO_SSIM]:.4f}; copy-last-frame MSE "
          f"{scores[VIDEO_COPY_LAST_MSE]:.2f} ({scores[VIDEO_COPY_LAST_MSE] / scores[VIDEO_MSE]:.2f}x){fd}")
    return 0


@dataclass(frozen=True, kw_only=True)
class VideoSampleConfig:
    run_dir: str = positional()
    """Run directory of a `pilotlab gan video-train`."""
    out: str = "prediction.gif"
    """Output animation (.gif; .mp4 where imageio has a video writer); its folder must exist."""
    input_video: str | None = None
    """A clip (animated GIF, or any video imageio reads here) whose first context frames are continued; default:
    test sequences of the run's fixed test set."""
    sequences: int = 4
    """Test sequences shown side by side (without --input-video)."""
    first: int = 0
    """Index of the first test sequence shown."""
    samples: int = 1
    """Futures drawn per context (z ~ N(0, I) for models with a latent), one row each under the true sequence."""
    seed: int = 0
    """Seed of the latents."""

    def __post_init__(self) -> None:
        from pilotlab.gan.video_io import check_video_out

        if not 1 <= self.sequences <= 64 or not 1 <= self.samples <= 16:
            raise PilotlabError(f"sequences must lie in [1, 64] and samples in [1, 16], got {self.sequences}, "
                                f"{self.samples}")
        if self.first + self.sequences > TEST_SEQUENCES:
            raise PilotlabError(f"first + sequences must be <= {TEST_SEQUENCES}, got {self.first + self.sequences}")
        if self.input_video is not None and not Path(self.input_video).is_file():
            raise PilotlabError(f"--input-video {self.input_video!r}: no such file")
        check_video_out(self.out)  # before the model is loaded and run


def run_sample(cfg: VideoSampleConfig) -> int:
    import torch

    from pilotlab.gan.video import video_data
    from pilotlab.gan.video_io import animation, prediction_gif, read_video, write_video
    from pilotlab.gan.video_metrics import predict, sample_latents

    model, rcfg, _ = load_run_model(cfg.run_dir)
    if cfg.input_video is None:
        data = video_data(rcfg.dataset, rcfg.data_dir, rcfg.seed, rcfg.frames)
        path = prediction_gif(model, rcfg.context, data.test, range(cfg.first, cfg.first + cfg.sequences),
                              Path(cfg.out), cfg.samples, cfg.seed)
    else:
        ctx = read_video(cfg.input_video, rcfg.context)[None]  # (1, Tc, 1, 64, 64)
        rows = []
        for k in range(cfg.samples):
            z = sample_latents(model, 1, cfg.seed + k)
            rows.append(torch.cat([ctx, predict(model, ctx, z)], 1))
        path = write_video(animation([torch.cat(rows)]), cfg.out)
    print(f"wrote {path}")
    return 0


COMMANDS = {
    "video-train": Command(None, run_train, "video prediction on Moving MNIST (simvp, convlstm): 10 -> 10 frames, "
                           "scored beside copy-last-frame; writes a run directory",
                           choices=VIDEO_MODEL, default="simvp"),
    "video-eval": Command(VideoEvalConfig, run_eval, "score a video run: per-frame MSE, MAE, SSIM vs copy-last-frame,"
                          " FD and consistency of sampled futures"),
    "video-sample": Command(VideoSampleConfig, run_sample, "write a GIF of predicted futures (test sequences or "
                            "--input-video)"),
}
