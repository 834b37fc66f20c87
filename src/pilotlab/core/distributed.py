"""Run trainers unchanged under ``torchrun --nproc_per_node=N`` (gloo on CPU, nccl on GPU).

Outside torchrun everything here degrades to the single-process case: rank 0 of a world of 1.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping, Sized

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler


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
    """Leave the process group. The barrier first matters: a rank that tears gloo down while its
    peer still has the last collective in flight aborts ("terminate called without an active
    exception"), seen in about 1 of 12 runs on a busy 2-core machine."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()  # drop autograd graphs (all_gather's backward holds the group) before teardown
        dist.barrier()
        dist.destroy_process_group()


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
