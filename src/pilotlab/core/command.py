"""What a pillar exposes to the CLI: a config dataclass and the function that runs it."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pilotlab.core import registry


@dataclass(frozen=True)
class Command:
    """One ``pilotlab <pillar> <verb>``: its frozen config class, runner and one-line help.

    `config` is the config class, or ``"module:Class"`` to import it only when this verb is used. With
    `choices` (a kind of `pilotlab.core.registry`, e.g. ``rl.algo``) the config class depends on one choice
    flag instead: ``--algo dqn`` picks the config class registered for dqn (each variant keeps its own typed
    fields), `default` when the flag is absent. The flag is the kind's config field.

    `preset`, where given, computes values that go under the user's (dataclass defaults < preset < config
    file < flags): called with the config class and the fields the user gave (`config.given_values`), it
    returns (values, where they come from). A resumed run takes none: its config.json has every value.
    """

    config: type | str | None
    run: Callable[[Any], int | None]
    help: str
    choices: str = ""
    default: str = ""
    preset: Callable[[type, Mapping[str, Any]], tuple[dict[str, Any], str]] | None = None

    def __post_init__(self) -> None:
        if (self.config is None) == (not self.choices):
            raise ValueError("a Command needs exactly one of config and choices")

    def config_class(self) -> type:
        """The config class of a command without choices."""
        if isinstance(self.config, str):
            module, attr = self.config.split(":")
            return getattr(importlib.import_module(module), attr)
        assert self.config is not None
        return self.config

    @property
    def variants(self) -> Mapping[str, type]:
        """choice -> config class (empty without choices)."""
        return registry.Configs(self.choices) if self.choices else {}

    @property
    def variant_flag(self) -> str:
        """The config field that holds the choice ("" without choices)."""
        return registry.KINDS[self.choices].field if self.choices else ""

    @property
    def descriptions(self) -> dict[str, str]:
        """One line per choice, listed by --help."""
        return registry.descriptions(self.choices) if self.choices else {}


@dataclass(frozen=True)
class Group:
    """A verb with verbs of its own: ``pilotlab <pillar> <verb> <sub-verb>`` (``gan inpaint train``)."""

    help: str
    commands: dict[str, Command]
