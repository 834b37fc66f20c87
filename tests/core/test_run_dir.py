"""A tiny training run writes a complete run directory; a second run never overwrites it."""

from __future__ import annotations

import json

from pilotlab.cli import main
from pilotlab.core import checkpoint


def test_complete_run_directory(tmp_path) -> None:
    run = tmp_path / "r"
    assert (
        main(
            [
                "ssl",
                "train",
                "--method",
                "ae",
                "--dataset",
                "digits",
                "--epochs",
                "2",
                "--batch-size",
                "64",
                "--log-every",
                "5",
                "--run-dir",
                str(run),
            ]
        )
        == 0
    )
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "metrics.jsonl", "summary.json", "checkpoints", "figures"} <= names
    assert any(n.startswith("events.out.tfevents") for n in names)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["pillar"] == "ssl" and cfg["seed"] == 0 and {"torch", "python", "pilotlab"} <= set(cfg["versions"])
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all("step" in r and "time" in r for r in rows)
    assert any("train/loss" in r for r in rows) and any("eval/recon_bce" in r for r in rows)
    state, meta = checkpoint.load(run / "checkpoints" / "last")
    assert meta["step"] == 2 * (1438 // 64) and "model" in state and "optim" in state and "rng" in state
    assert (run / "figures" / "reconstructions.png").stat().st_size > 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["train/wall_s"] > 0

    before = (run / "checkpoints" / "last.safetensors").read_bytes()
    assert main(["ssl", "train", "--method", "ae", "--dataset", "digits", "--run-dir", str(run)]) == 2
    assert (run / "checkpoints" / "last.safetensors").read_bytes() == before


def test_same_seed_same_metrics(tmp_path) -> None:
    def losses(name: str, seed: int) -> list[float]:
        run = tmp_path / name
        main(
            [
                "ssl",
                "train",
                "--method",
                "denoising-ae",
                "--no-evaluate",
                "--dataset",
                "digits",
                "--max-steps",
                "12",
                "--batch-size",
                "64",
                "--log-every",
                "4",
                "--seed",
                str(seed),
                "--run-dir",
                str(run),
            ]
        )
        return [
            r["train/loss"]
            for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if "train/loss" in r
        ]

    a, b, c = losses("a", 1), losses("b", 1), losses("c", 2)
    assert a == b and a != c
