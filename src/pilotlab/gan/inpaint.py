"""Image inpainting: a gated-convolution network fills the missing pixels, trained with L2 (or L1) + adversarial loss.

The context encoder recipe (Pathak et al., 2016: reconstruction + adversarial loss) with the gated convolutions
of free-form inpainting (Yu et al., 2019), sized for 28x28 images on a CPU:

- Generator: input = the image with its hole zeroed, the mask and a plane of ones (so zero padding at the
  border is told apart from a hole), 3 gated conv layers down to 1/4 resolution, 3 dilated gated convs
  (dilation 1, 2, 4: the receptive field covers the whole 7x7 map of a 28x28 image), nearest upsampling
  with gated convs back up, a linear output (no tanh, see `InpaintNet.forward`). A gated conv outputs
  act(conv_f(x)) * sigmoid(conv_g(x)): the gate learns, per pixel and channel, how much of a feature to pass,
  which a plain conv cannot do for a hole of any shape. Only the hole of its output is used:
  completed = x (1 - m) + G(x, m) m.
- Discriminator: a spectral-normalised PatchGAN (as Yu et al.'s SN-PatchGAN) on (image, mask); real images and
  completed ones are shown with the same mask, so everything it can tell apart lies in the hole.
- Loss of G: the mean squared (`recon` l2, the default) or absolute (l1) error over the hole pixels + adv-weight x
  hinge loss; D: hinge loss. L1 on a digit's hole, mostly background, learns its per-pixel median first: black.
- The L2 baseline: with `l2_baseline` an identical network is trained beside it on the same batches and
  masks with the mean squared error over the hole alone, the context encoder without its adversary,
  so the table compares the losses, not two training runs.

Masks (`pilotlab.gan.masks`): centre, random box or free-form; a training step's masks depend on
(seed, step) only, so `--resume` continues exactly. Evaluation and baselines are in
`pilotlab.gan.inpaint_eval`, a finished run's `inpaint eval` and `inpaint apply` in `pilotlab.gan.inpaint_run`.

Run directory: metrics.jsonl (losses/*, train/*, eval/* and baseline/l2_only/* on a test subset),
checkpoints/last, figures/completions.png (and one per evaluation), summary.json with the full table
(`pilotlab.core.summary.inpaint_key`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError, check_finite
from pilotlab.core.progress import Progress
from pilotlab.core.run import RunDir
from pilotlab.core.session import BatchSchedule, check_run_dir, restore, save_state, setup
from pilotlab.core.summary import TRAIN_CPU_S, TRAIN_STEPS, TRAIN_WALL_S
from pilotlab.data import DATASETS
from pilotlab.data.registry import ImageDataset
from pilotlab.data.registry import cached_dataset as dataset
from pilotlab.gan import masks
from pilotlab.gan.losses import d_loss_hinge, g_loss_hinge
from pilotlab.gan.modules import add_spectral_norm


@dataclass(frozen=True, kw_only=True)
class InpaintConfig(RunConfig):
    dataset: str = "mnist-5k"
    """Training images (see `pilotlab data list`); height and width must be multiples of 4. `folder` reads
    --data-dir/*.png (no labels needed) or --data-dir/<class>/*.png at 32x32 RGB. FD and classifier accuracy need
    28x28 grey ten-class images (the MNIST family); other sets get PSNR and L1 only."""
    data_dir: str | None = None
    """Folder holding the dataset's files (required for `folder`)."""
    mask: Literal["centre", "box", "free-form"] = "centre"
    """Masks to train and evaluate on: centre (a square in the middle), box (a square anywhere) or free-form
    (random brush strokes)."""
    mask_size: int = 14
    """Side [px] of the centre or box hole (14: a quarter of a 28x28 image); free-form ignores it."""
    width: int = 16
    """Channels of the generator's first layer (then 2x, 4x); the discriminator has 2x this."""
    recon: Literal["l1", "l2"] = "l2"
    """Reconstruction loss of the network on the hole: l2 (mean squared error, as the context encoder; the measured
    winner, docs/gan.md) or l1 (mean absolute error, as Yu et al.); the adversarial term is added to it."""
    adv_weight: float = 0.05
    """Weight of the adversarial term in the generator's loss (0: the L1 network alone)."""
    l2_baseline: bool = True
    """Also train the same network with the L2 loss alone, beside it on the same batches (the baseline)."""
    epochs: int = 20
    """Passes over the training images."""
    batch_size: int = 64
    """Images per update."""
    lr_g: float = 1e-3
    """Adam learning rate of the generator (and of the L2 network)."""
    lr_d: float = 2e-4
    """Adam learning rate of the discriminator."""
    beta1: float = 0.5
    """Adam beta1 of every optimizer."""
    beta2: float = 0.999
    """Adam beta2 of every optimizer."""
    max_steps: int | None = None
    """Stop after this many steps; default: from epochs."""
    time_budget_s: float | None = None
    """Stop training after this many seconds of training time [s] (then evaluate)."""
    budget_clock: Literal["wall", "cpu"] = "wall"
    """The clock time-budget-s counts: wall or cpu (the process's CPU time in training)."""
    eval_every: int = 500
    """Score the networks on a subset of the test images every this many steps (and at the end)."""
    eval_samples: int = 1000
    """Test images of those evaluations during training (the final one scores test-size images)."""
    test_size: int | None = None
    """Test images of the final evaluation (baselines included); default: the whole test split."""
    classifier_epochs: int | None = None
    """Epochs of the scoring classifier (cached); default: 30 on mnist-5k, about 150,000 images' worth
    elsewhere (3 on 60,000 images)."""
    classifier_width: int = 32
    """First-layer channels of the scoring classifier (32 for reported numbers; smaller only for tests)."""
    log_every: int = 50
    """Log losses every this many steps."""
    checkpoint_every: int = 500
    """Save checkpoints/last every this many steps (and at the end)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dataset not in DATASETS:
            raise PilotlabError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.recon not in ("l1", "l2"):
            raise PilotlabError(f"recon must be l1 or l2, got {self.recon!r}")
        if self.mask not in masks.KINDS:
            raise PilotlabError(f"mask must be one of {', '.join(masks.KINDS)}, got {self.mask!r}")
        for name in ("mask_size", "width", "epochs", "batch_size", "eval_every", "eval_samples", "log_every",
                     "checkpoint_every", "classifier_width"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise PilotlabError(f"batch-size must be >= 2, got {self.batch_size}")
        if self.eval_samples < 2:
            raise PilotlabError(f"eval-samples must be >= 2 (a covariance needs two images), got {self.eval_samples}")
        for name in ("max_steps", "classifier_epochs"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.test_size is not None and self.test_size < 2:
            raise PilotlabError(f"test-size must be >= 2 (a covariance needs two images), got {self.test_size}")
        for name in ("lr_g", "lr_d"):
            if getattr(self, name) <= 0:
                raise PilotlabError(f"{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        if self.adv_weight < 0:
            raise PilotlabError(f"adv-weight must be >= 0 (0 = no adversary), got {self.adv_weight}")
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise PilotlabError(f"beta1 and beta2 must lie in [0, 1), got {self.beta1}, {self.beta2}")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise PilotlabError(f"time-budget-s must be > 0, got {self.time_budget_s}")
        if self.budget_clock not in ("wall", "cpu"):
            raise PilotlabError(f"budget-clock must be wall or cpu, got {self.budget_clock!r}")


# -- networks ------------------------------------------------------------------------------------------------


class GatedConv2d(nn.Module):
    """ELU(conv_f(x)) * sigmoid(conv_g(x)) (Yu et al., 2019), both halves from one convolution."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, k, stride, padding=dilation * (k - 1) // 2, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature, gate = self.conv(x).chunk(2, dim=1)
        return F.elu(feature) * torch.sigmoid(gate)


class InpaintNet(nn.Module):
    """forward(x (B, C, H, W) in [-1, 1], m (B, 1, H, W), 1 = hole) -> (B, C, H, W), about [-1, 1]; H, W multiples
    of 4."""

    def __init__(self, channels: int, width: int):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            GatedConv2d(channels + 2, w, 5),
            GatedConv2d(w, 2 * w, 3, stride=2),  # H/2
            GatedConv2d(2 * w, 2 * w, 3),
            GatedConv2d(2 * w, 4 * w, 3, stride=2),  # H/4
            GatedConv2d(4 * w, 4 * w, 3, dilation=1),
            GatedConv2d(4 * w, 4 * w, 3, dilation=2),
            GatedConv2d(4 * w, 4 * w, 3, dilation=4),
            nn.Upsample(scale_factor=2, mode="nearest"),  # H/2
            GatedConv2d(4 * w, 2 * w, 3),
            nn.Upsample(scale_factor=2, mode="nearest"),  # H
            GatedConv2d(2 * w, w, 3),
            nn.Conv2d(w, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        inp = torch.cat([x * (1 - m), m, torch.ones_like(m)], dim=1)  # (B, C + 2, H, W)
        # Linear output, no tanh: most hole pixels of a digit are background, so L1 (whose optimum is the median)
        # drives them to -1, where a tanh saturates and the gradient vanishes; readers clamp to [-1, 1].
        return self.net(inp)


def complete(net: nn.Module, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """The known pixels of x with the network's output in the hole (both in [-1, 1])."""
    return x * (1 - m) + net(x, m) * m


class PatchDiscriminator(nn.Module):
    """forward(x (B, C, H, W), m (B, 1, H, W)) -> (B, h', w') scores, spectral-normalised (SN-PatchGAN)."""

    def __init__(self, channels: int, width: int):
        super().__init__()
        w = width
        self.net = add_spectral_norm(nn.Sequential(
            nn.Conv2d(channels + 1, w, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 2 * w, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 1, 3, 1, 1),
        ))

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, m], dim=1)).flatten(1)


def hole_mean(values: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Mean of per-pixel `values` (B, C, H, W) over the hole pixels of masks m (B, 1, H, W)."""
    return (values * m).sum() / (m.sum() * values.shape[1]).clamp_min(1.0)


# -- training --------------------------------------------------------------------------------------------------


def training_images(cfg: InpaintConfig) -> tuple[ImageDataset, torch.Tensor]:
    """The data set and its training images (N, C, H, W) in [-1, 1]; refuses sizes the networks or masks cannot
    take, before the run directory exists."""
    ds = dataset(cfg.dataset, cfg.data_dir, unlabelled=True)  # filling holes needs no labels: a flat folder works
    where = f"--data-dir {cfg.data_dir!r} ({cfg.dataset})" if cfg.data_dir is not None else f"--dataset {cfg.dataset}"
    _, h, w = ds.shape
    if h % 4 or w % 4:
        raise PilotlabError(f"{where}: images are {h}x{w}; the inpainting network needs height and width that are "
                            "multiples of 4 (it halves them twice)")
    masks.check_size(cfg.mask, cfg.mask_size, h, w, where)
    if len(ds.train_x) < cfg.batch_size:
        raise PilotlabError(f"{where}: {len(ds.train_x)} training images, fewer than one batch "
                            f"(--batch-size {cfg.batch_size}); lower --batch-size")
    return ds, ds.train_x * 2 - 1


def build(cfg: InpaintConfig, channels: int) -> dict[str, nn.Module]:
    """The generator, discriminator and (with `l2_baseline`) the L2 network, seeded by the global RNG."""
    nets: dict[str, nn.Module] = {"generator": InpaintNet(channels, cfg.width),
                                  "discriminator": PatchDiscriminator(channels, 2 * cfg.width)}
    if cfg.l2_baseline:
        nets["l2_generator"] = InpaintNet(channels, cfg.width)
    return nets


def train(cfg: InpaintConfig) -> RunDir:
    """Train, then score the networks and the baselines on the test split; returns the run directory."""
    check_run_dir(cfg, "gan", "inpaint")
    ds, x_train = training_images(cfg)  # refuses unusable data before the run directory exists
    run, device = setup(cfg, "gan", "inpaint")
    with run:
        fit(cfg, run, device, ds, x_train)
    return run


def fit(cfg: InpaintConfig, run: RunDir, device: torch.device, ds: ImageDataset, x_train: torch.Tensor) -> None:
    from pilotlab.gan import inpaint_eval

    channels, h, w = ds.shape
    # channels-last (NHWC) weights and batches: faster convs on one CPU thread, as in classifier.py
    nets = {k: v.to(device, memory_format=torch.channels_last) for k, v in build(cfg, channels).items()}
    g_net, d_net, l2_net = nets["generator"], nets["discriminator"], nets.get("l2_generator")
    opts: dict[str, torch.optim.Optimizer] = {
        "opt_g": torch.optim.Adam(g_net.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2)),
        "opt_d": torch.optim.Adam(d_net.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2)),
    }
    if l2_net is not None:
        opts["opt_l2"] = torch.optim.Adam(l2_net.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    scorer = inpaint_eval.Scorer(cfg, ds) if run.writable else None  # the classifier is trained before step 0
    start = restore(run, cfg, {**nets, **opts})
    step, wall, cpu = start.step, start.wall_s, float(start.meta.get("cpu_s", 0.0))
    batches = BatchSchedule(len(x_train), cfg.batch_size, cfg.seed)
    total = batches.total_steps(cfg.epochs, cfg.max_steps)

    def state() -> dict[str, Any]:
        return {**{k: v.state_dict() for k, v in nets.items()}, **{k: v.state_dict() for k, v in opts.items()}}

    def evaluate(at: int, train_wall: float) -> None:
        if scorer is None:
            return
        scores = scorer.score_networks(g_net, l2_net, cfg.eval_samples, device)
        run.log(at, {**scores, "eval/train_wall_s": train_wall})
        inpaint_eval.save_completions(run, scorer, g_net, l2_net, device, f"completions/step_{at:07d}.png")

    progress = run.own(Progress(total, "gan inpaint", initial=step, enabled=run.writable))
    window: dict[str, list[float]] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    while step < total:
        x = x_train[batches.indices(step)].to(device, memory_format=torch.channels_last)  # (B, C, H, W) in [-1, 1]
        m = masks.make_masks(cfg.mask, len(x), h, w, cfg.mask_size, masks.step_generator(cfg.seed, step))
        m = m.to(device, memory_format=torch.channels_last)  # (B, 1, H, W), 1 = hole
        values: dict[str, float] = {}
        out = g_net(x, m)  # (B, C, H, W): G's output; only its hole is used
        fake = x * (1 - m) + out * m
        if cfg.adv_weight > 0:  # ---- discriminator: real and completed images under the same masks
            d_loss = d_loss_hinge(d_net(x, m).flatten(), d_net(fake.detach(), m).flatten())
            opts["opt_d"].zero_grad(set_to_none=True)
            d_loss.backward()
            opts["opt_d"].step()
            values["losses/d_hinge"] = d_loss.item()
        diff = out - x  # ---- generator: L1 (or L2) on the hole + the adversarial term
        rec = hole_mean(diff.abs() if cfg.recon == "l1" else diff.square(), m)
        g_loss = rec
        if cfg.adv_weight > 0:
            d_net.requires_grad_(False)
            adv = g_loss_hinge(d_net(fake, m).flatten())
            d_net.requires_grad_(True)
            g_loss = rec + cfg.adv_weight * adv
            values["losses/g_adv"] = adv.item()
        opts["opt_g"].zero_grad(set_to_none=True)
        g_loss.backward()
        opts["opt_g"].step()
        values[f"losses/g_{cfg.recon}"] = rec.item()
        if l2_net is not None:  # ---- the baseline: the same network, L2 alone, same batch and masks
            l2_loss = hole_mean((l2_net(x, m) - x).square(), m)
            opts["opt_l2"].zero_grad(set_to_none=True)
            l2_loss.backward()
            opts["opt_l2"].step()
            values["losses/l2_mse"] = l2_loss.item()
        step += 1
        for k, v in values.items():
            check_finite(v, k, step)
            window.setdefault(k, []).append(v)
        progress.update(1)
        if step % cfg.log_every == 0 or step == total:
            metrics = {k: sum(v) / len(v) for k, v in window.items()}
            window.clear()
            metrics["train/epoch"] = step / batches.per_epoch
            run.log(step, metrics)
            progress.update(0, rec=metrics[f"losses/g_{cfg.recon}"])
        elapsed, elapsed_cpu = wall + time.perf_counter() - t0, cpu + time.process_time() - c0
        used = elapsed_cpu if cfg.budget_clock == "cpu" else elapsed
        out_of_time = cfg.time_budget_s is not None and used >= cfg.time_budget_s
        if step % cfg.eval_every == 0 or step == total or out_of_time:
            t_eval, c_eval = time.perf_counter(), time.process_time()
            evaluate(step, elapsed)
            t0 += time.perf_counter() - t_eval  # evaluation time is not training time
            c0 += time.process_time() - c_eval
        if step % cfg.checkpoint_every == 0 or step == total or out_of_time:
            save_state(run, step, state(), {"wall_s": wall + time.perf_counter() - t0,
                                            "cpu_s": cpu + time.process_time() - c0, "image_shape": list(ds.shape)})
        if out_of_time:
            break
    progress.close()
    wall += time.perf_counter() - t0
    cpu += time.process_time() - c0
    if scorer is not None:
        summary = scorer.score_all(g_net, l2_net, cfg.test_size, device)
        run.update_summary({**summary, TRAIN_WALL_S: wall, TRAIN_CPU_S: cpu, TRAIN_STEPS: step})
        inpaint_eval.save_completions(run, scorer, g_net, l2_net, device, "completions.png")
