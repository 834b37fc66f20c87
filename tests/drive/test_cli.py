"""End to end through the CLI: `pilotlab drive eval` writes a run directory with the DESIGN.md keys."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pilotlab.cli import main
from pilotlab.drive import AGENTS
from pilotlab.drive.agents import make_agent
from pilotlab.drive.envs import make_env
from pilotlab.drive.evaluate import evaluate_agents, run_episode

KEYS = ["eval/return_mean", "eval/crash_rate", "eval/speed_mean", "eval/route_completion", "eval/driving_score",
        "eval/mota", "eval/idf1", "eval/ms_per_step", "eval/episodes"]


def test_drive_eval_two_episodes_through_the_cli(tmp_path: Path) -> None:
    run = tmp_path / "run"
    code = main(["drive", "eval", "--agent", "modular", "--episodes", "2", "--duration", "4",
                 "--run-dir", str(run)])
    assert code == 0
    summary = json.loads((run / "summary.json").read_text())
    for key in KEYS:
        assert key in summary
    assert summary["eval/episodes"] == 2.0
    assert 0.0 <= summary["eval/crash_rate"] <= 1.0
    assert 0.0 < summary["eval/route_completion"] <= 1.0
    assert 0.0 <= summary["eval/mota"] <= 1.0 and 0.0 <= summary["eval/idf1"] <= 1.0
    assert summary["eval/return_mean"] > 0.0
    assert (run / "figures" / "modular.gif").stat().st_size > 1000
    assert (run / "config.json").is_file() and (run / "metrics.jsonl").is_file()


@pytest.mark.parametrize("spec", [a for a in AGENTS if not a.startswith("rl:")])
def test_every_agent_drives_and_is_deterministic(spec: str) -> None:
    env = make_env("highway-fast-v0", {"duration": 3})
    a = run_episode(make_agent(spec, 0), env, seed=123)
    b = run_episode(make_agent(spec, 0), env, seed=123)
    assert a.ret == b.ret and a.speeds == b.speeds and len(a.speeds) == 3
    assert a.ret > 0


@pytest.mark.parametrize("env_id", ["merge-v0", "roundabout-v0", "intersection-v0", "highway-v0"])
def test_other_scenarios_run(env_id: str) -> None:
    res = evaluate_agents(["modular"], env_id, episodes=1, seed=5, env_config={"duration": 3}, gif=False)
    assert np.isfinite(res["modular"]["return_mean"])


@pytest.mark.parametrize("argv", [["--agent", "robot"], ["--env", "mars-v0"], ["--episodes", "0"],
                                  ["--agent", "rl:/no/such/run"]])
def test_bad_input_exits_2(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["drive", "eval", "--run-dir", str(tmp_path / "r"), "--episodes", "1", "--duration", "2", *argv])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
