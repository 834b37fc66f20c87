"""Typed configs: frozen dataclasses whose field docstrings become CLI help.

A command's config is a frozen dataclass. Every field carries a docstring (a string literal right
after the field, as in CleanRL); `add_arguments` turns each field into a ``--flag`` whose help is
that docstring, and `build_config` merges command line > config file > dataclass default, rejecting
unknown keys and badly typed values with a `PilotlabError` (exit code 2).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import itertools
import json
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar

from pilotlab.core.errors import PilotlabError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

C = TypeVar("C")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Fields every training command shares."""

    seed: int = 0
    """Seeds Python, NumPy and torch; the same seed gives the same metrics on CPU."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    """Where tensors live; auto picks cuda, then mps, then cpu."""
    threads: int = 1
    """torch intra-op threads; 1 avoids spin-waiting that makes small models 3-40x slower on 2 cores."""
    run_dir: str | None = None
    """Run directory; default runs/<pillar>-<method>-<YYYYmmdd-HHMMSS>."""
    resume: bool = False
    """Continue the run in --run-dir from its last checkpoint."""

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise PilotlabError(f"threads must be >= 1, got {self.threads}")
        if self.resume and not self.run_dir:
            raise PilotlabError("--resume needs --run-dir naming the run to continue")


def positional(default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    """A dataclass field that the CLI takes as a positional argument (e.g. RUN_DIR)."""
    return dataclasses.field(default=default, metadata={"positional": True}, **kw)


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Map field name -> docstring, read from the source of `cls` and its dataclass bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):  # pragma: no cover - source unavailable (zipped install)
            continue
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for node, nxt in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _coerce(name: str, tp: Any, value: Any) -> Any:
    """Check/convert one value (from a config file or the CLI) against the field type."""
    inner, optional = _unwrap_optional(tp)
    if value is None or (optional and isinstance(value, str) and value.lower() == "none"):
        if optional:
            return None
        raise PilotlabError(f"{name} cannot be empty")
    origin = typing.get_origin(inner)
    if origin is Literal:
        choices = typing.get_args(inner)
        if value not in choices:
            raise PilotlabError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
        return value
    if origin is tuple:
        elem = typing.get_args(inner)[0]
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        if not isinstance(value, (list, tuple)):
            raise PilotlabError(f"{name} must be a list, got {value!r}")
        return tuple(_coerce(name, elem, v) for v in value)
    if inner is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise PilotlabError(f"{name} must be true or false, got {value!r}")
    if inner is int:
        if isinstance(value, bool):
            raise PilotlabError(f"{name} must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        try:
            as_float = float(value)
        except (TypeError, ValueError):
            raise PilotlabError(f"{name} must be an integer, got {value!r}") from None
        if not as_float.is_integer():
            raise PilotlabError(f"{name} must be an integer, got {value!r}")
        return int(as_float)
    if inner is float:
        if isinstance(value, bool):
            raise PilotlabError(f"{name} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise PilotlabError(f"{name} must be a number, got {value!r}") from None
    if inner is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise PilotlabError(f"{name} must be a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported config type for {name}: {tp}")  # pragma: no cover


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one CLI flag per dataclass field; help text is the field's docstring."""
    docs = field_docs(cls)
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        inner, _ = _unwrap_optional(tp)
        doc = docs.get(f.name, "")
        has_default = f.default is not dataclasses.MISSING
        if has_default:
            doc = f"{doc} (default: {f.default})"
        kwargs: dict[str, Any] = {"help": doc}
        if typing.get_origin(inner) is Literal:
            kwargs["choices"] = list(typing.get_args(inner))
            kwargs["type"] = type(typing.get_args(inner)[0])
            kwargs["metavar"] = "{" + ",".join(map(str, typing.get_args(inner))) + "}"
        elif typing.get_origin(inner) is tuple:
            kwargs["nargs"] = "+"
            kwargs["type"] = str
        elif inner is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = str  # coerced (with a readable error) in build_config
        if f.metadata.get("positional"):
            if has_default:
                kwargs["nargs"] = "?"
                kwargs["default"] = argparse.SUPPRESS
            parser.add_argument(f.name, metavar=f.name.upper(), **kwargs)
        else:
            kwargs["default"] = argparse.SUPPRESS
            parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, **kwargs)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML, YAML or JSON file of config values."""
    p = Path(path)
    if not p.is_file():
        raise PilotlabError(f"config file not found: {p}")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif p.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        elif p.suffix == ".json":
            data = json.loads(text)
        else:
            raise PilotlabError(f"config file {p} must end in .toml, .yaml, .yml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValueError) as e:
        if isinstance(e, PilotlabError):
            raise
        raise PilotlabError(f"cannot parse config file {p}: {' '.join(str(e).split())}") from None
    except Exception as e:  # yaml.YAMLError
        raise PilotlabError(f"cannot parse config file {p}: {' '.join(str(e).split())}") from None
    if not isinstance(data, dict):
        raise PilotlabError(f"config file {p} must hold a table of key = value pairs")
    return data


def build_config(cls: type[C], values: dict[str, Any] | None = None, file: str | Path | None = None) -> C:
    """Make a `cls` from file values overridden by `values` (command line), validating each."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = _hints(cls)
    merged: dict[str, Any] = {}
    sources = []
    if file is not None:
        sources.append((load_config_file(file), f"config file {file}"))
    sources.append((values or {}, "arguments"))
    for source, where in sources:
        for key, value in source.items():
            name = key.replace("-", "_")
            if name not in names:
                raise PilotlabError(f"unknown config key {key!r} in {where}; valid keys: {', '.join(sorted(names))}")
            merged[name] = _coerce(name.replace("_", "-"), hints[name], value)
    missing = [
        f.name
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in merged
    ]
    if missing:
        raise PilotlabError(f"missing required value(s): {', '.join(missing)}")
    try:
        return cls(**merged)
    except PilotlabError:
        raise
    except ValueError as e:
        raise PilotlabError(str(e)) from None


def to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-ready dict of a config (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Rebuild a config saved by `to_dict` (ignores keys the class no longer has)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return build_config(cls, {k: v for k, v in data.items() if k in names})
