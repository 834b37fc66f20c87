"""What a pillar exposes to the CLI: a config dataclass and the function that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Command:
    """One ``pilotlab <pillar> <verb>``: its frozen config class, runner and one-line help."""

    config: type
    run: Callable[[Any], int | None]
    help: str
