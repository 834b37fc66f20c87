"""The training loop of every video model in the ``gan.video-model`` registry.

Each step draws the next `batch_size` sequences of the run's endless Moving MNIST stream (sequence ids
k * B ... (k + 1) * B - 1 at step k, so a resumed run sees the same data), predicts the future frames from
the context frames and minimises the mean squared error; with ``--latent vae`` plus the KL term of the
posterior's z, with ``--adv-weight`` plus a hinge adversarial loss from a discriminator that sees the whole
sequence (context and future frames stacked along channels, spectral norm on every layer).

Every `eval_every` steps (and at the end) the model and copy-last-frame are scored on the first
`eval_sequences` fixed test sequences; the evaluation rows carry the training CPU and wall time so far
(evaluations excluded), which gives the MSE-vs-CPU-time curve (figures/mse_vs_time.png). At the end the
model is also scored as a generator (`pilotlab.gan.video_metrics.generation_scores`) and a GIF of test
predictions is written.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pilotlab.core import registry
from pilotlab.core.errors import check_finite
from pilotlab.core.progress import Progress
from pilotlab.core.run import RunDir
from pilotlab.core.session import check_run_dir, restore, save_state, setup
from pilotlab.core.summary import (
    DATA_TEST_SET,
    TRAIN_CPU_S,
    TRAIN_STEPS,
    TRAIN_WALL_S,
    VIDEO_COPY_LAST_MSE,
    VIDEO_MSE,
    VIDEO_PARAMETERS,
    VIDEO_SEQUENCES_PER_S,
    VIDEO_TRAIN_CPU_S,
    VIDEO_TRAIN_WALL_S,
)
from pilotlab.gan import VIDEO_MODEL
from pilotlab.gan.modules import add_spectral_norm
from pilotlab.gan.video import VideoConfig, VideoData, video_data
from pilotlab.gan.video_io import prediction_gif
from pilotlab.gan.video_metrics import evaluate, generation_summary


class Posterior(nn.Module):
    """q(z | whole sequence): frames stacked along channels (B, T, 64, 64) -> mean and log-variance (B, z_dim)."""

    def __init__(self, frames: int, z_dim: int, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(frames, width, 4, 2, 1), nn.SiLU(),  # 32x32
            nn.Conv2d(width, width, 4, 2, 1), nn.SiLU(),  # 16x16
            nn.Conv2d(width, width, 4, 2, 1), nn.SiLU(),  # 8x8
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 2 * z_dim),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(x.flatten(1, 2)).chunk(2, 1)
        return mu, logvar.clamp(-10, 10)


class SequenceDiscriminator(nn.Module):
    """A whole sequence (B, T, 1, 64, 64), frames stacked along channels -> a realness score (B,)."""

    def __init__(self, frames: int, width: int = 32):
        super().__init__()
        self.net = add_spectral_norm(nn.Sequential(
            nn.Conv2d(frames, width, 4, 2, 1), nn.LeakyReLU(0.2),  # 32x32
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),  # 16x16
            nn.Conv2d(2 * width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),  # 8x8
            nn.Conv2d(2 * width, 1, 8),  # 1x1
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1, 2)).flatten()


def build_model(cfg: VideoConfig) -> nn.Module:
    """The predictor `cfg.model` names, freshly initialised."""
    return registry.implementation(VIDEO_MODEL, cfg.model).build(cfg)


def train(cfg: VideoConfig) -> RunDir:
    """Train the video model `cfg.model`; returns its run directory (summary.json holds the scores)."""
    check_run_dir(cfg, "gan", f"video-{cfg.model}")
    data = video_data(cfg.dataset, cfg.data_dir, cfg.seed, cfg.frames)  # refuses unusable data before any write
    run, device = setup(cfg, "gan", f"video-{cfg.model}")
    with run:
        fit(cfg, run, device, data)
    return run


def fit(cfg: VideoConfig, run: RunDir, device: torch.device, data: VideoData) -> None:
    model = build_model(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    targets: dict[str, Any] = {"model": model, "opt": opt}
    posterior = Posterior(cfg.frames, cfg.z_dim).to(device) if cfg.latent == "vae" else None
    if posterior is not None:
        opt.add_param_group({"params": list(posterior.parameters())})
        targets["posterior"] = posterior
    disc = opt_d = None
    if cfg.adv_weight > 0:
        disc = SequenceDiscriminator(cfg.frames).to(device)
        opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr_d, betas=(0.5, 0.999))
        targets.update(disc=disc, opt_d=opt_d)
    start = restore(run, cfg, targets, {"cpu_s": (int, float)})
    step, wall, cpu = start.step, start.wall_s, float(start.meta.get("cpu_s", 0.0))
    total = cfg.max_steps
    recurrent = cfg.model == "convlstm"

    def state() -> dict[str, Any]:
        return {k: v.state_dict() for k, v in targets.items()}

    def evaluate_now(at: int, train_wall: float, train_cpu: float) -> dict[str, Any]:
        scores = evaluate(model, data.test, cfg.context, cfg.eval_sequences, device)
        run.log(at, {**{k: v for k, v in scores.items() if isinstance(v, float) and math.isfinite(v)},
                     VIDEO_TRAIN_CPU_S: train_cpu, VIDEO_TRAIN_WALL_S: train_wall})
        return scores

    progress = run.own(Progress(total, f"gan video {cfg.model}", initial=step, enabled=run.writable))
    window: dict[str, list[float]] = {}
    scores: dict[str, Any] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    while step < total:
        if cfg.lr_schedule == "cosine":  # a function of the step alone, so a resumed run follows the same schedule
            opt.param_groups[0]["lr"] = cfg.lr * 0.5 * (1.0 + math.cos(math.pi * step / total))
        x = data.train.batch(range(step * cfg.batch_size, (step + 1) * cfg.batch_size)).to(device)  # (B, T, 1, H, W)
        ctx, true = x[:, :cfg.context], x[:, cfg.context:]
        z, kl = None, None
        if posterior is not None:
            mu, logvar = posterior(x)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1).mean()  # nats per sequence
        elif cfg.latent == "noise":
            z = torch.randn(len(x), cfg.z_dim, device=device)
        if recurrent:
            ss = model.training and cfg.scheduled_sampling_steps > 0  # type: ignore[attr-defined]
            teacher = max(0.0, 1.0 - step / cfg.scheduled_sampling_steps) if ss else 0.0  # type: ignore[attr-defined]
            pred = model(ctx, z, true, teacher)
        else:
            pred = model(ctx, z)
        mse = F.mse_loss(pred, true)
        loss = mse
        values = {"train/mse": mse.item() * x.shape[-1] * x.shape[-2]}  # per frame, summed over pixels
        if kl is not None:
            loss = loss + cfg.kl_weight * kl / true[0].numel()
            values["train/kl"] = kl.item()
        if disc is not None and opt_d is not None:
            real_out = disc(x)
            fake_out = disc(torch.cat([ctx, pred.detach()], 1))
            d_loss = F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            disc.requires_grad_(False)
            g_adv = -disc(torch.cat([ctx, pred], 1)).mean()
            disc.requires_grad_(True)
            loss = loss + cfg.adv_weight * g_adv
            values.update({"train/d_loss": d_loss.item(), "train/g_adv": g_adv.item()})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        for k, v in values.items():
            check_finite(v, k, step)
            window.setdefault(k, []).append(v)
        progress.update(1)
        if step % cfg.log_every == 0 or step == total:
            metrics = {k: sum(v) / len(v) for k, v in window.items()}
            window.clear()
            run.log(step, {**metrics, "train/lr": opt.param_groups[0]["lr"]})
            progress.update(0, mse=metrics["train/mse"])
        elapsed, elapsed_cpu = wall + time.perf_counter() - t0, cpu + time.process_time() - c0
        used = elapsed_cpu if cfg.budget_clock == "cpu" else elapsed
        out_of_time = cfg.time_budget_s is not None and used >= cfg.time_budget_s
        if step % cfg.eval_every == 0 or step == total or out_of_time:
            t_eval, c_eval = time.perf_counter(), time.process_time()
            scores = evaluate_now(step, elapsed, elapsed_cpu)
            t0 += time.perf_counter() - t_eval  # evaluation time is not training time
            c0 += time.process_time() - c_eval
        if step % cfg.checkpoint_every == 0 or step == total or out_of_time:
            save_state(run, step, state(), {"wall_s": wall + time.perf_counter() - t0,
                                            "cpu_s": cpu + time.process_time() - c0})
        if out_of_time:
            break
    progress.close()
    wall += time.perf_counter() - t0
    cpu += time.process_time() - c0
    if not scores:  # resumed at the end: nothing trained, evaluate what is there
        scores = evaluate_now(step, wall, cpu)
    summary = {**scores, DATA_TEST_SET: data.test_words(cfg.eval_sequences), TRAIN_WALL_S: wall, TRAIN_CPU_S: cpu,
               TRAIN_STEPS: step, VIDEO_PARAMETERS: sum(p.numel() for p in model.parameters()),
               VIDEO_SEQUENCES_PER_S: step * cfg.batch_size / wall if wall > 0 else 0.0}
    if cfg.fd_sequences:
        summary.update(generation_summary(model, cfg, data, device))
    run.update_summary(summary)
    finish_figures(run, model, cfg, data)
    print(f"eval/mse {scores[VIDEO_MSE]:.2f} vs copy-last {scores[VIDEO_COPY_LAST_MSE]:.2f}", flush=True)


def finish_figures(run: RunDir, model: nn.Module, cfg: VideoConfig, data: VideoData) -> None:
    """The MSE-vs-time curve and a GIF of predictions on the first test sequences."""
    from pilotlab.report.figures import save_line_plot

    rows = [r for r in run.metrics() if VIDEO_MSE in r and VIDEO_TRAIN_CPU_S in r]
    if rows:
        clock = VIDEO_TRAIN_CPU_S if cfg.budget_clock == "cpu" else VIDEO_TRAIN_WALL_S
        save_line_plot({cfg.model: ([r[clock] / 60 for r in rows], [r[VIDEO_MSE] for r in rows])},
                       run.figure("mse_vs_time.png"), title="Moving MNIST: test MSE per frame",
                       xlabel=f"training {cfg.budget_clock} time [min]", ylabel="MSE per frame",
                       hlines={"copy last frame": rows[-1][VIDEO_COPY_LAST_MSE]})
    prediction_gif(model, cfg.context, data.test, range(4), run.figure("predictions.gif"),
                   samples=2 if cfg.latent != "none" else 1)
