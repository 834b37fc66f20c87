"""The adversarial training loop shared by every model in the ``gan.model`` registry.

Each step: `n_critic` discriminator updates, each on a fresh real batch and a fresh generated batch
(G's output detached), then one generator update through a frozen D; then the generator EMA.
With `diffaugment` set, every image D sees (real or generated, in D's and in G's update) first goes
through the same random differentiable transforms (`pilotlab.gan.diffaugment`).
Conditional models generate the discriminator's fakes with the real batch's labels and the
generator's with uniformly drawn labels. The objective ("ns" or "wgan-gp") comes from the model
file's `build`; the losses are pure functions in `pilotlab.gan.losses`. The logit models' D can add the
LeCam regulariser (`lecam`, its two moving averages checkpointed) and the R1 penalty (`r1_gamma`).

Run directory: metrics.jsonl (train/d_loss, train/g_loss, ..., eval/fd, ...), checkpoints/last and
checkpoints/best (lowest FD), figures/ (sample grids per evaluation, their GIF, loss and FD curves,
a latent interpolation strip), summary.json. Under torchrun each rank trains on its shard of every
batch and gradients are averaged (`pilotlab.gan.modules.sync_gradients`); rank 0 evaluates and writes.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, NamedTuple

import torch

from pilotlab.core import distributed, registry
from pilotlab.core.errors import PilotlabError, check_finite
from pilotlab.core.progress import Progress
from pilotlab.core.run import RunDir
from pilotlab.core.session import BatchSchedule, check_run_dir, restore, save_state, setup
from pilotlab.core.summary import (
    DATA_TEST_SET,
    DATA_TEST_SIZE,
    GAN_BEST_FD,
    GAN_IMAGES_PER_S,
    GAN_METRIC,
    GAN_TIME_TO_FD_TARGET_S,
    TRAIN_CPU_S,
    TRAIN_STEPS,
    TRAIN_WALL_S,
)
from pilotlab.data.registry import ImageDataset, per_class_subset
from pilotlab.gan import MODEL, figures, losses
from pilotlab.gan.config import GANConfig, GANModel
from pilotlab.gan.diffaugment import diff_augment, parse_policy
from pilotlab.gan.images import gan_dataset, make_evaluator, resolve
from pilotlab.gan.metrics import EVAL_SEED, BestTracker
from pilotlab.gan.modules import EMA, broadcast_parameters, sync_gradients


class DiscriminatorStep(NamedTuple):
    """What `discriminator_loss` returns."""

    loss: torch.Tensor
    """D's loss including its regularisers (scalar)"""
    stats: dict[str, float]
    """train/* values to log"""
    anchors: tuple[float, float] | None
    """The updated LeCam moving averages (alpha_R, alpha_F); None when LeCam is off."""


def discriminator_loss(gan: GANModel, cfg: GANConfig, real: torch.Tensor, fake: torch.Tensor,
                       y: torch.Tensor | None, policy: tuple[str, ...] = (),
                       anchors: tuple[float, float] | None = None) -> DiscriminatorStep:
    """The discriminator's loss on one real and one fake batch (same labels `y` if conditional).

    With a DiffAugment `policy` (`parse_policy(cfg.diffaugment)`, parsed once by the caller) both
    batches are augmented (independent draws) before D sees them. With `cfg.lecam` > 0 the LeCam term
    anchors to `anchors` (the moving averages so far; None on the first step) and the returned anchors
    include this batch; with `cfg.r1_gamma` > 0 the R1 penalty is taken w.r.t. the un-augmented real batch.
    """
    d = gan.discriminator
    if cfg.r1_gamma:
        real = real.detach().requires_grad_(True)
    real_in, fake_in = (diff_augment(real, policy), diff_augment(fake, policy)) if policy else (real, fake)
    real_out, fake_out = d(real_in, y), d(fake_in, y)  # (B,), (B,): separate batches, as in DCGAN
    if gan.objective != "ns":
        gp = losses.gradient_penalty(lambda x: d(x, y), real_in, fake_in)
        loss = losses.d_loss_wgan(real_out, fake_out) + cfg.gp_lambda * gp  # type: ignore[attr-defined]
        return DiscriminatorStep(loss, {"train/wasserstein": (real_out.mean() - fake_out.mean()).item(),
                                        "train/gp": gp.item()}, None)
    loss = (losses.d_loss_hinge(real_out, fake_out) if cfg.loss == "hinge"
            else losses.d_loss_nonsaturating(real_out, fake_out, cfg.label_smoothing))
    stats = {"train/d_real": torch.sigmoid(real_out).mean().item(),
             "train/d_fake": torch.sigmoid(fake_out).mean().item()}
    if cfg.lecam:
        anchors = losses.lecam_anchors(anchors, real_out, fake_out, cfg.lecam_decay)
        lecam = losses.lecam_penalty(real_out, fake_out, *anchors)
        loss = loss + cfg.lecam * lecam
        stats["train/lecam"] = lecam.item()
    if cfg.r1_gamma:
        r1 = losses.r1_penalty(real, real_out)
        loss = loss + 0.5 * cfg.r1_gamma * r1
        stats["train/r1"] = r1.item()
    return DiscriminatorStep(loss, stats, anchors if cfg.lecam else None)


