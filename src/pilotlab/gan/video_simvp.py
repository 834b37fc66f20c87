"""SimVP-style video predictor (Gao et al. 2022, "SimVP: Simpler yet Better Video Prediction"), sized for a CPU.

All convolutions, no recurrence: a spatial encoder maps each context frame to a 16x16 feature map, a
translator sees the context frames stacked along channels and outputs the future frames' maps in one pass,
and a decoder maps each back to a 64x64 frame. SimVP's encoder and decoder downsample and upsample with
strided convolutions at full resolution; here frames enter and leave as 4x4 patches (space-to-depth, as
OpenSTL does for its recurrent models), because full-resolution convolutions cost most of a CPU step for
little gain. As in SimVP the decoder also gets a skip connection from the input, here the last context
frame's patches. The translator's blocks are
ConvNeXt-style (depthwise 7x7 conv, then a 1x1 MLP), a cheap stand-in for SimVP's grouped Inception
blocks: digits move 3.6 px per frame, about 9 px of the 16x16 map over 10 frames, so the translator needs
a wide receptive field but little width. An optional latent z (B, z_dim) is added to every translator
position, so sampling z samples a future.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from pilotlab.core.errors import PilotlabError
from pilotlab.gan.video import VideoConfig

PATCH = 4
"""Frames enter and leave as 4x4 patches (space-to-depth: 64x64 -> 16 channels at 16x16), as in OpenSTL."""


@dataclass(frozen=True, kw_only=True)
class SimVPConfig(VideoConfig):
    model: Literal["simvp"] = "simvp"
    """Video model: simvp (convolutional, one pass) or convlstm (recurrent)."""
    spatial_width: int = 32
    """Channels of each frame's encoder and decoder (SimVP's hid_S; 64 in the paper)."""
    translator_width: int = 128
    """Channels of the translator (SimVP's hid_T; 256-512 in the paper)."""
    translator_blocks: int = 6
    """ConvNeXt-style blocks of the translator (SimVP's N_T; 8 in the paper)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("spatial_width", "translator_width", "translator_blocks"):
            if not 1 <= getattr(self, name) <= 4096:
                raise PilotlabError(f"{name.replace('_', '-')} must lie in [1, 4096], got {getattr(self, name)}")


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.GroupNorm(_groups(cout), cout), nn.SiLU())


def _groups(c: int) -> int:
    return next(g for g in (8, 4, 2, 1) if c % g == 0)


class _Block(nn.Module):
    """Depthwise 7x7 conv + GroupNorm + 1x1 MLP (2x expansion), residual."""

    def __init__(self, c: int):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, 1, 3, groups=c)
        self.norm = nn.GroupNorm(1, c)
        self.mlp = nn.Sequential(nn.Conv2d(c, 2 * c, 1), nn.GELU(), nn.Conv2d(2 * c, c, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(self.dw(x)))


class SimVP(nn.Module):
    """forward(context (B, Tc, 1, H, W) in [0, 1], z (B, z_dim) or None) -> future (B, Tf, 1, H, W) in [0, 1]."""

    def __init__(self, context: int, future: int, spatial: int, width: int, blocks: int, z_dim: int = 0):
        super().__init__()
        self.context, self.future, self.spatial = context, future, spatial
        cin = PATCH * PATCH
        self.enc = nn.Sequential(_conv(cin, spatial), _conv(spatial, spatial), _conv(spatial, spatial))
        self.inp = nn.Conv2d(context * spatial, width, 1)
        self.z = nn.Linear(z_dim, width) if z_dim else None
        self.blocks = nn.Sequential(*[_Block(width) for _ in range(blocks)])
        self.out = nn.Conv2d(width, future * spatial, 1)
        self.dec = nn.Sequential(_conv(spatial + cin, spatial), _conv(spatial, spatial),
                                 nn.Conv2d(spatial, cin, 3, 1, 1))

    def forward(self, context: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        b, tc, _, h, w = context.shape
        hp, wp = h // PATCH, w // PATCH
        patches = F.pixel_unshuffle(context.flatten(0, 1), PATCH)  # (B*Tc, 16, h/4, w/4)
        low = self.enc(patches)  # (B*Tc, S, h/4, w/4)
        hid = self.inp(low.reshape(b, tc * self.spatial, hp, wp))  # (B, width, h/4, w/4)
        if self.z is not None and z is not None:
            hid = hid + self.z(z)[:, :, None, None]
        hid = self.out(self.blocks(hid)).reshape(b * self.future, self.spatial, hp, wp)
        last = patches.reshape(b, tc, -1, hp, wp)[:, -1:].expand(b, self.future, -1, hp, wp).flatten(0, 1)
        logits = self.dec(torch.cat([hid, last], 1))  # (B*Tf, 16, h/4, w/4)
        return torch.sigmoid(F.pixel_shuffle(logits, PATCH)).reshape(b, self.future, 1, h, w)


def build(cfg: SimVPConfig) -> nn.Module:
    return SimVP(cfg.context, cfg.frames - cfg.context, cfg.spatial_width, cfg.translator_width,
                 cfg.translator_blocks, cfg.z_dim if cfg.latent != "none" else 0)
