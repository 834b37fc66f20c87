"""A small fully convolutional backbone with a stride-4 feature map, for dense prediction on small images.

(B, C, H, W) -> (B, 4 * width, H / 4, W / 4). Five 3x3 conv blocks (BN + ReLU): stride 2, 1, 2, 1 and a
dilated one that widens the receptive field without another downsampling, so objects a few pixels wide
keep a cell of their own. `embed` pools the map to one vector per image: the representation a
self-supervised method (a joint-embedding loss or a reconstruction head) trains, so a detector can start
from the same weights.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class StrideFourBackbone(nn.Module):
    """Conv feature extractor: (B, C, H, W) -> (B, out_channels, ceil(H/4), ceil(W/4))."""

    def __init__(self, in_channels: int = 3, width: int = 16):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *_block(in_channels, w, stride=2), *_block(w, 2 * w), *_block(2 * w, 4 * w, stride=2),
            *_block(4 * w, 4 * w), *_block(4 * w, 4 * w, dilation=2))
        self.out_channels = 4 * w
        self.width = width
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, out_channels): the feature map averaged over space."""
        return self.features(x).mean(dim=(2, 3))


__all__ = ["StrideFourBackbone"]
