"""Env helpers: id checks with one-line errors, JSON kwargs, highway-env ids, observation encoding."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from clihelp import refused
from pilotlab.core.errors import PilotlabError
from pilotlab.rl.envs import (
    EpisodeStats,
    check_env_id,
    env_kwargs_of,
    make_env,
    make_vec_env,
    obs_shape,
    probe_env,
    to_float_obs,
)


def test_unknown_id_is_one_line_with_suggestion() -> None:
    with pytest.raises(PilotlabError) as err:
        check_env_id("CartPole-v2")
    assert "\n" not in str(err.value) and "CartPole-v1" in str(err.value)


def test_kwargs_json() -> None:
    assert env_kwargs_of('{"is_slippery": false}') == {"is_slippery": False}
    assert env_kwargs_of('{"config": {"a": 1}}', '{"b": 2}') == {"config": {"a": 1, "b": 2}}
    for bad in ("{", "[1]", "3"):
        with pytest.raises(PilotlabError):
            env_kwargs_of(bad)
    with pytest.raises(PilotlabError, match="cannot make"):
        make_env("CartPole-v1", {"no_such_arg": 1})


def test_kwargs_reach_the_env() -> None:
    env = make_env("FrozenLake-v1", {"is_slippery": False, "map_name": "8x8"})
    assert env.observation_space.n == 64 and env.spec is not None and env.spec.kwargs["is_slippery"] is False
    env.close()


def test_highway_ids_are_registered_on_demand() -> None:
    env = make_env("highway-fast-v0", {"config": {"vehicles_count": 5}})
    obs, _ = env.reset(seed=0)
    assert obs.shape == (5, 5) and obs_shape(env.observation_space) == (5, 5)
    env.close()


def test_vec_env_uses_next_step_autoreset() -> None:
    envs = make_vec_env("CartPole-v1", 3)
    assert envs.num_envs == 3 and envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    envs.close()


def test_discrete_observations_are_one_hot() -> None:
    space = gym.spaces.Discrete(4)
    assert obs_shape(space) == (4,)
    assert np.array_equal(to_float_obs(np.array([2, 0]), space), np.eye(4, dtype=np.float32)[[2, 0]])


def test_episode_stats_skip_reset_rows() -> None:
    stats = EpisodeStats(2)
    stats.update(np.array([1.0, 1.0]), np.array([True, True]), np.array([False, True]))
    stats.update(np.array([1.0, 0.0]), np.array([True, False]), np.array([True, False]))  # row 1 is a reset step
    out = stats.pop()
    assert out["train/episode_return"] == 1.5 and out["train/episodes"] == 2.0  # episodes of return 2 and 1
    assert stats.pop() == {}


def test_async_vec_env_steps_like_the_sync_one() -> None:
    sync, asyn = make_vec_env("CartPole-v1", 2), make_vec_env("CartPole-v1", 2, vector="async")
    try:
        assert isinstance(asyn, gym.vector.AsyncVectorEnv)
        assert asyn.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
        a, b = sync.reset(seed=3)[0], asyn.reset(seed=3)[0]
        assert np.array_equal(a, b)
        for t in range(30):  # through at least one autoreset
            actions = np.array([t % 2, (t // 3) % 2])
            out_a, out_b = sync.step(actions), asyn.step(actions)
            for x, y in zip(out_a[:4], out_b[:4]):
                assert np.array_equal(x, y)
    finally:
        sync.close()
        asyn.close()


def test_env_wrapper_and_vector_names_are_checked() -> None:
    from pilotlab.rl.dqn import DQNConfig
    from pilotlab.rl.envs import wrapper_class

    assert wrapper_class("none") is None and wrapper_class("fast-highway").__name__ == "FastHighway"
    with pytest.raises(PilotlabError, match="unknown env wrapper"):
        make_vec_env("CartPole-v1", 1, wrapper="turbo")
    with pytest.raises(PilotlabError, match="unknown vector env"):
        make_vec_env("CartPole-v1", 1, vector="threads")
    with pytest.raises(PilotlabError, match="env-wrapper"):
        DQNConfig(env="CartPole-v1", env_wrapper="turbo")
    envs = make_vec_env("highway-fast-v0", 1, {"config": {"duration": 2}}, wrapper="fast-highway")
    assert type(envs.envs[0]).__name__ == "EpisodeRecorder"  # outermost: a resume replays through the wrapper
    assert type(envs.envs[0].env).__name__ == "FastHighway"
    envs.close()


# -- bad env input at the CLI: one line, exit 2, no run directory -------------------------------------------


@pytest.mark.parametrize(("args", "names"), [
    (["--algo", "dqn", "--env", "FrozenLake-v1", "--env-kwargs", '{"map_name": "9x9"}'],
     ["FrozenLake-v1", "9x9", "KeyError", "--env-kwargs"]),
    (["--algo", "ppo", "--env", "highway-fast-v0", "--env-config", '{"action": {"type": "Nope"}}'],
     ["highway-fast-v0", "Nope", "Unknown action type"]),
    (["--algo", "dqn", "--env", "highway-fast-v0", "--env-config", '{"duration": "x"}'],
     ["highway-fast-v0", "first step", '"duration": "x"']),
    (["--algo", "dqn", "--env", "CartPole-v1", "--env-wrapper", "fast-highway"],
     ["CartPole-v1", "first reset", "--env-wrapper fast-highway"]),
    (["--algo", "q-learning", "--env", "NoSuchEnv-v0"], ["NoSuchEnv-v0", "--env"]),
])
def test_env_the_env_rejects_is_refused_before_the_run_dir(args: list[str], names: list[str], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    budget = ["--episodes", "10"] if args[1] == "q-learning" else ["--total-steps", "10"]
    err = refused(["rl", "train", *args, *budget, "--run-dir", str(run_dir)], capsys)
    for name in names:
        assert name in err
    assert not run_dir.exists()


class _ResetFails(gym.Env):
    """An env that builds fine and raises a library error at its first reset (as some configs do)."""

    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, size: int = 1):
        self.size = size

    def reset(self, *, seed: int | None = None, options: dict | None = None):  # type: ignore[override]
        raise IndexError(f"size {self.size} is\nout of range")


def test_probe_turns_an_error_at_reset_into_one_line() -> None:
    gym.register("PilotlabTest/ResetFails-v0", entry_point=_ResetFails)
    try:
        with pytest.raises(PilotlabError) as err:
            probe_env("PilotlabTest/ResetFails-v0", {"size": 7})
    finally:
        gym.registry.pop("PilotlabTest/ResetFails-v0")
    msg = str(err.value)
    assert "\n" not in msg and "first reset" in msg and '{"size": 7}' in msg
    assert "IndexError: size 7 is out of range" in msg


def test_probe_returns_the_spaces() -> None:
    obs, act = probe_env("CartPole-v1")
    assert obs.shape == (4,) and act.n == 2


def test_unknown_video_extension_is_refused_before_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(["rl", "eval", str(tmp_path / "no-run"), "--video", str(tmp_path / "out.abc")], capsys)
    assert "--video" in err and "out.abc" in err and ".gif" in err
    err = refused(["rl", "eval", str(tmp_path / "no-run"), "--video", str(tmp_path / "missing" / "out.gif")], capsys)
    assert "--video" in err and "does not exist" in err