def generator_loss(gan: GANModel, cfg: GANConfig, fake_out: torch.Tensor) -> torch.Tensor:
    if gan.objective != "ns":
        return losses.g_loss_wgan(fake_out)
    return losses.g_loss_hinge(fake_out) if cfg.loss == "hinge" else losses.g_loss_nonsaturating(fake_out)


def train(cfg: GANConfig) -> RunDir:
    """Train the GAN named by `cfg.model`; returns its run directory (summary.json holds the scores).

    config.json records `conditional` and `metric` as decided for the data ("on"/"off", "classifier"/"ssl")."""
    if not cfg.resume:  # (a resumed run's target is checked against the config as resolved for its data, below)
        check_run_dir(cfg, "gan", cfg.model)
    data = training_data(cfg)  # refuses unusable data before the run directory exists
    cfg = resolve(cfg, data[0])
    run, device = setup(cfg, "gan", cfg.model)
    with run:  # also on NaN/Inf or Ctrl-C: flush metrics and TensorBoard, keep the checkpoints
        fit(cfg, run, device, data)
    distributed.barrier()
    return run


TrainingData = tuple[ImageDataset, torch.Tensor, torch.Tensor]


def training_data(cfg: GANConfig) -> TrainingData:
    """The data set at the GAN's resolution and channels (`gan_dataset`, checked by `load_dataset`) and the
    training images (N, C, H, W) in [-1, 1] and labels (N,), after `train_per_class`; refuses too few images
    for one batch."""
    ds = gan_dataset(cfg)
    where = f"--data-dir {cfg.data_dir!r} ({cfg.dataset})" if cfg.data_dir is not None else f"--dataset {cfg.dataset}"
    x_train, y_train = ds.train_x * 2 - 1, ds.train_y  # (N, C, H, W) in [-1, 1], the range of G's tanh
    if cfg.train_per_class is not None:
        keep = per_class_subset(y_train, cfg.train_per_class, cfg.seed)
        x_train, y_train = x_train[keep], y_train[keep]
    if len(x_train) < cfg.batch_size:
        raise PilotlabError(f"{where}: {len(x_train)} training images"
                            f"{' after --train-per-class' if cfg.train_per_class is not None else ''}, fewer than "
                            f"one batch (--batch-size {cfg.batch_size}); lower --batch-size or add images")
    return ds, x_train, y_train


