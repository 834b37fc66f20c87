"""Gymnasium environments for the agents: id checks, single and vectorized construction, episode stats.

`make_vec_env` builds a Gymnasium 1.x `SyncVectorEnv` (or, with ``vector="async"``, an `AsyncVectorEnv`
with one subprocess per env; with ``vector="batched"``, a `pilotlab.rl.batched_envs.BatchedEnv` that steps
all envs of a classic-control task as array ops) in next-step autoreset mode, optionally wrapping each env
(an ``rl.env-wrapper`` of `pilotlab.core.registry`): after a sub-env ends (terminated or truncated) the
*next* `step` call ignores its action and returns the reset observation with reward 0. That step is not a
transition of the MDP; `StepMask` tells the agents which rows to drop (DQN/DDPG never store them, PPO masks
them out of its losses).

highway-env ids (``highway-fast-v0`` ...) are registered by importing `highway_env`, and gymnasium-robotics ids
(``FetchReach-v4`` ...) by importing `gymnasium_robotics` (`pilotlab.rl.robots`), which happens automatically
the first time an id is not found in Gymnasium's registry; so are the envs other pillars register under the
kind ``rl.env`` of `pilotlab.core.registry` (the entry's name is the Gymnasium id).

Goal-conditioned envs observe a dict (`pilotlab.rl.her`); the networks see it flattened (`obs_shape`,
`to_float_obs`).
"""

from __future__ import annotations

import contextlib
import difflib
import json
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

from pilotlab.core import registry
from pilotlab.core.errors import PilotlabError, one_line
from pilotlab.rl import ENV, ENV_WRAPPER
from pilotlab.rl.batched_envs import BATCHED_ENVS, BatchedEnv, check_batched, make_batched_env
from pilotlab.rl.her import flatten_goal_obs, goal_obs_dim, is_goal_space
from pilotlab.rl.robots import headless_rendering, is_robotics_id, missing_extra, register_robotics


def _ensure_registered(env_id: str) -> None:
    if is_robotics_id(env_id):  # FetchReach-v4, ...; idempotent, and it fixes the joint helpers also when the
        register_robotics()     # ids were registered by an import elsewhere; nothing registered when not installed
        return
    if env_id in gym.registry:
        return
    entry = registry.entries(ENV).get(env_id)
    if entry is not None:  # another pillar's env class; imported only when Gymnasium makes it
        gym.register(env_id, entry_point=f"{entry.module}:{entry.attr}")
        return
    with contextlib.suppress(ImportError):  # registers highway-v0, highway-fast-v0, merge-v0, ...
        import highway_env  # noqa: F401


def check_env_id(env_id: str) -> None:
    """Raise a one-line `PilotlabError` for an id Gymnasium (and highway-env) does not know."""
    _ensure_registered(env_id)
    if env_id in gym.registry:
        return
    if is_robotics_id(env_id) and not register_robotics():
        raise PilotlabError(missing_extra(env_id, "gymnasium-robotics and MuJoCo"))
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see gymnasium.pprint_registry() for the ids"
    raise PilotlabError(f"unknown Gymnasium env id {env_id!r}{hint}")


