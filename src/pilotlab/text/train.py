"""Training loop shared by the text methods: data, model, AdamW schedule, checkpoints, validation loss.

A method module (gpt.py, masked.py) supplies its config class (a `TextConfig`) and an `Objective`: how a
batch of raw character windows becomes (inputs, targets). Targets hold -100 where no loss is taken:

    gpt:     window (B, T+1) -> inputs w[:, :T], targets w[:, 1:]          (every next character)
    masked:  window (B, T)   -> inputs with 15% corrupted, targets there    (the masked characters)

Batches are drawn with a generator seeded by (seed, step, rank), so a resumed run draws exactly the batches
the uninterrupted one would have; dropout uses the global RNG, which checkpoints carry. Validation uses
fixed windows of the last `val_fraction` of the text (every character of it for the final number), so runs
and `pilotlab text eval` give the same number.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pilotlab.core import distributed
from pilotlab.core.checkpoint import atomic_write_text
from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError, check_finite
from pilotlab.core.progress import Progress
from pilotlab.core.run import RunDir
from pilotlab.core.session import restore, save_state, setup
from pilotlab.core.summary import (
    DATA_TEST_SET,
    DATA_TEST_SIZE,
    TEXT_CHARS_PER_S,
    TEXT_EVAL_STEP,
    TEXT_PARAMETERS,
    TEXT_SOURCE,
    TEXT_TRAIN_CHARS,
    TEXT_VAL_BPC,
    TEXT_VAL_LOSS,
    TEXT_VAL_LOSS_SUBSET,
    TEXT_VAL_UNKNOWN,
    TEXT_VOCAB,
    TRAIN_STEPS,
    TRAIN_WALL_S,
)
from pilotlab.data.text import TEXT_DATASETS, load_text, split_text
from pilotlab.text.model import CharTransformer, ModelSpec, generate, lr_at, make_optimizer
from pilotlab.text.vocab import Vocab

IGNORE = -100
"""Target id of positions without a loss (cross_entropy's ignore_index)."""
EVAL_SEED = 1234
"""Seed of the validation masks of the masked objective (fixed: every evaluation scores the same masks)."""


@dataclass(frozen=True, kw_only=True)
class TextConfig(RunConfig):
    """Fields every text method shares (defaults: a small model that trains on 2 CPU cores, docs/text.md)."""

    dataset: str = "tinyshakespeare"
    """Named corpus (tinyshakespeare); ignored when --data-file is given."""
    data_file: str | None = None
    """Your own UTF-8 text file to train on instead of --dataset."""
    val_fraction: float = 0.1
    """The last this fraction of the text is the validation split."""
    context: int = 128
    """Characters the model reads at once (its longest window)."""
    layers: int = 4
    """Transformer blocks."""
    heads: int = 4
    """Attention heads per block (width must be a multiple)."""
    width: int = 128
    """Embedding size."""
    dropout: float = 0.0
    """Dropout on embeddings, attention and MLP outputs (0: short CPU runs do not overfit)."""
    batch_size: int = 32
    """Windows per optimizer step (global, split across torchrun processes)."""
    max_steps: int = 3800
    """Optimizer steps; the cosine schedule ends here (a resumed run may extend it)."""
    lr: float = 2e-3
    """Peak AdamW learning rate (after warm-up)."""
    min_lr_fraction: float = 0.1
    """The cosine decay ends at this fraction of lr."""
    warmup_steps: int = 100
    """Linear learning-rate warm-up."""
    weight_decay: float = 0.1
    """AdamW decoupled weight decay on weight matrices."""
    beta2: float = 0.99
    """AdamW second-moment decay (0.99: small batches give noisy gradients)."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0 disables clipping)."""
    log_every: int = 25
    """Log train/loss every this many steps."""
    eval_every: int = 500
    """Log eval/val_loss on `eval_windows` validation windows every this many steps (0: only at the end)."""
    eval_windows: int = 64
    """Validation windows of the periodic evaluation (the final one reads the whole validation split)."""
    checkpoint_every: int = 250
    """Save checkpoints/last every this many steps (and at the end)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.data_file is None and self.dataset not in TEXT_DATASETS:
            raise PilotlabError(f"unknown text dataset {self.dataset!r}; choose one of {', '.join(TEXT_DATASETS)} "
                                "or give --data-file PATH")
        for name in ("context", "layers", "heads", "width", "batch_size", "max_steps", "log_every",
                     "eval_windows", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.width % self.heads:
            raise PilotlabError(f"width {self.width} must be a multiple of heads {self.heads}")
        if not 0 < self.val_fraction < 1:
            raise PilotlabError(f"val-fraction must be in (0, 1), got {self.val_fraction}")
        if not 0 <= self.dropout < 1:
            raise PilotlabError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.lr <= 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise PilotlabError("lr must be > 0, weight-decay and grad-clip >= 0")
        if not 0 <= self.min_lr_fraction <= 1:
            raise PilotlabError(f"min-lr-fraction must be in [0, 1], got {self.min_lr_fraction}")
        if not 0 <= self.beta2 < 1:
            raise PilotlabError(f"beta2 must be in [0, 1), got {self.beta2}")


@dataclass(frozen=True)
class Objective:
    """What a method trains: its extra window length, attention direction and batch corruption."""

    name: str
    causal: bool
    mask_token: bool
    extra: int
    """Characters a window holds beyond the context (1 for next-character prediction)."""
    make_batch: Callable[[torch.Tensor, torch.Generator, int], tuple[torch.Tensor, torch.Tensor]]
    """(windows (B, T + extra), generator, number of characters V) -> (inputs (B, T), targets (B, T) with IGNORE
    where no loss is taken); the mask token, if any, is id V."""


@dataclass(frozen=True)
class TextData:
    train: torch.Tensor
    """int64 ids of the training split."""
    val: torch.Tensor
    """int64 ids of the validation split (characters unseen in training skipped)."""
    vocab: Vocab
    source: str
    val_unknown: int
    """Validation characters outside the vocabulary (skipped)."""


def prepare_data(cfg: TextConfig, mask_token: bool, extra: int) -> TextData:
    """Read, split and encode the text; every problem is a `PilotlabError` before anything is written."""
    text, source = load_text(cfg.dataset, cfg.data_file)
    train_text, val_text = split_text(text, cfg.val_fraction)
    need = cfg.context + extra
    where = f"--data-file {cfg.data_file!r}" if cfg.data_file else f"--dataset {cfg.dataset}"
    if len(train_text) < need + 1 or len(val_text) < need:
        raise PilotlabError(
            f"{where} has {len(text)} characters: too short for a context of {cfg.context} (its training split needs "
            f"> {need} and its validation split ({cfg.val_fraction:g} of the text) >= {need}); give a longer text or "
            "a smaller --context")
    vocab = Vocab.build(train_text, mask_token)
    if vocab.size < 2:
        raise PilotlabError(f"{where}: its training split holds a single distinct character ({train_text[0]!r}); "
                            "there is nothing to learn")
    val = vocab.encode_known(val_text)
    if len(val) < need:
        raise PilotlabError(f"{where}: its validation split holds fewer than {need} characters seen in training")
    return TextData(vocab.encode_known(train_text), val, vocab, source, len(val_text) - len(val))


def model_spec(cfg: TextConfig, vocab: Vocab, causal: bool) -> ModelSpec:
    return ModelSpec(vocab.tokens, cfg.context, cfg.layers, cfg.heads, cfg.width, cfg.dropout, causal)


def batch_windows(data: torch.Tensor, length: int, batch: int, gen: torch.Generator) -> torch.Tensor:
    """`batch` random windows of `length` consecutive ids: (batch, length)."""
    starts = torch.randint(0, len(data) - length + 1, (batch,), generator=gen)  # (B,)
    offsets = torch.arange(length)  # (L,)
    return data[starts[:, None] + offsets[None, :]]  # (B, 1) + (1, L) -> (B, L) indices -> (B, L) ids


def step_generator(seed: int, step: int) -> torch.Generator:
    """The generator of one training step's batch on this rank (the same after a resume)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 64 + distributed.rank())


def eval_windows(data: torch.Tensor, length: int, stride: int, limit: int | None = None) -> torch.Tensor:
    """Windows of `length` starting every `stride` ids (the whole split); `limit` of them evenly spaced: (N, L)."""
    starts = torch.arange(0, len(data) - length + 1, stride)  # (N,)
    if limit is not None and limit < len(starts):
        starts = starts[torch.linspace(0, len(starts) - 1, limit).round().long()]
    return data[starts[:, None] + torch.arange(length)[None, :]]  # (N, L)


@torch.no_grad()
def evaluate_loss(model: CharTransformer, objective: Objective, data: torch.Tensor, n_chars: int, context: int,
                  batch: int, device: torch.device, limit: int | None = None) -> float:
    """Mean loss in nats per predicted character over fixed validation windows.

    gpt: windows of context + 1 with stride `context`, so every character after the first is predicted once
    (with between 0 and context - 1 characters before it, as in training). masked: stride `context`, masks
    drawn with `EVAL_SEED`.
    """
    was_training = model.training
    model.eval()
    windows = eval_windows(data, context + objective.extra, context, limit)  # (N, T + extra)
    # all windows at once: the masks do not depend on the batch size
    inputs, targets = objective.make_batch(windows, torch.Generator().manual_seed(EVAL_SEED), n_chars)  # (N, T) x 2
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        logits = model(inputs[i:i + batch].to(device))  # (b, T, V)
        target = targets[i:i + batch].to(device)  # (b, T)
        loss = F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=IGNORE, reduction="sum")
        total += float(loss)
        count += int((target != IGNORE).sum())
    model.train(was_training)
    return total / max(1, count)


