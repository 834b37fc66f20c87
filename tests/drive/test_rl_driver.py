"""RL drivers: the fast simulator path equals highway-env, the shield on scripted scenes, shield end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pilotlab.cli import main
from pilotlab.drive import control
from pilotlab.drive.envs import make_env
from pilotlab.drive.fast_sim import FastHighway
from pilotlab.drive.planning import PlannerConfig, Scene, braking_cap
from pilotlab.drive.prediction import LaneObjects
from pilotlab.drive.rl_driver import allowed_actions, lower_grid, shielded_choice, speed_cap

W = 4.0  # [m] lane width
GRID = np.array([20.0, 25.0, 30.0])  # [m/s] highway-fast-v0's default cruise set-points
L, IDLE, R, FASTER, SLOWER = (control.LANE_LEFT, control.IDLE, control.LANE_RIGHT, control.FASTER,
                              control.SLOWER)


def _scene(cars: list[tuple[float, int, float]], ego_lane: int = 1, ego_v: float = 25.0) -> Scene:
    """cars: (s [m] relative to the ego, lane, speed [m/s])."""
    s = np.array([c[0] for c in cars], dtype=float)
    lat = np.array([c[1] * W for c in cars], dtype=float)
    v = np.array([c[2] for c in cars], dtype=float)
    return Scene(0.0, ego_v, ego_lane, 3, W, LaneObjects(s, lat, v, np.zeros(len(cars))))


def _state(env: Any) -> list[tuple[Any, ...]]:
    """Every vehicle's position [m], heading [rad], speed [m/s] and lane index, as exact Python floats."""
    return [(*map(float, v.position), float(v.heading), float(v.speed), v.lane_index, v.crashed)
            for v in env.unwrapped.road.vehicles]


def _run_both(env_id: str, config: dict[str, Any], seed: int, p_idle: float) -> int:
    """Step highway-env and FastHighway side by side with the same actions; assert every output is equal."""
    plain, fast = make_env(env_id, config), FastHighway(make_env(env_id, config))
    obs_a, _ = plain.reset(seed=seed)
    obs_b, _ = fast.reset(seed=seed)
    assert np.array_equal(obs_a, obs_b) and obs_a.dtype == obs_b.dtype
    rng = np.random.default_rng(seed)
    steps, done = 0, False
    while not done:
        action = IDLE if rng.random() < p_idle else int(rng.integers(5))
        out_a, out_b = plain.step(action), fast.step(action)
        assert np.array_equal(out_a[0], out_b[0]), f"observation differs at step {steps}"
        assert out_a[1:4] == out_b[1:4], f"reward/termination differs at step {steps}"
        assert out_a[4] == out_b[4]
        assert _state(plain) == _state(fast), f"simulator state differs at step {steps}"
        done = bool(out_a[2] or out_a[3])
        steps += 1
    return steps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_highway_equals_highway_env_step_for_step(seed: int) -> None:
    # mostly IDLE so that episodes run long (random lane changes crash within a few steps)
    assert _run_both("highway-fast-v0", {"duration": 15}, seed, p_idle=0.7) >= 1
    fast = FastHighway(make_env("highway-fast-v0"))
    fast.reset(seed=seed)
    base = fast.unwrapped
    assert {"get_closest_lane_index"} <= set(vars(base.road.network)) and "observe" in vars(base.observation_type)


def test_fast_highway_equals_highway_env_with_other_observation_options() -> None:
    obs = {"type": "Kinematics", "vehicles_count": 7, "features": ["presence", "x", "y", "vx", "vy", "cos_h", "sin_h"],
           "absolute": True, "order": "shuffled", "see_behind": True}
    _run_both("highway-fast-v0", {"duration": 8, "observation": obs}, 3, p_idle=0.8)


def test_fast_highway_keeps_highway_env_code_elsewhere() -> None:
    env = FastHighway(make_env("merge-v0"))
    env.reset(seed=0)
    road = env.unwrapped.road
    assert "neighbour_vehicles" not in vars(road)  # not a HighwayEnv: highway-env's own search
    env.step(IDLE)


def test_speed_cap_is_the_braking_cap_of_the_nearest_binding_car() -> None:
    cfg = PlannerConfig()
    scene = _scene([(30.0, 1, 20.0), (60.0, 1, 10.0), (15.0, 0, 5.0)])
    expected = min(braking_cap(30.0 - 5.0, 25.0, 20.0, 1.0, cfg), braking_cap(60.0 - 5.0, 25.0, 10.0, 1.0, cfg))
    assert speed_cap(scene, {1}, cfg, 1.0) == pytest.approx(expected)
    assert speed_cap(_scene([]), {1}, cfg, 1.0) == np.inf


def test_shield_allows_everything_on_an_empty_road() -> None:
    ok = allowed_actions(_scene([]), PlannerConfig(), GRID, set_point=25.0)
    assert ok.all()


