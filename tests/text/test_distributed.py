"""`pilotlab text train` under torchrun: two gloo processes share the global batch and write one run."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from pilotlab.cli import main

TORCHRUN = Path(sys.executable).with_name("torchrun")
PROSE = "Now is the winter of our discontent made glorious summer by this sun of York.\n" * 30


def test_two_process_training_writes_one_run_and_learns(tmp_path: Path) -> None:
    data = tmp_path / "prose.txt"
    data.write_text(PROSE, encoding="utf-8")
    args = ["text", "train", "--data-file", str(data), "--context", "16", "--layers", "1", "--heads", "2", "--width",
            "32", "--batch-size", "16", "--max-steps", "30", "--log-every", "1", "--lr", "1e-2", "--warmup-steps", "5"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert main([*args, "--run-dir", str(one)]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(TORCHRUN), "--standalone", "--nproc_per_node=2", "-m", "pilotlab", *args, "--run-dir",
                           str(two)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((two / "config.json").read_text())["world_size"] == 2
    rows = [json.loads(r) for r in (two / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert len(losses) == 30  # rank 0 alone logs
    s_one, s_two = (json.loads((r / "summary.json").read_text()) for r in (one, two))
    assert s_two["eval/val_loss"] < 0.6 * math.log(s_two["data/vocab"])  # learnt something: well below ln(V)
    # the same global batch size and schedule (other windows per rank): the same loss within noise
    assert abs(s_two["eval/val_loss"] - s_one["eval/val_loss"]) < 0.2
