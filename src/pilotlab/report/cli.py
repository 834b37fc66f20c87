"""``pilotlab report RUN_DIR``: rebuild the HTML + Markdown report of any run (or tour) directory."""

from __future__ import annotations

from dataclasses import dataclass

from pilotlab.core.command import Command
from pilotlab.core.config import positional


@dataclass(frozen=True, kw_only=True)
class ReportConfig:
    run_dir: str = positional()
    """A run directory (runs/<pillar>-...) or a tour directory (runs/tour-...)."""


def run_report(cfg: ReportConfig) -> int:
    from pilotlab.report.html import build_run_report

    path = build_run_report(cfg.run_dir)
    print(f"report: {path} (and {path.with_suffix('.md').name})")
    return 0


COMMANDS = {"": Command(ReportConfig, run_report, "rebuild the HTML report of a run directory")}
