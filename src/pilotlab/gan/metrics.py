"""GAN metrics on our own MNIST classifier: Fréchet distance, its real-vs-real floor, GAN-test, coverage.

- Fréchet distance (Heusel et al., 2017) between Gaussians fitted to the classifier's penultimate
  features: FD = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)). It is the FID recipe with
  our digit classifier (`pilotlab.gan.classifier`) in place of InceptionV3, so its values are not
  comparable with published FIDs; compare them with the floor.
- The floor: the same FD between the real training digits and the real test digits (on mnist-5k the
  official 10,000 when found, else 1,000 held-out digits: summary key data/test_set says which).
  No generator can be expected to beat two real samples of the same distribution; the estimator's
  bias depends on sample size, so generated sets are scored with 5,000 images against the same
  test statistics.
- GAN-test accuracy (Shmelkov et al., 2018): accuracy of the classifier on class-conditional
  samples, with the requested class as the label (precision of the conditioning).
- Class-coverage entropy: entropy [nats] of the classifier's predicted-class histogram on samples;
  ln 10 = 2.303 when all ten digits appear equally often, lower under mode collapse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from pilotlab.core import checkpoint
from pilotlab.core.summary import GAN_COVERAGE, GAN_FD, GAN_FD_FLOOR, GAN_TEST_ACC
from pilotlab.gan.classifier import ClassifierConfig, DigitClassifier, cache_stem, features, load_or_train

EVAL_BATCH = 500
EVAL_SEED = 1234  # noise of every evaluation; fixed so FD curves and re-evaluations compare like with like


def gaussian_stats(feats: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64."""
    f = np.asarray(feats, dtype=np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) for Gaussians N(mu1, S1), N(mu2, S2).

    Tr((S1 S2)^(1/2)) is computed as the sum of square roots of the eigenvalues of the symmetric
    PSD matrix S1^(1/2) S2 S1^(1/2) (same eigenvalues as S1 S2), which avoids the complex parts a
    general matrix square root produces on nearly singular covariances.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    w1, v1 = np.linalg.eigh((s1 + s1.T) / 2)
    root1 = (v1 * np.sqrt(np.clip(w1, 0.0, None))) @ v1.T  # S1^(1/2)
    m = root1 @ s2 @ root1
    eig = np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.sqrt(eig).sum())


def coverage_entropy(pred: torch.Tensor, num_classes: int = 10) -> float:
    """Entropy [nats] of the histogram of predicted classes (N,); ln(num_classes) at most."""
    p = torch.bincount(pred, minlength=num_classes).double()
    p = p / p.sum()
    nz = p[p > 0]
    return max(0.0, float(-(nz * nz.log()).sum()))


def gan_test_accuracy(pred: torch.Tensor, requested: torch.Tensor) -> float:
    """Fraction of class-conditional samples classified as the class they were generated for."""
    return float((pred == requested).double().mean())


@dataclass(frozen=True)
class RealStats:
    """Feature statistics of the real test digits and the real-vs-real floor."""

    mu: np.ndarray
    sigma: np.ndarray
    floor: float


@torch.no_grad()
def sample_images(generator: torch.nn.Module, n: int, z_dim: int, conditional: bool, seed: int,
                  num_classes: int = 10, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """`n` images (N, C, H, W) in [0, 1] and their requested labels (N,) (balanced 0, 1, ..., 9, 0, ...).

    The noise comes from a private generator seeded with `seed`, so sampling never moves the
    training RNG streams. Labels are requested only when the generator is conditional.
    """
    gen = torch.Generator().manual_seed(seed)
    was_training = generator.training
    generator.eval()
    labels = torch.arange(n) % num_classes
    out = []
    for i in range(0, n, EVAL_BATCH):
        z = torch.randn(min(EVAL_BATCH, n - i), z_dim, generator=gen).to(device)
        y = labels[i:i + len(z)].to(device) if conditional else None
        out.append(((generator(z, y) + 1) / 2).clamp(0, 1).cpu())  # [-1, 1] -> [0, 1]
    generator.train(was_training)
    return torch.cat(out), labels


class Evaluator:
    """Scores generators with the cached classifier against cached real-test statistics."""

    def __init__(self, clf_cfg: ClassifierConfig, dataset: str = "mnist-5k", data_dir: str | None = None):
        """`dataset` loaded from `data_dir` (as the run loaded it): classifier and statistics are cached per
        content digest of that data, never taken from another source under the same name."""
        from pilotlab.data.registry import cached_dataset

        self.classifier: DigitClassifier = load_or_train(clf_cfg, dataset, data_dir=data_dir)
        base = cache_stem(clf_cfg, dataset, data_dir)
        stem = base.with_name(base.name + "-stats2")  # 2: folded-BN features
        if checkpoint.exists(stem):
            state, meta = checkpoint.load(stem)
            self.real = RealStats(state["mu"].numpy(), state["sigma"].numpy(), float(meta["floor"]))
        else:
            ds = cached_dataset(dataset, data_dir)
            mu, sigma = gaussian_stats(features(self.classifier, ds.test_x))
            floor = frechet_distance(*gaussian_stats(features(self.classifier, ds.train_x)), mu, sigma)
            self.real = RealStats(mu, sigma, floor)
            checkpoint.save(stem, {"mu": torch.from_numpy(mu), "sigma": torch.from_numpy(sigma)},
                            {"floor": floor, "n_test": len(ds.test_x), "n_train": len(ds.train_x)})

    def fd(self, images: torch.Tensor) -> float:
        """Fréchet distance of images (N, C, H, W) in [0, 1] to the real test digits."""
        return frechet_distance(*gaussian_stats(features(self.classifier, images)), self.real.mu, self.real.sigma)

    def score(self, generator: torch.nn.Module, z_dim: int, conditional: bool, n: int, seed: int,
              device: torch.device | str = "cpu") -> dict[str, float]:
        """eval/fd, eval/fd_floor, eval/gan_test_acc (NaN if unconditional), eval/coverage_entropy."""
        images, labels = sample_images(generator, n, z_dim, conditional, seed, device=device)
        feats = features(self.classifier, images)  # (N, D) float64; one classifier pass serves both scores
        with torch.no_grad():
            pred = self.classifier.head(feats.float().to(next(self.classifier.parameters()).device)).argmax(1).cpu()
        return {
            GAN_FD: frechet_distance(*gaussian_stats(feats), self.real.mu, self.real.sigma),
            GAN_FD_FLOOR: self.real.floor,
            GAN_TEST_ACC: gan_test_accuracy(pred, labels) if conditional else math.nan,
            GAN_COVERAGE: coverage_entropy(pred),
        }


class BestTracker:
    """Remembers the lowest FD seen; `update` says whether this evaluation is a new best."""

    def __init__(self, best: float = math.inf):
        self.best = best

    def update(self, fd: float) -> bool:
        if math.isfinite(fd) and fd < self.best:
            self.best = fd
            return True
        return False
