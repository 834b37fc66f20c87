"""Class-conditional GAN: DCGAN generator fed [z, embed(y)], projection discriminator.

The generator concatenates z with a learned label embedding (Mirza & Osindero, 2014, condition both
networks on y); the discriminator scores D(x, y) = psi(phi(x)) + <embed(y), phi(x)>, the projection
discriminator of Miyato & Koyama (2018), which conditions more reliably than concatenating y to the
input. phi is DCGAN's convolutional trunk (`pilotlab.gan.dcgan.DCFeatures`), initialised from N(0, 0.02).

Its defaults are SNGAN's way of training (Miyato et al., 2018): hinge loss, a spectrally normalised
discriminator without batch norm (batch norm rescales by batch statistics, undoing part of the
Lipschitz control), Adam without momentum (betas (0, 0.9)) at 5e-4 for both networks. DCGAN's
recipe (non-saturating loss, batch norm in D, Adam 2e-4 with betas (0.5, 0.999)) stays reachable by
flags: ``--loss ns --no-spectral-norm --d-batch-norm --lr-g 2e-4 --lr-d 2e-4 --beta1 0.5 --beta2 0.999``.

With ``--conditional off`` (or ``auto`` on unlabelled images) the same recipe trains the same networks
without their label paths: G on z alone, D without the projection term (the unconditional SNGAN-style DCGAN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from pilotlab.gan.config import GANModel, SNGANConfig
from pilotlab.gan.dcgan import DCFeatures, DCGenerator, Discriminator, Generator
from pilotlab.gan.modules import add_spectral_norm, dcgan_init


@dataclass(frozen=True, kw_only=True)
class CGANConfig(SNGANConfig):
    model: Literal["cgan"] = "cgan"
    """GAN model: mlp-gan, dcgan, wgan-gp, cgan or sn-resnet (each has its own defaults)."""
    d_batch_norm: bool = False
    """Batch norm in D's second conv layer (DCGAN has it; SNGAN's spectrally normalised D has none)."""


class ConditionalGenerator(DCGenerator):
    """(B, z_dim), (B,) labels -> (B, C, H, W) in [-1, 1]."""

    def __init__(self, z_dim: int, num_classes: int, embed_dim: int, shape: tuple[int, int, int], width: int):
        super().__init__(z_dim + embed_dim, shape, width)
        self.z_dim, self.num_classes, self.conditional = z_dim, num_classes, True
        self.embed = nn.Embedding(num_classes, embed_dim)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            raise ValueError("the conditional generator needs labels y")
        return self.decode(torch.cat([z, self.embed(y)], dim=1))  # input (B, z_dim + embed_dim)


class ProjectionDiscriminator(nn.Module):
    """(B, C, H, W), (B,) labels -> (B,) logits psi(phi(x)) + <embed(y), phi(x)>."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int, width: int, batch_norm: bool = True):
        super().__init__()
        self.conditional = True
        self.features = DCFeatures(shape, width, batch_norm)
        self.out = nn.Linear(self.features.out_dim, 1)
        self.embed = nn.Embedding(num_classes, self.features.out_dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            raise ValueError("the projection discriminator needs labels y")
        h = self.features(x)  # (B, F)
        return self.out(h).squeeze(1) + (self.embed(y) * h).sum(1)  # (B,)


CAN_CONDITION = True
"""`build` honours cfg.conditional == "off" (unlabelled data): the same networks and recipe without the label paths."""


def build(cfg: CGANConfig, shape: tuple[int, int, int], num_classes: int) -> GANModel:
    if cfg.conditional == "off":
        g: nn.Module = Generator(cfg.z_dim, shape, cfg.width)
        d: nn.Module = Discriminator(shape, cfg.d_width or cfg.width, cfg.d_batch_norm)
        g.apply(dcgan_init)
        d.apply(dcgan_init)
        if cfg.spectral_norm:
            add_spectral_norm(d)
        return GANModel(g, d, "ns", conditional=False)
    g = ConditionalGenerator(cfg.z_dim, num_classes, cfg.embed_dim, shape, cfg.width)
    d = ProjectionDiscriminator(shape, num_classes, cfg.d_width or cfg.width, cfg.d_batch_norm)
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    if cfg.spectral_norm:
        add_spectral_norm(d)
    return GANModel(g, d, "ns", conditional=True)
