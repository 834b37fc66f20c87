"""NT-Xent and VICReg against naive loops and closed forms."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pilotlab.ssl.losses import nt_xent, nt_xent_identical_value, vicreg


def nt_xent_naive(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> torch.Tensor:
    """SimCLR eq. 1 written as a double loop over anchors and candidates."""
    z = torch.cat([z1, z2])
    n2 = len(z)
    n = n2 // 2
    total = torch.zeros((), dtype=z.dtype)
    for i in range(n2):
        pos = (i + n) % n2
        sims = [F.cosine_similarity(z[i], z[k], dim=0) / tau for k in range(n2)]
        denom = sum(torch.exp(s) for k, s in enumerate(sims) if k != i)
        total = total - torch.log(torch.exp(sims[pos]) / denom)
    return total / n2


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0])
def test_nt_xent_matches_naive_loop(tau: float) -> None:
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.randn(6, 5, generator=g, dtype=torch.float64)
    assert nt_xent(z1, z2, tau).item() == pytest.approx(nt_xent_naive(z1, z2, tau).item(), rel=1e-10)


@pytest.mark.parametrize("n", [1, 2, 7, 64])
def test_nt_xent_identical_embeddings_give_log_2n_minus_1(n: int) -> None:
    z = torch.ones(n, 3)
    assert nt_xent(z, z.clone(), 0.3).item() == pytest.approx(math.log(2 * n - 1), rel=1e-6)
    assert nt_xent_identical_value(n) == pytest.approx(math.log(2 * n - 1))


def test_nt_xent_is_low_for_separated_pairs_and_scale_invariant() -> None:
    z = torch.eye(4) * 3.0  # 4 orthogonal images, both views identical
    low = nt_xent(z, z, 0.1).item()
    assert low < 0.01
    assert nt_xent(z * 10, z, 0.1).item() == pytest.approx(low, rel=1e-5)  # cosine similarity ignores norms


def test_nt_xent_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(torch.ones(2, 3), torch.ones(2, 3), 0.0)
    with pytest.raises(ValueError, match="N, D"):
        nt_xent(torch.ones(2, 3), torch.ones(3, 3))


def vicreg_naive(z1: torch.Tensor, z2: torch.Tensor) -> tuple[float, float, float]:
    n, d = z1.shape
    inv = sum(float((z1[i, j] - z2[i, j]) ** 2) for i in range(n) for j in range(d)) / (n * d)
    var = cov = 0.0
    for z in (z1, z2):
        mean = [sum(float(z[i, j]) for i in range(n)) / n for j in range(d)]
        c = [[sum((float(z[i, a]) - mean[a]) * (float(z[i, b]) - mean[b]) for i in range(n)) / (n - 1)
              for b in range(d)] for a in range(d)]
        var += sum(max(0.0, 1.0 - math.sqrt(c[j][j] + 1e-4)) for j in range(d)) / d / 2
        cov += sum(c[a][b] ** 2 for a in range(d) for b in range(d) if a != b) / d
    return inv, var, cov


def test_vicreg_terms_match_naive_loops() -> None:
    g = torch.Generator().manual_seed(1)
    z1 = 0.5 * torch.randn(8, 4, generator=g, dtype=torch.float64)
    z2 = z1 + 0.1 * torch.randn(8, 4, generator=g, dtype=torch.float64)
    terms = vicreg(z1, z2)
    inv, var, cov = vicreg_naive(z1, z2)
    assert terms.invariance.item() == pytest.approx(inv, rel=1e-9)
    assert terms.variance.item() == pytest.approx(var, rel=1e-9)
    assert terms.covariance.item() == pytest.approx(cov, rel=1e-9)
    assert terms.loss.item() == pytest.approx(25 * inv + 25 * var + cov, rel=1e-9)


def test_vicreg_collapse_costs_the_full_variance_hinge() -> None:
    z = torch.ones(16, 8)
    terms = vicreg(z, z)
    assert terms.invariance.item() == 0.0 and terms.covariance.item() == 0.0
    assert terms.variance.item() == pytest.approx(1 - math.sqrt(1e-4), rel=1e-6)  # both branches, halved
