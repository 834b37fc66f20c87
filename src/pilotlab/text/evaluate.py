"""``pilotlab text eval RUN_DIR`` and ``pilotlab text sample RUN_DIR``: a trained run's model, rebuilt from its
config.json, vocab.json and a checkpoint.

`eval` scores the validation split (or a text file given with ``--data-file``, which must use the run's
characters) in nats and bits per character; `sample` extends a prompt. Every check (the run, the checkpoint,
the prompt's characters, the context) happens before the model runs and before anything is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from pilotlab.core import registry
from pilotlab.core.config import from_dict, positional
from pilotlab.core.device import resolve_device
from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.core.session import load_weights
from pilotlab.core.summary import TEXT_EVAL_STEP, TEXT_VAL_BPC, TEXT_VAL_LOSS
from pilotlab.data.text import load_text, read_text_file, split_text
from pilotlab.text import METHOD
from pilotlab.text.model import CharTransformer, generate
from pilotlab.text.train import Objective, TextConfig, evaluate_loss, model_spec
from pilotlab.text.vocab import Vocab


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    run_dir: str = positional()
    """Run directory of a `pilotlab text train`."""
    checkpoint: str = "last"
    """Checkpoint of the run to score (checkpoints/<name>.safetensors)."""
    data_file: str | None = None
    """Score this UTF-8 file (all of it) instead of the run's validation split; it must use the run's characters."""
    context: int | None = None
    """Characters the model reads per window; default the model's own (a larger one is an error)."""
    batch_size: int = 64
    """Windows per forward pass."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "cpu"
    """Where the model runs."""
    threads: int = 1
    """torch intra-op threads."""

    def __post_init__(self) -> None:
        for name in ("batch_size", "threads"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.context is not None and self.context < 1:
            raise PilotlabError(f"context must be >= 1, got {self.context}")


@dataclass(frozen=True, kw_only=True)
class SampleConfig:
    run_dir: str = positional()
    """Run directory of a `pilotlab text train --method gpt`."""
    prompt: str = ""
    """Text to continue; every character must be in the run's vocabulary. Empty: start after a newline."""
    length: int = 500
    """Characters to generate."""
    temperature: float = 0.8
    """Divides the logits: < 1 more conservative, > 1 more random, 0 greedy."""
    top_k: int | None = None
    """Sample only among the k most likely characters (default: all)."""
    seed: int = 0
    """Seed of the sampling."""
    context: int | None = None
    """Characters of history the model sees; default the model's own (a larger one is an error)."""
    checkpoint: str = "last"
    """Checkpoint of the run to sample (checkpoints/<name>.safetensors)."""
    threads: int = 1
    """torch intra-op threads."""

    def __post_init__(self) -> None:
        if self.length < 1:
            raise PilotlabError(f"length must be >= 1, got {self.length}")
        if self.temperature < 0:
            raise PilotlabError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise PilotlabError(f"top-k must be >= 1, got {self.top_k}")
        if self.context is not None and self.context < 1:
            raise PilotlabError(f"context must be >= 1, got {self.context}")
        if self.threads < 1:
            raise PilotlabError(f"threads must be >= 1, got {self.threads}")


@dataclass
class TrainedText:
    run: RunDir
    method: str
    cfg: TextConfig
    vocab: Vocab
    model: CharTransformer
    objective: Objective
    step: int


def load_trained(run_dir: str, checkpoint: str = "last") -> TrainedText:
    """The model of a text run (eval mode, on the CPU), with its config, vocabulary and objective."""
    run = RunDir.open(run_dir)
    doc = run.config()
    if doc.get("pillar") != "text":
        raise PilotlabError(f"{str(run.path)!r} is a {doc.get('pillar')} run, not a text run")
    method = str(doc["method"])
    entry = registry.get(METHOD, method)
    cfg = from_dict(entry.config_class(), doc["config"])
    vocab = Vocab.load(run.path)
    module = entry.implementation()
    objective = module.objective(cfg)
    if vocab.mask_token != objective.mask_token:
        raise PilotlabError(f"{str(run.path)!r}: vocab.json does not belong to a {method} run; restore it")
    state, meta = load_weights(run, checkpoint)
    model = CharTransformer(model_spec(cfg, vocab, objective.causal))
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError) as e:
        raise PilotlabError(f"checkpoint {checkpoint!r} of {str(run.path)!r} does not fit the run's model "
                            f"({' '.join(str(e).split())[:160]})") from None
    return TrainedText(run, method, cfg, vocab, model.eval(), objective, int(meta.get("step", 0)))


