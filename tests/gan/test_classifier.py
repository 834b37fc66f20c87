"""The scoring classifier: accuracy, safetensors cache, and the real-vs-real floor it yields."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pilotlab.data import load_dataset
from pilotlab.data.download import cache_dir
from pilotlab.data.idx import write_idx
from pilotlab.data.registry import cached_dataset as gan_dataset
from pilotlab.gan import classifier
from pilotlab.gan.classifier import ClassifierConfig, random_affine
from pilotlab.gan.metrics import Evaluator, frechet_distance, gaussian_stats

from .conftest import TINY


def test_tiny_classifier_is_cached_as_safetensors(scorer: Evaluator) -> None:
    files = sorted(p.name for p in (cache_dir() / "classifiers").iterdir())
    stem = classifier.cache_stem(TINY).name
    assert stem.startswith("mnist-5k-") and f"{stem}.safetensors" in files and f"{stem}.json" in files
    assert classifier.cached_accuracy(TINY) > 0.9


def test_cached_classifier_loads_without_training(scorer: Evaluator, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached classifier must not be retrained")

    monkeypatch.setattr(classifier, "train_classifier", no_training)
    model = classifier.load_or_train(TINY)
    for a, b in zip(model.state_dict().values(), scorer.classifier.state_dict().values()):
        assert torch.equal(a, b)


def test_loading_the_cached_classifier_leaves_the_callers_rng_alone(scorer: Evaluator) -> None:
    # Training it never touched the global stream; loading it must not either, or a run's samples would
    # depend on whether the cache was warm.
    torch.manual_seed(123)
    state = torch.get_rng_state()
    classifier.load_or_train(TINY)
    assert torch.equal(torch.get_rng_state(), state)


def test_config_hash_changes_with_every_field() -> None:
    base = ClassifierConfig()
    assert base.key() == ClassifierConfig().key()
    assert base.key() != ClassifierConfig(epochs=29).key()
    assert base.key() != ClassifierConfig(seed=1).key()
    assert base.key() != base.key("fashion-mnist")
    assert base.key("mnist", "digest-a") != base.key("mnist", "digest-b")


def _digits_dir(folder: Path, seed: int) -> str:
    """A tiny MNIST-format --data-dir: 40 train and 20 test random 28x28 images, labels 0..9."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for prefix, n in (("train", 40), ("t10k", 20)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8) % 10)
    return str(folder)


def test_scorer_follows_the_data_dir_not_the_name(tmp_path: Path) -> None:
    """Two --data-dir folders under the same data-set name get their own classifier and real statistics."""
    a, b = _digits_dir(tmp_path / "a", 0), _digits_dir(tmp_path / "b", 1)
    assert classifier.cache_stem(TINY, "mnist", a) != classifier.cache_stem(TINY, "mnist", b)
    ev_a, ev_b = Evaluator(TINY, "mnist", a), Evaluator(TINY, "mnist", b)
    assert not np.allclose(ev_a.real.mu, ev_b.real.mu)
    meta = json.loads(classifier.cache_stem(TINY, "mnist", a).with_suffix(".json").read_text())["meta"]
    assert meta["data_dir"] == a and meta["data_digest"] == gan_dataset("mnist", a).digest


def test_accuracy_and_floor_is_real_vs_real_fd_far_below_noise(scorer: Evaluator) -> None:
    ds = load_dataset("mnist-5k")
    test_feats = classifier.features(scorer.classifier, ds.test_x)  # (10000, D), one pass reused below
    with torch.no_grad():
        pred = scorer.classifier.head(test_feats.float()).argmax(1)
    assert (pred == ds.test_y).float().mean() > 0.9
    train_stats = gaussian_stats(classifier.features(scorer.classifier, ds.train_x))
    assert scorer.real.floor == pytest.approx(frechet_distance(*train_stats, *gaussian_stats(test_feats)), rel=1e-6)
    assert scorer.real.floor > 0
    # half of the real test digits score near the floor; noise and shuffled pixels do not
    half = frechet_distance(*gaussian_stats(test_feats[:5000]), scorer.real.mu, scorer.real.sigma)
    assert half < 3 * scorer.real.floor
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert scorer.fd(noise) > 20 * scorer.real.floor
    perm = torch.randperm(784, generator=torch.Generator().manual_seed(0))
    shuffled = ds.train_x[:1000].flatten(1)[:, perm].view(-1, 1, 28, 28)  # (1000, 1, 28, 28)
    assert scorer.fd(shuffled) > 10 * scorer.real.floor


def test_random_affine_keeps_shape_and_mass() -> None:
    x = torch.zeros(4, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1.0
    y = random_affine(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    assert torch.allclose(y.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=0.3)  # scale 0.9-1.1 changes area <= 21%
    assert not torch.equal(x, y)


def test_inference_copy_matches_the_eval_model() -> None:
    torch.manual_seed(0)
    model = classifier.DigitClassifier(width=8, feature_dim=16)
    model.train()
    for _ in range(3):  # move the batch-norm running statistics away from their initial (0, 1)
        model(torch.rand(32, 1, 28, 28) * 2)
    model.eval()
    x = torch.rand(50, 1, 28, 28)
    with torch.no_grad():
        ref_logits, ref_feats = model(x), model.features(x).double()
    fast = classifier.inference_copy(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())  # folded into the convs
    assert torch.allclose(classifier.features(model, x, batch=16), ref_feats, atol=1e-5)
    assert torch.equal(classifier.predict(model, x, batch=16), ref_logits.argmax(1))
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the original is untouched
