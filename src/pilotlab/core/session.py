"""The few steps every trainer shares: set up a run, save and restore its training state.

    run, device = setup(cfg, "ssl", "ae")          # seeds, threads, device, process group, run dir
    restored = restore(run, cfg)                     # None for a fresh run
    ...
    save_state(run, step, {"model": ..., "optim": ...})   # also stores the RNG states

Kept as plain functions, not a trainer base class: each algorithm's loop stays readable on its own.
"""

from __future__ import annotations

from typing import Any

import torch

from pilotlab.core import checkpoint, distributed
from pilotlab.core.config import RunConfig
from pilotlab.core.device import resolve_device
from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.core.seed import rng_state, seed_everything, set_rng_state


def setup(cfg: RunConfig, pillar: str, method: str) -> tuple[RunDir, torch.device]:
    """Seed, set threads, pick the device, join torchrun's group, create (or reopen) the run dir."""
    device = resolve_device(cfg.device)
    distributed.init(device)
    seed_everything(cfg.seed + distributed.rank(), cfg.threads)
    run = RunDir.create(pillar, method, cfg, cfg.run_dir, cfg.resume)
    return run, device


def save_state(
    run: RunDir, step: int, state: dict[str, Any], meta: dict[str, Any] | None = None, name: str = "last"
) -> None:
    """Write checkpoints/<name> with `state`, the global RNG states and `step` (rank 0 only)."""
    if not run.writable:
        return
    full = dict(state)
    full["rng"] = rng_state()
    checkpoint.save(run.checkpoints / name, full, {"step": int(step), **(meta or {})})


def restore(
    run: RunDir, cfg: RunConfig, device: torch.device | str = "cpu"
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """With `cfg.resume`: load checkpoints/last, restore RNGs, drop metrics logged after it.

    Returns (state, meta) where meta["step"] is the step to continue from, or None for a fresh run.
    """
    if not cfg.resume:
        return None
    stem = run.checkpoints / "last"
    if not checkpoint.exists(stem):
        raise PilotlabError(f"cannot resume: {stem}.safetensors/.json not found (the run saved no checkpoint yet)")
    state, meta = checkpoint.load(stem, device="cpu")
    if distributed.rank() == 0:
        set_rng_state(state["rng"])
    else:  # other ranks keep their own streams, re-seeded deterministically from the step
        torch.manual_seed(cfg.seed + distributed.rank() + int(meta["step"]))
    run.truncate_metrics(int(meta["step"]))
    return state, meta


def load_weights(run: RunDir, name: str = "last") -> tuple[dict[str, Any], dict[str, Any]]:
    """Load checkpoints/<name> of a finished run for evaluation (no RNG changes)."""
    stem = run.checkpoints / name
    if not checkpoint.exists(stem):
        raise PilotlabError(f"{run.path} has no checkpoint {name!r} (looked for {stem}.safetensors)")
    return checkpoint.load(stem)
