"""The one validated reader of run-directory files: each JSON file has a schema, checked on every read.

Run directories are shared, copied, edited and cut short by crashes and full disks, so nothing read back
from one is trusted: a file that is not JSON, a missing key or a value of the wrong type becomes a
one-line `PilotlabError` naming the file and the fix, never a `KeyError` deep inside a trainer. The only
damage that is repaired rather than refused is the one a crash leaves: a torn last line of a JSONL file
(no newline, not parseable) is dropped with a warning.

A schema is a `Schema`: required and optional keys with the types their values may take; a value type
may itself be a `Schema` (a nested object) or `ListOf(...)`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilotlab.core.errors import PilotlabError

ACTIVE: list[Path] = []
"""Run directories the current command has written to, newest last (where the CLI puts a crash's traceback)."""

Number = (int, float)
Scalar = (int, float, str, bool, type(None))


@dataclass(frozen=True)
class ListOf:
    """A JSON array whose items all match `item` (a tuple of types or a `Schema`)."""

    item: Any


@dataclass(frozen=True)
class Schema:
    """A JSON object: `required` and `optional` map keys to allowed value types; `extra` types any other
    key's value (None: no other keys are checked or refused)."""

    name: str
    required: dict[str, Any] = field(default_factory=dict)
    optional: dict[str, Any] = field(default_factory=dict)
    extra: Any = None


CONFIG_JSON = Schema(
    "config.json",
    required={"pillar": str, "method": str, "config": dict},
    optional={"command": ListOf(str), "versions": dict, "seed": (int, type(None)), "world_size": int,
              "created": str, "resumes": ListOf(dict)},
)
"""config.json: which command made the run, its resolved config fields and where it ran."""

SUMMARY_JSON = Schema("summary.json", extra=(*Scalar, dict, list))
"""summary.json: flat namespaced keys (``eval/return_mean``) with JSON values."""

METRICS_ROW = Schema("metrics.jsonl row", required={"step": int}, optional={"time": Number}, extra=(*Number, str))
"""One line of metrics.jsonl: the step, the wall-clock time and namespaced scalars (non-finite ones as text)."""

CHECKPOINT_JSON = Schema(
    "checkpoint JSON", required={"format": str, "sha256": str, "meta": dict, "state": (dict, list)}
)
"""checkpoints/<name>.json: the tensor file's digest, plain metadata and the state's skeleton."""

SAMPLE = Schema(
    "sample",
    required={"prompt": str, "temperature": Number, "checkpoint": str, "step": int, "seed": int, "text": str},
    optional={"top_k": (int, type(None)), "length": int},
)
SAMPLES_JSON = Schema("samples.json", required={"samples": ListOf(SAMPLE)})
"""samples.json: generated text with what made it (prompt, temperature, top-k, checkpoint and its step, seed)."""

TOUR_STAGE = Schema(
    "tour stage",
    required={"key": str, "title": str, "status": str},
    optional={"headlines": ListOf(dict), "tables": ListOf(dict), "notes": ListOf(str), "runs": ListOf(dict),
              "command": ListOf(str), "wall_s": Number, "cpu_s": Number, "error": str, "figures": ListOf(dict),
              "test_sets": ListOf(str), "measured": dict},
)
TOUR_JSON = Schema(
    "tour.json",
    required={"stages": ListOf(TOUR_STAGE), "seed": int, "versions": dict},
    optional={"quick": bool, "wall_s": Number, "cpu_s": Number, "finished": str, "config": dict},
)
"""tour.json: the tour's stages with their headline numbers, tables and run directories."""


def quote(path: Path | str) -> str:
    """A path as it appears in a one-line message: quoted, with newlines and other controls escaped."""
    return repr(str(path))


def _type_name(types: Any) -> str:
    if isinstance(types, Schema):
        return "an object"
    if isinstance(types, ListOf):
        return "a list"
    types = types if isinstance(types, tuple) else (types,)
    names = {int: "an integer", float: "a number", str: "text", bool: "true/false", dict: "an object",
             list: "a list", type(None): "null"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def _matches(value: Any, types: Any, where: str) -> str | None:
    """None if `value` fits `types`, else what is wrong (one phrase)."""
    if isinstance(types, Schema):
        return _check(value, types, where)
    if isinstance(types, ListOf):
        if not isinstance(value, list):
            return f"{where} must be a list"
        for i, item in enumerate(value):
            problem = _matches(item, types.item, f"{where}[{i}]")
            if problem:
                return problem
        return None
    allowed = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in allowed:
        return f"{where} must be {_type_name(types)}, got {value!r}"
    if float in allowed and int not in allowed and isinstance(value, int) and not isinstance(value, bool):
        return None  # JSON writes 1.0 as 1 in some tools
    if not isinstance(value, allowed):
        shown = repr(value) if isinstance(value, (*Scalar,)) else type(value).__name__
        return f"{where} must be {_type_name(types)}, got {shown[:60]}"
    return None


def _check(doc: Any, schema: Schema, where: str = "") -> str | None:
    if not isinstance(doc, dict):
        return f"{where or 'the file'} must be a JSON object"
    prefix = f"{where}." if where else ""
    for key, types in schema.required.items():
        if key not in doc:
            return f"key {prefix}{key!s} is missing"
        problem = _matches(doc[key], types, prefix + key)
        if problem:
            return problem
    for key, value in doc.items():
        if key in schema.required:
            continue
        types = schema.optional.get(key, schema.extra)
        if types is None:
            continue
        problem = _matches(value, types, prefix + str(key))
        if problem:
            return problem
    return None


def validate(doc: Any, schema: Schema, path: Path | str) -> dict[str, Any]:
    """Return `doc` if it fits `schema`; else raise a `PilotlabError` naming the file."""
    problem = _check(doc, schema)
    if problem:
        raise PilotlabError(f"{quote(path)} is not a valid {schema.name}: {problem}; {_FIX}")
    return doc


_FIX = "the file was damaged or edited: restore it, or start a new run in another --run-dir"


def read_json(path: Path | str, schema: Schema) -> dict[str, Any]:
    """Read and validate one JSON file of a run directory."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PilotlabError(f"{quote(p)} not found") from None
    except UnicodeDecodeError:
        raise PilotlabError(f"{quote(p)} is not UTF-8 text; {_FIX}") from None
    except OSError as e:
        raise PilotlabError(f"cannot read {quote(p)}: {e.strerror or e}") from None
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        where = f" (line {e.lineno}, column {e.colno})" if isinstance(e, json.JSONDecodeError) else ""
        raise PilotlabError(f"{quote(p)} is not valid JSON{where}; {_FIX}") from None
    return validate(doc, schema, p)


def read_jsonl(path: Path | str, schema: Schema, warn: bool = True) -> list[dict[str, Any]]:
    """Read and validate every row of a JSONL file.

    A torn last line (what a crash or a full disk leaves: no newline and not parseable) is dropped, with a
    warning on stderr when `warn`; any other bad line is an error naming its line number.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        raise PilotlabError(f"{quote(p)} is not UTF-8 text; {_FIX}") from None
    except OSError as e:
        raise PilotlabError(f"cannot read {quote(p)}: {e.strerror or e}") from None
    lines = text.split("\n")
    torn = lines.pop()  # "" when the file ends with a newline
    rows = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        rows.append(_row(line, schema, p, i))
    if torn.strip():
        try:
            rows.append(_row(torn, schema, p, len(lines) + 1))
        except PilotlabError:
            if warn:
                print(f"warning: dropped the torn last line of {quote(p)} (a crash or a full disk cut it short)",
                      file=sys.stderr)
    return rows


def _row(line: str, schema: Schema, p: Path, lineno: int) -> dict[str, Any]:
    try:
        doc = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        raise PilotlabError(f"{quote(p)} line {lineno} is not valid JSON; {_FIX}") from None
    problem = _check(doc, schema)
    if problem:
        raise PilotlabError(f"{quote(p)} line {lineno} is not a valid {schema.name}: {problem}; {_FIX}")
    return doc


def has_torn_tail(path: Path) -> bool:
    """True when `path` is non-empty and does not end with a newline (the next append would join it)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    if size == 0:
        return False
    with open(path, "rb") as f:
        f.seek(-1, 2)
        return f.read(1) != b"\n"
