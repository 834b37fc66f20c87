"""A data-set-agnostic GAN metric without downloaded weights: FD, KID and precision/recall on the
features of a VICReg encoder (the ssl pillar) trained on the data set's own real training images.

FID's InceptionV3 cannot be downloaded here and never saw digits, clothes or the user's folder; our
digit classifier needs labels and 28x28 digits. A self-supervised encoder needs neither: it is trained
once per data set, without labels, with the ssl pillar's VICReg loss, views and backbone
(`pilotlab.ssl`), and cached in ``cache_dir()/gan-encoders/<name>-<hash>.safetensors``, where the hash
covers every field of `EncoderConfig` and the digest of the images it was trained on (after the GAN's
resizing), so other data under the same name, or the same data at another resolution, gets its own.

Every score is shown beside its floor: the same score between `n` real training images and the real
test images (the FD estimator is biased by the sample size, so the floor uses as many real images as
the generated sample).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from pilotlab.core import checkpoint
from pilotlab.core.errors import PilotlabError
from pilotlab.core.summary import (
    GAN_COVERAGE,
    GAN_FD,
    GAN_FD_FLOOR,
    GAN_KID,
    GAN_KID_FLOOR,
    GAN_KID_STD,
    GAN_PRECISION,
    GAN_PRECISION_FLOOR,
    GAN_RECALL,
    GAN_RECALL_FLOOR,
    GAN_TEST_ACC,
)
from pilotlab.data.download import cache_dir
from pilotlab.data.registry import ImageDataset
from pilotlab.gan.feature_metrics import KID_SUBSETS, PR_K, kid, precision_recall
from pilotlab.gan.metrics import frechet_distance, gaussian_stats, sample_images

FLOOR_SEED = 4321  # which real training images form the floor's sample


@dataclass(frozen=True)
class EncoderConfig:
    """How the metric's encoder is trained; every field is part of the cache key."""

    steps: int = 600
    """VICReg optimiser steps (batches of `batch_size` images, two views each)."""
    batch_size: int = 256
    """Images per step."""
    lr: float = 2e-3
    """Peak AdamW learning rate (warm-up over 5% of the steps, cosine decay), as the ssl pillar's default."""
    width: int = 16
    """Channels of the backbone's first conv layer (then 2x, 4x): the ssl pillar's small ConvEncoder."""
    feature_dim: int = 256
    """Size of the backbone's output: the features FD, KID and precision/recall are computed on."""
    expander: int = 1024
    """Hidden and output width of VICReg's expander (the loss acts there; the features are before it)."""
    seed: int = 0
    """Seed of initialisation, batch order and views."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "width", "feature_dim", "expander"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"encoder {name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise PilotlabError("encoder batch-size must be >= 2 (VICReg's variance needs pairs)")

    def key(self, digest: str) -> str:
        blob = json.dumps({"data": digest, "version": 1, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _vicreg_config(cfg: EncoderConfig):
    from pilotlab.ssl.vicreg import VICRegConfig

    return VICRegConfig(width=cfg.width, feature_dim=cfg.feature_dim, proj_hidden=cfg.expander,
                        proj_dim=cfg.expander, batch_size=cfg.batch_size, lr=cfg.lr, evaluate=False, probe_every=0)


def train_encoder(x: torch.Tensor, cfg: EncoderConfig) -> nn.Module:
    """Pretrain the ssl pillar's `JointEmbedding` with VICReg on images `x` (N, C, H, W) in [0, 1]; returns its
    backbone in eval mode. Randomness is private (forked RNG seeded with `cfg.seed`)."""
    from pilotlab.ssl.augment import two_views, view_augmentation
    from pilotlab.ssl.joint import JointEmbedding, lr_at
    from pilotlab.ssl.losses import vicreg

    vcfg = _vicreg_config(cfg)
    shape = (int(x.shape[1]), int(x.shape[2]), int(x.shape[3]))
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        model = JointEmbedding(shape, vcfg)
        aug = view_augmentation(shape, vcfg.view_spec())
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=vcfg.weight_decay)
        batch = min(cfg.batch_size, len(x))
        order = torch.randperm(len(x), generator=gen)
        pos = 0
        model.train()
        for step in range(cfg.steps):
            if pos + batch > len(order):
                order, pos = torch.randperm(len(x), generator=gen), 0
            idx = order[pos:pos + batch]
            pos += batch
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg.steps, max(1, cfg.steps // 20), cfg.lr)
            v1, v2 = two_views(aug, x[idx])
            z1, z2 = model(torch.cat([v1, v2])).chunk(2)  # one pass: BatchNorm sees both views
            loss = vicreg(z1, z2, vcfg.sim_weight, vcfg.var_weight, vcfg.cov_weight).loss
            if not math.isfinite(loss.item()):
                raise PilotlabError(f"the metric's VICReg encoder diverged (loss {loss.item()}) at step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.backbone.eval()


def encoder_stem(ds: ImageDataset, cfg: EncoderConfig):
    return cache_dir() / "gan-encoders" / f"{ds.name}-{cfg.key(ds.digest)}"


def load_or_train_encoder(ds: ImageDataset, cfg: EncoderConfig, verbose: bool = True) -> nn.Module:
    """The cached encoder for (`cfg`, the images of `ds`); trains and caches it on first use."""
    from pilotlab.ssl.joint import JointEmbedding

    stem = encoder_stem(ds, cfg)
    if checkpoint.exists(stem):
        state, meta = checkpoint.load(stem)
        if meta.get("config") != asdict(cfg):
            raise PilotlabError(f"cached encoder {stem} does not match its config; delete it to retrain")
        with torch.random.fork_rng():
            model = JointEmbedding(ds.shape, _vicreg_config(cfg))
        model.backbone.load_state_dict(state["backbone"])
        return model.backbone.eval()
    if verbose:
        print(f"training the metric's VICReg encoder once ({cfg.steps} steps on {len(ds.train_x):,} {ds.name} "
              f"training images, {ds.shape}); it is cached in {stem.parent}", flush=True)
    encoder = train_encoder(ds.train_x, cfg)
    stem.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.save(stem, {"backbone": encoder.state_dict()}, {"config": asdict(cfg), "dataset": ds.name,
                                                               "data_digest": ds.digest, "shape": list(ds.shape)})
    return encoder


@torch.no_grad()
def encode(encoder: nn.Module, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """Features (N, feature_dim) float64 of images (N, C, H, W) in [0, 1]."""
    device = next(encoder.parameters()).device
    return torch.cat([encoder(x[i:i + batch].to(device)).cpu() for i in range(0, len(x), batch)]).double()


def _subset(n_total: int, n: int, seed: int) -> torch.Tensor:
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]


class SSLEvaluator:
    """Scores generators by FD, KID and precision/recall on the cached encoder's features of `ds`'s test images."""

    def __init__(self, ds: ImageDataset, cfg: EncoderConfig = EncoderConfig(), n: int = 5000,
                 kid_subsets: int = KID_SUBSETS):
        """`n`: the generated sample size the floors are computed for (as many real training images);
        `kid_subsets`: KID's random subsets (100 as Bińkowski et al.; fewer for quick checks)."""
        self.ds, self.cfg, self.kid_subsets = ds, cfg, kid_subsets
        self.encoder = load_or_train_encoder(ds, cfg)
        self.test = encode(self.encoder, ds.test_x)  # (N_test, D)
        self.mu, self.sigma = gaussian_stats(self.test)
        self.n = n
        train = encode(self.encoder, ds.train_x[_subset(len(ds.train_x), n, FLOOR_SEED)])
        floor = self.compare(train)
        self.floors = {GAN_FD_FLOOR: floor[GAN_FD], GAN_KID_FLOOR: floor[GAN_KID],
                       GAN_PRECISION_FLOOR: floor[GAN_PRECISION], GAN_RECALL_FLOOR: floor[GAN_RECALL]}

    def compare(self, feats: torch.Tensor) -> dict[str, float]:
        """FD, KID (and its std) and precision/recall of features (N, D) against the real test features
        (precision/recall against a seeded subset of N test features, so both manifolds have as many points)."""
        enough = min(len(self.test), len(feats)) >= 2
        k_mean, k_std = kid(self.test, feats, self.kid_subsets) if enough else (math.nan, math.nan)
        ref = self.test[_subset(len(self.test), len(feats), FLOOR_SEED + 1)]
        # undefined (NaN, reported as null) where a tiny folder's test split has too few images for k-NN balls
        precision, recall = precision_recall(ref, feats) if min(len(ref), len(feats)) > PR_K else (math.nan, math.nan)
        return {GAN_FD: frechet_distance(*gaussian_stats(feats), self.mu, self.sigma), GAN_KID: k_mean,
                GAN_KID_STD: k_std, GAN_PRECISION: precision, GAN_RECALL: recall}

    def score_images(self, images: torch.Tensor) -> dict[str, float]:
        """Scores and floors of images (N, C, H, W) in [0, 1]."""
        return {**self.compare(encode(self.encoder, images)), **self.floors}

    def score(self, generator: torch.nn.Module, z_dim: int, conditional: bool, n: int, seed: int,
              device: torch.device | str = "cpu") -> dict[str, float]:
        """eval/fd (on SSL features), its floor, eval/kid, eval/precision, eval/recall and their floors;
        eval/gan_test_acc and eval/coverage_entropy are NaN (no classifier judges these images)."""
        images, _ = sample_images(generator, n, z_dim, conditional, seed, self.ds.num_classes, device)
        return {**self.score_images(images), GAN_TEST_ACC: math.nan, GAN_COVERAGE: math.nan}