def fit(cfg: GANConfig, run: RunDir, device: torch.device, data: TrainingData | None = None) -> None:
    """The training loop proper (see the module docstring), writing into `run`; `data` is `training_data(cfg)`."""
    ds, x_train, y_train = data if data is not None else training_data(cfg)
    cfg = resolve(cfg, ds)
    gan = registry.implementation(MODEL, cfg.model).build(cfg, ds.shape, ds.num_classes)
    # channels-last (NHWC) conv weights and batches: ~1.3x faster steps at width 16 on one CPU thread
    g_net = gan.generator.to(device, memory_format=torch.channels_last)
    d_net = gan.discriminator.to(device, memory_format=torch.channels_last)
    gan = GANModel(g_net, d_net, gan.objective, gan.conditional)
    opt_g = torch.optim.Adam(g_net.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(d_net.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    ema = EMA(g_net, cfg.ema_decay, cfg.ema_start) if cfg.ema_decay > 0 else None
    evaluator = make_evaluator(cfg, ds) if run.writable else None
    targets: dict[str, Any] = {"generator": g_net, "discriminator": d_net, "opt_g": opt_g, "opt_d": opt_d}
    if ema is not None:
        targets["ema"] = ema
    start = restore(run, cfg, targets, {"best_fd": (int, float)})
    step, wall = start.step, start.wall_s  # training wall and CPU time [s], evaluations excluded
    cpu, fd_hit_s = float(start.meta.get("cpu_s", 0.0)), start.meta.get("fd_hit_s")
    best = BestTracker(float(start.meta.get("best_fd", math.inf)))
    anchors: tuple[float, float] | None = None  # LeCam's moving averages of D's real and fake outputs
    if "lecam_anchors" in start.state:
        anchors = (float(start.state["lecam_anchors"][0]), float(start.state["lecam_anchors"][1]))
    broadcast_parameters(g_net)
    broadcast_parameters(d_net)

    batches = BatchSchedule(len(x_train), cfg.batch_size, cfg.seed)
    per_rank = batches.per_rank
    total = batches.total_steps(cfg.epochs, cfg.max_steps, batches_per_step=cfg.n_critic)
    policy = parse_policy(cfg.diffaugment)  # () = no augmentation: diff_augment returns its input

    def real_batch(k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The k-th real batch of the run (this rank's share) and its labels."""
        idx = batches.indices(k)
        real = x_train[idx].to(device).contiguous(memory_format=torch.channels_last)  # (B, C, H, W)
        return real, y_train[idx].to(device)  # labels (B,)

    def state() -> dict[str, Any]:
        out: dict[str, Any] = {"generator": g_net.state_dict(), "discriminator": d_net.state_dict(),
                               "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict()}
        if ema is not None:
            out["ema"] = ema.state_dict()
        if anchors is not None:
            out["lecam_anchors"] = torch.tensor(anchors, dtype=torch.float64)
        return out

    def evaluate(at: int, train_wall: float, train_cpu: float) -> dict[str, float]:
        nonlocal fd_hit_s
        if evaluator is None:
            return {}
        g_eval = ema.model if ema is not None else g_net
        scores = evaluator.score(g_eval, cfg.z_dim, gan.conditional, cfg.eval_samples, EVAL_SEED, device)
        if fd_hit_s is None and scores["eval/fd"] <= cfg.fd_target_ratio * scores["eval/fd_floor"]:
            fd_hit_s = train_wall
        run.log(at, {**{k: v for k, v in scores.items() if math.isfinite(v)}, "eval/train_wall_s": train_wall,
                     "eval/train_cpu_s": train_cpu})
        figures.save_samples(run, g_eval, cfg.z_dim, gan.conditional, at, device)
        if best.update(scores["eval/fd"]):
            save_state(run, at, state(), {"wall_s": train_wall, "cpu_s": train_cpu, "best_fd": best.best,
                                          "fd": scores["eval/fd"]},
                       name="best")
        return scores

    def save_last(at: int, train_wall: float, train_cpu: float) -> None:
        save_state(run, at, state(), {"wall_s": train_wall, "cpu_s": train_cpu, "best_fd": best.best,
                                      "fd_hit_s": fd_hit_s})

    progress = run.own(Progress(total, f"gan {cfg.model}", initial=step, enabled=run.writable))
    window: dict[str, list[float]] = {}
    collapse_warnings, scores = 0, {}
    t0, c0 = time.perf_counter(), time.process_time()
    while step < total:
        if cfg.lr_decay:  # a function of the step alone, so a resumed run follows the same schedule
            for opt, base in ((opt_g, cfg.lr_g), (opt_d, cfg.lr_d)):
                for group in opt.param_groups:
                    group["lr"] = base * (1.0 - step / total)
        for i in range(cfg.n_critic):  # ---- discriminator / critic updates
            real, y_real = real_batch(step * cfg.n_critic + i)
            y = y_real if gan.conditional else None
            with torch.no_grad():
                fake = g_net(torch.randn(len(real), cfg.z_dim, device=device), y)  # (B, C, H, W)
            d_loss, d_stats, anchors = discriminator_loss(gan, cfg, real, fake, y, policy, anchors)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            sync_gradients(d_net)
            opt_d.step()
        z = torch.randn(per_rank, cfg.z_dim, device=device)  # ---- generator update through a frozen D
        y_gen = torch.randint(0, ds.num_classes, (per_rank,), device=device) if gan.conditional else None
        d_net.requires_grad_(False)
        g_loss = generator_loss(gan, cfg, d_net(diff_augment(g_net(z, y_gen), policy), y_gen))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        sync_gradients(g_net)
        opt_g.step()
        d_net.requires_grad_(True)
        if ema is not None:
            ema.update(g_net)
        step += 1
        values = {"train/d_loss": d_loss.item(), "train/g_loss": g_loss.item(), **d_stats}
        for k, v in values.items():
            check_finite(v, k, step)
            window.setdefault(k, []).append(v)
        progress.update(1)
        if step % cfg.log_every == 0 or step == total:
            metrics = distributed.all_reduce_mean({k: sum(v) / len(v) for k, v in window.items()})
            window.clear()
            metrics["train/epoch"] = step * cfg.n_critic / batches.per_epoch
            run.log(step, metrics)
            progress.update(0, d_loss=metrics["train/d_loss"], g_loss=metrics["train/g_loss"])
            saturating = gan.objective == "ns" and cfg.loss == "ns"  # the hinge G still gets gradients
            if saturating and losses.collapsed(metrics["train/d_loss"]) and run.writable:
                collapse_warnings += 1
                if collapse_warnings == 1 or collapse_warnings % 10 == 0:
                    print(f"warning: discriminator loss {metrics['train/d_loss']:.2e} at step {step}: D separates "
                          "real from fake perfectly and G gets no gradient; try --label-smoothing 0.1, "
                          "--spectral-norm or a lower --lr-d", file=sys.stderr, flush=True)
        elapsed, elapsed_cpu = wall + time.perf_counter() - t0, cpu + time.process_time() - c0
        used = elapsed_cpu if cfg.budget_clock == "cpu" else elapsed
        out_of_time = cfg.time_budget_s is not None and used >= cfg.time_budget_s
        out_of_time = bool(distributed.broadcast_object(out_of_time))
        checkpoint_due = step % cfg.checkpoint_every == 0 or step == total or out_of_time
        if step % cfg.eval_every == 0 or step == total or out_of_time:
            t_eval, c_eval = time.perf_counter(), time.process_time()
            try:
                scores = evaluate(step, elapsed, elapsed_cpu)
            except Exception:  # the training since the last checkpoint is kept; the failure is still raised
                if checkpoint_due:
                    save_last(step, wall + t_eval - t0, cpu + c_eval - c0)
                raise
            t0 += time.perf_counter() - t_eval  # evaluation time is not training time
            c0 += time.process_time() - c_eval
            distributed.barrier()
        if checkpoint_due:
            save_last(step, wall + time.perf_counter() - t0, cpu + time.process_time() - c0)
        if out_of_time:
            break
    progress.close()
    wall += time.perf_counter() - t0
    cpu += time.process_time() - c0
    if evaluator is not None:
        if not scores:  # resumed at the end: nothing trained, evaluate what is there
            scores = evaluate(step, wall, cpu)
        images = step * cfg.n_critic * cfg.batch_size
        run.update_summary({
            **{k: v if math.isfinite(v) else None for k, v in scores.items()},  # NaN: undefined for this run
            TRAIN_WALL_S: wall,
            TRAIN_CPU_S: cpu,
            GAN_IMAGES_PER_S: images / wall if wall > 0 else 0.0,
            TRAIN_STEPS: step,
            GAN_BEST_FD: best.best,
            GAN_TIME_TO_FD_TARGET_S: fd_hit_s,
            GAN_METRIC: cfg.metric,
            DATA_TEST_SET: ds.test_description,
            DATA_TEST_SIZE: len(ds.test_y),
        })
        if cfg.final_figures:
            figures.finish(run, ema.model if ema is not None else g_net, cfg.z_dim, gan.conditional, device,
                           cfg.fd_target_ratio)
