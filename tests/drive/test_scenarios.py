"""Scenarios, fault rules, replay, the stress search, the per-scenario route meters and the Wilson interval."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pilotlab.cli import main
from pilotlab.core.errors import PilotlabError
from pilotlab.drive import scenarios
from pilotlab.drive.envs import make_env
from pilotlab.drive.metrics import wilson_interval
from pilotlab.drive.scenarios import Scenario, ScenarioHooks, classify, crash_fault, run_scenario


def test_wilson_interval_against_hand_computed_cases() -> None:
    # 5 of 20, z = 1.96: centre (0.25 + z^2/40) / (1 + z^2/20), half z sqrt(0.25 * 0.75 / 20 + z^2/1600) / (1 + z^2/20)
    lo, hi = wilson_interval(5, 20)
    assert lo == pytest.approx(0.11186, abs=1e-4) and hi == pytest.approx(0.46868, abs=1e-4)
    lo, hi = wilson_interval(0, 50)  # upper end z^2 / (n + z^2)
    assert lo == 0.0 and hi == pytest.approx(1.959964**2 / (50 + 1.959964**2), rel=1e-6)
    lo, hi = wilson_interval(50, 50)
    assert hi == 1.0 and lo == pytest.approx(1 - 1.959964**2 / (50 + 1.959964**2), rel=1e-6)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def _car(x: float, y: float, heading: float = 0.0, speed: float = 20.0) -> dict:
    return {"position": np.array([x, y]), "heading": heading, "speed": speed}


@pytest.mark.parametrize(("ego", "npc", "ego_changed", "npc_changed", "into", "fault", "kind"), [
    (_car(10, 0), _car(5, 0, speed=30), False, False, True, False, "rear-ended by npc"),
    (_car(10, 0), _car(5, 0, speed=30), True, False, True, True, "ego cut in"),
    (_car(5, 0, speed=30), _car(10, 0), False, False, True, True, "rear-ended npc"),
    (_car(5, 0, speed=30), _car(9, 2.0), False, True, True, False, "npc cut in"),
    (_car(5, 0, speed=30), _car(9, 2.0), True, True, True, True, "rear-ended npc"),
    (_car(5, 0), _car(5.5, 1.9), True, False, False, True, "side-swipe"),
    (_car(0, 0), _car(2, 2, heading=math.pi / 2), False, False, False, True, "crossing"),
    (_car(0, 0, speed=0.0), _car(2, 2, heading=math.pi / 2, speed=8.0), False, False, False, False,
     "hit while standing"),
])
def test_fault_rules(ego: dict, npc: dict, ego_changed: bool, npc_changed: bool, into: bool, fault: bool,
                     kind: str) -> None:
    assert classify(ego, npc, ego_changed, npc_changed, into) == (fault, kind)


def _scripted_crash(npc_offset: float, npc_speed: float) -> dict:
    """The ego (IDLE at 25 m/s) and one kinematic NPC `npc_offset` m ahead in its lane, holding `npc_speed`."""
    from highway_env.vehicle.kinematics import Vehicle

    env = make_env("highway-fast-v0", {"vehicles_count": 1, "duration": 6})
    env.reset(seed=0)
    hooks = ScenarioHooks(Scenario(env="highway-fast-v0", seed=0))
    base = env.unwrapped
    ego = base.vehicle
    base.road.vehicles[:] = [ego, Vehicle(base.road, ego.position + np.array([npc_offset, 0.0]), 0.0, npc_speed)]
    hooks.after_reset(env)
    for step in range(6):
        env.step(1)  # IDLE
        hooks.after_step(env, step)
        if ego.crashed:
            break
    assert hooks.crash is not None, "the scripted scene must crash"
    return hooks.crash


def test_fault_in_scripted_scenes() -> None:
    behind = _scripted_crash(-12.0, 40.0)  # a faster car rams the ego from behind
    assert behind["at_fault"] is False and behind["kind"] == "rear-ended by npc" and behind["partner"] == 1
    ahead = _scripted_crash(12.0, 5.0)  # the ego runs into a slow car ahead
    assert ahead["at_fault"] is True and ahead["kind"] == "rear-ended npc"


def test_crash_fault_without_partner_is_the_egos() -> None:
    env = make_env("highway-fast-v0", {"vehicles_count": 1, "duration": 2})
    env.reset(seed=0)
    env.unwrapped.road.vehicles[:] = [env.unwrapped.vehicle]
    hooks = ScenarioHooks(Scenario(env="highway-fast-v0", seed=0))
    hooks.after_reset(env)
    assert crash_fault(env, hooks.history, hooks.window)["at_fault"] is True


def _write(tmp_path: Path, **fields: object) -> Path:
    doc = {"format": scenarios.FORMAT, "env": "roundabout-v0", "seed": 3, **fields}
    p = tmp_path / "s.json"
    p.write_text(json.dumps(doc))
    return p


@pytest.mark.parametrize(("fields", "needle"), [
    ({"env": "mars-v0"}, "env"), ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"density": 1.5}, "density"),
    ({"dropout": "lots"}, "dropout"), ({"sensor_noise": 99}, "sensor_noise"), ({"format": "other"}, "format"),
    ({"colour": 1}, "unknown"), ({"agent": "rl:x"}, "agent"), ({"duration": -2}, "duration"),
    ({"spacing": 1.5}, "spacing"),  # spacing does nothing off the highway-like envs: only its default is valid
])
def test_scenario_file_validation(tmp_path: Path, fields: dict, needle: str) -> None:
    with pytest.raises(PilotlabError) as err:
        scenarios.load(_write(tmp_path, **fields))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_scenario_file_round_trip_and_env_check(tmp_path: Path) -> None:
    sc = Scenario(env="intersection-v0", seed=7, density=1.4, aggressiveness=0.3, expect={"crashed": True})
    scenarios.save(sc, tmp_path / "a.json")
    assert scenarios.load(tmp_path / "a.json") == sc
    with pytest.raises(PilotlabError, match="is for intersection-v0, not merge-v0"):
        scenarios.load(tmp_path / "a.json", "merge-v0")
    (tmp_path / "b.json").write_text("{not json")
    with pytest.raises(PilotlabError, match="not readable JSON"):
        scenarios.load(tmp_path / "b.json")
    for argv in (["--env", "merge-v0"], ["--agent", "rl:somewhere"], ["--duration", "3"], ["--fast-sim"]):
        assert main(["drive", "eval", "--scenario", str(tmp_path / "a.json"), "--run-dir", str(tmp_path / "r"),
                     *argv]) == 2
    assert main(["drive", "eval", "--scenario", str(tmp_path / "b.json"), "--run-dir", str(tmp_path / "r")]) == 2
    assert not (tmp_path / "r").exists()


def test_replay_is_deterministic_and_knobs_matter() -> None:
    # 4 steps: the ego's first 3 s on the entry lane are free driving, which the lane-frame tracker no longer
    # lets noisy sensors disturb, so only from the 4th step on do the knobs show in its trajectory
    sc = Scenario(env="roundabout-v0", seed=11, duration=4, aggressiveness=0.7, sensor_noise=3.0, dropout=0.3)
    _, a = run_scenario(sc)
    _, b = run_scenario(sc)
    assert a == b and a["steps"] == 4
    _, c = run_scenario(Scenario(env="roundabout-v0", seed=11, duration=4))
    assert c["trajectory_sha256"] != a["trajectory_sha256"]  # the knobs reach the driver or the traffic


def test_tiny_stress_search_saves_failures_that_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "stress"
    argv = ["drive", "stress", "--agent", "oracle", "--env", "roundabout-v0", "--budget", "3", "--population", "3",
            "--duration", "6", "--max-videos", "1", "--seed", "1", "--run-dir", str(run)]
    assert main(argv) == 0
    summary = json.loads((run / "summary.json").read_text())
    for m in ("cem", "random"):
        assert summary[f"stress/{m}/episodes"] == 3.0
        assert summary[f"stress/{m}/distinct_failures"] == len(list((run / "scenarios").glob(f"{m}-*.json")))
    assert summary["stress/replays_matched"] == summary["stress/replays"]
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    files = sorted((run / "scenarios").glob("*.json"))
    if files:  # the driver through `drive eval --scenario` gives the file's trajectory
        assert (run / "figures" / files[0].name.replace(".json", ".gif")).is_file()
        out = tmp_path / "replay"
        assert main(["drive", "eval", "--agent", "oracle", "--scenario", str(files[0]), "--no-gif",
                     "--run-dir", str(out)]) == 0
        assert json.loads((out / "summary.json").read_text())["eval/replay_match"] == 1.0
    # resuming a finished run has nothing left to simulate and keeps its rows
    assert main([*argv, "--resume"]) == 0
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 6
    (run / "stress_state.json").write_text("{")
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "damaged" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["--env", "mars-v0"], ["--budget", "0"], ["--methods", "cem,tabu"],
                                  ["--agent", "rl:x"], ["--seed-reuse", "1.5"]])
def test_stress_bad_input_exits_2(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drive", "stress", "--run-dir", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_cem_moves_towards_high_scores() -> None:
    from pilotlab.drive.stress import DriveStressConfig, Search

    cfg = DriveStressConfig(env="roundabout-v0", population=10, elite_frac=0.2, smoothing=1.0)
    search = Search("cem", cfg, 0)
    for _ in range(5):
        samples = search.propose(10)
        search.observe(samples, [float(z[0]) for _, z in samples])  # the score is the first knob
    assert search.mean[0] > 0.8 and search.best


@pytest.mark.parametrize(("env_id", "agent", "duration"), [("racetrack-v0", "oracle", 4), ("exit-v0", "modular", 3),
                                                          ("intersection-v0", "oracle", 3)])
def test_route_completion_per_scenario(env_id: str, agent: str, duration: float) -> None:
    from pilotlab.drive.agents import make_agent
    from pilotlab.drive.evaluate import run_episode

    env = make_env(env_id, {"duration": duration})
    st = run_episode(make_agent(agent, 0), env, seed=100_000)
    assert 0.0 < st.route_completion <= 1.0 and not st.off_road
    if env_id == "racetrack-v0":  # the route: 4 s at the 10 m/s speed limit, about what the oracle drives
        assert st.route_completion == pytest.approx(1.0, abs=0.05) and st.laps == 0


def _roundabout_with(lane: tuple | None, s_from_end: float = 4.0, s: float | None = None) -> tuple:
    from highway_env.vehicle.behavior import IDMVehicle

    env = make_env("roundabout-v0")
    env.reset(seed=0)
    base = env.unwrapped
    base.road.vehicles[:] = [base.vehicle]
    if lane is None:
        return env, np.zeros((0, 2)), np.zeros((0, 2))
    ln = base.road.network.get_lane(lane)
    x = ln.length - s_from_end if s is None else s
    v = IDMVehicle(base.road, ln.position(x, 0.0), ln.heading_at(x), 8.0)
    return env, np.array([v.position]), np.array([v.velocity])


def test_junction_yields_to_ring_traffic_at_its_entry_only() -> None:
    from pilotlab.drive.junction import yield_points

    # circulating on the outer lane, which the ego's entry joins, about to pass the entry
    env, p, v = _roundabout_with(("sx", "se", 1))
    points = yield_points(env, p, v, desired_speed=18.4)
    assert len(points) == 1 and 0.0 < points[0] < 60.0
    env, p, v = _roundabout_with(("ne", "wx", 0), s=10.0)  # on the far side of the ring
    assert yield_points(env, p, v, desired_speed=18.4) == []
    env, p, v = _roundabout_with(None)
    assert yield_points(env, p, v, desired_speed=18.4) == []


def test_racetrack_lane_choice_overtakes_a_slower_car_only_when_the_other_lane_is_free() -> None:
    from pilotlab.drive.lateral import arc_and_lane, choose_lane, lane_point

    env = make_env("racetrack-v0")
    env.reset(seed=0)
    net = env.unwrapped.road.network
    ego_p = np.asarray(net.get_lane(("a", "b", 0)).position(10.0, 0.0))
    slow_ahead = np.asarray(net.get_lane(("a", "b", 0)).position(25.0, 0.0))
    beside = np.asarray(net.get_lane(("a", "b", 1)).position(12.0, 0.0))
    slow_v, fast_v = np.array([[5.0, 0.0]]), np.array([[10.0, 0.0]])
    assert choose_lane(net, ego_p, 10.0, 0, 2, slow_ahead[None], slow_v) == 1
    assert choose_lane(net, ego_p, 10.0, 0, 2, slow_ahead[None], fast_v) == 0  # not slower: stay
    both = np.stack([slow_ahead, beside])
    assert choose_lane(net, ego_p, 10.0, 0, 2, both, np.concatenate([slow_v, fast_v])) == 0  # other lane taken
    # the path continues across sections: a point past the end of a-b lies on b-c
    end = net.get_lane(("a", "b", 0)).length
    arc, lane = arc_and_lane(net, lane_point(net, ("a", "b", 0), end + 5.0))
    assert lane == 0 and arc == pytest.approx(end + 5.0, abs=0.5)
