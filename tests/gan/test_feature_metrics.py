"""KID and precision/recall against closed forms, a naive implementation and constructed point sets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from pilotlab.gan.feature_metrics import kid, knn_radii, mmd2_unbiased, polynomial_kernel, precision_recall


def naive_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 estimator written out pair by pair, kernel (x . y / d + 1)^3."""
    d = x.shape[1]

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (float(a @ b) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_mmd2_matches_the_naive_pairwise_sum() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 2.0, size=(9, 3))
    assert mmd2_unbiased(torch.tensor(x), torch.tensor(y)) == pytest.approx(naive_mmd2(x, y), rel=1e-10)
    assert polynomial_kernel(torch.tensor(x), torch.tensor(y)).shape == (7, 9)


def gaussian_moments(mean: float, std: float) -> np.ndarray:
    """E[x], E[x^2], E[x^3] of N(mean, std^2)."""
    return np.array([mean, mean**2 + std**2, mean**3 + 3 * mean * std**2])


def test_mmd2_of_one_dimensional_gaussians_is_the_closed_form() -> None:
    # d = 1: E k(x, y) = E[(xy)^3] + 3 E[(xy)^2] + 3 E[xy] + 1 = sum_j c_j m_j(x) m_j(y) + 1, so
    # MMD^2 = sum_j c_j (m_j(P) - m_j(Q))^2 with c = (3, 3, 1) for the moments m_j = E[x^j], j = 1, 2, 3.
    # The estimator is unbiased: its mean over independent samples converges to it (the cubic kernel's heavy
    # tails make one large sample noisy, so many small fresh ones are averaged)
    gen = torch.Generator().manual_seed(0)
    (ma, sa), (mb, sb) = (0.0, 1.0), (0.3, 0.8)
    closed = float(np.dot([3, 3, 1], (gaussian_moments(ma, sa) - gaussian_moments(mb, sb)) ** 2))
    values = [mmd2_unbiased(ma + sa * torch.randn(300, 1, generator=gen, dtype=torch.float64),
                            mb + sb * torch.randn(300, 1, generator=gen, dtype=torch.float64)) for _ in range(200)]
    assert np.mean(values) == pytest.approx(closed, abs=4 * np.std(values) / np.sqrt(len(values)))
    x, y = torch.randn(50, 3, generator=gen), torch.randn(40, 3, generator=gen)
    # subsets of all rows: every subset is the whole sample, permuted (the estimate is order-free)
    assert kid(x[:40], y, subsets=3, subset_size=40)[0] == pytest.approx(mmd2_unbiased(x[:40].double(), y.double()))


def test_kid_is_unbiased_for_one_distribution_and_grows_with_the_shift() -> None:
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(4000, 8, generator=gen), torch.randn(4000, 8, generator=gen)
    mean, std = kid(x, y, subsets=40, subset_size=500)
    assert abs(mean) < 3 * std / np.sqrt(40) + 1e-4  # expectation 0: the estimator may go negative
    shifted = [kid(x, y + s, subsets=10, subset_size=500)[0] for s in (0.1, 0.3, 1.0)]
    assert shifted == sorted(shifted) and shifted[0] > mean


def test_knn_radii_match_a_loop() -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(30, 4, generator=gen, dtype=torch.float64)
    for i in (0, 7, 29):
        d = sorted(float((x[i] - x[j]).norm()) for j in range(30) if j != i)
        assert knn_radii(x, 3)[i].item() == pytest.approx(d[2])


def test_precision_recall_on_constructed_point_sets() -> None:
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(200, 2, generator=gen, dtype=torch.float64)  # cluster at the origin
    b = a + 100.0  # a far cluster
    assert precision_recall(a, a) == (1.0, 1.0)  # a copy of the real set
    assert precision_recall(a, b) == (0.0, 0.0)  # disjoint supports
    real = torch.cat([a, b])
    p, r = precision_recall(real, a)  # mode dropping: every sample real-looking, half the modes missing
    assert (p, r) == (1.0, 0.5)
    p, r = precision_recall(a, torch.cat([a[:100], b[:100]]))  # half the samples off the manifold
    assert p == 0.5 and r >= 0.5
