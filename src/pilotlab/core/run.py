"""Run directories: config.json, metrics.jsonl, TensorBoard events, summary.json, checkpoints, figures.

Layout (fixed by docs/design.md; benchmarks and the report read it)::

    runs/<pillar>-<method>-<YYYYmmdd-HHMMSS>/
      config.json  metrics.jsonl  summary.json  events.out.tfevents.*  checkpoints/  figures/
      wandb/   (only with --track wandb: `pilotlab.core.tracking` mirrors the run to Weights & Biases)

`RunDir.create` only decides and checks: the folder is made, config.json written and (on resume) the
metrics logged after the checkpoint dropped at the run's first write. So a command that fails while it
still validates its input (data, env, model size, checkpoint) leaves the disk as it found it.

Every file read back goes through `pilotlab.core.runfiles` (one schema per file). Only rank 0 writes
under torchrun; other ranks get a RunDir whose writers are no-ops.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pilotlab.core import checkpoint, distributed, runfiles, tracking
from pilotlab.core.config import RESUME_MAY_CHANGE, to_dict
from pilotlab.core.errors import PilotlabError
from pilotlab.core.runfiles import ACTIVE, quote


class _HasClose(Protocol):
    def close(self) -> Any: ...


Closable = TypeVar("Closable", bound=_HasClose)


def versions() -> dict[str, str]:
    import numpy
    import torch

    from pilotlab import __version__

    return {
        "pilotlab": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def check_writable_target(path: Path, flag: str = "--run-dir") -> None:
    """Raise unless `path` can become (or already is) a writable folder."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise PilotlabError(f"{flag} {quote(path)}: {quote(probe)} is a file, not a folder; choose another {flag}")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise PilotlabError(f"{flag} {quote(path)}: {quote(probe)} is not writable; choose another {flag}")


def check_compatible(saved: Mapping[str, Any], config: Any, path: Path) -> list[str]:
    """Fields a resumed run may change that differ from config.json; raise for any other difference."""
    new = to_dict(config)
    changed = []
    for key, old in saved.items():
        if key not in new or new[key] == old or key in ("resume", "run_dir"):  # how it was started, not what
            continue
        if key in RESUME_MAY_CHANGE:
            changed.append(key)
            continue
        flag = "--" + key.replace("_", "-")
        raise PilotlabError(
            f"cannot resume {quote(path)} with {flag} {new[key]!r}: the run was started with {old!r} and a resumed "
            f"run keeps its config; drop {flag}, or start a new run in another --run-dir"
        )
    return changed


def check_files(path: Path) -> None:
    """Read every JSON file of a run directory through its schema (a torn last metrics line is allowed), so
    a command that reads a run and then writes to it fails before its first write."""
    runfiles.read_json(path / "config.json", runfiles.CONFIG_JSON)
    runfiles.read_jsonl(path / "metrics.jsonl", runfiles.METRICS_ROW, warn=False)
    if (path / "summary.json").exists():
        runfiles.read_json(path / "summary.json", runfiles.SUMMARY_JSON)
    folder = path / "checkpoints"
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        runfiles.read_json(f, runfiles.CHECKPOINT_JSON)


