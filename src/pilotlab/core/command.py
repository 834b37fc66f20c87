"""What a pillar exposes to the CLI: a config dataclass and the function that runs it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Command:
    """One ``pilotlab <pillar> <verb>``: its frozen config class, runner and one-line help.

    With `variants`, the config class depends on one choice flag, e.g. ``--algo dqn`` picks
    ``variants["dqn"]`` (each algorithm keeps its own typed fields). `variant_flag` names that flag
    (without dashes) and `default_variant` is used when it is absent. The chosen class must have a
    field of that name.
    """

    config: type
    run: Callable[[Any], int | None]
    help: str
    variants: Mapping[str, type] = field(default_factory=dict)
    variant_flag: str = ""
    default_variant: str = ""
    descriptions: Mapping[str, str] = field(default_factory=dict)
    """One line per variant, listed by --help."""
