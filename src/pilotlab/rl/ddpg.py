"""DDPG (Lillicrap et al., 2016, "Continuous control with deep reinforcement learning") and TD3
(Fujimoto et al., 2018, "Addressing Function Approximation Error in Actor-Critic Methods").

Both learn a deterministic actor mu(s) and a critic Q(s, a) from a replay buffer with Polyak-averaged
target networks. TD3 adds its three fixes: twin critics with the minimum as target (clipped double
Q), target policy smoothing (clipped Gaussian noise on the target action), and delayed actor and
target updates (every `policy_delay` critic updates). DDPG here is Fujimoto's "OurDDPG" baseline:
the same networks and loop, one critic, no smoothing, no delay.

Defaults follow the RL Baselines3 Zoo TD3 settings for Pendulum-v1 (``hyperparams/td3.yml``):
gamma 0.98, lr 1e-3, 10k random warm-up steps, Gaussian exploration noise 0.1, one gradient step
per env step done once per episode (200 steps); tau 0.005, batch 256, policy noise 0.2 clipped at
0.5 and delay 2 are the paper's. The networks are 256-256 MLPs (the Zoo uses 400-300; 256-256 is
the CleanRL default and about half the compute on a CPU). Actions are scaled to the env's bounds.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pilotlab.core.errors import PilotlabError, check_finite
from pilotlab.core.progress import Progress
from pilotlab.core.run import RunDir
from pilotlab.core.session import load_weights, restore, save_state, setup
from pilotlab.nn import mlp
from pilotlab.nn.adam import FusedAdam
from pilotlab.rl.buffers import ReplayBatch, ReplayBuffer
from pilotlab.rl.common import (
    BestKeeper,
    ReplayConfig,
    env_spaces,
    final_weights,
    finish,
    hindsight,
    loop_state,
    policy_checkpoint,
    start_envs,
)
from pilotlab.rl.envs import EpisodeStats, StepMask, make_vec_env, obs_shape, to_float_obs
from pilotlab.rl.evaluate import Policy
from pilotlab.rl.her import is_goal_space
from pilotlab.rl.networks import flat_layers, run_layers
from pilotlab.rl.returns import td_target


@dataclass(frozen=True, kw_only=True)
class DDPGConfig(ReplayConfig):
    algo: Literal["ddpg", "td3"] = "td3"
    """td3 (twin critics, target smoothing, delayed actor) or ddpg (one critic, no tricks)."""
    env: str = "Pendulum-v1"
    """Gymnasium env id with a 1-D Box action space."""
    total_steps: int = 20_000
    """Environment steps to train for (summed over the parallel envs)."""
    lr: float = 1e-3
    """Adam learning rate of actor and critic."""
    batch_size: int = 256
    buffer_size: int = 200_000
    learning_starts: int = 10_000
    """Env steps of uniformly random actions before learning."""
    gamma: float = 0.98
    tau: float = 0.005
    """Polyak averaging weight of the target networks."""
    train_freq: int = 200
    """Env steps between training phases (200 = one Pendulum episode)."""
    gradient_steps: int = 200
    """Critic updates per training phase."""
    exploration_noise: float = 0.1
    """Std of the Gaussian action noise while collecting, as a fraction of the action half-range."""
    policy_noise: float = 0.2
    """TD3 target smoothing noise std (fraction of the half-range)."""
    noise_clip: float = 0.5
    """TD3 target smoothing noise clip (fraction of the half-range)."""
    policy_delay: int = 2
    """TD3: critic updates per actor (and target) update."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of actor and critic."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.network != "mlp":
            raise PilotlabError(f"{self.algo} supports network mlp only, got {self.network!r}")
        self.at_least(1, "policy_delay")
        self.in_unit("tau")
        for name in ("exploration_noise", "policy_noise", "noise_clip"):
            if getattr(self, name) < 0:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")