def parse_kwargs(text: str, what: str) -> dict[str, Any]:
    """Parse a JSON object given on the command line (``--env-kwargs '{"is_slippery": false}'``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise PilotlabError(f"{what} must be a JSON object, got {text!r} ({e.msg})") from None
    if not isinstance(value, dict):
        raise PilotlabError(f"{what} must be a JSON object like '{{\"key\": 1}}', got {text!r}")
    return value


def env_kwargs_of(env_kwargs: str = "{}", env_config: str = "{}") -> dict[str, Any]:
    """Keyword arguments for `gymnasium.make` from the two JSON config fields."""
    kwargs = parse_kwargs(env_kwargs, "env-kwargs")
    config = parse_kwargs(env_config, "env-config")
    if config:
        kwargs["config"] = {**kwargs.get("config", {}), **config}
    return kwargs


def _kwargs_text(kw: dict[str, Any]) -> str:
    """The keyword arguments as one line of JSON (newlines in values stay escaped)."""
    return json.dumps(kw, default=repr, sort_keys=True)


def make_env(env_id: str, kwargs: dict[str, Any] | None = None, render_mode: str | None = None) -> gym.Env:
    """One environment; an unknown id or anything the env raises while it is built becomes a one-line
    `PilotlabError` naming the id and the keyword arguments (any exception type: envs raise KeyError,
    ValueError, AssertionError, ... for values they reject)."""
    check_env_id(env_id)
    kw = dict(kwargs or {})
    if render_mode is not None:
        kw["render_mode"] = render_mode
        headless_rendering()  # MuJoCo envs only read it when they render
    try:
        return gym.make(env_id, **kw)
    except PilotlabError:
        raise
    except gym.error.DependencyNotInstalled as e:
        if "mujoco" in str(e).lower():
            raise PilotlabError(missing_extra(env_id, "MuJoCo")) from None
        raise PilotlabError(f"{env_id} needs a missing package: {' '.join(str(e).split())}") from None
    except Exception as e:
        raise PilotlabError(f"cannot make {env_id} with keyword arguments {_kwargs_text(kw)} (--env-kwargs, "
                            f"--env-config): {one_line(e)}; fix or drop the rejected key") from None


def probe_env(env_id: str, kwargs: dict[str, Any] | None = None, wrapper: str = "none",
              seed: int = 0) -> tuple[gym.Space, gym.Space]:
    """(observation space, action space) of `env_id` after building it, wrapping it in the registered env
    wrapper `wrapper`, one reset and one random step: envs check parts of their config only there (highway-env's action
    and observation types), and a trainer must refuse such input before it writes anything."""
    cls = wrapper_class(wrapper)
    env = make_env(env_id, kwargs)
    stage = "wrap"
    try:
        if cls is not None:
            env = cls(env)
        stage = "reset"
        env.reset(seed=seed)
        stage = "step"
        env.action_space.seed(seed)
        env.step(env.action_space.sample())
        return env.observation_space, env.action_space
    except PilotlabError:
        raise
    except Exception as e:
        wrapped = wrapper != "none"
        where = "--env-kwargs, --env-config" + (f", --env-wrapper {wrapper}" if wrapped else "")
        raise PilotlabError(f"{env_id} with keyword arguments {_kwargs_text(dict(kwargs or {}))} fails at its first "
                            f"{stage} ({where}): {one_line(e)}; fix the config"
                            f"{' or drop the wrapper' if wrapped else ''}") from None
    finally:
        with contextlib.suppress(Exception):
            env.close()


VECTOR_ENVS: dict[str, str] = {
    "sync": "all envs step one after the other in this process (gymnasium SyncVectorEnv)",
    "async": "each env steps in its own subprocess (gymnasium AsyncVectorEnv): pays off when env steps are slow"
             " (highway-env) and cores are free",
    "batched": "all envs step together as array ops (pilotlab.rl.batched_envs; classic-control ids only: "
               + ", ".join(BATCHED_ENVS) + "; no env wrapper)",
}


def check_vector_env(vector: str, env_id: str, kwargs: dict[str, Any] | None = None, wrapper: str = "none") -> None:
    """A one-line `PilotlabError` for an unknown vector env, or a batched one the env id, its keyword
    arguments or the wrapper do not allow (batched envs have no per-env objects to wrap)."""
    if vector not in VECTOR_ENVS:
        raise PilotlabError(f"unknown vector env {vector!r}; choose one of {', '.join(VECTOR_ENVS)}")
    if vector == "batched":
        check_batched(env_id, kwargs)
        if wrapper != "none":
            raise PilotlabError(f"--vector-env batched steps all envs as arrays and cannot wrap them in --env-wrapper "
                                f"{wrapper}; use --vector-env sync with a wrapper")


def wrapper_class(name: str) -> type[gym.Wrapper] | None:
    """The wrapper class registered as `name` under ``rl.env-wrapper`` (None for "none")."""
    return registry.get(ENV_WRAPPER, name).load()


def make_vec_env(env_id: str, num_envs: int, kwargs: dict[str, Any] | None = None, vector: str = "sync",
                 wrapper: str = "none") -> VectorEnv:
    """`num_envs` copies in a Sync- or `AsyncVectorEnv` (`VECTOR_ENVS`) with next-step autoreset (Gymnasium 1.x
    default), each wrapped in the registered env wrapper `wrapper`; or, with ``vector="batched"``, one
    `BatchedEnv` that steps all copies as array ops (same autoreset, no wrapper)."""
    check_vector_env(vector, env_id, kwargs, wrapper)
    if vector == "batched":
        return make_batched_env(env_id, num_envs, kwargs)
    cls = wrapper_class(wrapper)
    make_env(env_id, kwargs).close()  # fail early, with a readable message, on a bad id or kwargs

    def one() -> gym.Env:
        env = make_env(env_id, kwargs)
        return EpisodeRecorder(cls(env) if cls is not None else env)

    fns = [one for _ in range(num_envs)]
    if vector == "async":
        return AsyncVectorEnv(fns, autoreset_mode=AutoresetMode.NEXT_STEP)
    return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.NEXT_STEP)


class EpisodeRecorder(gym.Wrapper):
    """Remembers what rebuilds the env's current episode, so that a resumed run continues it exactly.

    Gymnasium envs cannot be serialised in general (MuJoCo's simulator, Box2D's world, highway-env's
    road), but an env is a deterministic function of its random generator and the actions it is given. So
    this wrapper keeps how the current episode was reset (the seed, or the state of the env's generator
    just before an unseeded reset, which is how vector envs reset after an episode) and the actions since;
    `replay` resets the same way and steps the same actions, at most one episode per env. An env whose
    episode ended on the last step restarts on the next `step` with reward 0, as the vector env's next-step
    autoreset would have done. Used by `env_state` / `restore_env_state`.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.start: dict[str, Any] = {"seed": None, "rng": None, "options": False}
        self.actions: list[np.ndarray] = []
        self.ended = False  # the episode ended on the last step
        self.restart_next = False  # replayed an ended episode: the next step is the autoreset's
        self.replay_record: dict[str, Any] | None = None  # set through VectorEnv.set_attr, used by `replay`

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        rng = None if seed is not None else self.np_random.bit_generator.state
        self.start = {"seed": seed, "rng": rng, "options": options is not None}
        self.actions, self.ended, self.restart_next = [], False, False
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict]:
        if self.restart_next:  # what the vector env's next-step autoreset returns for an ended episode
            obs, info = self.reset()
            return obs, 0.0, False, False, info
        self.actions.append(np.array(action, copy=True))  # in the dtype given: the replay must pass the same
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.ended = bool(terminated or truncated)
        return obs, reward, terminated, truncated, info

    def record(self) -> dict[str, Any]:
        """How the current episode started, its actions (T, *action_shape) and whether it has ended."""
        actions = np.asarray(self.actions) if self.actions else np.zeros((0, *self.action_space.shape))
        return {**self.start, "actions": actions, "ended": self.ended}

    def replay(self) -> Any:
        """Rebuild the episode of `replay_record` (a `record`); returns its last observation."""
        rec, self.replay_record = self.replay_record, None
        if rec is None or rec["options"]:
            raise ValueError("the episode was reset with options, which are not recorded")
        if rec["seed"] is not None:
            obs, _ = self.reset(seed=int(rec["seed"]))
        else:
            self.np_random.bit_generator.state = rec["rng"]
            obs, _ = self.reset()
        for action in np.asarray(rec["actions"]):
            obs, *_ = self.step(action)
        self.restart_next = bool(rec["ended"])
        return obs


