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
