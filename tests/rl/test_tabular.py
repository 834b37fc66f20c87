"""Tabular TD control and dynamic programming: targets by hand, Q* of a tiny MDP, CLI runs, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from pilotlab.cli import main
from pilotlab.core.run import RunDir
from pilotlab.rl import dynamic_programming as dp
from pilotlab.rl import tabular

GAMMA = 0.9
CHAIN = "PilotlabTestChain-v0"


class ChainEnv(gym.Env[int, int]):
    """States 0, 1, 2 on a line. Action 1 moves right, 0 left (0 stays put); right from 2 ends with reward 1.

    Q*(s, right) = gamma^(2 - s); Q*(s, left) = gamma V*(max(s - 1, 0)) with V*(s) = gamma^(2 - s).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # gymnasium reads this class attribute

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Discrete(3)
        self.action_space = gym.spaces.Discrete(2)
        self.P = {s: {0: [(1.0, max(s - 1, 0), 0.0, False)],
                      1: [(1.0, 0, 1.0, True)] if s == 2 else [(1.0, s + 1, 0.0, False)]} for s in range(3)}
        self.initial_state_distrib = np.array([1.0, 0.0, 0.0])
        self.s = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self.s = 0
        return self.s, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        ((_, s2, r, terminated),) = self.P[self.s][int(action)]
        self.s = s2
        return s2, r, terminated, False, {}


if CHAIN not in gym.registry:
    gym.register(CHAIN, entry_point=ChainEnv, max_episode_steps=30)


def chain_q_star(gamma: float) -> np.ndarray:
    v = np.array([gamma**2, gamma, 1.0])
    return np.array([[gamma * v[max(s - 1, 0)], v[s]] for s in range(3)])  # (S, A)


# -- pure functions -----------------------------------------------------------------------------
def test_targets_by_hand() -> None:
    q_next = np.array([1.0, 3.0, 2.0])
    assert tabular.q_learning_target(0.5, q_next, 0, 0.1, 0.9, False) == pytest.approx(0.5 + 0.9 * 3.0)
    assert tabular.sarsa_target(0.5, q_next, 2, 0.1, 0.9, False) == pytest.approx(0.5 + 0.9 * 2.0)
    # epsilon-greedy expectation: 0.9 * max + 0.1 * mean = 0.9 * 3 + 0.1 * 2 = 2.9
    assert tabular.expected_sarsa_target(0.5, q_next, 0, 0.1, 0.9, False) == pytest.approx(0.5 + 0.9 * 2.9)
    for target in tabular.TARGETS.values():
        assert target(-1.0, q_next, 1, 0.3, 0.9, True) == -1.0  # no bootstrap past a terminal state


def test_td_update_by_hand() -> None:
    q = np.array([[0.0, 2.0], [1.0, 1.0]])
    td = tabular.td_update(q, 0, 1, target=3.0, alpha=0.25)
    assert td == pytest.approx(1.0)
    assert q[0, 1] == pytest.approx(2.25)
    assert q[1].tolist() == [1.0, 1.0]


def test_schedules() -> None:
    cfg = tabular.QLearningConfig(alpha=0.8, alpha_min=0.1, alpha_power=0.5)
    assert tabular.step_size(cfg, 0.5, visits=3) == pytest.approx(0.8 * 4**-0.5)
    assert tabular.step_size(cfg, 0.5, visits=10_000) == pytest.approx(0.1)
    lin = tabular.QLearningConfig(alpha=0.8, alpha_min=0.2, alpha_schedule="linear")
    assert tabular.step_size(lin, 0.5, visits=0) == pytest.approx(0.5)
    assert tabular.linear_schedule(1.0, 0.0, 2.0) == 0.0
    rng = np.random.default_rng(0)
    assert all(tabular.epsilon_greedy(np.array([0.0, 1.0, 0.5]), 0.0, rng) == 1 for _ in range(20))
    ties = {tabular.epsilon_greedy(np.array([1.0, 1.0, 0.0]), 0.0, rng) for _ in range(50)}
    assert ties == {0, 1}


