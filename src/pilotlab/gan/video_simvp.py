"""SimVP-style video predictor (Gao et al. 2022, "SimVP: Simpler yet Better Video Prediction"), sized for a CPU.

All convolutions, no recurrence: a spatial encoder maps each context frame to a 16x16 feature map (two
stride-2 convs), a translator sees the context frames stacked along channels and outputs the future
frames' maps in one pass, and a decoder upsamples each back to 64x64. As in SimVP, the decoder also gets
the encoder's full-resolution features of a context frame (a skip connection), here always those of the
last context frame, the best guess of the background-free appearance. The translator's blocks are
ConvNeXt-style (depthwise 7x7 conv, then a 1x1 MLP), a cheap stand-in for SimVP's grouped Inception
blocks: digits move 3.6 px per frame, about 9 px of the 16x16 map over 10 frames, so the translator needs
a wide receptive field but little width. An optional latent z (B, z_dim) is added to every translator
position, so sampling z samples a future.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pilotlab.core.errors import PilotlabError
from pilotlab.gan.video import VideoConfig


@dataclass(frozen=True, kw_only=True)
class SimVPConfig(VideoConfig):
    model: str = "simvp"
    """Video model: simvp (convolutional, one pass) or convlstm (recurrent)."""
    spatial_width: int = 16
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


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(_groups(cout), cout), nn.SiLU())


def _groups(c: int) -> int:
    return next(g for g in (8, 4, 2, 1) if c % g == 0)


class _Up(nn.Module):
    """Double the resolution: 3x3 conv to 4x the channels, then pixel shuffle."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, 4 * cout, 3, 1, 1)
        self.shuffle = nn.PixelShuffle(2)
        self.norm = nn.GroupNorm(_groups(cout), cout)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.shuffle(self.conv(x))))


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
        self.enc_full = _conv(1, spatial)  # (., S, 64, 64): also the skip connection
        self.enc = nn.Sequential(_conv(spatial, spatial, 2), _conv(spatial, spatial), _conv(spatial, spatial, 2))
        self.inp = nn.Conv2d(context * spatial, width, 1)
        self.z = nn.Linear(z_dim, width) if z_dim else None
        self.blocks = nn.Sequential(*[_Block(width) for _ in range(blocks)])
        self.out = nn.Conv2d(width, future * spatial, 1)
        self.dec = nn.Sequential(_Up(spatial, spatial), _conv(spatial, spatial), _Up(spatial, spatial))
        self.head = nn.Sequential(_conv(2 * spatial, spatial), nn.Conv2d(spatial, 1, 1))

    def forward(self, context: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        b, tc, c, h, w = context.shape
        full = self.enc_full(context.reshape(b * tc, c, h, w))  # (B*Tc, S, H, W)
        low = self.enc(full)  # (B*Tc, S, H/4, W/4)
        hid = self.inp(low.reshape(b, tc * self.spatial, h // 4, w // 4))  # (B, width, H/4, W/4)
        if self.z is not None and z is not None:
            hid = hid + self.z(z)[:, :, None, None]
        hid = self.out(self.blocks(hid)).reshape(b * self.future, self.spatial, h // 4, w // 4)
        up = self.dec(hid)  # (B*Tf, S, H, W)
        skip = full.reshape(b, tc, self.spatial, h, w)[:, -1:].expand(b, self.future, self.spatial, h, w)
        logits = self.head(torch.cat([up, skip.reshape(b * self.future, self.spatial, h, w)], 1))
        return torch.sigmoid(logits).reshape(b, self.future, 1, h, w)


def build(cfg: SimVPConfig) -> nn.Module:
    return SimVP(cfg.context, cfg.frames - cfg.context, cfg.spatial_width, cfg.translator_width,
                 cfg.translator_blocks, cfg.z_dim if cfg.latent != "none" else 0)
