"""The shield as a training-time teacher: which action runs, the penalized reward, and the wrapper against
FastHighway stepping the executed action itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pilotlab.cli import main
from pilotlab.drive import control
from pilotlab.drive.agents import RLAgent
from pilotlab.drive.envs import make_env
from pilotlab.drive.evaluate import evaluate_agents
from pilotlab.drive.fast_sim import FastHighway
from pilotlab.drive.shield_teacher import FALLBACK, ShieldTeacher, teacher_action, teacher_reward

L, IDLE, R, FASTER, SLOWER = (control.LANE_LEFT, control.IDLE, control.LANE_RIGHT, control.FASTER,
                              control.SLOWER)


def _mask(*allowed: int) -> np.ndarray:
    ok = np.zeros(5, dtype=bool)
    ok[list(allowed)] = True
    return ok


@pytest.mark.parametrize(("action", "allowed", "want"), [
    (FASTER, (L, IDLE, R, FASTER, SLOWER), FASTER),  # allowed: unchanged
    (FASTER, (IDLE, SLOWER), IDLE),  # first fallback: keep the set-point
    (L, (SLOWER, R), SLOWER),  # then brake
    (FASTER, (R, L), R),  # then the right lane before the left one
    (IDLE, (L,), L),
    (IDLE, (), SLOWER),  # nothing allowed: brake
])
def test_teacher_action_keeps_allowed_actions_and_falls_back_in_order(action: int, allowed: tuple[int, ...],
                                                                       want: int) -> None:
    assert teacher_action(action, _mask(*allowed)) == want


def test_fallback_order_is_a_permutation_of_the_meta_actions() -> None:
    assert sorted(FALLBACK) == list(range(5))


def test_teacher_reward_subtracts_the_penalty_only_on_overrides() -> None:
    assert teacher_reward(0.75, False, 1.0) == 0.75
    assert teacher_reward(0.75, True, 1.0) == pytest.approx(-0.25)
    assert teacher_reward(0.5, True, 0.0) == 0.5


@pytest.mark.parametrize("forbidden", [FASTER, L])
def test_wrapper_executes_the_fallback_and_penalizes_against_fast_highway(forbidden: int) -> None:
    """A mask that forbids `forbidden`: the wrapper's step equals FastHighway stepping the fallback action,
    with the reward lowered by the penalty; allowed actions pass through unchanged."""
    config = {"duration": 4}
    teacher = ShieldTeacher(make_env("highway-fast-v0", config), penalty=0.7)
    teacher.shield.mask = lambda env: _mask(*(a for a in range(5) if a != forbidden))  # type: ignore[method-assign]
    ref = FastHighway(make_env("highway-fast-v0", config))
    obs_t, _ = teacher.reset(seed=3)
    obs_r, _ = ref.reset(seed=3)
    assert np.array_equal(obs_t, obs_r)
    for chosen in (forbidden, IDLE, forbidden):
        out_t = teacher.step(chosen)
        out_r = ref.step(IDLE if chosen == forbidden else chosen)
        assert np.array_equal(out_t[0], out_r[0])
        penalty = 0.7 if chosen == forbidden else 0.0
        assert out_t[1] == pytest.approx(out_r[1] - penalty)
        assert out_t[2:4] == out_r[2:4]
        assert out_t[4]["shield_override"] == (chosen == forbidden)
        assert out_t[4]["executed_action"] == out_t[4]["action"] == out_r[4]["action"]  # the env saw the fallback
        if out_t[2] or out_t[3]:
            break
    assert teacher.overrides >= 1 and teacher.steps >= 2


def test_wrapper_with_the_real_shield_never_lets_a_forbidden_action_through() -> None:
    teacher = ShieldTeacher(make_env("highway-fast-v0", {"duration": 6}))
    teacher.reset(seed=5)
    rng = np.random.default_rng(5)
    for _ in range(6):
        ok = teacher.shield.mask(teacher.env)
        chosen = int(rng.integers(5))
        _, _, term, trunc, info = teacher.step(chosen)
        assert ok[info["executed_action"]] and info["shield_override"] == (not ok[chosen])
        if term or trunc:
            break


def test_teacher_training_run_records_the_set_points_and_evaluation_applies_them(tmp_path: Path) -> None:
    """Train through the CLI with the teacher wrapper and 10-30 m/s set-points; the unshielded RL agent's
    eval env then has those set-points too (the run's env_config), and evaluation completes."""
    speeds = [10.0, 15.0, 20.0, 25.0, 30.0]
    run = tmp_path / "dqn"
    env_config = json.dumps({"duration": 3, "action": {"type": "DiscreteMetaAction", "target_speeds": speeds}})
    assert main(["drive", "train", "--algo", "dqn", "--env", "highway-fast-v0", "--env-config", env_config,
                 "--env-wrapper", "fast-highway-shield-teacher", "--total-steps", "8", "--learning-starts", "4",
                 "--train-freq", "4", "--gradient-steps", "1", "--hidden", "16", "--eval-episodes", "1",
                 "--eval-every", "0", "--run-dir", str(run)]) == 0
    agent = RLAgent(str(run))
    env = make_env("highway-fast-v0", {"duration": 3})
    agent.prepare(env)
    env.reset(seed=0)
    assert list(env.unwrapped.action_type.target_speeds) == speeds
    results = evaluate_agents([f"rl:{run}"], episodes=1, env_config={"duration": 3}, gif=False)
    assert 0.0 <= results[f"rl:{run}"]["crash_rate"] <= 1.0


def test_wrapper_without_override_runs_the_forbidden_action_and_still_penalizes() -> None:
    """override_prob 0: the forbidden action itself runs (FastHighway stepping it gives the same step), and the
    reward is lowered by the penalty; the info says it was forbidden but not overridden."""
    config = {"duration": 3}
    teacher = ShieldTeacher(make_env("highway-fast-v0", config), penalty=0.5, override_prob=0.0)
    teacher.shield.mask = lambda env: _mask(IDLE, SLOWER)  # type: ignore[method-assign]
    ref = FastHighway(make_env("highway-fast-v0", config))
    teacher.reset(seed=4)
    ref.reset(seed=4)
    out_t, out_r = teacher.step(FASTER), ref.step(FASTER)
    assert np.array_equal(out_t[0], out_r[0]) and out_t[1] == pytest.approx(out_r[1] - 0.5)
    assert out_t[4]["shield_forbidden"] and not out_t[4]["shield_override"] and teacher.overrides == 0


@pytest.mark.parametrize(("name", "override_prob"), [("fast-highway-shield-teacher", 1.0),
                                                     ("fast-highway-shield-teacher-half", 0.5)])
def test_teacher_wrappers_are_registered_for_the_rl_trainers(name: str, override_prob: float) -> None:
    from pilotlab.rl.envs import wrapper_class

    cls = wrapper_class(name)
    assert issubclass(cls, ShieldTeacher) and cls.override_prob == override_prob
