"""What the deep agents (DQN, PPO, DDPG/TD3, SAC) share: the config fields about the env and the budget,
and the end of a run (final evaluation, summary.json, learning-curve figure).

Kept as plain functions and one config base class; each algorithm's loop lives in its own file.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
import torch.utils.tensorboard  # imported up front: its ~1 s import is not training time
from gymnasium.vector import VectorEnv

from pilotlab.core import checkpoint, registry, runfiles
from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError, one_line
from pilotlab.core.run import RunDir
from pilotlab.core.session import FIX, Start, save_state
from pilotlab.core.summary import RL_EVAL_WALL_S, RL_RETURN_MEAN, TRAIN_ENV_STEPS, TRAIN_WALL_S
from pilotlab.report.figures import save_line_plot
from pilotlab.rl import ENV_WRAPPER
from pilotlab.rl.buffers import ReplayBuffer
from pilotlab.rl.envs import (
    EpisodeStats,
    StepMask,
    check_env_id,
    check_vector_env,
    env_kwargs_of,
    env_state,
    make_env,
    obs_shape,
    probe_env,
    restore_env_state,
    space_kind,
    to_float_obs,
)
from pilotlab.rl.evaluate import Policy, evaluate_policy
from pilotlab.rl.her import HindsightRelabeler, is_goal_space, reward_fn
from pilotlab.rl.networks import NETWORKS


@dataclass(frozen=True, kw_only=True)
class DeepRLConfig(RunConfig):
    """Fields every deep agent shares (the algorithm configs add their hyperparameters)."""

    env: str = "CartPole-v1"
    """Gymnasium env id (any registered id; highway-env ids such as highway-fast-v0 work too)."""
    env_kwargs: str = "{}"
    """JSON object of keyword arguments for gymnasium.make, e.g. '{"is_slippery": false}'."""
    env_config: str = "{}"
    """JSON object passed as gymnasium.make(..., config=...) (highway-env's config dict)."""
    preset: Literal["none", "zoo"] = "none"
    """Hyperparameters the run starts from: zoo = RL Baselines3 Zoo's published settings for this algo and env
    (`pilotlab rl presets` lists them and what they cannot express), none = the defaults shown here. The CLI
    picks zoo where a preset exists for the pair, none elsewhere; flags and --config values override it."""
    total_steps: int = 50_000
    """Environment steps to train for (summed over the parallel envs)."""
    num_envs: int = 1
    """Parallel environments in the vector env."""
    vector_env: Literal["sync", "async", "batched"] = "sync"
    """sync: the envs step one after another in this process; async: one subprocess per env (for slow envs);
    batched: all envs step together as array ops (CartPole-v1, Acrobot-v1, MountainCar-v0,
    MountainCarContinuous-v0, Pendulum-v1; no env wrapper)."""
    env_wrapper: str = field(default="none", metadata={"registry": ENV_WRAPPER})
    """Wrapper around each training env (other pillars register theirs)."""
    network: str = "mlp"
    """Observation encoder: mlp, deepsets (order-invariant over rows of an (entities, features) obs), deepsets-ego."""
    eval_episodes: int = 10
    """Evaluation episodes after training (seeds eval-seed, eval-seed+1, ...)."""
    eval_seed: int = 10_000
    """First evaluation seed; kept apart from the training seeds."""
    log_every: int = 1000
    """Log train/ and losses/ metrics every this many env steps."""
    eval_every: int = 0
    """Every this many env steps, evaluate on eval-every-episodes seeds (apart from the final ones) and keep
    the best policy in checkpoints/best, which eval and the final evaluation then use; 0: off, use the last."""
    eval_every_episodes: int = 5
    """Episodes of each periodic evaluation (seeds eval-seed + 5000, ...)."""
    checkpoint_every: int = 10_000
    """Save checkpoints/last (weights, optimizer, replay buffer, RNG) every this many env steps."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "cpu"
    """Where tensors live; small RL networks are fastest on cpu."""
    lr: float = 1e-3
    """Adam learning rate."""
    batch_size: int = 64
    """Samples per gradient step."""
    gamma: float = 0.99
    """Discount factor."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of the networks."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_env_id(self.env)
        env_kwargs_of(self.env_kwargs, self.env_config)  # raises on malformed JSON
        registry.get(ENV_WRAPPER, self.env_wrapper)  # an unknown name lists the registered ones
        check_vector_env(self.vector_env, self.env, self.kwargs, self.env_wrapper)
        if self.preset == "zoo":
            from pilotlab.rl import presets

            algo = str(getattr(self, "algo", ""))
            if presets.find(algo, self.env) is None:
                others = presets.algos_for(self.env)
                raise PilotlabError(f"no zoo preset for {algo} on {self.env}"
                                    + (f" (there is one for {', '.join(others)})" if others else "")
                                    + "; use --preset none, or see pilotlab rl presets")
        if self.network not in NETWORKS:
            raise PilotlabError(f"unknown network {self.network!r}; choose one of {', '.join(NETWORKS)}")
        if self.eval_every < 0:
            raise PilotlabError(f"eval-every must be >= 0, got {self.eval_every}")
        self.at_least(1, "total_steps", "num_envs", "eval_episodes", "eval_every_episodes", "log_every",
                      "checkpoint_every", "batch_size")
        self.positive("lr")
        self.in_unit("gamma")
        if any(h < 1 for h in self.hidden):
            raise PilotlabError(f"hidden sizes must be >= 1, got {self.hidden}")

    def at_least(self, minimum: int, *names: str) -> None:
        """Raise when any of the named integer fields is below `minimum`."""
        for name in names:
            if getattr(self, name) < minimum:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= {minimum}, got {getattr(self, name)}")

    def positive(self, *names: str) -> None:
        """Raise when any of the named numeric fields is <= 0."""
        for name in names:
            if getattr(self, name) <= 0:
                raise PilotlabError(f"{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")

    def in_unit(self, *names: str) -> None:
        """Raise when any of the named fields lies outside [0, 1]."""
        for name in names:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise PilotlabError(f"{name.replace('_', '-')} must be in [0, 1], got {getattr(self, name)}")

    @property
    def kwargs(self) -> dict[str, Any]:
        return env_kwargs_of(self.env_kwargs, self.env_config)


@dataclass(frozen=True, kw_only=True)
class ReplayConfig(DeepRLConfig):
    """Fields of the off-policy agents (DQN, DDPG/TD3): replay memory and the training schedule."""

    buffer_size: int = 100_000
    """Replay buffer capacity in transitions."""
    learning_starts: int = 1000
    """Env steps of pure exploration before the first gradient step."""
    train_freq: int = 256
    """Env steps between training phases."""
    gradient_steps: int = 128
    """Gradient steps per training phase."""

    her: bool = False
    """Hindsight experience replay for goal-conditioned envs (dict observations such as FetchReach-v4): every
    finished episode is also stored with goals it achieved later (the "future" strategy, pilotlab.rl.her)."""
    her_k: int = 4
    """HER: relabelled copies stored per real transition."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.at_least(1, "buffer_size", "train_freq", "gradient_steps")
        self.at_least(0, "learning_starts", "her_k")


def env_spaces(cfg: DeepRLConfig, algo: str, allowed: tuple[str, ...]) -> tuple[gym.Space, gym.Space]:
    """(observation space, action space) of `cfg.env`; a one-line error if `algo` cannot act in it.

    The trainers call it before they create the run directory: it builds the env with its kwargs and
    wrapper, resets it and takes one step (`probe_env`), so input the env rejects writes nothing."""
    obs_space, act_space = probe_env(cfg.env, cfg.kwargs, cfg.env_wrapper, cfg.seed)
    goal_env, her = is_goal_space(obs_space), bool(getattr(cfg, "her", False))
    if goal_env and not isinstance(cfg, ReplayConfig):
        raise PilotlabError(f"{cfg.env} is goal-conditioned (dict observation) and {algo} has no hindsight replay; "
                            "use --algo sac, td3, ddpg or dqn with --her")
    if her and not goal_env:
        raise PilotlabError(f"--her needs a goal-conditioned env (a dict observation of observation, achieved_goal and "
                            f"desired_goal, such as FetchReach-v4); {cfg.env} observes {type(obs_space).__name__}")
    obs_shape(obs_space)  # raises for observation spaces the networks cannot encode
    kind = space_kind(act_space)
    if kind not in allowed:
        need = " or ".join("Discrete" if k == "discrete" else "Box" for k in allowed)
        raise PilotlabError(f"{algo} needs a {need} action space; {cfg.env} has {act_space}")
    if kind == "box" and len(act_space.shape) != 1:
        raise PilotlabError(f"{algo} needs a 1-D Box action space; {cfg.env} has {act_space}")
    return obs_space, act_space


def finish(run: RunDir, cfg: DeepRLConfig, policy: Policy, env_steps: int, wall_s: float) -> dict[str, Any]:
    """Final evaluation on held-out seeds, summary.json (pilotlab.core.summary keys) and figures/learning_curve.png."""
    t0 = time.perf_counter()
    result = evaluate_policy(policy, cfg.env, cfg.kwargs, cfg.eval_episodes, cfg.eval_seed)
    values: dict[str, Any] = result.summary()
    values.update({TRAIN_ENV_STEPS: env_steps, TRAIN_WALL_S: wall_s, RL_EVAL_WALL_S: time.perf_counter() - t0})
    run.log(env_steps, {k: v for k, v in values.items() if k.startswith("eval/")})
    summary = run.update_summary(values)
    if run.writable:
        rows = [r for r in run.metrics() if isinstance(r.get("train/episode_return"), float)]
        if rows:
            save_line_plot({"episode return (train)": ([r["step"] for r in rows],
                                                       [r["train/episode_return"] for r in rows])},
                           run.figure("learning_curve.png"), title=f"{cfg.env}", xlabel="env steps",
                           ylabel="return", hlines={"eval mean": values[RL_RETURN_MEAN]})
    return summary


class BestKeeper:
    """Periodic evaluation during training; the best policy so far is saved as checkpoints/best.

    Uses seeds eval-seed + 5000, ... so the final evaluation (seeds eval-seed, ...) stays held out.
    """

    def __init__(self, cfg: DeepRLConfig, run: RunDir):
        self.cfg, self.run = cfg, run
        best = run.checkpoints / "best.json"
        self.best = -math.inf
        if cfg.resume and best.is_file():
            ret = runfiles.read_json(best, runfiles.CHECKPOINT_JSON)["meta"].get("return")
            if not isinstance(ret, (int, float)) or isinstance(ret, bool):
                raise PilotlabError(f"{runfiles.quote(best)} has no 'return' in its metadata; {FIX}")
            self.best = float(ret)

    def due(self, prev: int, step: int) -> bool:
        every = self.cfg.eval_every
        return every > 0 and step // every > prev // every

    def __call__(self, step: int, policy: Policy, state: dict[str, Any]) -> None:
        cfg = self.cfg
        result = evaluate_policy(policy, cfg.env, cfg.kwargs, cfg.eval_every_episodes, cfg.eval_seed + 5000)
        ret = float(result.returns.mean())
        metrics = {"eval/periodic_return": ret}
        if result.successes is not None:
            metrics["eval/periodic_success_rate"] = float(result.successes.mean())
        self.run.log(step, metrics)
        if ret >= self.best:  # ties go to the later, longer-trained policy
            self.best = ret
            save_state(self.run, step, state, {"return": ret}, name="best")


def hindsight(cfg: ReplayConfig, run: RunDir, buffer: ReplayBuffer) -> HindsightRelabeler | None:
    """The HER relabeler feeding `buffer` when `cfg.her` (env_spaces has checked the env is goal-conditioned);
    it recomputes rewards with the compute_reward of an env of its own, closed with the run."""
    if not cfg.her:
        return None
    env = run.own(make_env(cfg.env, cfg.kwargs))
    return HindsightRelabeler(buffer, cfg.num_envs, cfg.her_k, reward_fn(env))


def final_weights(run: RunDir) -> dict[str, Any] | None:
    """The state saved in checkpoints/best, or None when the run kept no best policy."""
    if not checkpoint.exists(run.checkpoints / "best"):
        return None
    return checkpoint.load(run.checkpoints / "best")[0]


def policy_checkpoint(run: RunDir) -> str:
    """Which checkpoint holds a run's policy: best if the run kept one, else last."""
    return "best" if checkpoint.exists(run.checkpoints / "best") else "last"


def reset_seed(cfg: DeepRLConfig, step: int) -> int:
    """Seed of the envs' reset: cfg.seed for a fresh run, shifted by the step for a resumed one whose envs
    could not be rebuilt (`start_envs`)."""
    return cfg.seed if step == 0 else cfg.seed + 7919 * step


def loop_state(envs: VectorEnv, obs: np.ndarray, mask: StepMask, stats: EpisodeStats,
               pending: dict[str, list[Any]], her: HindsightRelabeler | None, keeper: BestKeeper) -> dict[str, Any]:
    """What a training loop holds between two steps besides weights, optimizers and the replay buffer, for
    checkpoints/last: the envs' running episodes (`env_state`), the observation the agent is at, which rows
    restart next, the running episode statistics, the loss values not yet logged (`pending`: lists of
    floats or scalar tensors), HER's running episodes and the best periodic return. With it a resumed run
    continues the uninterrupted one step for step."""
    state = {"envs": env_state(envs), "obs": obs, "ended": mask.ended, "stats": stats.state_dict(),
             "pending": {k: torch.stack(v) if isinstance(v[0], torch.Tensor) else np.asarray(v, dtype=np.float64)
                         for k, v in pending.items() if v},
             "her": her.state_dict() if her is not None else None,
             "best": keeper.best if math.isfinite(keeper.best) else None}
    return _tensors(state)


def start_envs(cfg: DeepRLConfig, start: Start, envs: VectorEnv, obs_space: gym.Space, mask: StepMask,
               stats: EpisodeStats, her: HindsightRelabeler | None, keeper: BestKeeper,
               ) -> tuple[Any, np.ndarray, dict[str, torch.Tensor]]:
    """(raw observations, float observations, pending loss values) the loop starts from.

    A fresh run resets the envs with cfg.seed. A resumed run puts the envs back into the episodes they were
    in at the checkpoint (replaying them, `pilotlab.rl.envs.EpisodeRecorder`) and restores `loop_state`'s
    values into `mask`, `stats`, `her` and `keeper`. If the replay does not end in the saved observations
    (an env that is not a deterministic function of its seed and actions), or the checkpoint has no loop
    state, a warning says so and the envs restart from a reset seeded by the step: the run goes on, but
    differs from an uninterrupted one from there.
    """
    loop = start.state.get("loop")
    if loop is not None:
        try:
            loop = _arrays(loop)
            raw = restore_env_state(envs, loop["envs"])
            obs = to_float_obs(raw, obs_space)
            if not np.array_equal(obs, loop["obs"]):
                raise ValueError("replaying the saved episodes ends in other observations than the saved ones "
                                 "(the env is not a deterministic function of its seed and actions)")
            mask.ended[:] = loop["ended"]
            stats.load_state_dict(loop["stats"])
            if her is not None:
                her.load_state_dict(loop["her"] or [[] for _ in range(cfg.num_envs)])
            keeper.best = -math.inf if loop["best"] is None else float(loop["best"])  # not a later best.json's
            return raw, obs, {k: torch.from_numpy(np.asarray(v)) for k, v in loop["pending"].items()}
        except Exception as e:  # a damaged state, or anything the env raises while it replays: go on, as warned
            reason = one_line(e)
        mask.reset()  # whatever was restored before the failure belongs to the episodes that are now dropped
        stats.load_state_dict(EpisodeStats(cfg.num_envs).state_dict())
        if her is not None:
            her.load_state_dict([[] for _ in range(cfg.num_envs)])
    elif start.step > 0:
        reason = "the checkpoint holds no env state (written by an older version)"
    if start.step > 0:
        print(f"warning: the envs could not be put back into their episodes ({reason}); they restart from a reset, "
              "so this resumed run differs from an uninterrupted one", file=sys.stderr)
    raw, _ = envs.reset(seed=reset_seed(cfg, start.step))
    return raw, to_float_obs(raw, obs_space), {}


def _tensors(tree: Any) -> Any:
    """NumPy arrays in a nested state -> tensors (the checkpoint stores tensors and plain values)."""
    if isinstance(tree, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(tree).copy())
    if isinstance(tree, dict):
        return {k: _tensors(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_tensors(v) for v in tree]
    return tree


def _arrays(tree: Any) -> Any:
    """Inverse of `_tensors`."""
    if isinstance(tree, torch.Tensor):
        return tree.numpy()
    if isinstance(tree, dict):
        return {k: _arrays(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_arrays(v) for v in tree]
    return tree


def clip_grad_norm(params: list[torch.Tensor], max_norm: float) -> None:
    """Scale the gradients in place so that their global L2 norm is at most `max_norm`.

    The arithmetic of `torch.nn.utils.clip_grad_norm_` (without its non-finite check) in four ops; the
    library version's per-call bookkeeping costs about as much again on a CPU, once per gradient step.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, torch.clamp(max_norm / (norm + 1e-6), max=1.0))


def as_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32))