class RunDir:
    """A run's folder. Create with `RunDir.create` (training) or `RunDir.open` (evaluation)."""

    def __init__(self, path: Path, writable: bool = True):
        self.path = Path(path)
        self.writable = writable and distributed.is_main()
        self.checkpoints = self.path / "checkpoints"
        self.figures = self.path / "figures"
        self._tb: Any = None
        self._metrics_file: Any = None
        self._pending: dict[str, Any] | None = None  # what the first write must do (see `start`)
        self._resume_step: int | None = None
        self._tracker: tracking.Tracker | None = None  # started with the run's first write (--track)
        self._reopened = False  # opened by `open`: its first write starts the tracker its config.json names
        self._figure_names: list[str] = []  # figures handed out by `figure`, sent to the tracker at close
        self._owned = contextlib.ExitStack()  # what `own` was given: closed first by `close`

    # -- creation -------------------------------------------------------------------------------
    @classmethod
    def create(cls, pillar: str, method: str, config: Any, run_dir: str | None = None, resume: bool = False) -> RunDir:
        """Check (rank 0) where a run goes; nothing is written until the run's first write.

        A fresh run refuses a folder that holds anything, so nothing saved is overwritten; a resumed run
        must be a run of the same command whose config differs only in fields that may change on resume.
        """
        pending: dict[str, Any] | None = None
        error: str | None = None
        if distributed.is_main():  # rank 0 decides and writes; the other ranks follow its verdict
            try:
                pending = cls._prepare(pillar, method, config, run_dir, resume)
            except PilotlabError as e:
                error = str(e)
        error = distributed.broadcast_object(error)  # type: ignore[assignment]
        if error:
            raise PilotlabError(error)
        path = Path(str(distributed.broadcast_object(str(pending["path"]) if pending else None)))
        run = cls(path)
        run._pending = pending
        return run

    @classmethod
    def _prepare(cls, pillar: str, method: str, config: Any, run_dir: str | None, resume: bool) -> dict[str, Any]:
        track = getattr(config, "track", "none")
        tracking.check(track)  # a missing wandb is refused before anything is written
        if run_dir is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            path = Path("runs") / f"{pillar}-{method}-{stamp}"
            n = 1
            while path.exists():
                n += 1
                path = Path("runs") / f"{pillar}-{method}-{stamp}-{n}"
        else:
            path = Path(run_dir)
        check_writable_target(path)
        cfg_path = path / "config.json"
        if resume:
            if not cfg_path.is_file():
                raise PilotlabError(f"cannot resume: {quote(path)} holds no run (no config.json)")
            saved = runfiles.read_json(cfg_path, runfiles.CONFIG_JSON)
            if saved["pillar"] != pillar or saved["method"] != method:
                raise PilotlabError(
                    f"cannot resume: {quote(path)} is a {saved['pillar']} {saved['method']} run, not {pillar} {method}"
                )
            for folder in (path, path / "checkpoints"):
                if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
                    raise PilotlabError(f"cannot resume: {quote(folder)} is not writable")
            changed = check_compatible(saved["config"], config, path)
            check_files(path)
            return {"path": path, "resume": True, "saved": saved, "changed": changed, "config": to_dict(config),
                    "track": track}
        if path.exists() and any(path.iterdir()):
            hint = "pass --resume to continue it" if cfg_path.is_file() else "empty it"
            raise PilotlabError(
                f"{quote(path)} already exists and is not empty; {hint} or choose another --run-dir "
                "(a fresh run never writes into a used folder)"
            )
        doc = {
            "pillar": pillar,
            "method": method,
            "config": to_dict(config),
            "command": [str(a) for a in sys.argv],
            "versions": versions(),
            "seed": getattr(config, "seed", None),
            "world_size": distributed.world_size(),
            "created": datetime.now().isoformat(timespec="seconds"),
        }
        return {"path": path, "resume": False, "doc": doc, "track": track}

    def resume_at(self, step: int) -> None:
        """Mark the step a resumed run continues from: rows logged after it are dropped at the first write."""
        self._resume_step = int(step)

    def start(self) -> None:
        """Make the folder, start the tracker (--track) and write config.json (fresh run), or drop the metrics
        logged after the checkpoint (resumed run). Every writer calls this first; later calls do nothing."""
        if not self.writable:
            return
        if self._pending is None:
            if self._reopened:  # an evaluation writing into a tracked run mirrors what it adds
                self._reopened = False
                self._tracker = tracking.reopen(self.path, self.config())
            return
        pending, self._pending = self._pending, None
        fresh = not pending["resume"]
        made = fresh and not self.path.exists()
        if fresh:
            doc = pending["doc"]
            for folder in (self.path, self.checkpoints, self.figures):
                folder.mkdir(parents=True, exist_ok=True)
        else:
            self.checkpoints.mkdir(exist_ok=True)
            self.figures.mkdir(exist_ok=True)
            doc = pending["saved"]
            doc.setdefault("resumes", []).append({
                "created": datetime.now().isoformat(timespec="seconds"),
                "command": [str(a) for a in sys.argv],
                "changed": {k: pending["config"][k] for k in pending["changed"]},
            })
            for k in pending["changed"]:
                doc["config"][k] = pending["config"][k]
        try:  # before config.json: a tracker that cannot start (wandb online, no network) leaves no new run
            self._tracker = tracking.start(pending["track"], self.path, doc)
        except PilotlabError:
            if made:
                shutil.rmtree(self.path, ignore_errors=True)
            elif fresh:  # the folder was empty before this run
                for child in self.path.iterdir():
                    if child.is_dir():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            raise
        checkpoint.atomic_write_text(self.path / "config.json", json.dumps(doc, indent=2) + "\n")
        if not fresh and self._resume_step is not None:
            self._truncate_metrics(self._resume_step)
        if self.path not in ACTIVE:
            ACTIVE.append(self.path)

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """Open an existing run for evaluation or reporting (config.json is read and checked)."""
        p = Path(path)
        if not p.is_dir():
            raise PilotlabError(f"{quote(p)} is not a run directory (no such folder)")
        if not (p / "config.json").is_file():
            raise PilotlabError(f"{quote(p)} is not a run directory (no config.json)")
        check_files(p)
        run = cls(p)
        run._reopened = True
        return run

    # -- reading --------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The saved config.json document (`["config"]` holds the fields), checked against its schema."""
        return runfiles.read_json(self.path / "config.json", runfiles.CONFIG_JSON)

    def metrics(self) -> list[dict[str, Any]]:
        """All rows of metrics.jsonl (a torn last line, as a crash leaves it, is dropped with a warning)."""
        return runfiles.read_jsonl(self.path / "metrics.jsonl", runfiles.METRICS_ROW)

    def summary(self) -> dict[str, Any]:
        f = self.path / "summary.json"
        return runfiles.read_json(f, runfiles.SUMMARY_JSON) if f.is_file() else {}

    # -- writing --------------------------------------------------------------------------------
    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Append one row to metrics.jsonl and the TensorBoard events (rank 0 only)."""
        if not self.writable:
            return
        self.start()
        row: dict[str, Any] = {"step": int(step), "time": round(time.time(), 3)}
        for k, v in metrics.items():
            v = float(v)
            row[k] = v if math.isfinite(v) else str(v)
        if self._metrics_file is None:
            if runfiles.has_torn_tail(self.path / "metrics.jsonl"):  # an append would join the torn line
                self._truncate_metrics(None)
            self._metrics_file = open(self.path / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - kept open across log calls, closed in close()
        self._metrics_file.write(json.dumps(row) + "\n")
        self._metrics_file.flush()
        tb = self._writer()
        for k, v in metrics.items():
            tb.add_scalar(k, float(v), int(step))
        if self._tracker is not None:
            self._tracker.log(int(step), metrics)

    def _writer(self) -> Any:
        self.start()
        if self._tb is None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(self.path))
        return self._tb

    def _truncate_metrics(self, after_step: int | None) -> None:
        """Rewrite metrics.jsonl without a torn last line and (with `after_step`) without rows past it."""
        f = self.path / "metrics.jsonl"
        if not f.is_file():
            return
        keep = [r for r in self.metrics() if after_step is None or r["step"] <= after_step]
        checkpoint.atomic_write_text(f, "".join(json.dumps(r) + "\n" for r in keep))
        if after_step is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(self.path), purge_step=after_step + 1)

    def update_summary(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Merge `values` into summary.json (flat keys such as ``eval/return_mean``)."""
        if self.writable:
            self.start()
        current = self.summary()
        new = {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for k, v in values.items()}
        current.update(new)
        if self.writable:
            checkpoint.atomic_write_text(self.path / "summary.json", json.dumps(current, indent=2) + "\n")
            if self._tracker is not None:
                self._tracker.summary(new)
        return current

    def figure(self, name: str) -> Path:
        """Path for a figure file under figures/ (a tracker receives the file when the run closes)."""
        if self.writable:
            self.start()
            if name not in self._figure_names:
                self._figure_names.append(name)
        self.figures.mkdir(parents=True, exist_ok=True)
        return self.figures / name

    def own(self, resource: Closable) -> Closable:
        """Close `resource` (an env, a progress bar) when the run closes, before the run's own files; returns it.

        A trainer may still close it earlier (envs before the final evaluation): its `close` must then be
        harmless a second time, as gymnasium's envs' and `Progress`'s are."""
        self._owned.callback(resource.close)
        return resource

    def close(self) -> None:
        """Close what the run owns, then metrics.jsonl, the TensorBoard events and the tracker (each of them
        also when an earlier one fails); the run can be closed again, and written to again, later."""
        try:
            self._owned.close()
        finally:
            self._close_files()

    def _close_files(self) -> None:
        if self._metrics_file is not None:
            self._metrics_file.close()
            self._metrics_file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._tracker is not None:
            tracker, self._tracker = self._tracker, None
            try:
                for name in self._figure_names:
                    tracker.figure(self.figures / name)
            finally:
                tracker.close()

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        """`with run:` closes the run on the way out, also on an exception, which then propagates: the metrics
        written so far and the checkpoints stay, so a failed or interrupted run can be resumed."""
        self.close()
