"""DCGAN (Radford, Metz & Chintala, 2016) sized for 28x28 digits.

The paper's guidelines, kept: strided (transposed) convolutions instead of pooling, batch norm in
G and D except G's output and D's input layer, ReLU in G with a tanh output, LeakyReLU(0.2) in D,
no hidden fully connected layers beyond the projection of z, Adam lr 2e-4 with beta1 0.5, weights
from N(0, 0.02). Changed for 28x28 and a CPU: two up/down-sampling stages (7 -> 14 -> 28) instead of
four (4 -> 64), and a base width of 32 channels (`width`) instead of 128.

Generator: z -> Linear -> (4w, 7, 7) -> ConvT 4x4/2 -> (2w, 14, 14) -> ConvT 4x4/2 -> (C, 28, 28).
Discriminator: (C, 28, 28) -> Conv 4x4/2 -> (w, 14, 14) -> Conv 4x4/2 -> (2w, 7, 7) -> Linear -> logit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from pilotlab.core.errors import PilotlabError
from pilotlab.gan.config import GANConfig, GANModel
from pilotlab.gan.modules import add_spectral_norm, dcgan_init


@dataclass(frozen=True, kw_only=True)
class DCGANConfig(GANConfig):
    model: Literal["dcgan"] = "dcgan"
    """GAN model: mlp-gan, dcgan, wgan-gp or cgan (each has its own defaults)."""
    width: int = 32
    """Base channel count w of G and D (G: 4w, 2w; D: w, 2w)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width < 1:
            raise PilotlabError(f"width must be >= 1, got {self.width}")


class DCGenerator(nn.Module):
    """(B, z_dim) [+ (B, e) label embedding] -> (B, C, 4s, 4s) in [-1, 1], s = ceil(H / 4)."""

    def __init__(self, in_dim: int, shape: tuple[int, int, int], width: int):
        super().__init__()
        c, h, _ = shape
        self.shape, self.s, self.w = shape, (h + 3) // 4, width
        self.project = nn.Sequential(
            nn.Linear(in_dim, 4 * width * self.s * self.s, bias=False),
            nn.BatchNorm1d(4 * width * self.s * self.s), nn.ReLU(inplace=True),
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * width, c, 4, 2, 1), nn.Tanh(),
        )

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        x = self.project(h).view(-1, 4 * self.w, self.s, self.s)  # (B, 4w, s, s)
        x = self.net(x)  # (B, C, 4s, 4s)
        return x[..., : self.shape[1], : self.shape[2]]  # (B, C, H, W)


class Generator(DCGenerator):
    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int):
        super().__init__(z_dim, shape, width)
        self.z_dim, self.conditional = z_dim, False

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(z)


class DCFeatures(nn.Module):
    """(B, C, H, W) -> (B, 2w * s * s) features: two strided 4x4 convs with LeakyReLU(0.2)."""

    def __init__(self, shape: tuple[int, int, int], width: int, batch_norm: bool = True):
        super().__init__()
        c, h, _ = shape
        s = (h + 3) // 4
        self.out_dim = 2 * width * s * s
        self.net = nn.Sequential(
            nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),  # (B, w, H/2, W/2); no BN on input
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=not batch_norm),  # (B, 2w, H/4, W/4)
            nn.BatchNorm2d(2 * width) if batch_norm else nn.Identity(), nn.LeakyReLU(0.2, inplace=True),
            nn.Flatten(),  # (B, 2w * s * s)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Discriminator(nn.Module):
    """(B, C, H, W) -> (B,) logits (or critic scores without batch norm)."""

    def __init__(self, shape: tuple[int, int, int], width: int, batch_norm: bool = True):
        super().__init__()
        self.conditional = False
        self.features = DCFeatures(shape, width, batch_norm)
        self.out = nn.Linear(self.features.out_dim, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.features(x)).squeeze(1)  # (B,)


def build(cfg: DCGANConfig, shape: tuple[int, int, int], num_classes: int) -> GANModel:
    g, d = Generator(cfg.z_dim, shape, cfg.width), Discriminator(shape, cfg.width)
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    if cfg.spectral_norm:
        add_spectral_norm(d)
    return GANModel(g, d, "ns", conditional=False)
