"""The classic MNIST GAN with multi-layer perceptrons (Goodfellow et al., 2014).

Generator z (100) -> 256 -> 512 -> 1024 -> 784 with LeakyReLU(0.2) and batch norm, tanh output;
discriminator 784 -> 512 -> 256 -> 1 with LeakyReLU(0.2) and no normalisation, a logit output. The
widths are those of the widely copied MNIST example (also in PyTorch-GAN's ``gan.py``); training
alternates one discriminator update on a real and a fresh generated batch with one generator update
under the non-saturating loss, Adam 2e-4, beta1 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from pilotlab.core.errors import PilotlabError
from pilotlab.gan.config import GANConfig, GANModel
from pilotlab.gan.modules import add_spectral_norm


@dataclass(frozen=True, kw_only=True)
class MLPGANConfig(GANConfig):
    model: Literal["mlp-gan"] = "mlp-gan"
    """GAN model: mlp-gan, dcgan, wgan-gp, cgan or sn-resnet (each has its own defaults)."""
    g_hidden: tuple[int, ...] = (256, 512, 1024)
    """Hidden widths of the generator MLP."""
    d_hidden: tuple[int, ...] = (512, 256)
    """Hidden widths of the discriminator MLP."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.g_hidden or not self.d_hidden or min(*self.g_hidden, *self.d_hidden) < 1:
            raise PilotlabError("g-hidden and d-hidden need at least one width, each >= 1")


class MLPGenerator(nn.Module):
    """(B, z_dim) -> (B, C, H, W) in [-1, 1]."""

    def __init__(self, z_dim: int, shape: tuple[int, int, int], hidden: tuple[int, ...]):
        super().__init__()
        self.z_dim, self.shape, self.conditional = z_dim, shape, False
        layers: list[nn.Module] = []
        d = z_dim
        for i, h in enumerate(hidden):
            layers.append(nn.Linear(d, h))
            if i > 0:  # no batch norm right after the noise input, as in the classic example
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            d = h
        layers += [nn.Linear(d, shape[0] * shape[1] * shape[2]), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z).view(-1, *self.shape)  # (B, C, H, W)


class MLPDiscriminator(nn.Module):
    """(B, C, H, W) -> (B,) logits."""

    def __init__(self, shape: tuple[int, int, int], hidden: tuple[int, ...]):
        super().__init__()
        self.conditional = False
        layers: list[nn.Module] = [nn.Flatten()]  # (B, C*H*W)
        d = shape[0] * shape[1] * shape[2]
        for h in hidden:
            layers += [nn.Linear(d, h), nn.LeakyReLU(0.2, inplace=True)]
            d = h
        layers.append(nn.Linear(d, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).squeeze(1)  # (B,)


def build(cfg: MLPGANConfig, shape: tuple[int, int, int], num_classes: int) -> GANModel:
    g = MLPGenerator(cfg.z_dim, shape, cfg.g_hidden)
    d = MLPDiscriminator(shape, cfg.d_hidden)
    if cfg.spectral_norm:
        add_spectral_norm(d)
    return GANModel(g, d, "ns", conditional=False)
