"""The scoring classifier: accuracy, safetensors cache, and the real-vs-real floor it yields."""

from __future__ import annotations

import pytest
import torch

from pilotlab.data import load_dataset
from pilotlab.data.download import cache_dir
from pilotlab.gan import classifier
from pilotlab.gan.classifier import ClassifierConfig, random_affine
from pilotlab.gan.metrics import Evaluator, frechet_distance, gaussian_stats

from .conftest import TINY


def test_tiny_classifier_is_accurate_and_cached_as_safetensors(scorer: Evaluator) -> None:
    ds = load_dataset("mnist-5k")
    assert classifier.accuracy(scorer.classifier, ds.test_x, ds.test_y) > 0.9
    cfg = TINY
    files = sorted(p.name for p in (cache_dir() / "classifiers").iterdir())
    assert f"mnist-5k-{cfg.key()}.safetensors" in files
    assert f"mnist-5k-{cfg.key()}.json" in files
    assert classifier.cached_accuracy(cfg) > 0.9


def test_cached_classifier_loads_without_training(scorer: Evaluator, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached classifier must not be retrained")

    monkeypatch.setattr(classifier, "train_classifier", no_training)
    model = classifier.load_or_train(TINY)
    for a, b in zip(model.state_dict().values(), scorer.classifier.state_dict().values()):
        assert torch.equal(a, b)


def test_config_hash_changes_with_every_field() -> None:
    base = ClassifierConfig()
    assert base.key() == ClassifierConfig().key()
    assert base.key() != ClassifierConfig(epochs=29).key()
    assert base.key() != ClassifierConfig(seed=1).key()
    assert base.key() != base.key("fashion-mnist")


def test_floor_is_real_vs_real_fd_and_far_below_noise(scorer: Evaluator) -> None:
    ds = load_dataset("mnist-5k")
    train_stats = gaussian_stats(classifier.features(scorer.classifier, ds.train_x))
    test_stats = gaussian_stats(classifier.features(scorer.classifier, ds.test_x))
    assert scorer.real.floor == pytest.approx(frechet_distance(*train_stats, *test_stats), rel=1e-6)
    assert scorer.real.floor > 0
    noise = torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert scorer.fd(noise) > 20 * scorer.real.floor
    # real test digits score near the floor; shuffled pixels do not
    assert scorer.fd(ds.test_x[:5000]) < 3 * scorer.real.floor
    shuffled = ds.train_x.flatten(1)[:, torch.randperm(784, generator=torch.Generator().manual_seed(0))]
    assert scorer.fd(shuffled.view(-1, 1, 28, 28)) > 10 * scorer.real.floor


def test_random_affine_keeps_shape_and_mass() -> None:
    x = torch.zeros(4, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0
    y = random_affine(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    assert torch.allclose(y.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=0.3)  # scale 0.9-1.1 changes area <= 21%
    assert not torch.equal(x, y)
