"""Encoder registry: shapes, and the permutation invariance of the deep-sets encoders."""

from __future__ import annotations

import pytest
import torch

from pilotlab.core.errors import PilotlabError
from pilotlab.nn import mlp
from pilotlab.rl.networks import NETWORKS, build_encoder, flat_layers, run_layers


@pytest.mark.parametrize("name", list(NETWORKS))
def test_output_shape(name: str) -> None:
    enc = build_encoder(name, (5, 7), (16, 8))
    assert enc(torch.randn(3, 5, 7)).shape == (3, enc.out_dim) == (3, 8)


def test_deepsets_is_permutation_invariant() -> None:
    torch.manual_seed(0)
    enc = build_encoder("deepsets", (6, 4), (16, 16))
    x = torch.randn(2, 6, 4)
    assert torch.allclose(enc(x), enc(x[:, torch.randperm(6)]), atol=1e-6)


def test_deepsets_ego_keeps_row_zero_apart() -> None:
    torch.manual_seed(0)
    enc = build_encoder("deepsets-ego", (6, 4), (16, 16))
    x = torch.randn(2, 6, 4)
    others = torch.cat([torch.zeros(1, dtype=torch.long), 1 + torch.randperm(5)])
    assert torch.allclose(enc(x), enc(x[:, others]), atol=1e-6)  # permuting the other rows: same
    swapped = x[:, [1, 0, 2, 3, 4, 5]]
    assert not torch.allclose(enc(x), enc(swapped), atol=1e-4)  # moving the ego row: different


def test_bad_inputs() -> None:
    with pytest.raises(PilotlabError):
        build_encoder("deepsets", (4,), (8,))
    with pytest.raises(PilotlabError):
        build_encoder("transformer", (4,), (8,))


def test_run_layers_is_the_sequential_bit_for_bit() -> None:
    """The flat call (ReLU in place after each Linear) gives the Sequential's outputs and gradients exactly."""
    torch.manual_seed(0)
    net = mlp(5, [32, 16], 3, out_act=torch.nn.Tanh())
    x = torch.randn(64, 5, requires_grad=True)
    ref = net(x)
    ref.pow(2).sum().backward()
    ref_grads = [p.grad.clone() for p in net.parameters()] + [x.grad.clone()]
    net.zero_grad()
    x.grad = None
    got = run_layers(flat_layers(net), x)
    got.pow(2).sum().backward()
    assert torch.equal(got, ref)
    assert all(torch.equal(a, b) for a, b in zip([p.grad for p in net.parameters()] + [x.grad], ref_grads))
    assert len(flat_layers(net)) == 6  # Linear, ReLU, Linear, ReLU, Linear, Tanh