def train_text(cfg: TextConfig, objective: Objective) -> RunDir:
    """Train a `CharTransformer` with `objective`; returns the run directory."""
    data = prepare_data(cfg, objective.mask_token, objective.extra)  # before the run directory is decided
    run, device = setup(cfg, "text", objective.name)
    with run:
        world = distributed.world_size()
        if cfg.batch_size % world:
            raise PilotlabError(f"batch-size {cfg.batch_size} must be divisible by the {world} processes")
        per_rank = cfg.batch_size // world
        saved_vocab = None
        if cfg.resume and (run.path / "vocab.json").is_file():
            saved_vocab = Vocab.load(run.path)
            if saved_vocab != data.vocab:
                raise PilotlabError(f"cannot resume {str(run.path)!r}: the text now gives another vocabulary than "
                                    "the run's vocab.json (the data file changed); resume with the original text")
        model = CharTransformer(model_spec(cfg, data.vocab, objective.causal)).to(device)
        opt = make_optimizer(model, cfg.lr, cfg.weight_decay, (0.9, cfg.beta2))
        start = restore(run, cfg, {"model": model, "optim": opt})
        step, wall = start.step, start.wall_s
        total = cfg.max_steps
        net = distributed.wrap(model)
        if run.writable and saved_vocab is None:
            run.start()
            data.vocab.save(run.path)
        progress = run.own(Progress(total, f"text {objective.name}", initial=step, enabled=run.writable))
        length = cfg.context + objective.extra
        t0 = time.perf_counter()
        while step < total:
            lr = lr_at(step, total, cfg.warmup_steps, cfg.lr, cfg.min_lr_fraction)
            for group in opt.param_groups:
                group["lr"] = lr
            gen = step_generator(cfg.seed, step)
            inputs, targets = objective.make_batch(batch_windows(data.train, length, per_rank, gen), gen,
                                                   data.vocab.size)
            logits = net(inputs.to(device))  # (B, T, V)
            loss = F.cross_entropy(logits.flatten(0, 1), targets.to(device).flatten(), ignore_index=IGNORE)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = (torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip) if cfg.grad_clip > 0
                         else torch.tensor(0.0))
            opt.step()
            step += 1
            if step % cfg.log_every == 0 or step == total:
                metrics = distributed.all_reduce_mean({"train/loss": loss.item(), "train/grad_norm": float(grad_norm)})
                check_finite(metrics["train/loss"], "train/loss", step)
                metrics["train/lr"] = lr
                metrics["train/chars"] = float(step * cfg.batch_size * cfg.context)
                run.log(step, metrics)
                progress.update(0, loss=metrics["train/loss"])
            progress.update(1)
            if cfg.eval_every and step % cfg.eval_every == 0 and step != total and run.writable:
                spent = time.perf_counter() - t0
                val = evaluate_loss(model, objective, data.val, data.vocab.size, cfg.context, per_rank, device,
                                    cfg.eval_windows)
                run.log(step, {TEXT_VAL_LOSS_SUBSET: val, TRAIN_WALL_S: wall + spent})
                t0 = time.perf_counter() - spent  # evaluation is not training time
            if step % cfg.checkpoint_every == 0 or step == total:
                save_state(run, step, {"model": model.state_dict(), "optim": opt.state_dict()},
                           {"wall_s": wall + time.perf_counter() - t0})
        progress.close()
        wall += time.perf_counter() - t0
        summary: dict[str, float | int | str] = {
            TRAIN_WALL_S: wall, TRAIN_STEPS: step, TEXT_PARAMETERS: model.num_parameters(),
            TEXT_SOURCE: data.source, TEXT_VOCAB: data.vocab.size, TEXT_TRAIN_CHARS: len(data.train),
            TEXT_VAL_UNKNOWN: data.val_unknown, DATA_TEST_SET: validation_split_words(cfg, data.source),
            DATA_TEST_SIZE: len(data.val)}
        if wall > 0:
            summary[TEXT_CHARS_PER_S] = step * cfg.batch_size * cfg.context / wall
        if run.writable:
            val = evaluate_loss(model, objective, data.val, data.vocab.size, cfg.context, per_rank, device)
            summary.update({TEXT_VAL_LOSS: val, TEXT_VAL_BPC: val / math.log(2), TEXT_EVAL_STEP: step})
            run.log(step, {TEXT_VAL_LOSS: val, TEXT_VAL_BPC: val / math.log(2)})
            if objective.causal:
                write_sample(run, model, data.vocab, step, cfg.seed)
        run.update_summary(summary)
    return run


