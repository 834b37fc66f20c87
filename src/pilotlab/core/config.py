"""Typed configs: frozen dataclasses whose field docstrings become CLI help.

A command's config is a frozen dataclass. Every field carries a docstring (a string literal right
after the field, as in CleanRL); `add_arguments` turns each field into a ``--flag`` whose help is
that docstring, and `build_config` merges command line > config file > preset > dataclass default, rejecting
unknown keys and badly typed values with a `PilotlabError` (exit code 2). A flag that is not given leaves no
trace in the parsed namespace, so `given_values` knows which fields the user set (a preset fills only the rest).

`check_fields` holds the rules every field obeys whatever its command: floats are finite, integers lie
in [0, 2**31 - 1] (a field that may be negative says so with ``field(metadata={"signed": True})``), and
strings hold no NUL byte. Range checks written as ``x <= 0`` are false for NaN, so finiteness is checked
here once, before any command-specific check runs.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import itertools
import json
import math
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

INT_MAX = 2**31 - 1
"""Largest integer any config field takes: seeds stay valid for NumPy after the offsets trainers add,
and sizes stay far below what an allocation could hold."""


RESUME_MAY_CHANGE = frozenset({"threads", "device", "run_dir", "resume", "track",
                               "total_steps", "epochs", "max_steps", "episodes", "time_budget_s"})
"""Fields a resumed run may take anew: where and how fast it runs, where it reports, and how long it trains
(``--resume --total-steps 2N`` continues a run of N steps; a schedule tied to the budget follows the new
one). Every other field must match config.json, so a resumed run computes what its config says."""


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
    track: Literal["none", "wandb"] = "none"
    """Also log metrics, config, summary and figures to Weights & Biases (pip install -e '.[track]'); offline
    into <run>/wandb/ when no API key is set (upload later with wandb sync)."""

    def __post_init__(self) -> None:
        check_fields(self)
        if self.threads < 1:
            raise PilotlabError(f"threads must be >= 1, got {self.threads}")
        if self.resume and not self.run_dir:
            raise PilotlabError("--resume needs --run-dir naming the run to continue")


def check_fields(cfg: Any) -> None:
    """Raise `PilotlabError` for a non-finite float, an out-of-range integer or a NUL in a string field."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        values = value if isinstance(value, tuple) else (value,)
        flag = f.name.replace("_", "-")
        for v in values:
            if isinstance(v, bool) or v is None:
                continue
            if isinstance(v, float) and not math.isfinite(v):
                raise PilotlabError(f"{flag} must be a finite number, got {v}")
            if isinstance(v, int):
                low = -INT_MAX if f.metadata.get("signed") else 0
                if not low <= v <= INT_MAX:
                    raise PilotlabError(f"{flag} must be an integer in [{low}, {INT_MAX}], got {v}")
            if isinstance(v, str) and "\x00" in v:
                raise PilotlabError(f"{flag} must not contain a NUL byte")


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
        text = str(value).strip()
        try:  # exact for any length of digits ("12345678901234567891" stays exact)
            return int(text)
        except ValueError:
            pass
        try:  # scientific notation such as 1e5
            as_float = float(text)
        except (TypeError, ValueError, OverflowError):
            raise PilotlabError(f"{name} must be an integer, got {value!r}") from None
        if not math.isfinite(as_float) or not as_float.is_integer():
            raise PilotlabError(f"{name} must be an integer, got {value!r}")
        return int(as_float)
    if inner is float:
        if isinstance(value, bool):
            raise PilotlabError(f"{name} must be a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise PilotlabError(f"{name} must be a number, got {value!r}") from None
        if not math.isfinite(number):
            raise PilotlabError(f"{name} must be a finite number, got {value!r}")
        return number
    if inner is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise PilotlabError(f"{name} must be a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported config type for {name}: {tp}")  # pragma: no cover


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one CLI flag per dataclass field; help text is the field's docstring.

    No flag has a default in the namespace (``argparse.SUPPRESS``): a parsed namespace holds exactly the
    fields given on the command line, even one given its default value (see `given_values`)."""
    docs = field_docs(cls)
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        inner, _ = _unwrap_optional(tp)
        doc = docs.get(f.name, "")
        has_default = f.default is not dataclasses.MISSING
        if f.metadata.get("registry"):  # a name registered by any pillar: list every choice
            from pilotlab.core import registry

            doc = f"{doc} Choices: " + "; ".join(f"{n}: {h}" for n, h in registry.descriptions(
                f.metadata["registry"]).items())
        if has_default:
            doc = f"{doc} (default: {f.default})"
        kwargs: dict[str, Any] = {"help": doc.replace("%", "%%")}  # argparse %-formats help strings
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
        raise PilotlabError(f"config file not found: {str(p)!r}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PilotlabError(f"config file {str(p)!r} is not UTF-8 text; give a TOML, YAML or JSON file") from None
    except OSError as e:
        raise PilotlabError(f"cannot read config file {str(p)!r}: {e.strerror}") from None
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
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise PilotlabError(f"config file {str(p)!r} must hold a table of key = value pairs with text keys")
    return data


def given_values(values: dict[str, Any] | None, file: str | Path | None = None) -> dict[str, Any]:
    """The fields the user set explicitly, by field name: the config file's values under the command line's
    (`values`, a namespace from a parser `add_arguments` built, which holds only the flags given). Values are
    as given, not yet checked; `build_config` checks them."""
    given = {k.replace("-", "_"): v for k, v in load_config_file(file).items()} if file is not None else {}
    given.update({k.replace("-", "_"): v for k, v in (values or {}).items()})
    return given


def build_config(
    cls: type[C],
    values: dict[str, Any] | None = None,
    file: str | Path | None = None,
    base: dict[str, Any] | None = None,
    preset: dict[str, Any] | None = None,
    preset_source: str = "the preset",
) -> C:
    """Make a `cls` from `base` (a resumed run's saved config) < `preset` (values chosen for the user, e.g. tuned
    hyperparameters; `preset_source` names them in messages) < file values < `values` (command line),
    validating each."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = _hints(cls)
    merged: dict[str, Any] = {}
    sources = []
    if base:
        sources.append(({k: v for k, v in base.items() if k in names}, "the run's config.json"))
    if preset:
        sources.append((preset, preset_source))
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
        cfg = cls(**merged)
    except PilotlabError:
        raise
    except (ValueError, OverflowError) as e:
        raise PilotlabError(" ".join(str(e).split())) from None
    if not isinstance(cfg, RunConfig):  # RunConfig checks its fields in __post_init__
        check_fields(cfg)
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-ready dict of a config (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Rebuild a config saved by `to_dict` (ignores keys the class no longer has)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return build_config(cls, {k: v for k, v in data.items() if k in names})


VARIANT_FIELDS = ("method", "algo", "model", "preset")
"""Fields that pick a command's config class (``--method simclr``) or the preset its values start from
(``--preset none``): always written by `command_line`, since the CLI would otherwise take its default choice,
which may be another class or another preset."""


def command_line(command: str, cfg: Any) -> str:
    """The ``pilotlab ...`` line that gives back `cfg`: `command` (e.g. "ssl train") followed by the positional
    fields and every field whose value differs from its default (and the `VARIANT_FIELDS`), quoted for a POSIX
    shell. Parsing the line with the CLI builds a config equal to `cfg`."""
    import shlex

    words = ["pilotlab", *command.split()]
    flags: list[str] = []
    first_and_last = {name: i for i, name in enumerate(VARIANT_FIELDS)} | {"run_dir": len(VARIANT_FIELDS) + 1}
    order = {f.name: first_and_last.get(f.name, len(VARIANT_FIELDS)) for f in dataclasses.fields(cfg)}
    for f in sorted(dataclasses.fields(cfg), key=lambda f: order[f.name]):  # the choice first, the folder last
        value = getattr(cfg, f.name)
        if f.metadata.get("positional"):
            words.append(shlex.quote(str(value)))
            continue
        default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        if value == default and f.name not in VARIANT_FIELDS:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + f.name.replace("_", "-"))
        elif value is None:
            flags += [flag, "none"]
        elif isinstance(value, tuple):
            flags += [flag, *(shlex.quote(_word(v)) for v in value)]
        else:
            flags += [flag, shlex.quote(_word(value))]
    return " ".join(words + flags)


def _word(value: Any) -> str:
    """One value as the CLI reads it back (floats exactly: repr round-trips)."""
    return repr(value) if isinstance(value, float) else str(value)
