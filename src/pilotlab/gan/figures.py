"""GAN figures: a sample grid per evaluation, their animated GIF, loss and FD curves, a latent walk.

All samples use fixed noise (private generators seeded here), so successive grids show the same
latent points as training moves them. Conditional grids have one column per class.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from pilotlab.core.run import RunDir
from pilotlab.core.summary import GAN_FD, GAN_FD_FLOOR
from pilotlab.report.figures import save_gif, save_image_grid, save_line_plot

GRID_SEED = 4321
SAMPLES_DIR = "samples"


@torch.no_grad()
def generate(generator: torch.nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """Images (B, C, H, W) in [0, 1] for noise z (B, z_dim) and labels y, with G in eval mode."""
    was_training = generator.training
    generator.eval()
    dev = next(generator.parameters()).device
    out = generator(z.to(dev), None if y is None else y.to(dev))
    generator.train(was_training)
    return ((out + 1) / 2).clamp(0, 1).cpu()  # [-1, 1] -> [0, 1]


def classes_of(generator: torch.nn.Module) -> int:
    """How many classes a conditional generator was trained on (10 for the digit cGANs, which predate the attribute)."""
    return int(getattr(generator, "num_classes", 10))


def grid_inputs(z_dim: int, conditional: bool, n: int = 64, seed: int = GRID_SEED,
                label: int | None = None, num_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """Fixed noise (n, z_dim), labels (n,) or None, and the grid's row length."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, z_dim, generator=gen)
    if not conditional:
        return z, None, max(1, math.ceil(math.sqrt(n)))
    if label is not None:
        return z, torch.full((n,), label, dtype=torch.long), max(1, math.ceil(math.sqrt(n)))
    return z, torch.arange(n) % num_classes, num_classes  # one column per class


def save_samples(run: RunDir, generator: torch.nn.Module, z_dim: int, conditional: bool, step: int,
                 device: torch.device | str = "cpu") -> Path | None:
    """figures/samples/step_XXXXXXX.png (a GIF frame) and figures/samples.png (the latest grid)."""
    if not run.writable:
        return None
    k = classes_of(generator)
    z, y, nrow = grid_inputs(z_dim, conditional, k * 10 if conditional else 64, num_classes=k)
    images = generate(generator, z, y)
    save_image_grid(images, run.figure("samples.png"), nrow=nrow)
    return save_image_grid(images, run.figures / SAMPLES_DIR / f"step_{step:07d}.png", nrow=nrow)


@torch.no_grad()
def interpolation_strip(generator: torch.nn.Module, z_dim: int, conditional: bool, path: Path,
                        rows: int = 6, steps: int = 10, seed: int = GRID_SEED + 1) -> Path:
    """Rows of spherical interpolations between two random latents (row r uses class r if conditional)."""
    gen = torch.Generator().manual_seed(seed)
    za, zb = torch.randn(rows, z_dim, generator=gen), torch.randn(rows, z_dim, generator=gen)
    t = torch.linspace(0, 1, steps)  # (S,)
    cos = (torch.nn.functional.normalize(za, dim=1) * torch.nn.functional.normalize(zb, dim=1)).sum(1)
    omega = torch.arccos(cos.clamp(-1 + 1e-6, 1 - 1e-6))[:, None]  # (R, 1) angle between the two latents
    wa = torch.sin((1 - t)[None] * omega) / torch.sin(omega)  # (R, S)
    wb = torch.sin(t[None] * omega) / torch.sin(omega)
    z = (wa[..., None] * za[:, None] + wb[..., None] * zb[:, None]).reshape(rows * steps, z_dim)  # (R*S, z_dim)
    y = (torch.arange(rows) % classes_of(generator)).repeat_interleave(steps) if conditional else None
    return save_image_grid(generate(generator, z, y), path, nrow=steps)


def make_gif(run: RunDir, fps: float = 4.0) -> Path | None:
    """figures/samples.gif from the per-evaluation grids (the last frame shown twice as long)."""
    from PIL import Image

    frames = sorted((run.figures / SAMPLES_DIR).glob("step_*.png"))
    if not frames:
        return None
    arrays = [np.asarray(Image.open(f).convert("RGB")) for f in frames]
    return save_gif([*arrays, arrays[-1]], run.figure("samples.gif"), fps=fps)


def curves(run: RunDir, fd_target_ratio: float = 3.0) -> None:
    """figures/losses.png (D and G losses) and figures/fd.png (FD with the floor and the target)."""
    rows = run.metrics()
    series = {}
    for key in ("train/d_loss", "train/g_loss", "train/wasserstein"):
        pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), float)]
        if pts:
            series[key] = ([p[0] for p in pts], [p[1] for p in pts])
    if series:
        save_line_plot(series, run.figure("losses.png"), title="GAN losses", ylabel="loss")
    fd = [(r["step"], r[GAN_FD]) for r in rows if isinstance(r.get(GAN_FD), float)]
    floor = next((r[GAN_FD_FLOOR] for r in rows if isinstance(r.get(GAN_FD_FLOOR), float)), None)
    if fd:
        fd_curve([p[0] for p in fd], [p[1] for p in fd], floor, fd_target_ratio, run.figure("fd.png"))


def fd_curve(steps: list[int], fds: list[float], floor: float | None, ratio: float, path: Path) -> Path:
    """FD over training on a log axis, with the real-vs-real floor and the target as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    ax.plot(steps, fds, marker="o", markersize=3, label="FD: generated vs test digits")
    if floor is not None:
        ax.axhline(floor, linestyle="--", color="gray", linewidth=1, label=f"real-vs-real floor {floor:.2f}")
        ax.axhline(ratio * floor, linestyle=":", color="green", linewidth=1, label=f"target {ratio:g}x floor")
    ax.set_yscale("log")
    ax.set_xlabel("generator step")
    ax.set_ylabel("FD (classifier features)")
    ax.set_title("Fréchet distance over training")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def finish(run: RunDir, generator: torch.nn.Module, z_dim: int, conditional: bool, device: torch.device | str,
           fd_target_ratio: float = 3.0) -> None:
    """All end-of-training figures."""
    if not run.writable:
        return
    make_gif(run)
    curves(run, fd_target_ratio)
    interpolation_strip(generator, z_dim, conditional, run.figure("interpolation.png"))
