"""The RL adversary (drive/adversary.py): its reward on scripted crashes, the replay of its scenario files, the
rl method of `drive stress` and its bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pilotlab.cli import main
from pilotlab.core.errors import PilotlabError
from pilotlab.drive import scenarios
from pilotlab.drive.adversary import AdversaryEnv, read_log, scenario_of


class _Idle:
    """A driver that holds lane and speed (IDLE), so a scripted scene crashes as laid out."""

    perception = None

    def act(self, env: Any, obs: Any) -> int:
        return 1


def _scene(tmp_path: Path, npc_offset: float, npc_speed: float, npc_target: float, third: float | None = None
           ) -> AdversaryEnv:
    """An adversary env reset on highway-fast-v0, traffic replaced by the ego (IDLE at its speed) and the
    adversary `npc_offset` m ahead in the ego's lane (optionally a standing car `third` m ahead of the
    adversary in the next lane, where the adversary is moved)."""
    from highway_env.vehicle.kinematics import Vehicle

    env = AdversaryEnv(env="highway-fast-v0", agent="oracle", duration=6, episode_log=str(tmp_path / "log.jsonl"))
    env.reset(seed=0)
    base = env._inner.unwrapped
    ego, npc = base.vehicle, env._hooks.npc
    x, _ = ego.lane.local_coordinates(ego.position)
    keep = [ego, npc]
    a, b, i = ego.lane_index
    lane_index = (a, b, (i + 1) % 3) if third is not None else ego.lane_index  # another lane: away from the ego
    lane = base.road.network.get_lane(lane_index)
    npc.position = lane.position(x + npc_offset, 0.0)
    npc.target_lane_index = lane_index
    if third is not None:
        keep.append(Vehicle(base.road, lane.position(x + npc_offset + third, 0.0), 0.0, 0.0))
    npc.heading, npc.speed = 0.0, npc_speed
    npc.speed_index = npc.speed_to_index(npc_target)
    npc.target_speed = npc.index_to_speed(npc.speed_index)
    for v in keep:
        v.on_state_update()
    base.road.vehicles[:] = keep
    env._agent = _Idle()
    hooks = env._hooks  # the scene as laid out is the first recorded step (the fault rules read it)
    for v in keep[2:]:
        hooks._serial[id(v)] = len(hooks._serial)
    hooks.history.clear()
    hooks.trajectory.clear()
    hooks._record(env._inner)
    env._phi = env._potential()
    return env


def _run(env: AdversaryEnv, action: int) -> tuple[float, dict]:
    total, done = 0.0, False
    while not done:
        _, r, term, trunc, _ = env.step(action)
        total, done = total + r, term or trunc
    env.close()
    assert env.last_record is not None
    return total, env.last_record


def test_reward_on_scripted_crashes(tmp_path: Path) -> None:
    # the ego runs into the adversary braking ahead: its fault, the adversary's +1
    r_ego, rec = _run(_scene(tmp_path, 20.0, 10.0, 5.0), 4)  # SLOWER
    assert rec["outcome"]["crashed"] and rec["outcome"]["at_fault"] and rec["outcome"]["kind"] == "rear-ended npc"
    assert r_ego > 0.9
    # the adversary rams the ego from behind: its own fault, no reward but the penalty
    r_npc, rec = _run(_scene(tmp_path, -15.0, 35.0, 35.0), 3)  # FASTER
    assert rec["outcome"]["crashed"] and not rec["outcome"]["at_fault"]
    assert rec["outcome"]["kind"] == "rear-ended by npc" and r_npc < -0.9
    # the adversary hits a standing car in the other lane, the ego untouched: the alone penalty
    r_alone, rec = _run(_scene(tmp_path, 60.0, 25.0, 25.0, third=20.0), 1)  # IDLE
    assert rec["adversary_crashed"] and not rec["outcome"]["crashed"] and -0.35 < r_alone < -0.15
    assert len(read_log(tmp_path / "log.jsonl")) == 3  # each simulated episode logged


def test_adversary_scenario_replays_bit_for_bit(tmp_path: Path) -> None:
    env = AdversaryEnv(env="highway-fast-v0", agent="modular", duration=4, knobs={"sensor_noise": 2.0})
    env.reset(seed=5)
    for a in (4, 0, 3, 2):  # slower, left, faster, right
        env.step(a)
    env.close()
    rec = env.last_record
    assert rec is not None and rec["complete"] and rec["actions"] == [4, 0, 3, 2]
    sc = scenario_of(env.template, rec)
    scenarios.save(sc, tmp_path / "a.json")
    loaded = scenarios.load(tmp_path / "a.json")
    assert loaded == sc and loaded.adversary == (4, 0, 3, 2) and loaded.sensor_noise == 2.0
    _, out = scenarios.run_scenario(loaded)
    assert out == rec["outcome"]
    # the actions reach the traffic: the same env seed with another action sequence moves the adversary apart
    a, b = (AdversaryEnv(env="highway-fast-v0", agent="idm", duration=3) for _ in range(2))
    oa, _ = a.reset(seed=5)
    ob, _ = b.reset(seed=5)
    assert np.array_equal(oa, ob)
    for _ in range(2):
        oa, *_ = a.step(4)
        ob, *_ = b.step(3)
    assert oa[0, 1] < ob[0, 1]  # the braking adversary is slower
    # through the CLI, with the file's own driver
    assert main(["drive", "eval", "--agent", "modular", "--scenario", str(tmp_path / "a.json"), "--no-gif",
                 "--run-dir", str(tmp_path / "replay")]) == 0
    assert json.loads((tmp_path / "replay" / "summary.json").read_text())["eval/replay_match"] == 1.0


def test_tiny_stress_search_with_the_rl_method(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "stress"
    argv = ["drive", "stress", "--agent", "idm", "--env", "highway-fast-v0", "--methods", "rl", "--budget", "7",
            "--population", "3", "--duration", "2", "--adversary-steps", "4", "--max-videos", "0", "--run-dir",
            str(run)]
    assert main(argv) == 0
    summary = json.loads((run / "summary.json").read_text())
    log = read_log(run / "adversary_episodes.jsonl")
    # probe + 2 training episodes (+ a cut one if a crash shortened one) + 2 evaluation episodes, then 2 of the policy
    assert summary["stress/rl/episodes"] == len(log) == 7
    assert summary["stress/rl/train_episodes"] >= 5
    assert summary["stress/rl/distinct_failures"] == len(list((run / "scenarios").glob("rl-*.json")))
    assert summary["stress/replays_matched"] == summary["stress/replays"]
    assert (run / "adversary" / "summary.json").is_file()
    assert main([*argv, "--resume"]) == 0  # finished: nothing left to simulate, the log kept as it was
    assert len(read_log(run / "adversary_episodes.jsonl")) == 7
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 7


@pytest.mark.parametrize(("argv", "needle"), [
    (["--methods", "rl", "--budget", "5", "--adversary-steps", "1000"], "adversary-steps"),
    (["--adversary-steps", "0"], "adversary-steps"),
    (["--methods", "rl,rl"], "methods"),
])
def test_rl_method_bad_input_exits_2(argv: list[str], needle: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drive", "stress", "--run-dir", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("kwargs", ['{"env": "mars-v0"}', '{"agent": "rl:x"}', '{"knobs": {"density": 9}}',
                                    '{"knobs": [1]}', '{"shaping": -1}', '{"no_such": 1}'])
def test_rl_train_refuses_bad_adversary_kwargs(kwargs: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "train", "--algo", "dqn", "--env", "drive-adversary-v0", "--env-kwargs", kwargs,
                 "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("adversary", [[5], [1.5], "x", [True], {"a": 1}])
def test_scenario_file_refuses_bad_adversary_actions(adversary: Any, tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"format": scenarios.FORMAT, "env": "highway-fast-v0", "seed": 3, "adversary": adversary}))
    with pytest.raises(PilotlabError, match="adversary"):
        scenarios.load(p)
