"""Checkpoints: safetensors for tensors + JSON for everything else; atomic; never unpickled.

A checkpoint named ``last`` in ``checkpoints/`` is two files:

- ``last.safetensors``: every tensor of the state tree (model, optimizer moments, RNG states);
- ``last.json``: the tree's structure with tensors replaced by ``{"__tensor__": key}``, plain
  values (step, learning rates, Python RNG state) and the sha256 of the tensor file.

Each file is written to a temporary name, fsynced and renamed, the JSON last: a reader that finds
the JSON finds the matching tensors (the digest is checked), and a kill mid-write leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from pilotlab.core import runfiles
from pilotlab.core.errors import PilotlabError

FORMAT = "pilotlab-checkpoint-1"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def flatten(tree: Any, prefix: str = "") -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested state (dicts, lists, tuples, tensors, scalars) into tensors + JSON skeleton."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any, key: str) -> Any:
        if isinstance(node, torch.Tensor):
            tensors[key] = node.detach().to("cpu").contiguous().clone()
            return {"__tensor__": key}
        if isinstance(node, dict):
            for k in node:
                if not isinstance(k, (str, int)):
                    raise TypeError(f"checkpoint keys must be str or int, got {type(k)} at {key}")
            return {"__dict__": [[k, walk(v, f"{key}/{k}" if key else str(k))] for k, v in node.items()]}
        if isinstance(node, tuple):
            return {"__tuple__": [walk(v, f"{key}/{i}") for i, v in enumerate(node)]}
        if isinstance(node, list):
            return [walk(v, f"{key}/{i}") for i, v in enumerate(node)]
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if hasattr(node, "item") and hasattr(node, "dtype"):  # numpy scalar
            return node.item()
        raise TypeError(f"cannot checkpoint a {type(node).__name__} at {key!r}")

    skeleton = walk(tree, prefix)
    return tensors, skeleton


def unflatten(tensors: dict[str, torch.Tensor], skeleton: Any) -> Any:
    """Inverse of `flatten`."""
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__tuple__" in skeleton:
            return tuple(unflatten(tensors, v) for v in skeleton["__tuple__"])
        if "__dict__" in skeleton:
            return {k: unflatten(tensors, v) for k, v in skeleton["__dict__"]}
        raise PilotlabError("corrupt checkpoint: unknown node in JSON skeleton")
    if isinstance(skeleton, list):
        return [unflatten(tensors, v) for v in skeleton]
    return skeleton


def save(path: str | Path, state: Any, meta: dict[str, Any] | None = None) -> Path:
    """Save `state` (nested dict of tensors and plain values) as `path`.safetensors + `path`.json.

    `path` is the stem (``.../checkpoints/last``). `meta` is stored as plain JSON beside the state.
    """
    stem = Path(path)
    tensors, skeleton = flatten(state)
    tensor_path = stem.with_suffix(".safetensors")
    fd, tmp = tempfile.mkstemp(dir=stem.parent, prefix=f".{stem.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp)
        digest = _sha256(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, tensor_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    doc = {"format": FORMAT, "sha256": digest, "meta": meta or {}, "state": skeleton}
    atomic_write_text(stem.with_suffix(".json"), json.dumps(doc))
    return stem


def load(path: str | Path, device: str | torch.device = "cpu") -> tuple[Any, dict[str, Any]]:
    """Load a checkpoint saved by `save`; returns (state, meta). Never unpickles."""
    stem = Path(path)
    if stem.suffix in (".json", ".safetensors"):
        stem = stem.with_suffix("")
    json_path, tensor_path = stem.with_suffix(".json"), stem.with_suffix(".safetensors")
    if not json_path.is_file() or not tensor_path.is_file():
        raise PilotlabError(f"no checkpoint at {stem} (expected {json_path.name} and {tensor_path.name})")
    doc = runfiles.read_json(json_path, runfiles.CHECKPOINT_JSON)
    if doc["format"] != FORMAT:
        raise PilotlabError(f"{runfiles.quote(json_path)} is not a pilotlab checkpoint (format {doc['format']!r})")
    if _sha256(tensor_path) != doc["sha256"]:
        raise PilotlabError(f"checkpoint {runfiles.quote(tensor_path)} does not match its sha256 in {json_path.name}")
    try:
        tensors = load_file(str(tensor_path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise PilotlabError(f"corrupt checkpoint {runfiles.quote(tensor_path)}: {' '.join(str(e).split())}") from None
    try:
        state = unflatten(tensors, doc["state"])
    except (KeyError, TypeError, ValueError) as e:
        raise PilotlabError(f"corrupt checkpoint {runfiles.quote(json_path)}: its state names a missing tensor "
                            f"({' '.join(str(e).split())})") from None
    return state, doc["meta"]


def exists(path: str | Path) -> bool:
    stem = Path(path)
    return stem.with_suffix(".json").is_file() and stem.with_suffix(".safetensors").is_file()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
