"""The plumbing every trainer shares: set up a run, resume it, walk its data, save its state, clean up.

    run, device = setup(cfg, "ssl", "ae")          # seeds, threads, device, process group, run dir (checked)
    with run:                                      # closes what the run owns, also when training fails
        start = restore(run, cfg, {"model": model, "optim": opt})   # step 0 for a fresh run
        batches = BatchSchedule(len(x_train), cfg.batch_size, cfg.seed)
        envs = run.own(make_vec_env(...))          # closed with the run
        ...
        save_state(run, step, {"model": ..., "optim": ...}, {"wall_s": ...})   # also stores the RNG states

Kept as plain functions, not a trainer base class: each algorithm's loop stays readable on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch

from pilotlab.core import checkpoint, distributed
from pilotlab.core.config import RunConfig
from pilotlab.core.device import resolve_device
from pilotlab.core.errors import PilotlabError, TrainingError
from pilotlab.core.run import RunDir
from pilotlab.core.seed import rng_state, seed_everything, set_rng_state


def setup(cfg: RunConfig, pillar: str, method: str) -> tuple[RunDir, torch.device]:
    """Seed, set threads, pick the device, join torchrun's group, create (or reopen) the run dir."""
    device = resolve_device(cfg.device)
    distributed.init(device)
    seed_everything(cfg.seed + distributed.rank(), cfg.threads)
    run = RunDir.create(pillar, method, cfg, cfg.run_dir, cfg.resume)
    return run, device


def check_run_dir(cfg: RunConfig, pillar: str, method: str) -> None:
    """Refuse an unusable --run-dir (a file, a used folder, a run of another command) before a trainer reads
    its data, whose loaders may print notes: a bad target is then the only line printed. Writes nothing;
    `setup` checks again and creates the run."""
    RunDir.create(pillar, method, cfg, cfg.run_dir, cfg.resume)


def save_state(
    run: RunDir, step: int, state: dict[str, Any], meta: dict[str, Any] | None = None, name: str = "last"
) -> None:
    """Write checkpoints/<name> with `state`, the global RNG states and `step` (rank 0 only).

    Weights holding NaN or Inf stop the run instead (on every rank: under torchrun they are the same
    weights), so no checkpoint a run keeps can hold them, whichever steps its loss checks looked at.
    """
    bad = nonfinite_tensors(state)
    if bad:
        raise TrainingError(
            f"{bad[0]} holds NaN or Inf at step {step}; the run stopped without saving it. Lower the learning "
            "rate or check the data; the last good checkpoint is kept"
        )
    if not run.writable:
        return
    run.start()
    full = dict(state)
    full["rng"] = rng_state()
    checkpoint.save(run.checkpoints / name, full, {"step": int(step), **(meta or {})})


class Start(NamedTuple):
    """Where a trainer starts: from nothing, or from the checkpoint a resumed run continues."""

    step: int
    """The step counter of checkpoints/last (0 for a fresh run)."""
    wall_s: float
    """Training time the run had spent before this process [s] (0 for a fresh run)."""
    state: dict[str, Any]
    """The checkpoint's tensors, beyond what was loaded into the targets ({} for a fresh run)."""
    meta: dict[str, Any]
    """The checkpoint's metadata, checked against `meta_types` ({} for a fresh run)."""