SAMPLE_TEMPERATURE, SAMPLE_LENGTH = 0.8, 400
"""The end-of-training sample: a common temperature for character models (less noise than 1, not yet the loops
of greedy decoding) and a few paragraphs of text."""


def write_sample(run: RunDir, model: CharTransformer, vocab: Vocab, step: int, seed: int) -> None:
    """Write samples.json: a continuation of a new paragraph by the final (= checkpoint `last`) model, for the
    report; `pilotlab text sample` draws more."""
    prompt = "\n" if "\n" in vocab.chars else vocab.chars[0]
    gen = torch.Generator().manual_seed(seed)
    ids = generate(model, vocab.encode(prompt, "prompt"), SAMPLE_LENGTH, SAMPLE_TEMPERATURE, None, gen)
    doc = {"samples": [{"prompt": prompt, "temperature": SAMPLE_TEMPERATURE, "top_k": None, "checkpoint": "last",
                        "step": step, "seed": seed, "length": SAMPLE_LENGTH, "text": vocab.decode(ids)}]}
    atomic_write_text(run.path / "samples.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def validation_split_words(cfg: TextConfig, source: str) -> str:
    """In words, the characters the validation loss is measured on (`data/test_set`)."""
    return f"the last {cfg.val_fraction:.0%} of the characters of {source}"
