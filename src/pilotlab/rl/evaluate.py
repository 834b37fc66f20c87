"""Evaluate any trained agent: episodes on held-out seeds, summary keys, optional GIF.

Generic over the `pilotlab.rl` module contract: ``load_policy(run, device)`` returns a `Policy`, a
deterministic callable from a batch of raw observations (N, *obs_shape) to a batch of actions.
Episode i is reset with seed ``seed + i``; training uses seeds from ``cfg.seed`` up, evaluation from
10,000 up, so the two never share a start state sequence.

Success (`eval/success_rate`) is written where it applies: the env reports ``info["is_success"]``
at the end of an episode, or the observation space is Discrete (toy-text tasks such as FrozenLake,
where the episode succeeds when its last reward is positive).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from pilotlab.core.config import from_dict
from pilotlab.core.run import RunDir
from pilotlab.core.summary import (
    RL_EPISODES,
    RL_EVAL_WALL_S,
    RL_LENGTH_MEAN,
    RL_RETURN_MEAN,
    RL_RETURN_STD,
    RL_SUCCESS_RATE,
)
from pilotlab.rl.envs import env_kwargs_of, make_env

Policy = Callable[[np.ndarray], np.ndarray]

MAX_PARALLEL = 16  # evaluation episodes stepped together (one batched policy call per step)


class EvalResult(NamedTuple):
    returns: np.ndarray  # (episodes,) undiscounted return of each episode
    lengths: np.ndarray  # (episodes,) steps of each episode
    successes: np.ndarray | None  # (episodes,) bool, or None where success is not defined

    def summary(self) -> dict[str, float]:
        out = {RL_RETURN_MEAN: float(self.returns.mean()), RL_RETURN_STD: float(self.returns.std()),
               RL_EPISODES: float(len(self.returns)), RL_LENGTH_MEAN: float(self.lengths.mean())}
        if self.successes is not None:
            out[RL_SUCCESS_RATE] = float(self.successes.mean())
        return out


def _chunk(policy: Policy, env_id: str, kwargs: dict[str, Any], seeds: list[int], max_steps: int,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Run one episode per seed in parallel; returns (returns, lengths, successes)."""
    n = len(seeds)
    envs = SyncVectorEnv([lambda: make_env(env_id, kwargs) for _ in seeds], autoreset_mode=AutoresetMode.NEXT_STEP)
    toy_text = isinstance(envs.single_observation_space, gym.spaces.Discrete)
    obs, _ = envs.reset(seed=seeds)
    rets, lens = np.zeros(n), np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    success = np.zeros(n, dtype=bool)
    has_success = toy_text
    for _ in range(max_steps):
        actions = policy(obs)
        obs, rewards, term, trunc, infos = envs.step(actions)
        live = ~done
        rets += rewards * live
        lens += live
        ended = (term | trunc) & live
        if "is_success" in infos:
            has_success = True
            success |= ended & infos["_is_success"] & np.asarray(infos["is_success"], dtype=bool)
        elif toy_text:
            success |= ended & (rewards > 0)
        done |= ended
        if done.all():
            break
    envs.close()
    return rets, lens, (success if has_success else None)


def evaluate_policy(policy: Policy, env_id: str, kwargs: dict[str, Any] | None = None, episodes: int = 10,
                    seed: int = 10_000, max_steps: int = 100_000) -> EvalResult:
    """`episodes` episodes of the deterministic `policy`, seeds seed, seed+1, ..."""
    kwargs = kwargs or {}
    rets, lens, succ = [], [], []
    for start in range(0, episodes, MAX_PARALLEL):
        seeds = [seed + i for i in range(start, min(episodes, start + MAX_PARALLEL))]
        r, ln, s = _chunk(policy, env_id, kwargs, seeds, max_steps)
        rets.append(r)
        lens.append(ln)
        succ.append(s)
    successes = None if any(s is None for s in succ) else np.concatenate(succ)  # type: ignore[arg-type]
    return EvalResult(np.concatenate(rets), np.concatenate(lens), successes)


def record_gif(policy: Policy, env_id: str, kwargs: dict[str, Any] | None, path: str | Path, seed: int = 10_000,
               max_frames: int = 1000, fps: float = 30.0) -> Path:
    """Play one episode with ``render_mode="rgb_array"`` and write its frames as a GIF (imageio)."""
    from pilotlab.report.figures import save_gif

    env = make_env(env_id, kwargs, render_mode="rgb_array")
    obs, _ = env.reset(seed=seed)
    frames = [np.asarray(env.render())]
    for _ in range(max_frames - 1):
        batch = {k: np.asarray(v)[None] for k, v in obs.items()} if isinstance(obs, dict) else np.asarray(obs)[None]
        action = policy(batch)[0]  # (1, *obs_shape) -> one action
        obs, _, term, trunc, _ = env.step(action)
        frames.append(np.asarray(env.render()))
        if term or trunc:
            break
    env.close()
    return save_gif(frames, path, fps=fps)


def evaluate_run(cfg: Any) -> dict[str, float]:
    """`pilotlab rl eval RUN_DIR`: load the run's policy, play `cfg.episodes`, update summary.json."""
    from pilotlab.core import registry
    from pilotlab.core.device import resolve_device
    from pilotlab.rl import ALGO

    torch.set_num_threads(cfg.threads)
    run = RunDir.open(cfg.run_dir)
    saved = run.config()
    algo = saved["config"].get("algo", saved.get("method"))
    entry = registry.get(ALGO, str(algo))
    module = entry.implementation()
    run_cfg = from_dict(entry.config_class(), saved["config"])
    policy = module.load_policy(run, resolve_device(cfg.device))
    kwargs = env_kwargs_of(getattr(run_cfg, "env_kwargs", "{}"), getattr(run_cfg, "env_config", "{}"))
    t0 = time.perf_counter()
    result = evaluate_policy(policy, run_cfg.env, kwargs, cfg.episodes, cfg.seed)
    values = result.summary()
    values[RL_EVAL_WALL_S] = time.perf_counter() - t0
    if cfg.video:
        gif = record_gif(policy, run_cfg.env, kwargs, cfg.video, seed=cfg.seed)
        print(f"video: {gif}")
    run.update_summary(values)
    run.close()
    shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
    print(f"{run.path}: {shown}")
    return values
