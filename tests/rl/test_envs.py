"""Env helpers: id checks with one-line errors, JSON kwargs, highway-env ids, observation encoding."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from pilotlab.core.errors import PilotlabError
from pilotlab.rl.envs import EpisodeStats, check_env_id, env_kwargs_of, make_env, make_vec_env, obs_shape, to_float_obs


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
