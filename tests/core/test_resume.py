"""A run killed with SIGKILL and resumed ends with the same metrics as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ARGS = [
    "ssl",
    "train",
    "--no-evaluate",
    "--method",
    "denoising-ae",
    "--dataset",
    "digits",
    "--batch-size",
    "32",
    "--latent-dim",
    "16",
    "--max-steps",
    "240",
    "--log-every",
    "10",
    "--checkpoint-every",
    "20",
    "--seed",
    "3",
]


def _cli(*extra: str) -> list[str]:
    return [sys.executable, "-m", "pilotlab", *ARGS, *extra]


def _rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def _ckpt_step(run: Path) -> int:
    f = run / "checkpoints" / "last.json"
    try:
        return json.loads(f.read_text())["meta"]["step"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return -1


def test_sigkill_then_resume_matches_uninterrupted(tmp_path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    full = tmp_path / "full"
    subprocess.run(_cli("--run-dir", str(full)), check=True, env=env, capture_output=True, timeout=300)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        _cli("--run-dir", str(killed)), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while _ckpt_step(killed) < 60 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    still_running = proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert still_running, "the run finished before it could be killed; make it longer"
    step = _ckpt_step(killed)
    assert 60 <= step < 240
    assert not (killed / "summary.json").exists()

    r = subprocess.run(_cli("--run-dir", str(killed), "--resume"), env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert _rows(killed) == _rows(full)
    a = json.loads((full / "summary.json").read_text())
    b = json.loads((killed / "summary.json").read_text())
    assert a["eval/recon_bce"] == b["eval/recon_bce"] and a["train/steps"] == b["train/steps"]


def test_resume_errors(tmp_path, capsys) -> None:
    from pilotlab.cli import main

    assert main([*ARGS, "--run-dir", str(tmp_path / "none"), "--resume"]) == 2
    assert "holds no run" in capsys.readouterr().err
