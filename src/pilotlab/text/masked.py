"""Masked-character pretraining (BERT-style denoising): corrupt 15% of a window, predict what was there.

Devlin et al., "BERT" (NAACL 2019), at the character level. Each position is chosen with probability
`mask_prob`; a chosen character is replaced by the [MASK] token 80% of the time, by a random character 10%,
and kept 10% (so the model cannot tell corrupted positions from clean ones and must represent every
position). The loss is the cross-entropy at the chosen positions only. Attention is bidirectional: the
model sees both sides of a gap, which is what makes this a denoising autoencoder of the window rather than
a language model, and why it cannot generate text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.text.train import IGNORE, Objective, TextConfig, train_text


@dataclass(frozen=True, kw_only=True)
class MaskedConfig(TextConfig):
    method: Literal["masked"] = "masked"
    """Masked-character denoising (BERT-style)."""
    mask_prob: float = 0.15
    """Fraction of the characters of a window chosen for prediction."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.mask_prob < 1:
            raise PilotlabError(f"mask-prob must be in (0, 1), got {self.mask_prob}")


def mask_characters(windows: torch.Tensor, gen: torch.Generator, mask_prob: float, mask_id: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """windows (B, T) of character ids < mask_id -> (corrupted inputs (B, T), targets (B, T), IGNORE unchosen)."""
    chosen = torch.rand(windows.shape, generator=gen) < mask_prob  # (B, T)
    if not bool(chosen.any()):  # a batch must predict something: choose the first character
        chosen[0, 0] = True
    how = torch.rand(windows.shape, generator=gen)  # (B, T): < 0.8 mask, < 0.9 random, else keep
    random_chars = torch.randint(0, mask_id, windows.shape, generator=gen)  # (B, T)
    inputs = windows.clone()
    inputs[chosen & (how < 0.8)] = mask_id
    swap = chosen & (how >= 0.8) & (how < 0.9)
    inputs[swap] = random_chars[swap]
    targets = torch.where(chosen, windows, torch.full_like(windows, IGNORE))
    return inputs, targets


def objective(cfg: MaskedConfig) -> Objective:
    """The masked objective with `cfg.mask_prob` (the mask token is the id after the characters)."""

    def make_batch(windows: torch.Tensor, gen: torch.Generator, n_chars: int) -> tuple[torch.Tensor, torch.Tensor]:
        return mask_characters(windows, gen, cfg.mask_prob, n_chars)

    return Objective("masked", causal=False, mask_token=True, extra=0, make_batch=make_batch)


def train(cfg: MaskedConfig) -> RunDir:
    """Pretrain by masked-character prediction; returns the run directory."""
    return train_text(cfg, objective(cfg))