def env_state(envs: VectorEnv) -> dict[str, Any]:
    """What rebuilds the vector env's current episodes (NumPy arrays and plain values): a `BatchedEnv`'s own
    arrays, or each sub-env's `EpisodeRecorder.record`."""
    base = envs.unwrapped  # under any vector wrappers
    if isinstance(base, BatchedEnv):
        return {"batched": base.state_dict()}
    return {"episodes": list(base.call("record"))}


def restore_env_state(envs: VectorEnv, state: dict[str, Any]) -> Any:
    """Put fresh envs (from `make_vec_env`, reset once) back into the episodes of `env_state`; returns the
    batch of observations they are at. Raises ValueError/KeyError where the state does not fit."""
    base = envs.unwrapped  # under any vector wrappers (one that changes observations fails the caller's check)
    if isinstance(base, BatchedEnv):
        return base.load_state_dict(state["batched"])
    records = state["episodes"]
    if len(records) != base.num_envs:
        raise ValueError(f"the checkpoint holds {len(records)} envs, this run has {base.num_envs}")
    base.set_attr("replay_record", list(records))
    obs = base.call("replay")
    if isinstance(obs[0], dict):
        return {k: np.stack([o[k] for o in obs]) for k in obs[0]}
    return np.stack([np.asarray(o) for o in obs])


