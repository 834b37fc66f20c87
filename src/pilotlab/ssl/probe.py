"""Probes on frozen features: logistic regression with all / few labels, and cosine kNN.

The protocol of the issue (and of lightly's / solo-learn's benchmarks, scaled to a CPU):
- linear probe (`PROBE`, the same for every row, raw pixels included): L2-normalise each feature
  vector (the cosine geometry the kNN and the contrastive losses use), standardize each dimension
  with the statistics of the whole unlabelled training pool (labels unused; with 10 labels per
  class, statistics of the 100 labelled images alone are noisy), fit scikit-learn's multinomial
  `LogisticRegression` (L-BFGS, C=1: fixed beforehand, never tuned on test labels), report test
  accuracy. `PIXEL_PROBE` is the classic unscaled raw-pixel regression (C=0.1), kept as an extra
  reference row because it is the stronger pixel baseline at 10 labels per class;
- few labels: the same with `per_class` labelled images per class, mean and std over `draws`
  independent label draws (the label subsets depend only on the seed, so every method and
  baseline is probed on the same images);
- kNN: cosine similarity, k=20 neighbours voting with weights exp(sim / 0.07) as in Wu et al.,
  "Unsupervised Feature Learning via Non-Parametric Instance Discrimination" (CVPR 2018).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits
from torch import nn

from pilotlab.data.registry import ImageDataset

LABEL_BUDGETS: tuple[int | None, ...] = (None, 10, 100)
"""Labels per class of the linear probes: None = all labels."""


@dataclass(frozen=True)
class ProbeScore:
    """Test accuracy (fraction) of one probe: mean and std over label draws (std 0 for one draw)."""

    mean: float
    std: float
    draws: int


@torch.no_grad()
def extract_features(encode: Callable[[torch.Tensor], torch.Tensor] | nn.Module, x: torch.Tensor,
                     device: torch.device | str = "cpu", batch_size: int = 1000) -> np.ndarray:
    """Frozen features of images `x` (N, C, H, W) -> float32 array (N, D), in eval mode."""
    module = encode if isinstance(encode, nn.Module) else None
    was_training = module.training if module is not None else False
    if module is not None:
        module.eval()
    out = []
    for i in range(0, len(x), batch_size):
        f = encode(x[i:i + batch_size].to(device))
        out.append(f.flatten(1).float().cpu())  # (B, D)
    if module is not None:
        module.train(was_training)
    return torch.cat(out).numpy()


def pixel_features(x: torch.Tensor) -> np.ndarray:
    """The raw-pixel baseline: (N, C, H, W) -> (N, C*H*W)."""
    return x.flatten(1).numpy().astype(np.float32)  # (N, C*H*W)


def label_subset(y: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `per_class` random examples of every class (all of a class that has fewer)."""
    picks = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        picks.append(rng.choice(idx, size=min(per_class, len(idx)), replace=False))
    return np.sort(np.concatenate(picks))


@dataclass(frozen=True)
class ProbeSettings:
    """How features are fed to the logistic regression."""

    l2_normalize: bool = True
    """Scale each feature vector to unit length first."""
    standardize: bool = True
    """Then scale each dimension to zero mean, unit variance (statistics of all training features, no labels)."""
    C: float = 1.0
    """Inverse L2 strength of scikit-learn's LogisticRegression."""
    max_iter: int = 500
    """L-BFGS iterations."""


PROBE = ProbeSettings()
"""The protocol's probe, applied alike to every row (learned, random-init and raw-pixel features)."""
PIXEL_PROBE = ProbeSettings(l2_normalize=False, standardize=False, C=0.1)
"""The classic raw-pixel logistic regression (pixels in [0, 1]; the issue's reference, scores in docs/ssl.md)."""


def prepare_features(train_f: np.ndarray, test_f: np.ndarray,
                     settings: ProbeSettings) -> tuple[np.ndarray, np.ndarray]:
    """Apply the settings' L2 normalisation and standardization (fit on `train_f`, all of it) to both sets."""
    if settings.l2_normalize:
        train_f = train_f / (np.linalg.norm(train_f, axis=1, keepdims=True) + 1e-12)  # (N, D), unit rows
        test_f = test_f / (np.linalg.norm(test_f, axis=1, keepdims=True) + 1e-12)
    if settings.standardize:
        mean = train_f.mean(axis=0)  # (D,)
        std = train_f.std(axis=0) + 1e-6  # (D,)
        train_f, test_f = (train_f - mean) / std, (test_f - mean) / std
    return train_f, test_f


