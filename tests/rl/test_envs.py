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
    assert type(envs.envs[0]).__name__ == "FastHighway"
    envs.close()
