"""HER: relabelling of a scripted episode by hand (rewards recomputed, goals from the future of the same
episode), goal dicts through the CLI with SAC and DQN, and the one-line errors around goal envs."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from pilotlab.cli import main
from pilotlab.core.run import RunDir
from pilotlab.rl.buffers import ReplayBuffer
from pilotlab.rl.envs import obs_shape, to_float_obs
from pilotlab.rl.her import HindsightRelabeler, flatten_goal_obs, is_goal_space

GOAL_ENV = "PilotlabTestLineGoal-v0"


class LineGoalEnv(gym.Env):
    """A point on a line that must reach a goal: obs (position, velocity), goals are positions; sparse reward
    -1 until within 0.5 of the goal. Discrete actions (left, stay, right) with ``discrete=True``."""

    def __init__(self, discrete: bool = False):
        goal = gym.spaces.Box(-10.0, 10.0, (1,), np.float32)
        self.observation_space = gym.spaces.Dict({"observation": gym.spaces.Box(-10.0, 10.0, (2,), np.float32),
                                                  "achieved_goal": goal, "desired_goal": goal})
        self.action_space = gym.spaces.Discrete(3) if discrete else gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.discrete = discrete

    def _obs(self) -> dict[str, np.ndarray]:
        pos = np.array([self.pos], dtype=np.float32)
        return {"observation": np.array([self.pos, self.vel], dtype=np.float32), "achieved_goal": pos,
                "desired_goal": self.goal.copy()}

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: object) -> np.ndarray:
        return -(np.linalg.norm(achieved_goal - desired_goal, axis=-1) > 0.5).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.pos, self.vel = 0.0, 0.0
        self.goal = self.np_random.uniform(-3, 3, size=1).astype(np.float32)
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        move = float(action) - 1.0 if self.discrete else float(np.clip(action, -1, 1)[0])
        self.vel, self.pos = move, float(np.clip(self.pos + move, -10, 10))
        obs = self._obs()
        reward = float(self.compute_reward(obs["achieved_goal"], obs["desired_goal"], {}))
        return obs, reward, False, False, {"is_success": float(reward == 0.0)}


if GOAL_ENV not in gym.registry:
    gym.register(GOAL_ENV, entry_point=LineGoalEnv, max_episode_steps=10)


def step_dict(positions: list[float], goal: float) -> dict[str, np.ndarray]:
    """One vector step's dict observation for envs at `positions` (velocity = position / 10, for telling rows apart)."""
    p = np.array(positions, dtype=np.float32)[:, None]
    return {"observation": np.concatenate([p, p / 10], 1), "achieved_goal": p,
            "desired_goal": np.full_like(p, goal)}


