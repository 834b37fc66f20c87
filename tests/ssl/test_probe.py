"""Probes: label subsets, logistic regression and kNN on features with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pilotlab.ssl.probe import ProbeSettings, extract_features, knn_accuracy, label_subset, linear_probe, probe_suite


def blobs(n_per: int, seed: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(5, 8) * 5
    x = np.concatenate([c + spread * rng.standard_normal((n_per, 8)) for c in centres]).astype(np.float32)
    return x, np.repeat(np.arange(5), n_per)


def test_label_subset_is_per_class_and_deterministic() -> None:
    y = np.repeat(np.arange(3), [50, 4, 20])
    idx = label_subset(y, 10, np.random.default_rng(0))
    assert np.bincount(y[idx]).tolist() == [10, 4, 10]  # a class with fewer keeps all of them
    assert np.array_equal(idx, label_subset(y, 10, np.random.default_rng(0)))


def test_probes_separate_clean_blobs_and_fail_on_noise() -> None:
    xtr, ytr = blobs(40, 0, 0.5)
    xte, yte = blobs(40, 1, 0.5)
    out = probe_suite(xtr, ytr, xte, yte, draws=2, budgets=(None, 10))
    assert out["linear_acc_all"] == 1.0 and out["linear_acc_10pc"] == 1.0 and out["knn_acc"] == 1.0
    assert out["linear_acc_10pc_std"] == 0.0
    rng = np.random.default_rng(2)
    noise_tr, noise_te = rng.standard_normal((200, 8)), rng.standard_normal((200, 8))
    chance = linear_probe(noise_tr, ytr, noise_te, yte, None, settings=ProbeSettings(standardize=False))
    assert chance.mean < 0.4


def test_knn_matches_brute_force_majority() -> None:
    xtr, ytr = blobs(20, 3, 3.0)
    xte, yte = blobs(20, 4, 3.0)
    acc = knn_accuracy(xtr, ytr, xte, yte, k=1)
    a = xtr / np.linalg.norm(xtr, axis=1, keepdims=True)
    b = xte / np.linalg.norm(xte, axis=1, keepdims=True)
    nearest = ytr[(b @ a.T).argmax(1)]
    assert acc == pytest.approx(float((nearest == yte).mean()))


def test_extract_features_batches_and_restores_mode() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.BatchNorm1d(3))
    net.train()
    x = torch.rand(7, 1, 2, 2)
    f = extract_features(net, x, batch_size=3)
    assert f.shape == (7, 3) and net.training
    net.eval()
    assert np.allclose(f, net(x).detach().numpy(), atol=1e-6)
