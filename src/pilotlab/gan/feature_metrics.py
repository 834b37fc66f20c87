"""Distances between a real and a generated sample of feature vectors: KID and precision/recall.

(The Fréchet distance is `pilotlab.gan.metrics.frechet_distance`.)

- KID, the kernel inception distance (Bińkowski et al., 2018, "Demystifying MMD GANs", section 4):
  the unbiased estimator of the squared maximum mean discrepancy with the cubic polynomial kernel
  k(x, y) = (x . y / d + 1)^3,
      MMD^2_u = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(n(n-1)) sum_{i != j} k(y_i, y_j)
                - 2/(mn) sum_{i,j} k(x_i, y_j),
  averaged over random subsets of 1,000 of each sample (their protocol: 100 subsets), with the standard
  deviation over subsets. Unbiased: its expectation is 0 for two samples of one distribution (it can
  be slightly negative), unlike FD, whose estimate is biased upwards with fewer samples.
- Precision and recall (Kynkäänniemi et al., 2019, "Improved Precision and Recall Metric for
  Assessing Generative Models", section 2): the real manifold is the union of balls around each real
  feature with radius its distance to its k-th nearest real neighbour (k = 3); precision is the
  fraction of generated features inside it, recall the fraction of real features inside the
  generated manifold built the same way.
"""

from __future__ import annotations

import numpy as np
import torch

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
PR_K = 3


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(x_i . y_j / d + 1)^3 for x (M, D), y (N, D) -> (M, N)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """The unbiased MMD^2 estimate with the cubic polynomial kernel between samples x (M, D) and y (N, D)."""
    m, n = len(x), len(y)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    xx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    yy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(xx + yy - 2.0 * kxy.mean())


def kid(real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray, subsets: int = KID_SUBSETS,
        subset_size: int = KID_SUBSET_SIZE, seed: int = 0) -> tuple[float, float]:
    """KID (mean, standard deviation over `subsets`) between feature sets (M, D) and (N, D); each subset draws
    min(`subset_size`, M, N) rows of each without replacement (seeded)."""
    x, y = torch.as_tensor(real, dtype=torch.float64), torch.as_tensor(fake, dtype=torch.float64)
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise ValueError(f"KID needs at least 2 features in each set, got {len(x)} and {len(y)}")
    gen = torch.Generator().manual_seed(seed)
    values = [mmd2_unbiased(x[torch.randperm(len(x), generator=gen)[:size]],
                            y[torch.randperm(len(y), generator=gen)[:size]]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values, ddof=1)) if subsets > 1 else 0.0


def _pairwise(a: torch.Tensor, b: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Euclidean distances (M, N), computed in row chunks."""
    return torch.cat([torch.cdist(a[i:i + chunk], b) for i in range(0, len(a), chunk)])


def knn_radii(x: torch.Tensor, k: int = PR_K) -> torch.Tensor:
    """Distance of each row of x (N, D) to its k-th nearest other row (N,)."""
    d = _pairwise(x, x)
    return d.kthvalue(k + 1, dim=1).values  # the 1st smallest is the point itself (distance 0)


def coverage_fraction(ref: torch.Tensor, radii: torch.Tensor, query: torch.Tensor, chunk: int = 1024) -> float:
    """Fraction of `query` rows inside at least one ball (centre ref_i, radius radii_i)."""
    inside = [(torch.cdist(query[i:i + chunk], ref) <= radii[None]).any(1) for i in range(0, len(query), chunk)]
    return float(torch.cat(inside).double().mean())


def precision_recall(real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray,
                     k: int = PR_K) -> tuple[float, float]:
    """(precision, recall) of generated features `fake` (N, D) against real features `real` (M, D)."""
    x, y = torch.as_tensor(real, dtype=torch.float64), torch.as_tensor(fake, dtype=torch.float64)
    if min(len(x), len(y)) <= k:
        raise ValueError(f"precision/recall with k = {k} needs more than {k} features per set")
    return coverage_fraction(x, knn_radii(x, k), y), coverage_fraction(y, knn_radii(y, k), x)
