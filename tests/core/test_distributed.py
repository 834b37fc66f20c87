"""Trainers run unchanged under torchrun: 2 gloo processes follow the 1-process loss curve."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pilotlab.core import distributed

ARGS = [
    "ssl",
    "train",
    "--no-evaluate",
    "--method",
    "ae",
    "--dataset",
    "digits",
    "--batch-size",
    "64",
    "--latent-dim",
    "16",
    "--max-steps",
    "30",
    "--log-every",
    "5",
    "--device",
    "cpu",
]


def _losses(run: Path) -> list[float]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["train/loss"] for r in rows if "train/loss" in r]


def test_single_process_helpers() -> None:
    assert distributed.world_size() == 1 and distributed.rank() == 0 and distributed.is_main()
    assert distributed.all_reduce_mean({"a": 2.0}) == {"a": 2.0}
    a = distributed.epoch_indices(10, epoch=3, seed=1)
    assert sorted(a.tolist()) == list(range(10))
    assert torch.equal(a, distributed.epoch_indices(10, epoch=3, seed=1))
    assert not torch.equal(a, distributed.epoch_indices(10, epoch=4, seed=1))


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_two_processes_follow_one_process(tmp_path) -> None:
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    assert torchrun is not None
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run(
        [sys.executable, "-m", "pilotlab", *ARGS, "--run-dir", str(one)], check=True, capture_output=True, timeout=300
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", "-m", "pilotlab", *ARGS, "--run-dir", str(two)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert json.loads((two / "config.json").read_text())["world_size"] == 2
    a, b = _losses(one), _losses(two)
    assert len(a) == len(b) == 6
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-4, (a, b)
    writers = {f.name.rsplit(".", 2)[1] for f in two.glob("events.out.tfevents*")}
    assert len(writers) == 1  # one process (rank 0) wrote TensorBoard events


TEARDOWN_WORKER = """
import json, os, sys
import torch
from pilotlab.core import distributed
from pilotlab.ssl.losses import nt_xent
distributed.init()
net = distributed.wrap(torch.nn.Linear(4, 3))  # DDP: lazy imports, reducer, allreduce in backward
z = net(torch.randn(8, 4))
loss = nt_xent(z[:4], z[4:], 0.5)  # all_gather (torch.distributed.nn.functional), all_to_all in backward
loss.backward()
del net, z, loss  # as when a trainer returns
distributed.cleanup()
names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
with open(os.path.join(sys.argv[1], f"threads{os.environ['RANK']}.json"), "w") as f:
    json.dump(names, f)
"""


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="lists threads through Linux /proc")
def test_cleanup_joins_the_gloo_threads_before_exit(tmp_path) -> None:
    # A gloo thread still alive when the interpreter finalizes can abort the exit (see cleanup), so
    # cleanup must free the group and thereby join its threads: pt_gloo_runloop and gloo_tcp_loop.
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    assert torchrun is not None
    script = tmp_path / "worker.py"
    script.write_text(TEARDOWN_WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "still referenced" not in r.stderr, r.stderr[-3000:]
    for rank in range(2):
        names = json.loads((tmp_path / f"threads{rank}.json").read_text())
        assert not [n for n in names if "gloo" in n], names