def restore(
    run: RunDir,
    cfg: RunConfig,
    targets: Mapping[str, Any] | None = None,
    meta_types: Mapping[str, type | tuple[type, ...]] | None = None,
) -> Start:
    """Where the run starts: with `cfg.resume`, checkpoints/last loaded into `targets` and the RNGs restored.

    `targets` maps state keys to objects with `load_state_dict` (modules, optimizers, buffers); `meta_types`
    names the metadata a trainer reads besides ``step`` and ``wall_s`` (which every trainer saves). A
    checkpoint that lacks a key or does not fit a target is a one-line `PilotlabError`, raised before
    anything is written. Metrics logged after the checkpoint are dropped at the run's first write.
    """
    if not cfg.resume:
        return Start(0, 0.0, {}, {})
    stem = run.checkpoints / "last"
    if not checkpoint.exists(stem):
        raise PilotlabError(
            f"cannot resume: {stem}.safetensors/.json not found (the run saved no checkpoint yet); "
            "start it again in a new --run-dir"
        )
    state, meta = checkpoint.load(stem, device="cpu")
    where = f"checkpoint {str(stem)!r}"
    types = {"step": int, "wall_s": (int, float), **(meta_types or {})}
    for key, tp in types.items():
        if not isinstance(meta.get(key), tp) or isinstance(meta.get(key), bool):
            raise PilotlabError(f"{where} has no valid {key!r} in its metadata; {FIX}")
    if meta["step"] < 0:
        raise PilotlabError(f"{where} has a negative step; {FIX}")
    if not isinstance(state, dict) or "rng" not in state:
        raise PilotlabError(f"{where} holds no RNG state; {FIX}")
    for key, target in (targets or {}).items():
        if key not in state:
            raise PilotlabError(f"{where} has no {key!r}; {FIX}")
        try:
            target.load_state_dict(state[key])
        except (KeyError, RuntimeError, ValueError, TypeError, IndexError, AttributeError) as e:
            reason = " ".join(str(e).split())[:200]
            raise PilotlabError(f"{where} does not fit this run's {key!r} ({reason}); {FIX}") from None
    try:
        rng = state["rng"]
        if distributed.rank() == 0:
            set_rng_state(rng)
        else:  # other ranks keep their own streams, re-seeded deterministically from the step
            torch.manual_seed(cfg.seed + distributed.rank() + int(meta["step"]))
    except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as e:
        raise PilotlabError(f"{where} has a damaged RNG state ({' '.join(str(e).split())[:120]}); {FIX}") from None
    run.resume_at(int(meta["step"]))
    return Start(int(meta["step"]), float(meta["wall_s"]), state, meta)


class BatchSchedule:
    """The batches of a run over `n` samples, epoch after epoch, for this rank.

    A global batch of `batch_size` is split evenly over the torchrun processes; each epoch visits a
    permutation seeded by (seed, epoch) (`distributed.epoch_indices`) and drops the incomplete last batch.
    The k-th batch of the run depends only on (seed, k), so a resumed run sees the same data.
    """

    def __init__(self, n: int, batch_size: int, seed: int):
        world = distributed.world_size()
        if batch_size % world:
            raise PilotlabError(f"batch-size {batch_size} must be divisible by the {world} processes")
        self.n, self.seed = n, seed
        self.per_rank = batch_size // world
        self.per_epoch = (n // world) // self.per_rank  # batches in one pass over the data
        if self.per_epoch == 0:
            raise PilotlabError(f"batch-size {batch_size} is larger than the {n} training images")
        self._epoch, self._order = -1, torch.empty(0, dtype=torch.long)

    def total_steps(self, epochs: int, max_steps: int | None = None, batches_per_step: int = 1) -> int:
        """Optimizer steps of `epochs` passes when each step takes `batches_per_step` batches (at least 1),
        capped at `max_steps`."""
        total = max(1, epochs * self.per_epoch // batches_per_step)
        return total if max_steps is None else min(total, max_steps)

    def indices(self, k: int) -> torch.Tensor:
        """Sample indices (per_rank,) of the run's k-th batch on this rank."""
        epoch, b = divmod(k, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._order = epoch, distributed.epoch_indices(self.n, epoch, self.seed)
        return self._order[b * self.per_rank:(b + 1) * self.per_rank]


FIX = "it was damaged or written by another version: restore it, or start a new run in another --run-dir"


def nonfinite_tensors(state: Any, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors in a state tree that hold NaN or Inf (a replay buffer's contents
    are data, not weights, and are not checked)."""
    bad: list[str] = []
    if isinstance(state, torch.Tensor):
        if state.is_floating_point() and not bool(torch.isfinite(state).all()):
            bad.append(prefix or "a tensor")
    elif isinstance(state, Mapping):
        for k, v in state.items():
            if k not in ("buffer", "rng"):
                bad += nonfinite_tensors(v, f"{prefix}/{k}" if prefix else str(k))
    elif isinstance(state, (list, tuple)):
        for i, v in enumerate(state):
            bad += nonfinite_tensors(v, f"{prefix}/{i}")
    return bad


def load_weights(run: RunDir, name: str = "last") -> tuple[dict[str, Any], dict[str, Any]]:
    """Load checkpoints/<name> of a finished run for evaluation (no RNG changes)."""
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise PilotlabError(f"checkpoint name {name!r} must be a plain name such as last or best (no path, no suffix)")
    stem = run.checkpoints / name
    if not checkpoint.exists(stem):
        raise PilotlabError(f"{run.path} has no checkpoint {name!r} (looked for {stem}.safetensors)")
    return checkpoint.load(stem)
