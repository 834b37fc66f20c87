"""SimCLR: contrastive learning of visual representations with the NT-Xent loss.

Chen, Kornblith, Norouzi & Hinton, "A Simple Framework for Contrastive Learning of Visual
Representations" (ICML 2020). Two random views of each image go through a shared backbone and a
projection head; NT-Xent (losses.py) pulls the two views of an image together and pushes the other
2N - 2 views of the batch away. Under torchrun the negatives come from every rank's views.

Defaults differ from the paper's ImageNet recipe because the budget is a CPU for minutes: a 3-layer
conv backbone instead of a ResNet-50, AdamW + cosine schedule instead of LARS at batch 4096, and
temperature 0.2 (the paper finds 0.1-0.5 best with the smaller batches of its Table 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.ssl.joint import JointConfig, LossFn, load_backbone, random_backbone, train_joint
from pilotlab.ssl.losses import nt_xent


@dataclass(frozen=True, kw_only=True)
class SimCLRConfig(JointConfig):
    method: Literal["simclr"] = "simclr"
    """SimCLR (Chen et al., 2020)."""
    epochs: int = 50
    """Passes over the training images (50: the benchmark recipe of docs/ssl.md, about 7 min of CPU on MNIST-5k)."""
    temperature: float = 0.2
    """NT-Xent temperature tau dividing the cosine similarities."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.temperature <= 0:
            raise PilotlabError(f"temperature must be > 0, got {self.temperature}")


def simclr_loss(temperature: float) -> LossFn:
    """The `LossFn` of SimCLR: NT-Xent over global negatives at `temperature`."""

    def loss(z1: torch.Tensor, z2: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return nt_xent(z1, z2, temperature), {}

    return loss


def train(cfg: SimCLRConfig) -> RunDir:
    """Pretrain with SimCLR; returns the run directory (checkpoints/last holds the model)."""
    return train_joint(cfg, "simclr", simclr_loss(cfg.temperature))


def encoder_from_state(run: RunDir, state: dict[str, Any], shape: tuple[int, int, int]) -> nn.Module:
    """The trained backbone (pre-projection features) of a finished SimCLR run."""
    return load_backbone(run, SimCLRConfig, state, shape)


def random_encoder(run: RunDir, shape: tuple[int, int, int], seed: int) -> nn.Module:
    """A randomly initialised backbone of the run's architecture (the random-init baseline)."""
    from pilotlab.core.config import from_dict

    return random_backbone(from_dict(SimCLRConfig, run.config()["config"]), shape, seed)