def _context(asked: int | None, model: CharTransformer) -> int:
    own = model.spec.context
    if asked is not None and asked > own:
        raise PilotlabError(f"context {asked} is longer than the model's context {own}; give --context <= {own}")
    return asked or own


def evaluate_run(cfg: EvalConfig) -> dict[str, float]:
    """Validation loss of a run (nats and bits per character); saved in summary.json when scoring the run's
    own validation split with its own context."""
    torch.set_num_threads(cfg.threads)
    t = load_trained(cfg.run_dir, cfg.checkpoint)
    context = _context(cfg.context, t.model)
    if cfg.data_file is not None:
        text = read_text_file(cfg.data_file)
        data = t.vocab.encode(text, f"--data-file {cfg.data_file!r}")
        where = cfg.data_file
    else:
        text, _ = load_text(t.cfg.dataset, t.cfg.data_file)
        _, val_text = split_text(text, t.cfg.val_fraction)
        data = t.vocab.encode_known(val_text)
        where = "validation split"
    if len(data) < context + t.objective.extra:
        raise PilotlabError(f"{where} has {len(data)} characters, fewer than the {context + t.objective.extra} "
                            "one window needs; give a longer text or a smaller --context")
    device = resolve_device(cfg.device)
    loss = evaluate_loss(t.model.to(device), t.objective, data, t.vocab.size, context, cfg.batch_size, device)
    out = {"loss": loss, "bpc": loss / math.log(2), "step": t.step, "context": context, "chars": len(data)}
    if cfg.data_file is None and context == t.model.spec.context and cfg.checkpoint == "last":
        t.run.update_summary({TEXT_VAL_LOSS: loss, TEXT_VAL_BPC: loss / math.log(2), TEXT_EVAL_STEP: t.step})
    what = "masked-character loss" if t.objective.mask_token else "loss"
    print(f"{t.run.path} ({t.method}, {cfg.checkpoint}, step {t.step}): {where} {what} {loss:.4f} nats/char = "
          f"{loss / math.log(2):.4f} bits/char over {len(data)} characters, context {context} "
          f"(uniform: {math.log(t.vocab.size):.4f} nats/char)")
    return out


def sample_run(cfg: SampleConfig) -> str:
    """Continue `cfg.prompt` with the run's language model; returns prompt + generated text."""
    torch.set_num_threads(cfg.threads)
    t = load_trained(cfg.run_dir, cfg.checkpoint)
    if not t.objective.causal:
        raise PilotlabError(f"{str(t.run.path)!r} is a {t.method} run: its model sees both sides of each character "
                            "and cannot generate text; sample a gpt run")
    context = _context(cfg.context, t.model)
    if cfg.top_k is not None and cfg.top_k > t.vocab.size:
        raise PilotlabError(f"top-k {cfg.top_k} is larger than the vocabulary ({t.vocab.size} characters)")
    prompt = cfg.prompt
    if not prompt:  # start where a new paragraph starts, or from the most common character
        prompt = "\n" if "\n" in t.vocab.chars else t.vocab.chars[0]
    ids = t.vocab.encode(prompt, "--prompt")
    gen = torch.Generator().manual_seed(cfg.seed)
    out = generate(t.model, ids, cfg.length, cfg.temperature, cfg.top_k, gen, context)
    return t.vocab.decode(out) if cfg.prompt else t.vocab.decode(out[len(ids):])
