"""A character-level transformer, read top to bottom: embeddings, pre-norm blocks, a tied output layer.

    tokens (B, T) --embed + position--> x (B, T, C) --[block] x L--> LayerNorm --x @ E^T--> logits (B, T, V)

    block:  x = x + Attention(LayerNorm(x))      heads H, head size C / H
            x = x + MLP(LayerNorm(x))            C -> 4C -> GELU -> C

Pre-norm (LayerNorm before each sublayer, as in GPT-2) keeps the residual path an identity, which lets a
small model train at a high learning rate without a long warm-up. Attention is
`torch.nn.functional.scaled_dot_product_attention`; with ``causal=True`` it masks the future
(``is_causal=True``: position t sees positions <= t only), so the model is a language model; with
``causal=False`` every position sees the whole window, which the masked objective needs. The output layer
shares the token embedding matrix (weight tying, Press & Wolf 2017): fewer parameters and, on a small
corpus, a lower validation loss.

Initialisation follows GPT-2: N(0, 0.02) for weights, and the projections that write into the residual
stream scaled by 1/sqrt(2 L), so the residual's variance does not grow with depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """The architecture; saved in the run's config, so a checkpoint is rebuilt from its run directory."""

    vocab: int
    """Token ids 0..vocab-1 (the characters, plus the mask token for the masked objective)."""
    context: int
    """Longest window the model reads (positions 0..context-1)."""
    layers: int
    heads: int
    width: int
    """Embedding size C; a multiple of `heads`."""
    dropout: float = 0.0
    causal: bool = True
    """True: position t attends to positions <= t (language model); False: to the whole window."""


class SelfAttention(nn.Module):
    """Multi-head self-attention with one fused q/k/v projection."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.heads, self.causal, self.dropout = spec.heads, spec.causal, spec.dropout
        self.qkv = nn.Linear(spec.width, 3 * spec.width)
        self.proj = nn.Linear(spec.width, spec.width)
        self.proj_dropout = nn.Dropout(spec.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape  # (B, T, C)
        q, k, v = self.qkv(x).split(c, dim=2)  # 3 x (B, T, C)
        # (B, T, C) -> (B, T, H, C/H) -> (B, H, T, C/H): one attention per head
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=self.causal)  # (B, H, T, C/H)
        y = y.transpose(1, 2).contiguous().view(b, t, c)  # (B, H, T, C/H) -> (B, T, H, C/H) -> (B, T, C)
        return self.proj_dropout(self.proj(y))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm transformer block: attention then MLP, each added to the residual stream."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.norm1 = nn.LayerNorm(spec.width)
        self.attn = SelfAttention(spec)
        self.norm2 = nn.LayerNorm(spec.width)
        self.mlp = nn.Sequential(nn.Linear(spec.width, 4 * spec.width), nn.GELU(),
                                 nn.Linear(4 * spec.width, spec.width), nn.Dropout(spec.dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))  # (B, T, C)
        return x + self.mlp(self.norm2(x))  # (B, T, C)


class CharTransformer(nn.Module):
    """tokens (B, T) -> logits (B, T, vocab); `features` gives the final hidden states (B, T, C)."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        if spec.width % spec.heads:
            raise ValueError(f"width {spec.width} is not a multiple of heads {spec.heads}")
        self.spec = spec
        self.embed = nn.Embedding(spec.vocab, spec.width)
        self.position = nn.Embedding(spec.context, spec.width)
        self.drop = nn.Dropout(spec.dropout)
        self.blocks = nn.ModuleList(Block(spec) for _ in range(spec.layers))
        self.norm = nn.LayerNorm(spec.width)
        self.apply(self._init)
        for block in self.blocks:  # residual writers: variance independent of depth
            for layer in (block.attn.proj, block.mlp[2]):
                nn.init.normal_(layer.weight, std=0.02 / math.sqrt(2 * spec.layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """Final hidden states (B, T, C), after the last LayerNorm."""
        _, t = tokens.shape  # (B, T)
        if t > self.spec.context:
            raise ValueError(f"a window of {t} tokens is longer than the model's context {self.spec.context}")
        pos = torch.arange(t, device=tokens.device)  # (T,)
        x = self.drop(self.embed(tokens) + self.position(pos))  # (B, T, C) + (T, C) -> (B, T, C)
        for block in self.blocks:
            x = block(x)  # (B, T, C)
        return self.norm(x)  # (B, T, C)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.features(tokens)  # (B, T, C)
        return h @ self.embed.weight.t()  # (B, T, C) @ (C, V) -> (B, T, V): tied to the input embedding

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def lr_at(step: int, total: int, warmup: int, peak: float, floor: float = 0.1) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay from `peak` to `floor * peak` at `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float]
                   ) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices only (biases, LayerNorm gains and the position table are not decayed)."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.startswith("position")]
    keep = [p for n, p in model.named_parameters() if p.dim() < 2 or n.startswith("position")]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": keep, "weight_decay": 0.0}], lr=lr, betas=betas)


@torch.no_grad()
def generate(model: CharTransformer, prompt: torch.Tensor, length: int, temperature: float, top_k: int | None,
             generator: torch.Generator, context: int | None = None) -> torch.Tensor:
    """Extend `prompt` (T0,) by `length` sampled tokens; returns (T0 + length,). The model sees at most the last
    `context` tokens (default its own). `temperature` 0 is greedy decoding."""
    model.eval()
    window = context or model.spec.context
    out = prompt.clone()
    for _ in range(length):
        logits = model(out[-window:].unsqueeze(0))[0, -1]  # (1, T) -> (1, T, V) -> (V,): the next token
        if temperature == 0:
            nxt = logits.argmax()
        else:
            logits = logits / temperature
            if top_k is not None and top_k < logits.numel():
                kth = torch.topk(logits, top_k).values[-1]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)[0]
        out = torch.cat([out, nxt.view(1)])
    return out