# -- dynamic programming against hand-solved MDPs ------------------------------------------------
def test_value_iteration_solves_chain() -> None:
    model = dp.tabular_model(gym.make(CHAIN))
    assert model is not None
    v, q = dp.value_iteration(model, GAMMA)
    np.testing.assert_allclose(q, chain_q_star(GAMMA), atol=1e-9)
    np.testing.assert_allclose(v, [GAMMA**2, GAMMA, 1.0], atol=1e-9)


def test_policy_evaluation_closed_form() -> None:
    # one state, one action: reward 1, stay with prob 0.5, else terminate -> V = 1 / (1 - 0.5 gamma)
    model = dp.TabularModel(np.array([[[0.5]]]), np.array([[1.0]]), np.array([[0.0]]), np.array([1.0]))
    assert dp.policy_evaluation(model, np.array([0]), 0.9)[0] == pytest.approx(1 / (1 - 0.45))
    # H steps undiscounted: 1 + 0.5 + 0.25 (H = 3)
    assert dp.finite_horizon(model, 3, np.array([0])).value[0] == pytest.approx(1.75)


def test_finite_horizon_chain() -> None:
    model = dp.tabular_model(gym.make(CHAIN))
    best = dp.finite_horizon(model, 2)
    assert best.value.tolist() == [0.0, 1.0, 1.0]  # state 0 needs 3 steps
    assert best.success.tolist() == [0.0, 1.0, 1.0]
    assert dp.finite_horizon(model, 3).value[0] == 1.0
    always_left = dp.finite_horizon(model, 10, np.zeros(3, dtype=np.int64))
    assert always_left.value.tolist() == [0.0, 0.0, 0.0]


def test_exact_evaluation_matches_episodes() -> None:
    env = tabular.make_env("FrozenLake-v1")
    model = dp.tabular_model(env)
    _, q = dp.value_iteration(model, 0.99)
    exact_return, exact_success = tabular.exact_scores(env, model, q.argmax(axis=1))
    _, successes = tabular.run_episodes(env, tabular.GreedyPolicy(q), 1000)
    assert exact_return == pytest.approx(exact_success)  # FrozenLake pays 1 only at the goal
    assert abs(successes.mean() - exact_success) < 4 * np.sqrt(0.25 / 1000)  # within 4 standard errors
    optimum, _ = tabular.exact_scores(env, model, None)
    assert optimum >= exact_return - 1e-12  # the non-stationary optimum bounds every policy


# -- learning -----------------------------------------------------------------------------------
def test_q_learning_converges_to_q_star(tmp_path: Path) -> None:
    code = main(["rl", "train", "--algo", "q-learning", "--env", CHAIN, "--run-dir", str(tmp_path / "r"),
                 "--episodes", "300", "--gamma", str(GAMMA), "--alpha-schedule", "constant", "--alpha", "0.5",
                 "--epsilon-min", "1.0", "--eval-episodes", "10"])
    assert code == 0
    policy = tabular.load_policy(RunDir.open(tmp_path / "r"), "cpu")
    np.testing.assert_allclose(policy.q, chain_q_star(GAMMA), atol=1e-6)
    assert policy(np.array([0, 1, 2])).tolist() == [1, 1, 1]


