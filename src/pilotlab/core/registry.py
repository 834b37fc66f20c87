"""One registry of every pluggable variant: RL algorithms, SSL methods, GAN models, env wrappers, drivers.

A pillar registers its variants in its package ``__init__`` with `register` (names and module paths only:
nothing heavy is imported), and the CLI, the tour, the benchmarks and the trainers look them up here. The
implementation module of a variant is imported only when that variant is used, so ``pilotlab --help``
and ``pilotlab rl train --algo dqn`` never import the GAN or the driving stack.

Registration crosses pillars in one direction only: a higher pillar registers with a lower one's kind
(``drive`` adds its env wrappers to ``rl.env-wrapper``), so generic RL code never names the driving stack.
`PLUGINS` lists the packages whose ``__init__`` registers; they are imported on the first lookup.

Each kind has a `Kind`: the config field that holds the choice (``--algo``), and what the implementation
module exposes, so `pilotlab.cli` can list every choice with its description and show the chosen one's fields.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pilotlab.core.errors import PilotlabError

PLUGINS: tuple[str, ...] = ("pilotlab.ssl", "pilotlab.gan", "pilotlab.rl", "pilotlab.drive", "pilotlab.text")
"""Packages that register variants when imported (the order is the listing order of shared kinds)."""


@dataclass(frozen=True)
class Kind:
    """A family of interchangeable variants."""

    name: str
    """Registry key, ``<pillar>.<what>``, e.g. ``rl.algo``."""
    field: str
    """Config field (and, with dashes, CLI flag) that chooses the variant; "" where no config field does."""
    what: str
    """Human name used in messages: ``unknown RL algorithm 'x'``."""
    contract: str
    """What the implementation module or object provides (documentation for people adding variants)."""


@dataclass(frozen=True)
class Entry:
    """One registered variant."""

    kind: str
    name: str
    module: str
    """Module implementing the variant, imported on first use ("" where the variant needs no code)."""
    help: str
    """One line for --help."""
    attr: str = ""
    """The registered object inside `module` (a class or function); "" means the module itself."""
    config: str = ""
    """Name of the variant's frozen config class inside `module` ("" if it has none)."""

    def load(self) -> Any:
        """The registered object (or module), imported now."""
        if not self.module:
            return None
        module = _import(self)
        return getattr(module, self.attr) if self.attr else module

    def implementation(self) -> ModuleType:
        """The module implementing the variant."""
        return _import(self)

    def config_class(self) -> type:
        """The variant's config class."""
        if not self.config:
            raise PilotlabError(f"{self.kind} {self.name!r} has no config class")
        return getattr(_import(self), self.config)


KINDS: dict[str, Kind] = {}
_ENTRIES: dict[str, dict[str, Entry]] = {}
_loaded = False


def _import(entry: Entry) -> ModuleType:
    try:
        return importlib.import_module(entry.module)
    except ImportError as e:
        raise PilotlabError(f"{KINDS[entry.kind].what} {entry.name!r} needs {entry.module}, which cannot be "
                            f"imported ({e}); install the missing package") from e


def define_kind(kind: Kind) -> None:
    """Declare a kind (by the pillar that owns it). Declaring the same kind again is allowed if identical."""
    if KINDS.get(kind.name, kind) != kind:
        raise ValueError(f"kind {kind.name!r} is already defined differently")
    KINDS[kind.name] = kind
    _ENTRIES.setdefault(kind.name, {})


def register(kind: str, name: str, module: str, help: str, *, attr: str = "", config: str = "") -> None:
    """Add variant `name` of `kind` (which must be defined). Registering the same entry twice is a no-op;
    another entry under a taken name is a bug and raises."""
    if kind not in KINDS:
        raise ValueError(f"unknown registry kind {kind!r}; define_kind it first")
    entry = Entry(kind, name, module, help, attr, config)
    if _ENTRIES[kind].get(name, entry) != entry:
        raise ValueError(f"{kind} {name!r} is already registered as {_ENTRIES[kind][name]}")
    _ENTRIES[kind][name] = entry


def _load_plugins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for package in PLUGINS:
            importlib.import_module(package)


def entries(kind: str) -> dict[str, Entry]:
    """Every variant of `kind`, in registration order."""
    _load_plugins()
    if kind not in KINDS:
        raise ValueError(f"unknown registry kind {kind!r}")
    return dict(_ENTRIES[kind])


def names(kind: str) -> list[str]:
    return list(entries(kind))


def get(kind: str, name: str) -> Entry:
    """The entry `name` of `kind`; an unknown name is bad input (one line listing the choices)."""
    found = entries(kind)
    if name not in found:
        k = KINDS[kind]
        flag = f" (--{k.field.replace('_', '-')})" if k.field else ""
        raise PilotlabError(f"unknown {k.what} {name!r}{flag}; choose one of {', '.join(found)}")
    return found[name]


def descriptions(kind: str) -> dict[str, str]:
    """name -> one-line help, for --help."""
    return {n: e.help for n, e in entries(kind).items()}


def implementation(kind: str, name: str) -> ModuleType:
    """The module implementing variant `name` of `kind` (imported now)."""
    return get(kind, name).implementation()


def config_class(kind: str, name: str) -> type:
    """The config class of variant `name` of `kind`."""
    return get(kind, name).config_class()


class Configs(Mapping[str, type]):
    """name -> config class of every variant of `kind`; a class is imported only when looked up."""

    def __init__(self, kind: str):
        self.kind = kind

    def __getitem__(self, name: str) -> type:
        found = entries(self.kind)
        if name not in found:
            raise KeyError(name)
        return found[name].config_class()

    def __iter__(self) -> Iterator[str]:
        return iter(entries(self.kind))

    def __len__(self) -> int:
        return len(entries(self.kind))


__all__ = ["KINDS", "PLUGINS", "Configs", "Entry", "Kind", "config_class", "define_kind", "descriptions", "entries",
           "get", "implementation", "names", "register"]
