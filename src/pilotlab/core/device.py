"""Device selection: auto | cpu | cuda | mps."""

from __future__ import annotations

import os

import torch

from pilotlab.core.errors import PilotlabError


def resolve_device(name: str = "auto") -> torch.device:
    """Return the torch device for `name`; `auto` prefers cuda, then mps, then cpu.

    Under torchrun each process takes the GPU of its LOCAL_RANK.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise PilotlabError("--device cuda was asked for but no CUDA GPU is available")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise PilotlabError("--device mps was asked for but MPS is not available")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise PilotlabError(f"unknown device {name!r}; use auto, cpu, cuda or mps")
