"""Fréchet distance against closed forms; coverage entropy and GAN-test on hand-made predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from pilotlab.gan.metrics import coverage_entropy, frechet_distance, gan_test_accuracy, gaussian_stats


def test_fd_of_diagonal_gaussians_is_closed_form() -> None:
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])  # standard deviations squared
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected)


def test_fd_of_identical_gaussians_is_zero_and_symmetric() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    s1, s2 = a @ a.T + np.eye(5), np.cov(rng.normal(size=(50, 5)), rowvar=False)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu1, s1))
    # peer formula: scipy's general matrix square root of S1 S2
    covmean = linalg.sqrtm(s1 @ s2).real
    peer = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(peer, rel=1e-6)


def test_fd_of_samples_approaches_the_gaussians_closed_form() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 4))
    cov1, cov2 = a @ a.T / 4 + 0.5 * np.eye(4), np.diag([1.0, 2.0, 0.5, 1.5])
    mu1, mu2 = np.zeros(4), np.array([1.0, -1.0, 0.5, 0.0])
    x1 = rng.multivariate_normal(mu1, cov1, size=200_000)
    x2 = rng.multivariate_normal(mu2, cov2, size=200_000)
    exact = frechet_distance(mu1, cov1, mu2, cov2)
    estimate = frechet_distance(*gaussian_stats(x1), *gaussian_stats(x2))
    assert estimate == pytest.approx(exact, rel=0.02)


def test_coverage_entropy_and_gan_test() -> None:
    balanced = torch.arange(1000) % 10
    assert coverage_entropy(balanced) == pytest.approx(math.log(10))
    assert coverage_entropy(torch.zeros(100, dtype=torch.long)) == 0.0
    half = torch.tensor([0, 1] * 50)
    assert coverage_entropy(half) == pytest.approx(math.log(2))
    assert gan_test_accuracy(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 2, 0, 4])) == pytest.approx(0.75)
