"""Run trainers unchanged under ``torchrun --nproc_per_node=N`` (gloo on CPU, nccl on GPU).

Outside torchrun everything here degrades to the single-process case: rank 0 of a world of 1.
"""

from __future__ import annotations

import gc
import os
import sys
import warnings
from collections.abc import Mapping, Sized

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

if dist.is_available():
    # Imported before any process group exists: its collectives default to ``group=group.WORLD``,
    # evaluated at import, so a first import after init (DDP and ssl.losses import it lazily) would
    # pin the default group, and cleanup() could never free it and join gloo's threads.
    import torch.distributed.nn.functional


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """True on the process that logs and writes checkpoints (rank 0)."""
    return rank() == 0


def init(device: torch.device | None = None) -> None:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); no-op otherwise."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return
    backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)


def cleanup() -> None:
    """Leave the process group and join gloo's worker threads while the interpreter is still alive.

    A gloo worker thread frees finished collectives after `wait()` has returned, and that takes the
    GIL (the work holds Python objects such as the context torch stashes during backward); once the
    interpreter is finalizing, CPython ends that thread with pthread_exit inside a C++ destructor,
    which aborts ("terminate called without an active exception"). gloo joins its threads only when
    the group object is freed, so nothing may hold it past this call.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    gc.collect()  # cycles that may still hold the group (autograd graphs of collectives given a group)
    dist.barrier()  # every rank is done with its last collective before any rank closes its pairs
    group = dist.group.WORLD
    dist.destroy_process_group()
    others = sys.getrefcount(group) - 2  # references besides `group` and getrefcount's argument
    del group  # the last reference: ProcessGroupGloo's destructor joins its worker threads here
    if others > 0:
        warnings.warn(
            f"the process group is still referenced {others} time(s) after destroy_process_group; "
            "its gloo threads outlive it and can abort the interpreter's exit",
            RuntimeWarning,
            stacklevel=2,
        )


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def all_reduce_mean(values: Mapping[str, float]) -> dict[str, float]:
    """Average scalar metrics over ranks (identity in one process)."""
    if world_size() == 1 or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= world_size()
    return {k: float(v) for k, v in zip(keys, t.tolist())}


def broadcast_object(obj: object) -> object:
    """Send rank 0's small value (a str, number or None) to every rank."""
    if world_size() == 1:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


class _Range(Sized):
    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n


def epoch_indices(n: int, epoch: int, seed: int, shuffle: bool = True, drop_last: bool = True) -> torch.Tensor:
    """This rank's sample indices for `epoch`, via `DistributedSampler` (also for one process).

    The order depends only on (seed, epoch), so a resumed run sees the same batches.
    """
    sampler = DistributedSampler(
        _Range(n), num_replicas=world_size(), rank=rank(), shuffle=shuffle, seed=seed, drop_last=drop_last
    )
    sampler.set_epoch(epoch)
    return torch.tensor(list(iter(sampler)), dtype=torch.long)


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """DistributedDataParallel under torchrun, the model itself otherwise."""
    if world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model  # type: ignore[return-value]
