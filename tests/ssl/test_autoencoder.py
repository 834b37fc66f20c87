"""Dense autoencoder architecture: the 64-unit code stays the bottleneck with or without hidden layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pilotlab.ssl.autoencoder import AutoEncoder


def linear_sizes(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize(("hidden", "encoder", "decoder"), [
    (0, [(784, 64)], [(64, 784)]),
    (256, [(784, 256), (256, 64)], [(64, 256), (256, 784)]),
])
def test_dense_ae_layers_around_a_64_unit_code(hidden: int, encoder: list[tuple[int, int]],
                                               decoder: list[tuple[int, int]]) -> None:
    model = AutoEncoder("ae", (1, 28, 28), latent_dim=64, hidden=hidden)
    assert linear_sizes(model.encoder) == encoder and linear_sizes(model.decoder) == decoder
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        out, code = model(x), model.encode(x)
    assert code.shape == (3, 64) and out.shape == x.shape
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_classic_dense_ae_keeps_its_parameter_names() -> None:
    """Runs trained before `hidden` existed (784-64-784) still load."""
    names = set(AutoEncoder("ae", (1, 28, 28), 64).state_dict())
    assert names == {"encoder.1.weight", "encoder.1.bias", "decoder.0.weight", "decoder.0.bias"}
