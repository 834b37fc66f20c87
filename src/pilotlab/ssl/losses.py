"""Self-supervised losses as pure functions: NT-Xent (SimCLR) and VICReg.

- NT-Xent: Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations"
  (SimCLR, ICML 2020), eq. 1. Each of the 2N views is an anchor; its positive is the other view
  of the same image, and the other 2N - 2 views are negatives.
- VICReg: Bardes, Ponce & LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
  Self-Supervised Learning" (ICLR 2022), eq. 1-6, with the paper's weights 25 / 25 / 1.

Under torchrun, `gather_with_grad` collects the other ranks' embeddings with an all_gather whose
backward sends each rank the gradient of its own slice (``torch.distributed.nn.functional``), so the
negatives span the global batch and the gradients equal those of one process seeing that batch.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F


def gather_with_grad(z: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Concatenate `z` (B, D) from every rank along dim 0, keeping gradients.

    Returns (all_z (W*B, D), offset of this rank's rows in all_z). One process: (z, 0).
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return z, 0
    from torch.distributed.nn.functional import all_gather

    parts = all_gather(z)  # W tensors of (B, D); backward sums each rank's gradient slice
    return torch.cat(parts, dim=0), dist.get_rank() * z.shape[0]  # (W*B, D)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5, distributed: bool = True) -> torch.Tensor:
    """Normalized-temperature cross-entropy loss of SimCLR, averaged over the 2N anchors.

    Args:
        z1: (N, D) projections of the first views.
        z2: (N, D) projections of the second views; row i is the positive of z1's row i.
        temperature: tau > 0 dividing the cosine similarities (SimCLR uses 0.1-1.0; 0.5 for CIFAR).
        distributed: under torchrun, use the views of all ranks as negatives (anchors stay local).

    With every embedding identical, each logit is 1/tau and the loss is log(2N - 1), where N counts
    the global batch.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"z1 and z2 must both be (N, D); got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = z1.shape[0]
    q = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, D) local anchors: views 1 then views 2
    if distributed:
        k1, offset = gather_with_grad(F.normalize(z1, dim=1))  # (W*N, D)
        k2, _ = gather_with_grad(F.normalize(z2, dim=1))
    else:
        k1, k2, offset = F.normalize(z1, dim=1), F.normalize(z2, dim=1), 0
    total = k1.shape[0]  # global N
    keys = torch.cat([k1, k2])  # (2 * global N, D)
    logits = q @ keys.T / temperature  # (2N, 2 * global N)
    local = torch.arange(n, device=z1.device) + offset  # global index of each local image
    self_idx = torch.cat([local, local + total])  # (2N,) column of each anchor itself
    pos_idx = torch.cat([local + total, local])  # (2N,) column of each anchor's positive
    logits = logits.masked_fill(F.one_hot(self_idx, 2 * total).bool(), float("-inf"))
    return F.cross_entropy(logits, pos_idx)


def nt_xent_identical_value(n: int) -> float:
    """Analytic NT-Xent when all 2n embeddings coincide: every one of 2n - 1 logits ties."""
    return math.log(2 * n - 1)


class VICRegTerms(NamedTuple):
    """The three VICReg terms (unweighted) and their weighted sum."""

    loss: torch.Tensor
    invariance: torch.Tensor
    variance: torch.Tensor
    covariance: torch.Tensor


def vicreg(z1: torch.Tensor, z2: torch.Tensor, sim_weight: float = 25.0, var_weight: float = 25.0,
           cov_weight: float = 1.0, gamma: float = 1.0, eps: float = 1e-4, distributed: bool = True) -> VICRegTerms:
    """VICReg loss of two (N, D) embedding batches (paper eq. 6; weights lambda=mu=25, nu=1).

    invariance: mean squared distance between paired embeddings;
    variance: mean hinge max(0, gamma - sqrt(var + eps)) of each dimension's std, per branch;
    covariance: sum of squared off-diagonal covariances divided by D, per branch.
    Under torchrun (`distributed`), variance and covariance use the global batch.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"z1 and z2 must both be (N, D); got {tuple(z1.shape)} and {tuple(z2.shape)}")
    invariance = F.mse_loss(z1, z2)
    if distributed:
        z1, _ = gather_with_grad(z1)
        z2, _ = gather_with_grad(z2)
    n, d = z1.shape
    if n < 2:
        raise ValueError("VICReg needs at least 2 samples for the variance term")
    variance = z1.new_zeros(())
    covariance = z1.new_zeros(())
    for z in (z1, z2):
        zc = z - z.mean(dim=0)  # (N, D)
        std = torch.sqrt(zc.var(dim=0) + eps)  # (D,)
        variance = variance + F.relu(gamma - std).mean() / 2
        cov = zc.T @ zc / (n - 1)  # (D, D)
        off = cov - torch.diag(torch.diagonal(cov))
        covariance = covariance + off.pow(2).sum() / d
    loss = sim_weight * invariance + var_weight * variance + cov_weight * covariance
    return VICRegTerms(loss, invariance, variance, covariance)
