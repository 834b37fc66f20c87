"""Run directories: config.json, metrics.jsonl, TensorBoard events, summary.json, checkpoints, figures.

Layout (fixed by docs/DESIGN.md; benchmarks and the report read it)::

    runs/<pillar>-<method>-<YYYYmmdd-HHMMSS>/
      config.json  metrics.jsonl  summary.json  events.out.tfevents.*  checkpoints/  figures/

Only rank 0 writes under torchrun; other ranks get a RunDir whose writers are no-ops.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pilotlab.core import checkpoint, distributed
from pilotlab.core.config import to_dict
from pilotlab.core.errors import PilotlabError


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


class RunDir:
    """A run's folder. Create with `RunDir.create` (training) or `RunDir.open` (evaluation)."""

    def __init__(self, path: Path, writable: bool = True):
        self.path = Path(path)
        self.writable = writable and distributed.is_main()
        self.checkpoints = self.path / "checkpoints"
        self.figures = self.path / "figures"
        self._tb: Any = None
        self._metrics_file: Any = None

    # -- creation -------------------------------------------------------------------------------
    @classmethod
    def create(cls, pillar: str, method: str, config: Any, run_dir: str | None = None, resume: bool = False) -> RunDir:
        """Make (or, with `resume`, reopen) a run directory and write config.json.

        A fresh run refuses a folder that already holds a run, so nothing saved is overwritten.
        """
        path: Path | None = None
        error: str | None = None
        if distributed.is_main():  # rank 0 decides and writes; the other ranks follow its verdict
            try:
                path = cls._prepare(pillar, method, config, run_dir, resume)
            except PilotlabError as e:
                error = str(e)
        error = distributed.broadcast_object(error)  # type: ignore[assignment]
        if error:
            raise PilotlabError(error)
        path = Path(str(distributed.broadcast_object(str(path))))
        return cls(path)

    @classmethod
    def _prepare(cls, pillar: str, method: str, config: Any, run_dir: str | None, resume: bool) -> Path:
        if run_dir is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            path = Path("runs") / f"{pillar}-{method}-{stamp}"
            n = 1
            while path.exists():
                n += 1
                path = Path("runs") / f"{pillar}-{method}-{stamp}-{n}"
        else:
            path = Path(run_dir)
        run = cls(path)
        cfg_path = path / "config.json"
        if resume:
            if not cfg_path.is_file():
                raise PilotlabError(f"cannot resume: {path} holds no run (no config.json)")
            saved = json.loads(cfg_path.read_text(encoding="utf-8"))
            if saved.get("pillar") != pillar or saved.get("method") != method:
                raise PilotlabError(
                    f"cannot resume: {path} is a {saved.get('pillar')} {saved.get('method')} run, not {pillar} {method}"
                )
            return path
        if cfg_path.exists():
            raise PilotlabError(f"{path} already holds a run; pass --resume to continue it or choose another --run-dir")
        for folder in (path, run.checkpoints, run.figures):
            folder.mkdir(parents=True, exist_ok=True)
        doc = {
            "pillar": pillar,
            "method": method,
            "config": to_dict(config),
            "command": sys.argv,
            "versions": versions(),
            "seed": getattr(config, "seed", None),
            "world_size": distributed.world_size(),
            "created": datetime.now().isoformat(timespec="seconds"),
        }
        checkpoint.atomic_write_text(cfg_path, json.dumps(doc, indent=2) + "\n")
        return path

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """Open an existing run for evaluation or reporting."""
        p = Path(path)
        if not (p / "config.json").is_file():
            raise PilotlabError(f"{p} is not a run directory (no config.json)")
        run = cls(p)
        run.checkpoints.mkdir(exist_ok=True) if run.writable else None
        run.figures.mkdir(exist_ok=True) if run.writable else None
        return run

    # -- reading --------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The saved config.json document (`["config"]` holds the fields)."""
        return json.loads((self.path / "config.json").read_text(encoding="utf-8"))

    def metrics(self) -> list[dict[str, Any]]:
        """All rows of metrics.jsonl."""
        f = self.path / "metrics.jsonl"
        if not f.is_file():
            return []
        rows = []
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
        return rows

    def summary(self) -> dict[str, Any]:
        f = self.path / "summary.json"
        return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else {}

    # -- writing --------------------------------------------------------------------------------
    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Append one row to metrics.jsonl and the TensorBoard events (rank 0 only)."""
        if not self.writable:
            return
        row: dict[str, Any] = {"step": int(step), "time": round(time.time(), 3)}
        for k, v in metrics.items():
            v = float(v)
            row[k] = v if math.isfinite(v) else str(v)
        if self._metrics_file is None:
            self._metrics_file = open(self.path / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - kept open across log calls, closed in close()
        self._metrics_file.write(json.dumps(row) + "\n")
        self._metrics_file.flush()
        tb = self._writer()
        for k, v in metrics.items():
            tb.add_scalar(k, float(v), int(step))

    def _writer(self) -> Any:
        if self._tb is None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(self.path))
        return self._tb

    def truncate_metrics(self, after_step: int) -> None:
        """Drop logged rows past `after_step` (a resumed run re-logs them)."""
        if not self.writable:
            return
        f = self.path / "metrics.jsonl"
        if not f.is_file():
            return
        keep = [r for r in self.metrics() if r["step"] <= after_step]
        checkpoint.atomic_write_text(f, "".join(json.dumps(r) + "\n" for r in keep))
        from torch.utils.tensorboard import SummaryWriter

        self._tb = SummaryWriter(log_dir=str(self.path), purge_step=after_step + 1)

    def update_summary(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Merge `values` into summary.json (flat keys such as ``eval/return_mean``)."""
        current = self.summary()
        current.update(
            {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in values.items()}
        )
        if self.writable:
            checkpoint.atomic_write_text(self.path / "summary.json", json.dumps(current, indent=2) + "\n")
        return current

    def figure(self, name: str) -> Path:
        """Path for a figure file under figures/."""
        self.figures.mkdir(parents=True, exist_ok=True)
        return self.figures / name

    def close(self) -> None:
        if self._metrics_file is not None:
            self._metrics_file.close()
            self._metrics_file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
