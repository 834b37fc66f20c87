"""Pieces every GAN model shares: weight init, spectral norm, generator EMA, gradient averaging.

- `dcgan_init`: N(0, 0.02) for conv/linear weights, N(1, 0.02) for batch-norm scales, zero biases
  (Radford et al., 2016, section 4: "All weights were initialized from a zero-centered Normal
  distribution with standard deviation 0.02").
- `add_spectral_norm`: W / sigma(W) on every conv and linear layer of a discriminator, one power
  iteration per forward (Miyato et al., 2018).
- `EMA`: exponential moving average of the generator's weights (Karras et al., 2018; Yazici et al.,
  2019), evaluated instead of the raw generator; buffers (batch-norm statistics) are copied.
- `sync_gradients` / `broadcast_parameters`: data parallelism under torchrun without
  DistributedDataParallel, whose one-forward-one-backward contract does not fit GAN steps
  (separate real/fake forwards, the gradient penalty's double backward, G's loss flowing through D).
"""

from __future__ import annotations

import copy

import torch
import torch.distributed as dist
from torch import nn

from pilotlab.core import distributed


def dcgan_init(module: nn.Module) -> None:
    """Apply the DCGAN initialisation to `module` and its children (use with `Module.apply`)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Wrap every Conv2d/Linear weight of `module` in spectral normalisation (in place)."""
    from torch.nn.utils.parametrizations import spectral_norm

    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Conv2d, nn.Linear)):
            setattr(module, name, spectral_norm(child))
        else:
            add_spectral_norm(child)
    return module


def has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


class EMA:
    """Shadow copy of a generator whose weights follow w_ema <- d * w_ema + (1 - d) * w.

    With `start` = 0 the decay warms up as d_t = min(decay, (1 + t) / (10 + t)) over updates t, so early
    averages are not dominated by the random initial weights (0.999^300 would still give them 74%
    weight). Note that (1 + t) / (10 + t) only reaches 0.999 at t = 8,991 (0.9995 at 17,991), so in
    shorter runs the warm-up, not `decay`, sets the average (about the last t / 9 updates). With
    `start` = N > 0 the shadow copies G for the first N updates and then averages with the fixed
    `decay` (no warm-up: the step-N copy is a trained generator), as in "EMA after a burn-in"
    (Yazıcı et al., 2019, The Unusual Effectiveness of Averaging in GAN Training).
    """

    def __init__(self, model: nn.Module, decay: float, start: int = 0):
        self.decay, self.start = decay, start
        self.updates = 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        """d for the next update (a function of the update count alone, so resuming is exact)."""
        if self.start > 0:
            return 0.0 if self.updates < self.start else self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = self.current_decay()
        self.updates += 1
        for p_ema, p in zip(self.model.parameters(), model.parameters()):
            p_ema.lerp_(p.detach(), 1.0 - decay)
        for b_ema, b in zip(self.model.buffers(), model.buffers()):
            b_ema.copy_(b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {**self.model.state_dict(), "__updates__": torch.tensor(self.updates)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        weights = dict(state)
        self.updates = int(weights.pop("__updates__", torch.tensor(0)))
        self.model.load_state_dict(weights)


def sync_gradients(module: nn.Module) -> None:
    """Average gradients over torchrun ranks (no-op in one process)."""
    world = distributed.world_size()
    if world == 1:
        return
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world


def broadcast_parameters(module: nn.Module) -> None:
    """Give every rank rank 0's weights and buffers (ranks seed differently, so inits differ)."""
    if distributed.world_size() == 1:
        return
    with torch.no_grad():
        for t in module.state_dict().values():
            dist.broadcast(t, src=0)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
