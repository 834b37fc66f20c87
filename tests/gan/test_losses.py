"""GAN losses against hand-computed values and a direct per-sample autograd computation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pilotlab.gan import losses


def test_nonsaturating_losses_match_hand_computed_values() -> None:
    zero = torch.zeros(4)
    assert losses.d_loss_nonsaturating(zero, zero).item() == pytest.approx(2 * math.log(2))
    x = torch.tensor([1.5, -0.5])
    sig = torch.sigmoid(x)
    assert losses.g_loss_nonsaturating(x).item() == pytest.approx(float(-sig.log().mean()), rel=1e-6)
    # one-sided smoothing: the real target is 1 - s, the fake target stays 0
    s = 0.1
    expected = float((-(1 - s) * sig.log() - s * (1 - sig).log()).mean() - (1 - sig).log().mean())
    assert losses.d_loss_nonsaturating(x, x, label_smoothing=s).item() == pytest.approx(expected, rel=1e-6)


def test_hinge_losses_match_hand_computed_values() -> None:
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, 0.0, 0.25])
    # real: max(0, 1 - r) = 0, 0.5, 2 -> mean 2.5 / 3; fake: max(0, 1 + f) = 0, 1, 1.25 -> mean 2.25 / 3
    assert losses.d_loss_hinge(real, fake).item() == pytest.approx(2.5 / 3 + 2.25 / 3)
    assert losses.g_loss_hinge(fake).item() == pytest.approx((3.0 - 0.25) / 3)


def test_wgan_losses() -> None:
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])
    assert losses.d_loss_wgan(real, fake).item() == pytest.approx(0.0 - 3.0)
    assert losses.g_loss_wgan(fake).item() == pytest.approx(0.0)


def test_gradient_penalty_of_a_linear_critic_is_closed_form() -> None:
    torch.manual_seed(0)
    w = torch.randn(1, 3, 4, 4)
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731 - gradient is w everywhere
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gp = losses.gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx((w.norm().item() - 1.0) ** 2, rel=1e-5)


def test_gradient_penalty_matches_per_sample_autograd() -> None:
    torch.manual_seed(1)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake = torch.randn(6, 1, 4, 4), torch.randn(6, 1, 4, 4)
    eps = torch.rand(6, 1, 1, 1)
    gp = losses.gradient_penalty(lambda x: critic(x).squeeze(1), real, fake, eps)
    terms = []
    for i in range(6):  # oracle: one sample at a time, gradient of its own score
        x = (eps[i] * real[i] + (1 - eps[i]) * fake[i]).unsqueeze(0).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x)
        terms.append((g.norm() - 1) ** 2)
    assert gp.item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-5)
    # the penalty is differentiable with respect to the critic's weights (double backward)
    gp.backward()
    assert critic[1].weight.grad is not None
    assert critic[1].weight.grad.abs().sum() > 0


def test_interpolates_lie_between_real_and_fake() -> None:
    real, fake = torch.ones(3, 2), torch.zeros(3, 2)
    x = losses.interpolate(real, fake, torch.tensor([[0.0], [0.5], [1.0]]))
    assert torch.equal(x, torch.tensor([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]))


def test_collapse_detector() -> None:
    assert losses.collapsed(1e-5)
    assert not losses.collapsed(0.5)


def test_lecam_penalty_matches_a_naive_loop() -> None:
    real, fake = torch.tensor([1.5, -0.2, 0.3, 2.0]), torch.tensor([-1.0, 0.4, -2.5])
    anchor_real, anchor_fake = 0.5, -0.6
    # per sample: real outputs above alpha_F and fake outputs below alpha_R are penalised, squared
    real_terms = [max(0.0, float(r) - anchor_fake) ** 2 for r in real]
    fake_terms = [max(0.0, anchor_real - float(f)) ** 2 for f in fake]
    expected = sum(real_terms) / len(real) + sum(fake_terms) / len(fake)
    got = losses.lecam_penalty(real, fake, anchor_real, anchor_fake)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # a D whose real outputs stay below the fake anchor (and fakes above the real one) pays nothing
    assert losses.lecam_penalty(torch.tensor([-1.0]), torch.tensor([1.0]), 0.5, 0.0).item() == 0.0


def test_lecam_penalty_gradient_matches_the_hand_derivative() -> None:
    real = torch.tensor([1.0, -2.0], requires_grad=True)
    fake = torch.tensor([0.0, 3.0], requires_grad=True)
    losses.lecam_penalty(real, fake, 1.0, -1.0).backward()
    # d/dr mean(relu(r + 1)^2) = 2 relu(r + 1) / 2; d/df mean(relu(1 - f)^2) = -2 relu(1 - f) / 2
    assert real.grad.tolist() == pytest.approx([2.0, 0.0])
    assert fake.grad.tolist() == pytest.approx([-1.0, 0.0])


def test_lecam_anchors_start_at_the_first_batch_then_average() -> None:
    first = losses.lecam_anchors(None, torch.tensor([1.0, 3.0]), torch.tensor([-1.0, -2.0]))
    assert first == pytest.approx((2.0, -1.5))
    second = losses.lecam_anchors(first, torch.tensor([0.0]), torch.tensor([0.5]), decay=0.9)
    assert second == pytest.approx((0.9 * 2.0 + 0.1 * 0.0, 0.9 * -1.5 + 0.1 * 0.5))


def test_r1_penalty_of_a_linear_critic_is_the_squared_weight_norm() -> None:
    torch.manual_seed(2)
    w = torch.randn(1, 1, 4, 4)
    real = torch.randn(5, 1, 4, 4, requires_grad=True)
    out = (real * w).flatten(1).sum(1)  # gradient w for every sample
    assert losses.r1_penalty(real, out).item() == pytest.approx(w.pow(2).sum().item(), rel=1e-5)


def test_r1_penalty_matches_per_sample_autograd_and_is_differentiable() -> None:
    torch.manual_seed(3)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 1))
    real = torch.randn(6, 1, 4, 4, requires_grad=True)
    r1 = losses.r1_penalty(real, critic(real).squeeze(1))
    terms = []
    for i in range(6):  # oracle: one sample at a time
        x = real[i].detach().unsqueeze(0).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x)
        terms.append(g.pow(2).sum())
    assert r1.item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-5)
    r1.backward()
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0