def _fit_predict(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray, settings: ProbeSettings) -> np.ndarray:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=settings.C, max_iter=settings.max_iter)
    # One BLAS thread: on a shared 2-core machine OpenBLAS's spinning threads made tiny fits 20x slower.
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)  # a probe stopped at max_iter is still valid
        clf.fit(train_f, train_y)
        return clf.predict(test_f)


def linear_probe(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray, test_y: np.ndarray,
                 per_class: int | None = None, draws: int = 3, seed: int = 0,
                 settings: ProbeSettings = PROBE) -> ProbeScore:
    """Logistic-regression probe accuracy with all labels (`per_class` None) or `per_class` per class.

    `train_f` holds the features of every training image: with `per_class` set, the feature
    statistics come from all of them (no labels needed) and the regression sees only the drawn ones.
    """
    train_f, test_f = prepare_features(train_f, test_f, settings)
    if per_class is None:
        acc = float((_fit_predict(train_f, train_y, test_f, settings) == test_y).mean())
        return ProbeScore(acc, 0.0, 1)
    accs = []
    for d in range(draws):
        idx = label_subset(train_y, per_class, np.random.default_rng([seed, d]))
        accs.append(float((_fit_predict(train_f[idx], train_y[idx], test_f, settings) == test_y).mean()))
    return ProbeScore(float(np.mean(accs)), float(np.std(accs)), draws)


def knn_accuracy(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray, test_y: np.ndarray,
                 k: int = 20, temperature: float = 0.07, chunk: int = 1000) -> float:
    """Weighted cosine kNN accuracy (k neighbours, vote weight exp(similarity / temperature))."""
    bank = F.normalize(torch.from_numpy(train_f).float(), dim=1)  # (Ntr, D)
    labels = torch.from_numpy(train_y).long()
    n_classes = int(labels.max()) + 1
    k = min(k, len(bank))
    correct = 0
    for i in range(0, len(test_f), chunk):
        q = F.normalize(torch.from_numpy(test_f[i:i + chunk]).float(), dim=1)  # (B, D)
        sim, idx = (q @ bank.T).topk(k, dim=1)  # (B, k)
        votes = torch.zeros(len(q), n_classes).scatter_add_(1, labels[idx], (sim / temperature).exp())  # (B, classes)
        correct += int((votes.argmax(1) == torch.from_numpy(test_y[i:i + chunk])).sum())
    return correct / len(test_f)


def probe_suite(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray, test_y: np.ndarray,
                seed: int = 0, draws: int = 3, budgets: tuple[int | None, ...] = LABEL_BUDGETS,
                knn: bool = True, settings: ProbeSettings = PROBE) -> dict[str, float]:
    """Every probe of the protocol as flat keys: linear_acc_all, linear_acc_10pc(_std), ..., knn_acc."""
    out: dict[str, float] = {}
    for per_class in budgets:
        score = linear_probe(train_f, train_y, test_f, test_y, per_class, draws, seed, settings)
        name = "all" if per_class is None else f"{per_class}pc"
        out[f"linear_acc_{name}"] = score.mean
        if per_class is not None:
            out[f"linear_acc_{name}_std"] = score.std
    if knn:
        out["knn_acc"] = knn_accuracy(train_f, train_y, test_f, test_y)
    return out


QUICK_TEST_IMAGES = 2000
"""Test images used by the probes run during training (the full protocol uses all of them)."""


def quick_probe(encoder: nn.Module, ds: ImageDataset, device: torch.device | str, seed: int = 0) -> dict[str, float]:
    """Cheap probes for the curve over training: kNN and one 10-label draw on the first 2,000 test images.

    Logged as ``eval/knn_acc_subset`` and ``eval/linear_acc_10pc_subset``.
    """
    train_f = extract_features(encoder, ds.train_x, device)
    test_f = extract_features(encoder, ds.test_x[:QUICK_TEST_IMAGES], device)
    train_y, test_y = ds.train_y.numpy(), ds.test_y[:QUICK_TEST_IMAGES].numpy()
    return {
        "eval/knn_acc_subset": knn_accuracy(train_f, train_y, test_f, test_y),
        "eval/linear_acc_10pc_subset": linear_probe(train_f, train_y, test_f, test_y, 10, draws=1, seed=seed).mean,
    }