def test_future_relabelling_of_a_scripted_episode() -> None:
    np.random.seed(0)  # the future steps are drawn from NumPy's global generator (checkpointed with a run)
    env = LineGoalEnv()
    buffer = ReplayBuffer(1000, (4,), (1,), discrete=False)
    her = HindsightRelabeler(buffer, num_envs=2, k=3, compute_reward=env.compute_reward)
    # env 0 walks 0 -> 1 -> 2 -> 3 -> 4 toward goal 9 (never reached); env 1 walks 100, 101, ... toward goal 50;
    # env 1's third step is the reset row of next-step autoreset and must be skipped
    for t in range(4):
        obs, nxt = step_dict([t, 100 + t], 9.0), step_dict([t + 1, 101 + t], 9.0)
        obs["desired_goal"][1], nxt["desired_goal"][1] = 50.0, 50.0
        valid = np.array([True, t != 2])
        her.add(obs, np.array([[0.1 * t], [-0.1 * t]], dtype=np.float32), np.array([-1.0, -1.0]), nxt,
                np.zeros(2, bool), np.array([t == 3, False]), valid)
    assert len(buffer) == 4 * (1 + 3)  # env 0's episode ended (truncated at t = 3): 4 real + 12 relabelled
    assert len(her.episodes[0]) == 0 and len(her.episodes[1]) == 3  # env 1 still running, reset row skipped

    obs, actions, rewards, next_obs = buffer.obs[:16], buffer.actions[:16], buffer.rewards[:16], buffer.next_obs[:16]
    # the real transitions first, as experienced: obs = (position, velocity, achieved, desired)
    np.testing.assert_array_equal(obs[:4, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(obs[:4, 3], [9, 9, 9, 9])
    np.testing.assert_array_equal(rewards[:4], [-1, -1, -1, -1])
    # then k = 3 relabelled copies of each transition t, in order
    t = np.repeat(np.arange(4), 3)
    relabelled_obs, relabelled_next = obs[4:], next_obs[4:]
    np.testing.assert_array_equal(relabelled_obs[:, 0], t)  # the state of transition t ...
    np.testing.assert_array_equal(actions[4:, 0], actions[t, 0])  # ... and its action
    goals = relabelled_obs[:, 3]
    assert set(goals.tolist()) <= {1.0, 2.0, 3.0, 4.0}  # achieved in this episode (not env 1's 101, ...)
    assert (goals >= t + 1).all()  # achieved at or after the transition's own next state: the future
    np.testing.assert_array_equal(relabelled_next[:, 3], goals)  # s' carries the same new goal
    np.testing.assert_array_equal(relabelled_next[:, 2], t + 1)  # and its own achieved goal
    # rewards recomputed through compute_reward: 0 exactly where the goal is the next achieved position
    np.testing.assert_array_equal(rewards[4:], np.where(goals == t + 1, 0.0, -1.0))
    assert (rewards[4:] == 0).any() and (rewards[4:] == -1).any()
    np.testing.assert_array_equal(goals[t == 3], [4.0, 4.0, 4.0])


def test_k_zero_stores_only_the_real_transitions() -> None:
    env = LineGoalEnv()
    buffer = ReplayBuffer(100, (4,), (1,), discrete=False)
    her = HindsightRelabeler(buffer, num_envs=1, k=0, compute_reward=env.compute_reward)
    her.add(step_dict([0], 2), np.zeros((1, 1)), np.array([-1.0]), step_dict([1], 2), np.zeros(1, bool),
            np.ones(1, bool), np.ones(1, bool))
    assert len(buffer) == 1


def test_goal_dicts_are_flattened_in_a_fixed_order() -> None:
    space = LineGoalEnv().observation_space
    assert is_goal_space(space) and obs_shape(space) == (4,)
    assert not is_goal_space(gym.spaces.Box(0, 1, (3,)))
    obs = step_dict([2.0, 5.0], 7.0)
    np.testing.assert_array_equal(flatten_goal_obs(obs), np.float32([[2, 0.2, 2, 7], [5, 0.5, 5, 7]]))
    np.testing.assert_array_equal(to_float_obs(obs, space), flatten_goal_obs(obs))


TINY = ["--env", GOAL_ENV, "--her", "--total-steps", "200", "--learning-starts", "50", "--train-freq", "50",
        "--gradient-steps", "4", "--batch-size", "16", "--hidden", "16", "--eval-episodes", "4", "--log-every",
        "100", "--eval-every", "100", "--eval-every-episodes", "2"]


@pytest.mark.parametrize("algo", ["sac", "td3", "dqn"])
def test_her_through_the_cli_reports_success(algo: str, tmp_path: Path) -> None:
    extra = ["--env-kwargs", '{"discrete": true}', "--num-envs", "1"] if algo == "dqn" else []
    assert main(["rl", "train", "--algo", algo, *TINY, *extra, "--run-dir", str(tmp_path / algo)]) == 0
    run = RunDir.open(tmp_path / algo)
    summary = run.summary()
    assert 0.0 <= summary["eval/success_rate"] <= 1.0
    assert any("eval/periodic_success_rate" in r for r in run.metrics())
    assert any(k.startswith("losses/") for r in run.metrics() for k in r)  # it learned from the relabelled memory
    assert main(["rl", "eval", str(tmp_path / algo), "--episodes", "2"]) == 0  # the saved policy reads goal dicts


@pytest.mark.parametrize(("argv", "message"), [
    (["--algo", "ppo", "--env", GOAL_ENV], "has no hindsight replay; use --algo sac, td3, ddpg or dqn with --her"),
    (["--algo", "sac", "--env", "Pendulum-v1", "--her"], "--her needs a goal-conditioned env"),
    (["--algo", "dqn", "--env", "CartPole-v1", "--her"], "--her needs a goal-conditioned env"),
])
def test_goal_env_errors_are_one_line_exit_2(argv: list[str], message: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "train", *argv, "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "r").exists()


def test_resume_continues_the_running_episodes_of_the_relabeler(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed with episodes half done (checkpoint at step 106 of 10-step episodes, 2 envs), the resumed run relabels
    them whole, as the uninterrupted run does: same rows, same buffer, same weights."""
    from safetensors.torch import load_file

    from pilotlab.rl import sac

    argv = ["rl", "train", "--algo", "sac", *TINY, "--num-envs", "2", "--checkpoint-every", "105", "--eval-every", "0"]
    assert main([*argv, "--run-dir", str(tmp_path / "full")]) == 0
    real_save = sac.save_state

    def save_then_stop(*a: object, **kw: object) -> None:
        real_save(*a, **kw)
        raise KeyboardInterrupt

    monkeypatch.setattr(sac, "save_state", save_then_stop)
    assert main([*argv, "--run-dir", str(tmp_path / "cut")]) == 130
    monkeypatch.setattr(sac, "save_state", real_save)
    saved = load_file(tmp_path / "cut/checkpoints/last.safetensors")
    assert any(k.startswith("loop/her/") for k in saved)  # the half-done episodes are in the checkpoint
    assert main([*argv, "--run-dir", str(tmp_path / "cut"), "--resume"]) == 0

    def rows(run: RunDir) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "time" and not k.endswith(("steps_per_s", "wall_s"))}
                for r in run.metrics()]

    full, cut = RunDir.open(tmp_path / "full"), RunDir.open(tmp_path / "cut")
    assert rows(full) == rows(cut)
    x, y = (load_file(r.checkpoints / "last.safetensors") for r in (full, cut))
    assert x.keys() == y.keys() and all(np.array_equal(x[k].numpy(), y[k].numpy()) for k in x)