def test_shield_refuses_a_lane_change_into_an_occupied_gap() -> None:
    ok = allowed_actions(_scene([(2.0, 0, 25.0)]), PlannerConfig(), GRID, set_point=25.0)  # beside, left lane
    assert not ok[L] and ok[R] and ok[IDLE]


def test_shield_refuses_speeding_up_behind_a_slow_close_car() -> None:
    # 20 m ahead at 20 m/s, the ego at 25 m/s: 30 m/s is beyond the braking cap, holding 25 is not
    cfg = PlannerConfig()
    cap = braking_cap(20.0 - 5.0, 25.0, 20.0, 1.0, cfg)
    assert 20.0 < cap < 30.0
    ok = allowed_actions(_scene([(20.0, 1, 20.0)]), cfg, GRID, set_point=25.0)
    assert not ok[FASTER] and ok[SLOWER]
    assert ok[IDLE] == (cap >= 25.0)


def test_shield_leaves_braking_when_nothing_is_safe_and_no_lane_beyond_the_road() -> None:
    ok = allowed_actions(_scene([(6.0, 0, 0.0), (6.0, 1, 0.0)], ego_lane=0), PlannerConfig(), GRID, set_point=30.0)
    assert ok.tolist() == [False, False, False, False, True]  # leftmost lane: no LANE_LEFT either


def test_lower_grid_extends_the_set_points_down_to_zero() -> None:
    assert lower_grid(GRID).tolist() == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]
    assert lower_grid(np.array([0.0, 10.0])).tolist() == [0.0, 10.0]


def test_shield_goes_below_the_trained_set_points_only_to_brake() -> None:
    grid = lower_grid(GRID)
    free = allowed_actions(_scene([], ego_v=20.0), PlannerConfig(), grid, set_point=20.0, floor=20.0)
    assert free[IDLE] and not free[SLOWER]  # SLOWER would mean 15 m/s, a set-point the policy never had
    # 6 m ahead (centre to centre) at 19 m/s, as in the crashes the floor was built for:
    # 20 m/s is past the braking cap, 15 is the way out
    slow = allowed_actions(_scene([(6.0, 1, 19.0)], ego_v=20.0), PlannerConfig(), grid, set_point=20.0, floor=20.0)
    assert not slow[IDLE] and not slow[FASTER] and slow[SLOWER]


def test_shielded_choice_takes_the_best_allowed_action() -> None:
    scores = np.array([5.0, 1.0, 2.0, 4.0, 0.0])
    assert shielded_choice(scores, np.ones(5, dtype=bool)) == L
    assert shielded_choice(scores, np.array([False, True, True, False, True])) == R


def test_rl_driver_with_fast_sim_trains_and_evaluates_with_and_without_shield(tmp_path: Path) -> None:
    run = tmp_path / "dqn"
    code = main(["drive", "train", "--algo", "dqn", "--env", "highway-fast-v0", "--env-config", '{"duration": 3}',
                 "--env-wrapper", "fast-highway", "--total-steps", "8", "--learning-starts", "4", "--train-freq", "4",
                 "--gradient-steps", "1", "--hidden", "16", "--eval-episodes", "1", "--eval-every", "0",
                 "--run-dir", str(run)])
    assert code == 0
    assert main(["drive", "eval", "--agent", f"rl:{run}+shield", "--episodes", "1", "--duration", "3", "--no-gif",
                 "--run-dir", str(tmp_path / "eval")]) == 0
    from pilotlab.drive.evaluate import evaluate_agents

    specs = [f"rl:{run}", f"rl:{run}+shield"]
    results = evaluate_agents(specs, episodes=1, env_config={"duration": 3}, gif=False)
    assert set(results) == set(specs) and all(0.0 <= r["crash_rate"] <= 1.0 for r in results.values())


@pytest.mark.parametrize("a", [-1.5, -0.0, 0.0, 0.3, 2.0, np.inf, -np.inf, np.nan, np.float64(0.7), 1.0])
@pytest.mark.parametrize("bounds", [(-1.0, 1.0), (0.0, 0.0), (0, 1), (-0.0, 0.0), (np.float64(-0.5), 0.5)])
def test_fast_clip_matches_numpy_bit_for_bit(a: float, bounds: tuple[float, float]) -> None:
    from pilotlab.drive.fast_sim import fast_clip

    got, want = fast_clip(a, *bounds), np.clip(a, *bounds)
    assert type(got) is type(want)
    assert np.array_equal(np.float64(got), np.float64(want), equal_nan=True) and np.signbit(got) == np.signbit(want)
    assert np.array_equal(fast_clip(np.array([a, 3.0]), *bounds), np.clip(np.array([a, 3.0]), *bounds), equal_nan=True)
