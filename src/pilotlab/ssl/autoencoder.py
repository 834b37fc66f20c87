"""Autoencoders: dense (784 -> 64 -> 784), convolutional, and denoising (Vincent et al., 2008).

The dense model is the classic MNIST example (one hidden code of 64 units). The denoising variant
corrupts inputs with Gaussian noise (`noise_std`) and reconstructs the clean image. All three are
trained with binary cross-entropy on pixels in [0, 1], Adam 1e-3 (Kingma & Ba defaults).
The encoder's code is the representation the probes evaluate. The convolutional models use the
shared `ConvEncoder`/`ConvDecoder` at width 16 (half the nn default), which keeps a CPU epoch of
MNIST-5k short; docs/ssl.md (Results) shows the issue's target (beat raw pixels with 10 labels per
class) holding at that size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from pilotlab.core import distributed
from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError, check_finite
from pilotlab.core.progress import Progress
from pilotlab.core.run import RunDir
from pilotlab.core.session import BatchSchedule, restore, save_state, setup
from pilotlab.core.summary import SSL_RECON_BCE, TRAIN_STEPS, TRAIN_WALL_S
from pilotlab.data import DATASETS, load_dataset
from pilotlab.nn import ConvDecoder, ConvEncoder
from pilotlab.report.figures import save_image_grid
from pilotlab.ssl.probe import quick_probe


@dataclass(frozen=True, kw_only=True)
class AEConfig(RunConfig):
    method: Literal["ae", "conv-ae", "denoising-ae"] = "ae"
    """ae: dense 784-64-784; conv-ae: convolutional; denoising-ae: conv-ae fed noisy inputs."""
    dataset: str = "mnist-5k"
    """Dataset name (see `pilotlab data list`)."""
    data_dir: str | None = None
    """Folder holding the dataset's files (required for `folder`)."""
    epochs: int = 20
    """Passes over the training images."""
    batch_size: int = 128
    """Global batch size (split evenly across torchrun processes)."""
    lr: float = 1e-3
    """Adam learning rate."""
    latent_dim: int = 64
    """Size of the code; 64 as in the classic MNIST autoencoder."""
    hidden: int = 0
    """Dense ae only: width of a hidden ReLU layer on each side of the code (784-H-64-H-784); 0: 784-64-784."""
    width: int = 16
    """Channels of the first conv layer of conv-ae/denoising-ae (then 2x and 4x)."""
    noise_std: float = 0.3
    """Std of the Gaussian input noise for denoising-ae (pixels in [0, 1])."""
    log_every: int = 10
    """Log train/loss every this many steps."""
    checkpoint_every: int = 50
    """Save checkpoints/last every this many steps (and at the end)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (for quick runs); default: epochs x steps per epoch."""
    probe_every: int = 5
    """Run a quick kNN / 10-label probe every this many epochs (logged as eval/...); 0 disables it."""
    evaluate: bool = True
    """After training, run the full probe protocol with baselines (as `pilotlab ssl eval`)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dataset not in DATASETS:
            raise PilotlabError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.probe_every < 0:
            raise PilotlabError(f"probe-every must be >= 0, got {self.probe_every}")
        if self.hidden < 0:
            raise PilotlabError(f"hidden must be >= 0 (0: no hidden layer), got {self.hidden}")
        for name in ("epochs", "batch_size", "latent_dim", "width", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise PilotlabError(f"lr must be > 0, got {self.lr}")
        if self.noise_std < 0:
            raise PilotlabError(f"noise-std must be >= 0, got {self.noise_std}")
        if self.max_steps is not None and self.max_steps < 1:
            raise PilotlabError(f"max-steps must be >= 1, got {self.max_steps}")


class AutoEncoder(nn.Module):
    """encoder: (B, C, H, W) -> (B, latent); decoder: (B, latent) -> (B, C, H, W) in [0, 1]."""

    def __init__(self, kind: str, shape: tuple[int, int, int], latent_dim: int, width: int = 16, hidden: int = 0):
        super().__init__()
        c, h, w = shape
        self.shape = shape
        if kind == "ae":
            sizes = [c * h * w, *([hidden] if hidden else []), latent_dim]  # encoder widths, e.g. 784-256-64
            enc: list[nn.Module] = [nn.Flatten()]
            dec: list[nn.Module] = []
            for a, b in pairwise(sizes):
                enc += [nn.Linear(a, b), nn.ReLU()]
            for a, b in pairwise(sizes[::-1]):
                dec += [nn.Linear(a, b), nn.ReLU()]
            self.encoder: nn.Module = nn.Sequential(*enc)  # (B, C*H*W) -> (B, latent)
            self.decoder: nn.Module = nn.Sequential(*dec[:-1], nn.Sigmoid())  # (B, latent) -> (B, C*H*W)
        else:
            self.encoder = ConvEncoder(c, latent_dim, width=width, image_size=h)
            self.decoder = ConvDecoder(c, latent_dim, width=width, image_size=h)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (B, latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x)).view(-1, *self.shape)  # (B, C, H, W)


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy per pixel (targets in [0, 1])."""
    return F.binary_cross_entropy(recon.clamp(1e-6, 1 - 1e-6), target)


