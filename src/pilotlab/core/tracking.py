"""Experiment tracking beside TensorBoard: ``--track wandb`` mirrors a run to Weights & Biases.

The run directory stays the record; a tracker gets a copy of what it holds: the config fields, every
scalar of metrics.jsonl (plotted against the run's own ``step``, which may repeat or, after a resume, go
back), the values of summary.json and the figures the run wrote under figures/ (sent when the run closes).
`RunDir` owns the tracker: it starts it at the run's first write and forwards to it (rank 0 only). An
evaluation that writes into a tracked run (`RunDir.open`) adds its scores and figures to the same wandb run.

wandb is an optional extra (``pip install -e '.[track]'``), imported only by a run that tracks; a missing
or broken install is refused before the run writes anything. Its files live in ``<run>/wandb/``. Without
credentials (no WANDB_API_KEY, no ``wandb login`` entry in ~/.netrc) the run logs offline, for a later
``wandb sync <run>/wandb/offline-run-*``; WANDB_MODE, when set, decides instead. WANDB_PROJECT (default
pilotlab) and WANDB_ENTITY choose where an online run goes. A resumed run continues the same wandb run:
its id is derived from the run directory's name and creation time.
"""

from __future__ import annotations

import hashlib
import netrc
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pilotlab.core.errors import PilotlabError, one_line

INSTALL = "pip install -e '.[track]'"
IMAGES = (".png", ".jpg", ".jpeg", ".gif")
_live = 0  # wandb runs of this process still open: the last to close stops wandb's background process


class Tracker:
    """What a run directory forwards to an experiment tracker; this base class tracks nothing."""

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """One row of metrics.jsonl."""

    def summary(self, values: Mapping[str, Any]) -> None:
        """Values merged into summary.json."""

    def figure(self, path: Path) -> None:
        """An image file under figures/."""

    def close(self) -> None:
        """Flush and stop (idempotent)."""


def check(track: str) -> None:
    """Raise `PilotlabError` unless tracker `track` can run here; called before a run writes anything."""
    if track == "wandb":
        _import_wandb()
    elif track != "none":
        raise PilotlabError(f"track must be one of none, wandb; got {track!r}")


def start(track: str, path: Path, doc: Mapping[str, Any]) -> Tracker | None:
    """The tracker of the run in `path` whose config.json document is `doc` (None for ``--track none``)."""
    if track == "none":
        return None
    return WandbTracker(path, doc)


def reopen(path: Path, doc: Mapping[str, Any]) -> Tracker | None:
    """The tracker of a finished run that an evaluation writes into: the one its config.json names, continuing
    the same wandb run. A tracker that cannot start is a warning here: the evaluation's results are saved in
    the run directory all the same, and an evaluation command has no --track to choose otherwise."""
    track = str(doc["config"].get("track", "none"))
    try:
        return start(track, path, doc)
    except PilotlabError as e:
        print(f"warning: this command's results are not sent to {track}: {e}", file=sys.stderr)
        return None


def _import_wandb() -> Any:
    try:
        import wandb
    except Exception as e:  # ImportError, or an install broken in another way
        raise PilotlabError(
            f"--track wandb needs the wandb package ({one_line(e)}): {INSTALL}, or run with --track none"
        ) from None
    return wandb


def has_credentials() -> bool:
    """Whether wandb would find an API key: WANDB_API_KEY, an identity token, or a netrc entry for its host."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname or ""
    try:
        return netrc.netrc(os.environ.get("NETRC") or None).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def run_id(path: Path, doc: Mapping[str, Any]) -> str:
    """A wandb run id that stays the same when the run is resumed (or its folder moved)."""
    key = f"{doc.get('pillar')}/{doc.get('method')}/{path.resolve().name}/{doc.get('created', '')}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class WandbTracker(Tracker):
    """Mirrors a run to a wandb run whose files live in ``<run>/wandb/``."""

    def __init__(self, path: Path, doc: Mapping[str, Any]):
        global _live
        wandb = _import_wandb()
        self._wandb = wandb
        self.path = path
        self.run: Any = None
        self.offline = False
        self._counted = False
        mode = None  # WANDB_MODE decides when set
        if not os.environ.get("WANDB_MODE"):
            mode = "online" if has_credentials() else "offline"
        try:
            _live, self._counted = _live + 1, True
            self.run = wandb.init(
                project=os.environ.get("WANDB_PROJECT") or "pilotlab",
                dir=str(path),
                name=path.resolve().name,
                id=run_id(path, doc),
                resume="allow",
                mode=mode,
                config=dict(doc["config"]),
                allow_val_change=True,  # a resumed run may change --threads, --device, ...
                tags=[str(doc["pillar"]), str(doc["method"])],
                reinit="create_new",  # a pipeline (tour) may hold runs one after another in one process
                settings=wandb.Settings(console="off", quiet=True),
            )
            self.run.define_metric("step")
            self.run.define_metric("*", step_metric="step")  # x-axis: the run's step, as in TensorBoard
        except Exception as e:
            self.close()
            raise PilotlabError(
                f"wandb could not start a run in {str(path)!r} ({one_line(e)}); set WANDB_MODE=offline to "
                "log offline and `wandb sync` later, or run with --track none"
            ) from None
        self.offline = bool(getattr(self.run.settings, "_offline", mode == "offline"))

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        self.run.log({**{k: float(v) for k, v in metrics.items()}, "step": int(step)})

    def summary(self, values: Mapping[str, Any]) -> None:
        self.run.summary.update(dict(values))

    def figure(self, path: Path) -> None:
        if path.suffix.lower() in IMAGES and path.is_file():
            self.run.log({f"figures/{path.name}": self._wandb.Image(str(path))})

    def close(self) -> None:
        global _live
        if not self._counted:
            return
        self._counted, _live = False, _live - 1
        run, self.run = self.run, None
        try:
            if run is not None:
                run.finish()
        finally:
            if _live == 0 and self._wandb.run is None:  # no run of ours, nor one the caller made with wandb.init
                self._wandb.teardown()  # stops wandb-core, which would otherwise outlive the run
        if run is not None and self.offline:
            folder = Path(run.dir).parent  # <run>/wandb/offline-run-<time>-<id>/files -> the run's folder
            print(f"wandb: offline run in {str(folder)!r}; upload it with `wandb sync {folder}`", file=sys.stderr)