@pytest.mark.parametrize("algo", ["q-learning", "sarsa", "expected-sarsa"])
def test_cli_tiny_run(algo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / algo
    code = main(["rl", "train", "--algo", algo, "--env", "FrozenLake-v1", "--run-dir", str(run_dir),
                 "--episodes", "60", "--eval-episodes", "20", "--eval-every", "30", "--log-every", "20"])
    assert code == 0
    assert "value-iteration optimum 0.744" in capsys.readouterr().out
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("eval/return_mean", "eval/return_std", "eval/episodes", "eval/success_rate", "train/env_steps",
                "train/wall_s", "eval/return_exact", "eval/optimal_return", "eval/optimal_success_rate"):
        assert key in summary, key
    assert summary["eval/episodes"] == 20
    assert summary["eval/optimal_return"] == pytest.approx(0.7442, abs=1e-4)
    for name in ("learning_curve.png", "policy.png", "optimal_policy.png"):
        assert (run_dir / "figures" / name).is_file()
    assert (run_dir / "checkpoints" / "last.safetensors").is_file()
    assert json.loads((run_dir / "config.json").read_text())["config"]["algo"] == algo
    policy = tabular.load_policy(RunDir.open(run_dir), "cpu")
    obs = np.arange(16)
    assert policy(obs).shape == (16,)
    assert np.array_equal(policy(obs), policy(obs))


def test_resume_repeats_the_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["rl", "train", "--algo", "sarsa", "--env", "FrozenLake-v1", "--episodes", "80", "--checkpoint-every",
            "40", "--log-every", "20", "--eval-every", "40", "--eval-episodes", "5", "--seed", "3"]
    assert main([*args, "--run-dir", str(tmp_path / "full")]) == 0

    real_save = tabular.save_state

    def save_then_stop(*a: Any, **kw: Any) -> None:
        real_save(*a, **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(tabular, "save_state", save_then_stop)
    assert main([*args, "--run-dir", str(tmp_path / "cut")]) == 130
    monkeypatch.setattr(tabular, "save_state", real_save)
    assert main([*args, "--run-dir", str(tmp_path / "cut"), "--resume"]) == 0

    full, cut = RunDir.open(tmp_path / "full"), RunDir.open(tmp_path / "cut")
    np.testing.assert_array_equal(tabular.load_policy(full).q, tabular.load_policy(cut).q)
    strip = [{k: v for k, v in r.items() if k not in ("time", "train/steps_per_s")} for r in full.metrics()]
    assert strip == [{k: v for k, v in r.items() if k not in ("time", "train/steps_per_s")} for r in cut.metrics()]
    shutil.rmtree(tmp_path / "full")


@pytest.mark.parametrize(("args", "message"), [
    (["--env", "NoSuchEnv-v0"], "cannot make env"),
    (["--env", "CartPole-v1"], "Discrete observation and action spaces"),
    (["--gamma", "1.5"], "gamma must be in [0, 1]"),
    (["--episodes", "0"], "episodes must be >= 1"),
    (["--epsilon", "0.2", "--epsilon-min", "0.5"], "need 0 <= epsilon-min <= epsilon"),
])
def test_bad_input_is_one_line_exit_2(args: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["rl", "train", "--algo", "q-learning", "--run-dir", str(tmp_path / "bad"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.startswith("error:")
    assert err.count("\n") == 1


def test_env_without_time_limit_or_goal(tmp_path: Path) -> None:
    """CliffWalking has no TimeLimit (capped at 1,000 steps here) and no positive reward: no success keys."""
    assert main(["rl", "train", "--algo", "expected-sarsa", "--env", "CliffWalking-v1", "--run-dir",
                 str(tmp_path / "cliff"), "--episodes", "20", "--eval-episodes", "2", "--eval-every", "20"]) == 0
    summary = json.loads((tmp_path / "cliff" / "summary.json").read_text())
    assert summary["eval/optimal_return"] == -13.0  # 13 steps along the cliff edge, -1 each
    assert "eval/success_rate" not in summary
    assert summary["train/env_steps"] <= 20 * 1000  # every episode ends by the 1,000-step cap
    assert (tmp_path / "cliff" / "figures" / "policy.png").is_file()


def test_frozenlake_demo_returns_summary_and_figures(tmp_path: Path) -> None:
    out = tabular.frozenlake_demo(seed=1, run_dir=str(tmp_path / "demo"), episodes=100)
    assert out["run_dir"] == str(tmp_path / "demo")
    assert set(out["figures"]) == {"learning_curve", "policy", "optimal_policy"}
    assert 0.0 <= out["eval/success_rate"] <= 1.0
    assert out["eval/optimal_success_rate"] == pytest.approx(0.7442, abs=1e-4)