class Actor(nn.Module):
    """(B, *obs_shape) -> (B, A) deterministic action inside [low, high] (tanh, then affine)."""

    def __init__(self, obs_dim: int, act_space: gym.spaces.Box, hidden: tuple[int, ...]):
        super().__init__()
        self.net = mlp(obs_dim, hidden, int(act_space.shape[0]), out_act=nn.Tanh())
        self.register_buffer("center", torch.as_tensor((act_space.high + act_space.low) / 2, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor((act_space.high - act_space.low) / 2, dtype=torch.float32))
        self._layers = flat_layers(self.net)  # called once per gradient step: no module-call overhead

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.center + self.scale * run_layers(self._layers, obs.flatten(1))  # (B, A)


class Critic(nn.Module):
    """Q(s, a) for `n` independent critics: (B, obs), (B, A) -> (n, B)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], n: int):
        super().__init__()
        self.qs = nn.ModuleList(mlp(obs_dim + act_dim, hidden, 1) for _ in range(n))
        self._layers = [flat_layers(q) for q in self.qs]  # 3 critic passes per SAC gradient step: no module calls

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs.flatten(1), action], dim=1)  # (B, obs_dim + A)
        return torch.stack([run_layers(layers, x).squeeze(1) for layers in self._layers])  # (n, B)

    def q1(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The first critic alone, (B,): TD3's actor loss."""
        return run_layers(self._layers[0], torch.cat([obs.flatten(1), action], dim=1)).squeeze(1)


def critic_target(actor_t: Actor, critic_t: Critic, batch: ReplayBatch, gamma: float, policy_noise: float,
                  noise_clip: float) -> torch.Tensor:
    """TD target with the minimum over target critics and (TD3) clipped noise on the target action; (B,)."""
    with torch.no_grad():
        next_a = actor_t(batch.next_obs)  # (B, A)
        if policy_noise > 0:
            noise = (torch.randn_like(next_a) * policy_noise).clamp(-noise_clip, noise_clip) * actor_t.scale
            low, high = actor_t.center - actor_t.scale, actor_t.center + actor_t.scale
            next_a = torch.max(torch.min(next_a + noise, high), low)
        next_q = critic_t(batch.next_obs, next_a).min(dim=0).values  # (B,)
        return td_target(batch.rewards, next_q, batch.terminated, gamma)


def polyak(target: list[torch.Tensor], online: list[torch.Tensor], tau: float) -> None:
    """target <- (1 - tau) target + tau online, in place."""
    with torch.no_grad():
        torch._foreach_lerp_(target, online, tau)  # one call for all tensors (a loop of lerp_ costs more on a CPU)


class DeterministicPolicy:
    """The actor mu(s) on a batch of raw observations."""

    def __init__(self, actor: Actor, device: torch.device):
        self.actor, self.device = actor.eval(), device

    @torch.no_grad()
    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x = to_float_obs(obs, None)  # goal dicts are flattened
        return self.actor(torch.as_tensor(x, device=self.device)).cpu().numpy()


def build(cfg: DDPGConfig, obs_space: gym.Space, act_space: gym.spaces.Box) -> tuple[Actor, Critic]:
    obs_dim = math.prod(obs_shape(obs_space))
    return Actor(obs_dim, act_space, cfg.hidden), Critic(obs_dim, int(act_space.shape[0]), cfg.hidden,
                                                         2 if cfg.algo == "td3" else 1)


def train(cfg: DDPGConfig) -> RunDir:
    """Train DDPG or TD3 on `cfg.env`; returns the run directory."""
    obs_space, act_space = env_spaces(cfg, cfg.algo, ("box",))
    if not isinstance(obs_space, gym.spaces.Box) and not is_goal_space(obs_space):
        raise PilotlabError(f"{cfg.algo} needs a Box observation space; {cfg.env} has {obs_space}")
    run, device = setup(cfg, "rl", cfg.algo)
    with run:
        actor, critic = (m.to(device) for m in build(cfg, obs_space, act_space))
        actor_t, critic_t = (m.to(device) for m in build(cfg, obs_space, act_space))
        actor_t.load_state_dict(actor.state_dict())
        critic_t.load_state_dict(critic.state_dict())
        actor_opt = FusedAdam(actor.parameters(), lr=cfg.lr)
        critic_opt = FusedAdam(critic.parameters(), lr=cfg.lr)
        buffer = ReplayBuffer(cfg.buffer_size, obs_shape(obs_space), tuple(act_space.shape), discrete=False)
        start = restore(run, cfg, {"actor": actor, "critic": critic, "actor_target": actor_t,
                                   "critic_target": critic_t, "actor_optim": actor_opt, "critic_optim": critic_opt,
                                   "buffer": buffer}, {"updates": int})
        step, updates, wall = start.step, int(start.meta.get("updates", 0)), start.wall_s
        her = hindsight(cfg, run, buffer)

        smoothing = (cfg.policy_noise, cfg.noise_clip) if cfg.algo == "td3" else (0.0, 0.0)
        delay = cfg.policy_delay if cfg.algo == "td3" else 1
        n_env, low, high = cfg.num_envs, act_space.low, act_space.high
        half = (high - low) / 2
        envs = run.own(make_vec_env(cfg.env, n_env, cfg.kwargs, cfg.vector_env, cfg.env_wrapper))
        mask, stats, keeper = StepMask(n_env), EpisodeStats(n_env), BestKeeper(cfg, run)
        raw_obs, obs, pending = start_envs(cfg, start, envs, obs_space, mask, stats, her, keeper)  # obs (N, obs_dim)
        params = {"actor": list(actor.parameters()), "critic": list(critic.parameters()),
                  "actor_t": list(actor_t.parameters()), "critic_t": list(critic_t.parameters())}
        logged: dict[str, list[float]] = {k: v.tolist() for k, v in pending.items()}
        progress = run.own(Progress(cfg.total_steps, f"rl {cfg.algo} {cfg.env}", initial=step,
                                    enabled=run.writable))
        t0, last_log_t, last_log_step = time.perf_counter(), time.perf_counter(), step
        while step < cfg.total_steps:
            # -- act: uniform random during warm-up, then mu(s) + Gaussian noise, clipped to the bounds
            if step < cfg.learning_starts:
                actions = np.random.uniform(low, high, size=(n_env, *act_space.shape)).astype(np.float32)
            else:
                with torch.no_grad():
                    actions = actor(torch.as_tensor(obs, device=device)).cpu().numpy()  # (N, A)
                noise = np.random.normal(0.0, cfg.exploration_noise, actions.shape) * half
                actions = np.clip(actions + noise, low, high)
            raw_next, rewards, term, trunc, _ = envs.step(actions)
            next_obs = to_float_obs(raw_next, obs_space)
            valid = mask.valid()  # drop next-step-autoreset rows
            if her is not None:  # whole episodes go in when they end, with their relabelled copies
                her.add(raw_obs, actions, rewards, raw_next, term, trunc, valid)
            else:
                buffer.add(obs[valid], actions[valid], rewards[valid], next_obs[valid], term[valid])
            stats.update(rewards, valid, term | trunc)
            mask.update(term, trunc)
            raw_obs, obs = raw_next, next_obs
            prev, step = step, step + n_env
            progress.update(n_env)

            # -- learn
            if step > cfg.learning_starts and len(buffer) > 0 and step // cfg.train_freq > prev // cfg.train_freq:
                batches = buffer.sample_many(cfg.gradient_steps, cfg.batch_size)  # fields (G, B, ...)
                for g in range(cfg.gradient_steps):
                    batch = ReplayBatch(*(field[g].to(device) for field in batches))
                    target = critic_target(actor_t, critic_t, batch, cfg.gamma, *smoothing)  # (B,)
                    q = critic(batch.obs, batch.actions)  # (n, B)
                    critic_loss = F.mse_loss(q, target.expand_as(q), reduction="none").mean(1).sum()
                    critic_opt.zero_grad(set_to_none=True)
                    critic_loss.backward()
                    critic_opt.step()
                    updates += 1
                    logged.setdefault("losses/critic_loss", []).append(critic_loss.item())
                    if updates % delay == 0:
                        for p in params["critic"]:  # the actor's loss needs dQ/da, not the critic's weight gradients
                            p.requires_grad_(False)
                        actor_loss = -critic.q1(batch.obs, actor(batch.obs)).mean()
                        actor_opt.zero_grad(set_to_none=True)
                        actor_loss.backward()
                        actor_opt.step()
                        for p in params["critic"]:
                            p.requires_grad_(True)
                        polyak(params["actor_t"], params["actor"], cfg.tau)
                        polyak(params["critic_t"], params["critic"], cfg.tau)
                        logged.setdefault("losses/actor_loss", []).append(actor_loss.item())

            # -- log and checkpoint
            if step // cfg.log_every > prev // cfg.log_every or step >= cfg.total_steps:
                now = time.perf_counter()
                metrics = stats.pop()
                metrics.update({k: float(np.mean(v)) for k, v in logged.items()})
                metrics["train/steps_per_s"] = (step - last_log_step) / (now - last_log_t)
                if "losses/critic_loss" in metrics:
                    check_finite(metrics["losses/critic_loss"], "losses/critic_loss", step)
                run.log(step, metrics)
                logged.clear()
                last_log_t, last_log_step = now, step
            if keeper.due(prev, step):  # before the checkpoint, which holds its best return
                keeper(step, DeterministicPolicy(actor, device), {"actor": actor.state_dict()})
                actor.train()
            if step // cfg.checkpoint_every > prev // cfg.checkpoint_every or step >= cfg.total_steps:
                save_state(run, step, {"actor": actor.state_dict(), "critic": critic.state_dict(),
                                       "actor_target": actor_t.state_dict(), "critic_target": critic_t.state_dict(),
                                       "actor_optim": actor_opt.state_dict(), "critic_optim": critic_opt.state_dict(),
                                       "buffer": buffer.state_dict(),
                                       "loop": loop_state(envs, obs, mask, stats, logged, her, keeper)},
                           {"wall_s": wall + time.perf_counter() - t0, "updates": updates})
        envs.close()
        progress.close()
        wall += time.perf_counter() - t0
        best = final_weights(run)
        if best is not None:
            actor.load_state_dict(best["actor"])
        finish(run, cfg, DeterministicPolicy(actor, device), step, wall)
    return run


def load_policy(run: RunDir, device: torch.device | str = "cpu") -> Policy:
    """The deterministic actor of a trained DDPG/TD3 run (checkpoints/best if kept, else checkpoints/last)."""
    from pilotlab.core.config import from_dict

    cfg = from_dict(DDPGConfig, run.config()["config"])
    obs_space, act_space = env_spaces(cfg, cfg.algo, ("box",))
    actor, _ = build(cfg, obs_space, act_space)
    state, _ = load_weights(run, policy_checkpoint(run))
    actor.load_state_dict(state["actor"])
    return DeterministicPolicy(actor.to(device), torch.device(device))
