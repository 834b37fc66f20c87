"""End to end through the CLI: `pilotlab drive eval` writes a run directory with the docs/design.md keys."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pilotlab.cli import main
from pilotlab.core import registry
from pilotlab.core.errors import PilotlabError
from pilotlab.drive import AGENT
from pilotlab.drive.agents import make_agent
from pilotlab.drive.envs import make_env
from pilotlab.drive.evaluate import check_drivers, evaluate_agents, run_episode

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


@pytest.mark.parametrize("spec", [a for a in registry.names(AGENT) if not a.startswith("rl:")])
def test_every_agent_drives_and_is_deterministic(spec: str) -> None:
    env = make_env("highway-fast-v0", {"duration": 3})
    a = run_episode(make_agent(spec, 0), env, seed=123)
    b = run_episode(make_agent(spec, 0), env, seed=123)
    assert a.ret == b.ret and a.speeds == b.speeds and len(a.speeds) == 3
    assert a.ret > 0


@pytest.mark.parametrize("env_id", ["merge-v0", "roundabout-v0", "intersection-v0", "highway-v0"])
def test_other_scenarios_run(env_id: str) -> None:
    extra = {"vehicles_count": 20} if env_id == "highway-v0" else {}  # 50 cars make each step slow
    res = evaluate_agents(["modular"], env_id, episodes=1, seed=5, env_config={"duration": 3, **extra}, gif=False)
    assert np.isfinite(res["modular"]["return_mean"])


@pytest.mark.parametrize("argv", [["--agent", "robot"], ["--env", "mars-v0"], ["--episodes", "0"],
                                  ["--agent", "rl:/no/such/run"]])
def test_bad_input_exits_2(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["drive", "eval", "--run-dir", str(tmp_path / "r"), "--episodes", "1", "--duration", "2", *argv])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()  # refused before the run directory is made


def test_env_config_highway_env_rejects_is_one_line() -> None:
    """Whatever highway-env raises for a config (ValueError here) names the env and the config."""
    with pytest.raises(PilotlabError) as err:
        check_drivers(["idm"], "highway-fast-v0", {"action": {"type": "Nope"}})
    msg = str(err.value)
    assert "\n" not in msg and "highway-fast-v0" in msg and '"type": "Nope"' in msg and "Unknown action type" in msg


def test_continuous_control_keeps_the_lane_and_speed() -> None:
    """PID + pure pursuit on ContinuousAction at 5 Hz: stays on the road, near the planned speed, no crash."""
    agent = make_agent("oracle", 0, "continuous")
    env = make_env("highway-fast-v0", {"duration": 4})
    st = run_episode(agent, env, seed=100_000)
    assert len(st.speeds) == 20  # 4 s at the 5 Hz simulation rate
    assert not st.crashed and st.ret > 0.6 * 4  # return is reward x time, comparable with the 1 Hz return
    assert abs(float(env.unwrapped.vehicle.heading)) < 0.2
    assert min(st.speeds) > 15.0


def test_rl_driver_trains_and_evaluates_through_the_cli(tmp_path: Path) -> None:
    pytest.importorskip("pilotlab.rl.dqn")
    run = tmp_path / "dqn"
    code = main(["drive", "train", "--algo", "dqn", "--env", "highway-fast-v0", "--env-config", '{"duration": 3}',
                 "--total-steps", "24", "--learning-starts", "8", "--train-freq", "8", "--gradient-steps", "1",
                 "--eval-episodes", "1", "--network", "deepsets", "--run-dir", str(run)])
    assert code == 0
    out = tmp_path / "eval"
    assert main(["drive", "eval", "--agent", f"rl:{run}", "--episodes", "1", "--no-gif",
                 "--run-dir", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["eval/episodes"] == 1.0 and np.isfinite(summary["eval/return_mean"])
    assert main(["drive", "eval", "--agent", f"rl:{run}", "--env", "merge-v0", "--episodes", "1",
                 "--run-dir", str(tmp_path / "wrong")]) == 2  # trained on another env


def test_route_length_per_scenario() -> None:
    from pilotlab.drive.envs import MERGE_END_X, ego_vehicle, route_length

    env = make_env("highway-fast-v0")
    env.reset(seed=0)
    assert route_length(env) == pytest.approx(30.0 * 30.0)  # 30 m/s for 30 s
    merge = make_env("merge-v0")  # no time limit: the road to x = 370 m
    merge.reset(seed=0)
    assert route_length(merge) == pytest.approx(MERGE_END_X - float(ego_vehicle(merge).position[0]))


def test_agent_names_are_unique_per_driver() -> None:
    from pilotlab.drive.evaluate import agent_names

    assert agent_names(["modular", "rl:runs/a", "rl:runs/a+shield"]) == ["modular", "rl", "rl+shield"]
    assert agent_names(["rl:runs/a", "rl:runs/b", "idm"]) == ["rl", "rl2", "idm"]