class StepMask:
    """Which rows of a vectorized step are real transitions under next-step autoreset.

    Call `valid()` before `step` to get the rows whose transition is real, then `update(terminated,
    truncated)` after it. A row that ended on the previous step is now being reset: not valid.
    """

    def __init__(self, num_envs: int):
        self.ended = np.zeros(num_envs, dtype=bool)

    def valid(self) -> np.ndarray:
        return ~self.ended

    def update(self, terminated: np.ndarray, truncated: np.ndarray) -> None:
        self.ended = np.logical_or(terminated, truncated)

    def reset(self) -> None:
        self.ended[:] = False


class EpisodeStats:
    """Running return and length per sub-env; `finished` collects (return, length) of ended episodes."""

    def __init__(self, num_envs: int):
        self.ret = np.zeros(num_envs, dtype=np.float64)
        self.len = np.zeros(num_envs, dtype=np.int64)
        self.finished: list[tuple[float, int]] = []

    def update(self, rewards: np.ndarray, valid: np.ndarray, ended: np.ndarray) -> None:
        """Add this step's rewards (valid rows only); close the episodes of rows that `ended`."""
        self.ret += rewards * valid
        self.len += valid
        for i in np.flatnonzero(ended & valid):
            self.finished.append((float(self.ret[i]), int(self.len[i])))
            self.ret[i], self.len[i] = 0.0, 0

    def state_dict(self) -> dict[str, Any]:
        """Running returns and lengths, and the finished episodes not yet popped (for a checkpoint)."""
        return {"ret": self.ret.copy(), "len": self.len.copy(), "finished": [list(f) for f in self.finished]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ret[:] = np.asarray(state["ret"], dtype=np.float64)
        self.len[:] = np.asarray(state["len"], dtype=np.int64)
        self.finished = [(float(r), int(n)) for r, n in state["finished"]]

    def pop(self) -> dict[str, float]:
        """Mean return/length of the episodes finished since the last call (empty if none)."""
        if not self.finished:
            return {}
        rets, lens = zip(*self.finished)
        self.finished = []
        return {"train/episode_return": float(np.mean(rets)), "train/episode_length": float(np.mean(lens)),
                "train/episodes": float(len(rets))}


def space_kind(space: gym.Space) -> str:
    """'discrete', 'box' or the space's class name (for error messages)."""
    if isinstance(space, gym.spaces.Discrete):
        return "discrete"
    if isinstance(space, gym.spaces.Box):
        return "box"
    return type(space).__name__


def obs_shape(space: gym.Space) -> tuple[int, ...]:
    """Shape of the float observation the networks see (a Discrete observation becomes one-hot)."""
    if isinstance(space, gym.spaces.Discrete):
        return (int(space.n),)
    if isinstance(space, gym.spaces.Box):
        return tuple(int(d) for d in space.shape)
    if is_goal_space(space):
        return (goal_obs_dim(space),)
    raise PilotlabError(f"observation space {space} is not supported (need Box, Discrete or a goal dict of "
                        "observation, achieved_goal and desired_goal)")


def to_float_obs(obs: np.ndarray, space: gym.Space) -> np.ndarray:
    """Batch of raw observations -> float32 network input; Discrete states are one-hot encoded, goal dicts
    flattened."""
    if isinstance(obs, dict):
        return flatten_goal_obs(obs)  # (N, obs + 2 goal)
    if isinstance(space, gym.spaces.Discrete):
        return np.eye(int(space.n), dtype=np.float32)[np.asarray(obs, dtype=np.int64) - int(space.start)]  # (N, n)
    return np.asarray(obs, dtype=np.float32)
