"""Causal (GPT-style) character language model: predict every next character from the ones before it.

The loss at position t is -log p(x_{t+1} | x_{<=t}), in nats per character; a model that learnt nothing
(uniform over the vocabulary) scores ln(V). Attention is causal (`model.py`), so no position sees the future.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from pilotlab.core.run import RunDir
from pilotlab.text.train import Objective, TextConfig, train_text


@dataclass(frozen=True, kw_only=True)
class GPTConfig(TextConfig):
    method: Literal["gpt"] = "gpt"
    """Causal next-character language model."""


def next_character(windows: torch.Tensor, gen: torch.Generator, n_chars: int) -> tuple[torch.Tensor, torch.Tensor]:
    """windows (B, T+1) -> inputs (B, T) = characters 0..T-1, targets (B, T) = characters 1..T."""
    return windows[:, :-1], windows[:, 1:]


OBJECTIVE = Objective("gpt", causal=True, mask_token=False, extra=1, make_batch=next_character)


def objective(cfg: GPTConfig | None = None) -> Objective:
    return OBJECTIVE


def train(cfg: GPTConfig) -> RunDir:
    """Train the language model; returns the run directory (checkpoints/last, vocab.json)."""
    return train_text(cfg, OBJECTIVE)
