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

The gradient step is written out by hand (`TD3Update`, the networks' passes through
`pilotlab.nn.tower.ReluTower`): no autograd graph, buffers allocated once, no critic weight gradients for the
actor's loss; `critic_target` and `actor_loss` state what it computes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from pilotlab.core.errors import PilotlabError, check_finite
from pilotlab.core.progress import Progress
from pilotlab.core.run import RunDir
from pilotlab.core.session import load_weights, restore, save_state, setup
from pilotlab.nn import mlp
from pilotlab.nn.adam import FusedAdam
from pilotlab.nn.tower import ReluTower, cat_into, linears
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
from pilotlab.rl.networks import RunningNorm, flat_layers, run_layers
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
    normalize_obs: bool = False
    """Feed actor and critic observations shifted and scaled by the running mean and std of what they learn from
    (one sampled batch per training phase: with HER, relabelled goals included), the std floored at 0.01 and the
    result clipped to +-5 (the HER paper's normalizer); the buffer keeps raw observations."""
    action_l2: float = 0.0
    """Weight of the mean squared action (in units of the half-range) added to the actor's loss; keeps mu(s) off
    the tanh's flat ends (Andrychowicz et al. 2017, appendix: 1.0 on the Fetch tasks)."""
    clip_target: bool = False
    """Clip TD targets to [-1/(1 - gamma), 0], the range of every return of rewards in [-1, 0] (the sparse
    rewards of goal-conditioned envs; the HER paper's setting)."""
    random_eps: float = 0.0
    """Probability that an exploration action is uniform over the bounds instead of mu(s) + noise (the HER
    paper's Fetch setting: 0.3)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.network != "mlp":
            raise PilotlabError(f"{self.algo} supports network mlp only, got {self.network!r}")
        self.at_least(1, "policy_delay")
        self.in_unit("tau", "random_eps")
        if not math.isfinite(self.action_l2) or self.action_l2 < 0:
            raise PilotlabError(f"action-l2 must be a finite number >= 0, got {self.action_l2}")
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
                  noise_clip: float, clip: tuple[float, float] | None = None) -> torch.Tensor:
    """TD target with the minimum over target critics and (TD3) clipped noise on the target action, clamped to
    `clip` (low, high) where given; (B,)."""
    with torch.no_grad():
        next_a = actor_t(batch.next_obs)  # (B, A)
        if policy_noise > 0:
            noise = (torch.randn_like(next_a) * policy_noise).clamp(-noise_clip, noise_clip) * actor_t.scale
            low, high = actor_t.center - actor_t.scale, actor_t.center + actor_t.scale
            next_a = torch.max(torch.min(next_a + noise, high), low)
        next_q = critic_t(batch.next_obs, next_a).min(dim=0).values  # (B,)
        target = td_target(batch.rewards, next_q, batch.terminated, gamma)
        return target if clip is None else target.clamp(*clip)


def explore(mu: np.ndarray, low: np.ndarray, high: np.ndarray, noise: float, random_eps: float) -> np.ndarray:
    """Exploration actions (N, A) from mu(s) (N, A): Gaussian noise of std `noise` half-ranges, clipped to the
    bounds; each row replaced by a uniform draw over the bounds with probability `random_eps` (numpy's global
    generator, whose draws the checkpoints keep)."""
    actions = np.clip(mu + np.random.normal(0.0, noise, mu.shape) * (high - low) / 2, low, high)
    if random_eps > 0:
        uniform = np.random.uniform(low, high, size=mu.shape)
        actions = np.where(np.random.random((len(mu), 1)) < random_eps, uniform, actions)
    return actions


def actor_loss(q: torch.Tensor, action: torch.Tensor, actor: Actor, action_l2: float) -> torch.Tensor:
    """-mean Q(s, mu(s)) plus `action_l2` times the mean squared action in units of the half-range; q (B,),
    action (B, A)."""
    loss = -q.mean()
    if action_l2 > 0:
        loss = loss + action_l2 * ((action - actor.center) / actor.scale).pow(2).mean()
    return loss


def polyak(target: list[torch.Tensor], online: list[torch.Tensor], tau: float) -> None:
    """target <- (1 - tau) target + tau online, in place."""
    with torch.no_grad():
        torch._foreach_lerp_(target, online, tau)  # one call for all tensors (a loop of lerp_ costs more on a CPU)


class TD3Update:
    """One DDPG/TD3 gradient step (critics; every `policy_delay`-th call also the actor and the targets) with every
    gradient written out by hand.

    The step that `train` runs. It computes what autograd computes for the critic loss (sum over the critics of
    mean_b (Q_i - y)^2, d/dQ_i = 2 (Q_i - y) / B) and `actor_loss` (tests/rl/test_hand_updates.py holds the
    autograd version as the oracle), with the networks' passes through `ReluTower` (buffers allocated once, no
    graph). The actor's loss -mean Q_1(s, mu(s)) reaches the actor through the first critic's input gradient only
    (no critic weight gradients); mu(s) = center + scale tanh(z), so d mu / dz = scale (1 - tanh(z)^2), and the
    action penalty action_l2 mean(tanh(z)^2) adds action_l2 2 tanh(z) / (B A) to d loss / d tanh(z).
    """

    def __init__(self, actor: Actor, critic: Critic, actor_t: Actor, critic_t: Critic, actor_opt: FusedAdam,
                 critic_opt: FusedAdam, gamma: float, tau: float, policy_noise: float, noise_clip: float,
                 clip: tuple[float, float] | None, action_l2: float):
        self.actor, self.actor_opt, self.critic_opt = actor, actor_opt, critic_opt
        self.gamma, self.tau, self.action_l2, self.clip = gamma, tau, action_l2, clip
        self.policy_noise, self.noise_clip = policy_noise, noise_clip
        self.mu, self.mu_t = ReluTower(linears(actor)), ReluTower(linears(actor_t))  # (B, obs) -> (B, A), pre-tanh
        self.qs = [ReluTower(linears(q)) for q in critic.qs]  # (B, obs + A) -> (B, 1) each
        self.qs_t = [ReluTower(linears(q)) for q in critic_t.qs]
        self.online = list(actor.parameters()) + list(critic.parameters())
        self.targets = list(actor_t.parameters()) + list(critic_t.parameters())
        self.x = torch.empty(0)  # the critics' input (B, obs + A), reused

    def _critic_input(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """cat(obs, action) (B, obs + A) in the reused buffer."""
        self.x = cat_into(self.x, obs, action)
        return self.x

    @torch.no_grad()
    def __call__(self, batch: ReplayBatch, update_actor: bool) -> dict[str, float]:
        """One critic step on `batch` (observations flat (B, obs)), then with `update_actor` one actor step and
        the Polyak update of both targets; returns the losses."""
        obs, b = batch.obs.flatten(1), batch.obs.shape[0]
        d = obs.shape[1]
        center, scale = self.actor.center, self.actor.scale

        # -- target: y = r + gamma (1 - terminated) min_i Q'_i(s', a'), a' = mu'(s') (+ clipped noise, TD3)
        next_obs = batch.next_obs.flatten(1)
        next_a = center + scale * torch.tanh(self.mu_t.forward(next_obs))  # (B, A)
        if self.policy_noise > 0:
            noise = (torch.randn_like(next_a) * self.policy_noise).clamp(-self.noise_clip, self.noise_clip) * scale
            next_a = torch.max(torch.min(next_a + noise, center + scale), center - scale)
        x = self._critic_input(next_obs, next_a)
        next_q = torch.cat([q.forward(x) for q in self.qs_t], dim=1).min(dim=1).values  # (B,)
        target = td_target(batch.rewards, next_q, batch.terminated, self.gamma)
        if self.clip is not None:
            target = target.clamp(*self.clip)

        # -- critics: mean (Q_i(s, a) - y)^2 summed over i; d/dQ_i = 2 (Q_i - y) / B
        x = self._critic_input(obs, batch.actions)
        diff = torch.cat([q.forward(x) for q in self.qs], dim=1) - target[:, None]  # (B, n)
        loss_q = diff.pow(2).mean(dim=0).sum()
        grad_q = diff * (2.0 / b)  # (B, n)
        for i, q in enumerate(self.qs):
            q.backward(grad_q[:, i : i + 1])
        self.critic_opt.step()
        out = {"losses/critic_loss": loss_q.item()}
        if not update_actor:
            return out

        # -- actor: -mean Q_1(s, mu(s)) + action_l2 mean(tanh(z)^2), mu(s) = center + scale tanh(z)
        squashed = torch.tanh(self.mu.forward(obs))  # (B, A)
        action = center + scale * squashed
        x[:, d:].copy_(action)  # the obs columns are the batch's already
        q1 = self.qs[0].forward(x)  # (B, 1)
        grad_a = self.qs[0].backward(torch.full_like(q1, -1.0 / b), weight_grads=False, input_cols=slice(d, None))
        grad_squashed = grad_a * scale  # (B, A)
        loss_pi = -q1.mean()
        if self.action_l2 > 0:
            unit = (action - center) / scale  # tanh(z) up to rounding, as actor_loss computes it
            loss_pi = loss_pi + self.action_l2 * unit.pow(2).mean()
            grad_squashed += (2.0 * self.action_l2 / unit.numel()) * unit
        self.mu.backward(grad_squashed * (1.0 - squashed.pow(2)))
        self.actor_opt.step()
        polyak(self.targets, self.online, self.tau)
        out["losses/actor_loss"] = loss_pi.item()
        return out


class DeterministicPolicy:
    """The actor mu(s) on a batch of raw observations (`actor` may be normalizer + actor)."""

    def __init__(self, actor: nn.Module, device: torch.device):
        self.actor, self.device = actor.eval(), device

    @torch.no_grad()
    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x = to_float_obs(obs, None)  # goal dicts are flattened
        return self.actor(torch.as_tensor(x, device=self.device)).cpu().numpy()


def build(cfg: DDPGConfig, obs_space: gym.Space, act_space: gym.spaces.Box) -> tuple[Actor, Critic]:
    obs_dim = math.prod(obs_shape(obs_space))
    return Actor(obs_dim, act_space, cfg.hidden), Critic(obs_dim, int(act_space.shape[0]), cfg.hidden,
                                                         2 if cfg.algo == "td3" else 1)


def build_norm(cfg: DDPGConfig, obs_space: gym.Space) -> nn.Module:
    """The observation normalizer (`RunningNorm`, the HER paper's floor 0.01 and clip 5) with --normalize-obs, else
    the identity."""
    if not cfg.normalize_obs:
        return nn.Identity()
    return RunningNorm((math.prod(obs_shape(obs_space)),), min_std=0.01, clip=5.0)


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
        norm = build_norm(cfg, obs_space).to(device)
        policy = nn.Sequential(norm, actor)  # what evaluation plays: actor(normalized obs)
        actor_opt = FusedAdam(actor.parameters(), lr=cfg.lr)
        critic_opt = FusedAdam(critic.parameters(), lr=cfg.lr)
        buffer = ReplayBuffer(cfg.buffer_size, obs_shape(obs_space), tuple(act_space.shape), discrete=False)
        start = restore(run, cfg, {"actor": actor, "critic": critic, "actor_target": actor_t,
                                   "critic_target": critic_t, "norm": norm, "actor_optim": actor_opt,
                                   "critic_optim": critic_opt, "buffer": buffer}, {"updates": int})
        step, updates, wall = start.step, int(start.meta.get("updates", 0)), start.wall_s
        her = hindsight(cfg, run, buffer)

        smoothing = (cfg.policy_noise, cfg.noise_clip) if cfg.algo == "td3" else (0.0, 0.0)
        delay = cfg.policy_delay if cfg.algo == "td3" else 1
        clip = (-1.0 / (1.0 - cfg.gamma) if cfg.gamma < 1 else -math.inf, 0.0) if cfg.clip_target else None
        n_env, low, high = cfg.num_envs, act_space.low, act_space.high
        envs = run.own(make_vec_env(cfg.env, n_env, cfg.kwargs, cfg.vector_env, cfg.env_wrapper))
        mask, stats, keeper = StepMask(n_env), EpisodeStats(n_env), BestKeeper(cfg, run)
        raw_obs, obs, pending = start_envs(cfg, start, envs, obs_space, mask, stats, her, keeper)  # obs (N, obs_dim)
        update = TD3Update(actor, critic, actor_t, critic_t, actor_opt, critic_opt, cfg.gamma, cfg.tau, *smoothing,
                           clip, cfg.action_l2)
        logged: dict[str, list[float]] = {k: v.tolist() for k, v in pending.items()}
        progress = run.own(Progress(cfg.total_steps, f"rl {cfg.algo} {cfg.env}", initial=step,
                                    enabled=run.writable))
        t0, last_log_t, last_log_step = time.perf_counter(), time.perf_counter(), step
        while step < cfg.total_steps:
            # -- act: uniform random during warm-up, then mu(s) + Gaussian noise, clipped to the bounds (and with
            # probability random_eps uniform instead)
            if step < cfg.learning_starts:
                actions = np.random.uniform(low, high, size=(n_env, *act_space.shape)).astype(np.float32)
            else:
                with torch.no_grad():
                    mu = policy(torch.as_tensor(obs, device=device)).cpu().numpy()  # (N, A)
                actions = explore(mu, low, high, cfg.exploration_noise, cfg.random_eps)
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
                if cfg.normalize_obs:  # the statistics of what the networks learn from: the buffer's rows, relabelled
                    norm.update(batches.obs[0].to(device))  # goals included (the goals of the envs alone differ)
                for g in range(cfg.gradient_steps):
                    batch = ReplayBatch(*(field[g].to(device) for field in batches))
                    if cfg.normalize_obs:
                        batch = batch._replace(obs=norm(batch.obs), next_obs=norm(batch.next_obs))
                    updates += 1
                    for name, value in update(batch, update_actor=updates % delay == 0).items():
                        logged.setdefault(name, []).append(value)

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
                keeper(step, DeterministicPolicy(policy, device),
                       {"actor": actor.state_dict(), "norm": norm.state_dict()})
                policy.train()
            if step // cfg.checkpoint_every > prev // cfg.checkpoint_every or step >= cfg.total_steps:
                save_state(run, step, {"actor": actor.state_dict(), "critic": critic.state_dict(),
                                       "actor_target": actor_t.state_dict(), "critic_target": critic_t.state_dict(),
                                       "norm": norm.state_dict(), "actor_optim": actor_opt.state_dict(),
                                       "critic_optim": critic_opt.state_dict(),
                                       "buffer": buffer.state_dict(),
                                       "loop": loop_state(envs, obs, mask, stats, logged, her, keeper)},
                           {"wall_s": wall + time.perf_counter() - t0, "updates": updates})
        envs.close()
        progress.close()
        wall += time.perf_counter() - t0
        best = final_weights(run)
        if best is not None:
            actor.load_state_dict(best["actor"])
            norm.load_state_dict(best.get("norm", {}))
        finish(run, cfg, DeterministicPolicy(policy, device), step, wall)
    return run


def load_policy(run: RunDir, device: torch.device | str = "cpu") -> Policy:
    """The deterministic actor of a trained DDPG/TD3 run (checkpoints/best if kept, else checkpoints/last)."""
    from pilotlab.core.config import from_dict

    cfg = from_dict(DDPGConfig, run.config()["config"])
    obs_space, act_space = env_spaces(cfg, cfg.algo, ("box",))
    actor, _ = build(cfg, obs_space, act_space)
    norm = build_norm(cfg, obs_space)
    state, _ = load_weights(run, policy_checkpoint(run))
    actor.load_state_dict(state["actor"])
    norm.load_state_dict(state.get("norm", {}))
    return DeterministicPolicy(nn.Sequential(norm, actor).to(device), torch.device(device))
