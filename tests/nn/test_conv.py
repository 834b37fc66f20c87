"""Shared networks: shapes for every image size the datasets use, value ranges, MLP layout."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pilotlab.nn import ConvDecoder, ConvEncoder, mlp


@pytest.mark.parametrize(("channels", "size"), [(1, 8), (1, 28), (3, 32)])
def test_encoder_decoder_round_trip_shapes(channels: int, size: int) -> None:
    x = torch.rand(5, channels, size, size)
    enc = ConvEncoder(channels, 12, width=8, image_size=size)
    z = enc(x)
    assert z.shape == (5, 12) and enc.out_dim == 12
    y = ConvDecoder(channels, 12, width=8, image_size=size)(z).detach()
    assert y.shape == x.shape
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_encoder_without_batch_norm_has_no_norm_layers() -> None:
    enc = ConvEncoder(1, 4, width=4, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in enc.modules())


def test_mlp_layout() -> None:
    net = mlp(3, [5, 6], 2, batch_norm=True, out_act=nn.Sigmoid())
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear", "Sigmoid"]
    assert net(torch.randn(4, 3)).shape == (4, 2)
