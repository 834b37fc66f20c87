"""SN-ResNet GAN: the residual generator and spectrally normalised residual discriminator of SNGAN.

Miyato et al., 2018 ("Spectral Normalization for Generative Adversarial Networks", appendix B.4, the
CIFAR-10 ResNet) and Miyato & Koyama, 2018 (projection discriminator), scaled with the resolution:

- G: z [+ embed(y)] -> Linear -> (top, s, s) -> k up-blocks -> BN, ReLU, Conv 3x3 -> tanh, with
  k = `stages_for(H)` (2 at 28 px: 7 -> 14 -> 28; 3 at 32 px: 4 -> 8 -> 16 -> 32) and channels doubling
  per block away from the image (w, 2w, 4w, capped at 8w). An up-block is BN, ReLU, nearest 2x upsample,
  Conv 3x3, BN, ReLU, Conv 3x3, plus a 1x1-conv shortcut of the upsampled input.
- D: k down-blocks (the first "optimised": Conv, ReLU, Conv, avg-pool; the others ReLU, Conv, ReLU,
  Conv, avg-pool; 1x1-conv shortcuts), one block at that size, ReLU, global sum pooling, Linear -> logit,
  plus <embed(y), h> when conditional. Spectral norm on every conv/linear layer, no batch norm.

Changed from the paper, for a CPU: conditioning by concatenating a label embedding to z (as the cgan
does) instead of conditional batch norm, widths from 32 instead of 128/256, and the cgan's training
recipe (hinge, Adam 5e-4, betas (0, 0.9), one D step per G step) instead of five D steps at 2e-4.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from pilotlab.gan.config import GANModel, SNGANConfig
from pilotlab.gan.dcgan import stage_channels, stages_for
from pilotlab.gan.modules import add_spectral_norm

CAN_CONDITION = True
"""`build` makes conditional (label embedding, projection) or unconditional networks, as cfg.conditional says."""


@dataclass(frozen=True, kw_only=True)
class ResNetGANConfig(SNGANConfig):
    model: Literal["sn-resnet"] = "sn-resnet"
    """GAN model: mlp-gan, dcgan, wgan-gp, cgan or sn-resnet (each has its own defaults)."""


class UpBlock(nn.Module):
    """(B, c_in, n, n) -> (B, c_out, 2n, 2n)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    """(B, c_in, n, n) -> (B, c_out, n / 2, n / 2) (or n, n without `down`); `first`: no ReLU on the input."""

    def __init__(self, c_in: int, c_out: int, down: bool = True, first: bool = False):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c_in, c_out, 3, 1, 1), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1)
        self.down, self.first = down, first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        s = x
        if self.first:  # the optimised block pools before its shortcut conv, as in SNGAN's code
            s = self.skip(F.avg_pool2d(s, 2) if self.down else s)
        else:
            s = self.skip(s)
            s = F.avg_pool2d(s, 2) if self.down else s
        return (F.avg_pool2d(h, 2) if self.down else h) + s


class ResGenerator(nn.Module):
    """(B, z_dim), (B,) labels or None -> (B, C, H, W) in [-1, 1]."""

    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int, num_classes: int = 0, embed_dim: int = 0):
        super().__init__()
        c, h, _ = shape
        k = stages_for(h)
        self.shape, self.s, self.top = shape, -(-h // 2 ** k), stage_channels(width, k + 1)
        self.z_dim, self.num_classes, self.conditional = z_dim, num_classes, num_classes > 0
        self.embed = nn.Embedding(num_classes, embed_dim) if self.conditional else None
        self.project = nn.Linear(z_dim + (embed_dim if self.conditional else 0), self.top * self.s * self.s)
        self.blocks = nn.Sequential(*[UpBlock(stage_channels(width, lv + 1), stage_channels(width, lv))
                                      for lv in range(k, 0, -1)])
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, c, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise ValueError("the conditional generator needs labels y")
            z = torch.cat([z, self.embed(y)], dim=1)
        x = self.project(z).view(-1, self.top, self.s, self.s)  # (B, top, s, s)
        x = self.out(self.blocks(x))  # (B, C, 2^k s, 2^k s)
        return x[..., : self.shape[1], : self.shape[2]]


class ResDiscriminator(nn.Module):
    """(B, C, H, W), (B,) labels or None -> (B,) logits."""

    def __init__(self, shape: tuple[int, int, int], width: int, num_classes: int = 0):
        super().__init__()
        c, h, _ = shape
        k = stages_for(h)
        chans = [stage_channels(width, lv) for lv in range(1, k + 1)]
        blocks = [DownBlock(c, chans[0], first=True)]
        blocks += [DownBlock(a, b) for a, b in itertools.pairwise(chans)]
        blocks.append(DownBlock(chans[-1], chans[-1], down=False))
        self.blocks = nn.Sequential(*blocks)
        self.conditional = num_classes > 0
        self.out = nn.Linear(chans[-1], 1)
        self.embed = nn.Embedding(num_classes, chans[-1]) if self.conditional else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # (B, F) global sum pooling
        logit = self.out(h).squeeze(1)
        if self.embed is not None:
            if y is None:
                raise ValueError("the projection discriminator needs labels y")
            logit = logit + (self.embed(y) * h).sum(1)
        return logit  # (B,)


def build(cfg: ResNetGANConfig, shape: tuple[int, int, int], num_classes: int) -> GANModel:
    k = num_classes if cfg.conditional != "off" else 0
    g = ResGenerator(cfg.z_dim, shape, cfg.width, k, cfg.embed_dim)
    d = ResDiscriminator(shape, cfg.d_width or cfg.width, k)
    for net in (g, d):  # Xavier-uniform as SNGAN's chainer code; zero biases
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
    if cfg.spectral_norm:
        add_spectral_norm(d)
    return GANModel(g, d, "ns", conditional=k > 0)
