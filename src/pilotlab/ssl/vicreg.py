"""VICReg: variance-invariance-covariance regularisation, a non-contrastive joint-embedding method.

Bardes, Ponce & LeCun, "VICReg: Variance-Invariance-Covariance Regularization for Self-Supervised
Learning" (ICLR 2022). No negatives and no momentum encoder: the two views' embeddings are pulled
together (invariance), while each embedding dimension is kept spread out over the batch (variance
hinge at std 1) and the dimensions are decorrelated (covariance), which prevents collapse.

Loss weights 25 / 25 / 1 are the paper's. The paper's expander is 8192-8192-8192 on a ResNet-50;
ours is 1024-1024 on the small conv backbone (the paper's Table 7 shows a wider expander helps, and
1024 keeps a CPU step cheap). Optimiser, schedule and views are shared with SimCLR (joint.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.ssl.joint import JointConfig, LossFn, load_backbone, random_backbone, train_joint
from pilotlab.ssl.losses import vicreg


@dataclass(frozen=True, kw_only=True)
class VICRegConfig(JointConfig):
    method: Literal["vicreg"] = "vicreg"
    """VICReg (Bardes et al., 2022)."""
    epochs: int = 35
    """Passes over the training images (35: the benchmark recipe of docs/ssl.md, about 5 min of CPU on MNIST-5k)."""
    proj_hidden: int = 1024
    """Hidden width of the expander (Linear-BN-ReLU-Linear)."""
    proj_dim: int = 1024
    """Output size of the expander, where the variance and covariance terms act."""
    sim_weight: float = 25.0
    """lambda: weight of the invariance (mean squared error) term."""
    var_weight: float = 25.0
    """mu: weight of the variance hinge term."""
    cov_weight: float = 1.0
    """nu: weight of the covariance term."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("sim_weight", "var_weight", "cov_weight"):
            if getattr(self, name) < 0:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")


def vicreg_loss(cfg: VICRegConfig) -> LossFn:
    """The `LossFn` of VICReg; also logs the three unweighted terms."""

    def loss(z1: torch.Tensor, z2: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        terms = vicreg(z1, z2, cfg.sim_weight, cfg.var_weight, cfg.cov_weight)
        return terms.loss, {"train/invariance": terms.invariance.item(), "train/variance": terms.variance.item(),
                            "train/covariance": terms.covariance.item()}

    return loss


def train(cfg: VICRegConfig) -> RunDir:
    """Pretrain with VICReg; returns the run directory (checkpoints/last holds the model)."""
    return train_joint(cfg, "vicreg", vicreg_loss(cfg))


def encoder_from_state(run: RunDir, state: dict[str, Any], shape: tuple[int, int, int]) -> nn.Module:
    """The trained backbone (pre-expander features) of a finished VICReg run."""
    return load_backbone(run, VICRegConfig, state, shape)


def random_encoder(run: RunDir, shape: tuple[int, int, int], seed: int) -> nn.Module:
    """A randomly initialised backbone of the run's architecture (the random-init baseline)."""
    from pilotlab.core.config import from_dict

    return random_backbone(from_dict(VICRegConfig, run.config()["config"]), shape, seed)
