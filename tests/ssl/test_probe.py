"""Probes: label subsets, logistic regression and kNN on features with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pilotlab.ssl.probe import (
    PIXEL_PROBE,
    PROBE,
    ProbeSettings,
    extract_features,
    knn_accuracy,
    label_subset,
    linear_probe,
    prepare_features,
    probe_suite,
)


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


def test_prepare_features_normalises_rows_then_standardizes_with_training_statistics() -> None:
    train = np.array([[3.0, 4.0], [0.0, 2.0], [1.0, 0.0]], dtype=np.float32)
    test = np.array([[6.0, 8.0]], dtype=np.float32)
    a, b = prepare_features(train, test, PROBE)
    unit = np.array([[0.6, 0.8], [0.0, 1.0], [1.0, 0.0]])  # rows / their norms, by hand
    mean, std = unit.mean(0), unit.std(0)
    assert np.allclose(a, (unit - mean) / (std + 1e-6), atol=1e-5)
    assert np.allclose(b, ([0.6, 0.8] - mean) / (std + 1e-6), atol=1e-5)  # the test set uses train statistics
    raw_a, raw_b = prepare_features(train, test, PIXEL_PROBE)
    assert np.array_equal(raw_a, train) and np.array_equal(raw_b, test)


def test_few_label_probe_equals_a_fit_on_pool_prepared_features() -> None:
    from sklearn.linear_model import LogisticRegression

    xtr, ytr = blobs(40, 5, 2.0)
    xte, yte = blobs(40, 6, 2.0)
    xtr = xtr * np.random.default_rng(0).uniform(0.5, 5.0, (len(xtr), 1)).astype(np.float32)  # scales L2 removes
    score = linear_probe(xtr, ytr, xte, yte, per_class=5, draws=1, seed=3)
    a, b = prepare_features(xtr, xte, PROBE)  # statistics of all 200 training vectors, labels unused
    idx = label_subset(ytr, 5, np.random.default_rng([3, 0]))
    oracle = LogisticRegression(C=PROBE.C, max_iter=PROBE.max_iter).fit(a[idx], ytr[idx]).predict(b)
    assert score.mean == pytest.approx(float((oracle == yte).mean()))
    assert score.mean > 0.6
