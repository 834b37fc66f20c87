"""Goal-conditioned observations and Hindsight Experience Replay (Andrychowicz et al., 2017, "Hindsight
Experience Replay").

A goal-conditioned env (gymnasium-robotics' `GoalEnv`: the Fetch arm, ...) observes a dict with
``observation``, ``achieved_goal`` and ``desired_goal`` and exposes a vectorised
``compute_reward(achieved_goal, desired_goal, info)``. The networks see the three parts concatenated
in that order (`flatten_goal_obs`), so every off-policy agent uses them unchanged.

HER turns failed episodes into useful ones: a transition that missed its goal g did reach *some*
goal, so it is also stored as if that goal had been asked for. `HindsightRelabeler` keeps each
sub-env's current episode; when the episode ends it writes every transition into the shared
`ReplayBuffer` once as experienced and `k` more times with the "future" strategy: the goal is
replaced by the achieved goal of a transition t' >= t drawn uniformly from the same episode, and the
reward is recomputed through the env's own ``compute_reward``, all relabels of an episode in one
vectorised call. Relabelling at storage time keeps sampling the plain uniform draw of `ReplayBuffer`
(the paper's scheme; SB3 relabels at sampling time instead, with the same expected mix of 1 real to
k relabelled transitions).

The episodes still running when a checkpoint is written are part of it (`state_dict`): a resumed run
rebuilds its envs inside the same episodes (`pilotlab.rl.envs.EpisodeRecorder`) and relabels them whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from pilotlab.rl.buffers import ReplayBuffer

GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")

RewardFn = Callable[[np.ndarray, np.ndarray, Any], np.ndarray]


def is_goal_space(space: gym.Space) -> bool:
    """Whether `space` is a goal-conditioned Dict of three 1-D Boxes with matching goal sizes."""
    if not isinstance(space, gym.spaces.Dict) or set(space.spaces) != set(GOAL_KEYS):
        return False
    parts = [space[k] for k in GOAL_KEYS]
    return (all(isinstance(p, gym.spaces.Box) and len(p.shape) == 1 for p in parts)
            and space["achieved_goal"].shape == space["desired_goal"].shape)


def goal_obs_dim(space: gym.spaces.Dict) -> int:
    """Size of the flat observation the networks see."""
    return sum(int(space[k].shape[0]) for k in GOAL_KEYS)


def flatten_goal_obs(obs: Mapping[str, np.ndarray]) -> np.ndarray:
    """(..., obs) + (..., goal) + (..., goal) -> (..., obs + 2 goal) float32, in `GOAL_KEYS` order."""
    return np.concatenate([np.asarray(obs[k], dtype=np.float32) for k in GOAL_KEYS], axis=-1)


def reward_fn(env: gym.Env) -> RewardFn:
    """The env's vectorised ``compute_reward`` (through any wrappers)."""
    fn = getattr(env.unwrapped, "compute_reward", None)
    if not callable(fn):
        from pilotlab.core.errors import PilotlabError

        raise PilotlabError(f"{env.spec.id if env.spec else env} has a goal observation but no compute_reward(); "
                            "HER needs it to recompute rewards")
    return fn


class HindsightRelabeler:
    """Per-env episode memory that flushes finished episodes into `buffer` with `k` "future" relabels each.

    Args:
        buffer: the replay buffer the agent samples from (flat observations).
        num_envs: sub-envs of the vector env.
        k: relabelled copies stored per real transition (the paper's k; 4 is its best "future" setting).
        compute_reward: the env's ``compute_reward(achieved_goal, desired_goal, info)``, vectorised over rows.
    """

    def __init__(self, buffer: ReplayBuffer, num_envs: int, k: int, compute_reward: RewardFn):
        self.buffer, self.k, self.compute_reward = buffer, k, compute_reward
        self.episodes: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(num_envs)]

    def add(self, obs: Mapping[str, np.ndarray], actions: np.ndarray, rewards: np.ndarray,
            next_obs: Mapping[str, np.ndarray], terminated: np.ndarray, truncated: np.ndarray,
            valid: np.ndarray) -> None:
        """One vector step: dict observations with (N, ...) parts; rows where `valid` is False are skipped
        (the reset rows of next-step autoreset); a row that terminated or truncated ends its episode."""
        for i in np.flatnonzero(valid):
            self.episodes[i].append((obs["observation"][i].copy(), obs["achieved_goal"][i].copy(),
                                     obs["desired_goal"][i].copy(), np.array(actions[i]), float(rewards[i]),
                                     next_obs["observation"][i].copy(), next_obs["achieved_goal"][i].copy(),
                                     float(terminated[i])))
            if terminated[i] or truncated[i]:
                self.flush(i)

    def state_dict(self) -> list[list[np.ndarray]]:
        """The running episodes, per env the eight fields of `add`'s tuples stacked (T, ...); [] for none."""
        return [[np.stack(x) for x in zip(*ep)] if ep else [] for ep in self.episodes]

    def load_state_dict(self, state: list[list[Any]]) -> None:
        if len(state) != len(self.episodes):
            raise ValueError(f"the checkpoint holds {len(state)} running episodes, this run has {len(self.episodes)}")
        self.episodes = [[(o.copy(), ag.copy(), g.copy(), a.copy(), float(r), o2.copy(), ag2.copy(), float(t))
                          for o, ag, g, a, r, o2, ag2, t in zip(*(np.asarray(f) for f in fields))] if fields else []
                         for fields in state]

    def flush(self, i: int) -> None:
        """Write env i's episode into the buffer: as experienced, then k relabelled copies per transition."""
        episode, self.episodes[i] = self.episodes[i], []
        if not episode:
            return
        o, ag, g, a, r, o2, ag2, term = (np.stack(x) for x in zip(*episode))  # each (T, ...)
        r, term = r.astype(np.float32), term.astype(np.float32)
        self.buffer.add(np.concatenate([o, ag, g], 1), a, r, np.concatenate([o2, ag2, g], 1), term)
        if self.k == 0:
            return
        steps = len(episode)
        t = np.repeat(np.arange(steps), self.k)  # (T k,) the transition each relabel copies
        future = np.random.randint(t, steps)  # (T k,) a transition at or after t in the same episode
        goal = ag2[future]  # the goal it achieved becomes the desired goal
        new_r = np.asarray(self.compute_reward(ag2[t], goal, [{} for _ in t]), dtype=np.float32).reshape(len(t))
        self.buffer.add(np.concatenate([o[t], ag[t], goal], 1), a[t], new_r, np.concatenate([o2[t], ag2[t], goal], 1),
                        term[t])
