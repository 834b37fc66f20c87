"""DCGAN (Radford, Metz & Chintala, 2016), sized for 28x28 digits and scaled with the resolution.

The paper's guidelines, kept: strided (transposed) convolutions instead of pooling, batch norm in
G and D except G's output and D's input layer, ReLU in G with a tanh output, LeakyReLU(0.2) in D,
no hidden fully connected layers beyond the projection of z, Adam lr 2e-4 with beta1 0.5, weights
from N(0, 0.02). Changed for 28x28 and a CPU: two up/down-sampling stages (7 -> 14 -> 28) instead of
four (4 -> 64), and a base width of 32 channels (`width`) instead of 128.

Generator: z -> Linear -> (4w, 7, 7) -> ConvT 4x4/2 -> (2w, 14, 14) -> ConvT 4x4/2 -> (C, 28, 28).
Discriminator: (C, 28, 28) -> Conv 4x4/2 -> (w, 14, 14) -> Conv 4x4/2 -> (2w, 7, 7) -> Linear -> logit.

Other resolutions (16-64 px) get one more stage per doubling beyond 28 (`stages_for`: 2 up to 28 px, 3
up to 56, 4 up to 64), so the smallest feature map stays 4-7 px as in the paper; the channels double
per stage away from the image (w, 2w, 4w, capped at 8w). At 28 px the networks are exactly the ones above.
"""

from __future__ import annotations

import math
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
    """GAN model: mlp-gan, dcgan, wgan-gp, cgan or sn-resnet (each has its own defaults)."""
    width: int = 32
    """Base channel count w of G and D (G: 4w, 2w; D: w, 2w)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width < 1:
            raise PilotlabError(f"width must be >= 1, got {self.width}")


def stages_for(side: int) -> int:
    """Up/down-sampling stages for images of `side` px: 2 up to 28 (7 -> 14 -> 28), then one more per
    doubling, so the smallest feature map stays 4-7 px."""
    return max(2, math.ceil(math.log2(side / 7)))


def stage_channels(width: int, level: int) -> int:
    """Channels `level` stages away from the image: w, 2w, 4w, 8w, 8w, ... (level 1 = next to the image)."""
    return width * min(8, 2 ** (level - 1))


def down_sizes(side: int, stages: int) -> list[int]:
    """Feature-map sides after each stride-2 4x4 convolution (padding 1: floor(n / 2))."""
    out = []
    for _ in range(stages):
        side //= 2
        out.append(side)
    return out


class DCGenerator(nn.Module):
    """(B, z_dim) [+ (B, e) label embedding] -> (B, C, H, W) in [-1, 1]: a (C, 2^k s, 2^k s) image cropped to H, W,
    s = ceil(H / 2^k) for k = `stages_for(H)` transposed-convolution stages."""

    def __init__(self, in_dim: int, shape: tuple[int, int, int], width: int):
        super().__init__()
        c, h, _ = shape
        k = stages_for(h)
        top = stage_channels(width, k + 1)  # 4w at 28 px
        self.shape, self.s, self.top = shape, -(-h // 2 ** k), top
        self.project = nn.Sequential(
            nn.Linear(in_dim, top * self.s * self.s, bias=False),
            nn.BatchNorm1d(top * self.s * self.s), nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        for level in range(k, 1, -1):  # (level + 1) -> level channels, doubling the side
            layers += [nn.ConvTranspose2d(stage_channels(width, level + 1), stage_channels(width, level), 4, 2, 1,
                                          bias=False), nn.BatchNorm2d(stage_channels(width, level)),
                       nn.ReLU(inplace=True)]
        layers += [nn.ConvTranspose2d(stage_channels(width, 2), c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        x = self.project(h).view(-1, self.top, self.s, self.s)  # (B, top, s, s)
        x = self.net(x)  # (B, C, 2^k s, 2^k s)
        return x[..., : self.shape[1], : self.shape[2]]  # (B, C, H, W)


class Generator(DCGenerator):
    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int):
        super().__init__(z_dim, shape, width)
        self.z_dim, self.conditional = z_dim, False

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(z)


class DCFeatures(nn.Module):
    """(B, C, H, W) -> (B, F) features: `stages_for(H)` strided 4x4 convs with LeakyReLU(0.2) (w, 2w, ... channels;
    batch norm on all but the first when `batch_norm`), flattened."""

    def __init__(self, shape: tuple[int, int, int], width: int, batch_norm: bool = True):
        super().__init__()
        c, h, w = shape
        k = stages_for(h)
        layers: list[nn.Module] = [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]  # no BN on input
        for level in range(2, k + 1):
            ch = stage_channels(width, level)
            layers += [nn.Conv2d(stage_channels(width, level - 1), ch, 4, 2, 1, bias=not batch_norm),
                       nn.BatchNorm2d(ch) if batch_norm else nn.Identity(), nn.LeakyReLU(0.2, inplace=True)]
        layers.append(nn.Flatten())  # (B, ch * h_k * w_k)
        self.out_dim = stage_channels(width, k) * down_sizes(h, k)[-1] * down_sizes(w, k)[-1]
        self.net = nn.Sequential(*layers)

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