def corrupt(x: torch.Tensor, std: float) -> torch.Tensor:
    """Add N(0, std^2) noise and clip to [0, 1] (the denoising autoencoder's input)."""
    return (x + std * torch.randn_like(x)).clamp(0.0, 1.0)


def train(cfg: AEConfig) -> RunDir:
    """Train an autoencoder; returns the run directory (checkpoints/last holds the model)."""
    run, device = setup(cfg, "ssl", cfg.method)
    with run:
        ds = load_dataset(cfg.dataset, cfg.data_dir)
        x_train = ds.train_x
        model = AutoEncoder(cfg.method, ds.shape, cfg.latent_dim, cfg.width, cfg.hidden).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        start = restore(run, cfg, {"model": model, "optim": opt})
        step, wall = start.step, start.wall_s
        net = distributed.wrap(model)
        batches = BatchSchedule(len(x_train), cfg.batch_size, cfg.seed)
        total = batches.total_steps(cfg.epochs, cfg.max_steps)
        progress = run.own(Progress(total, f"ssl {cfg.method}", initial=step, enabled=run.writable))
        t0 = time.perf_counter()
        while step < total:
            batch = x_train[batches.indices(step)].to(device)  # (B, C, H, W)
            inputs = corrupt(batch, cfg.noise_std) if cfg.method == "denoising-ae" else batch
            loss = reconstruction_loss(net(inputs), batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step % cfg.log_every == 0 or step == total:
                metrics = distributed.all_reduce_mean({"train/loss": loss.item()})
                check_finite(metrics["train/loss"], "train/loss", step)
                metrics["train/epoch"] = step / batches.per_epoch
                run.log(step, metrics)
                progress.update(0, loss=metrics["train/loss"])
            progress.update(1)
            epoch_done = step // batches.per_epoch if step % batches.per_epoch == 0 else 0
            # checkpoint first: a probe that fails must not lose the training since the last one
            if step % cfg.checkpoint_every == 0 or step == total:
                save_state(run, step, {"model": model.state_dict(), "optim": opt.state_dict()},
                           {"wall_s": wall + time.perf_counter() - t0})
            if run.writable and (step == total or (cfg.probe_every and epoch_done
                                                   and epoch_done % cfg.probe_every == 0)):
                wall += time.perf_counter() - t0  # probes are evaluation, not pretraining time
                run.log(step, quick_probe(model.encoder, ds, device, cfg.seed))
                t0 = time.perf_counter()
        progress.close()
        wall += time.perf_counter() - t0
        evaluate_reconstruction(run, model, ds.test_x, device, step)
        run.update_summary({TRAIN_WALL_S: wall, TRAIN_STEPS: step})
    return run


@torch.no_grad()
def evaluate_reconstruction(run: RunDir, model: AutoEncoder, x_test: torch.Tensor, device: torch.device,
                            step: int) -> float:
    """Log eval/recon_bce on the test images and save a reconstruction grid (top: input, bottom: output)."""
    model.eval()
    losses = []
    for i in range(0, len(x_test), 1000):
        batch = x_test[i:i + 1000].to(device)
        losses.append(reconstruction_loss(model(batch), batch).item() * len(batch))
    bce = sum(losses) / len(x_test)
    run.log(step, {SSL_RECON_BCE: bce})
    run.update_summary({SSL_RECON_BCE: bce})
    if run.writable:
        sample = x_test[:16].to(device)
        save_image_grid(torch.cat([sample, model(sample)]).cpu(), run.figure("reconstructions.png"), nrow=16)
    model.train()
    return bce


def _config(run: RunDir) -> AEConfig:
    from pilotlab.core.config import from_dict

    return from_dict(AEConfig, run.config()["config"])


def encoder_from_state(run: RunDir, state: dict[str, Any], shape: tuple[int, int, int]) -> nn.Module:
    """The trained encoder (the code the probes read) of a finished autoencoder run."""
    cfg = _config(run)
    model = AutoEncoder(cfg.method, shape, cfg.latent_dim, cfg.width, cfg.hidden)
    model.load_state_dict(state["model"])
    return model.encoder.eval()


def random_encoder(run: RunDir, shape: tuple[int, int, int], seed: int) -> nn.Module:
    """A randomly initialised encoder of the run's architecture (the random-init baseline)."""
    cfg = _config(run)
    torch.manual_seed(seed)
    return AutoEncoder(cfg.method, shape, cfg.latent_dim, cfg.width, cfg.hidden).encoder.eval()
