"""Small convolutional encoders/decoders for 28x28 (MNIST family) and 32x32 (CIFAR) images."""

from __future__ import annotations

import torch
from torch import nn


class ConvEncoder(nn.Module):
    """Three stride-2 conv blocks then a linear map to `out_dim` features.

    (B, C, H, W) -> (B, out_dim). Widths `width, 2*width, 4*width`; works for any H, W >= 8.
    """

    def __init__(self, in_channels: int = 1, out_dim: int = 128, width: int = 32, image_size: int = 28,
                 batch_norm: bool = True):
        super().__init__()
        w = width
        norm = (lambda c: nn.BatchNorm2d(c)) if batch_norm else (lambda c: nn.Identity())
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, stride=1, padding=1), norm(w), nn.ReLU(inplace=True),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), norm(2 * w), nn.ReLU(inplace=True),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), norm(4 * w), nn.ReLU(inplace=True),
        )
        s = (image_size + 3) // 4
        self.flat_dim = 4 * w * s * s
        self.fc = nn.Linear(self.flat_dim, out_dim)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (B, 4w, H/4, W/4)
        return self.fc(h.flatten(1))  # (B, out_dim)


class ConvDecoder(nn.Module):
    """Mirror of `ConvEncoder`: (B, latent_dim) -> (B, C, H, W) with values in [0, 1]."""

    def __init__(self, out_channels: int = 1, latent_dim: int = 128, width: int = 32, image_size: int = 28):
        super().__init__()
        w = width
        self.s = (image_size + 3) // 4
        self.image_size = image_size
        self.fc = nn.Linear(latent_dim, 4 * w * self.s * self.s)
        self.w = w
        self.net = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(w, out_channels, 3, padding=1), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, 4 * self.w, self.s, self.s)  # (B, 4w, s, s)
        x = self.net(h)  # (B, C, 4s, 4s)
        return x[..., : self.image_size, : self.image_size]  # crop to (B, C, H, W)
