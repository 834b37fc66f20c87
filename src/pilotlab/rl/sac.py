"""Soft Actor-Critic (Haarnoja et al., 2018, "Soft Actor-Critic: Off-Policy Maximum Entropy Deep
Reinforcement Learning with a Stochastic Actor", and "Soft Actor-Critic Algorithms and Applications"
for the automatic entropy tuning).

SAC maximises return plus alpha times the policy's entropy. Its parts:

- a stochastic actor: a Gaussian over u whose sample is squashed, a = tanh(u), then scaled to the env's
  bounds. The log-density of the squashed action needs the change-of-variables correction
  log pi(a|s) = log N(u; mu, sigma) - sum_i log(1 - tanh(u_i)^2) (the paper's appendix C). It is the density of
  tanh(u) in [-1, 1]^A: the constant Jacobian of the affine scaling to the env's bounds is left out, so the
  target entropy -dim(A) means the same for every action range;
- twin critics (the `Critic` of DDPG/TD3) with Polyak-averaged targets; the soft TD target takes the
  minimum of the two target critics at a fresh next action and subtracts alpha log pi(a'|s');
- alpha learned so that the policy's entropy stays near the target entropy (-dim(A) by default):
  the loss -log(alpha) (log pi(a|s) + target) raises alpha when the entropy falls below the target.

Each gradient step updates the critics, then the actor on a fresh reparameterised sample, then alpha with
that sample's log-probabilities, then the target critics (the order of the authors' code). The step's gradients
are written out by hand (`SACUpdate`, the networks' passes through `pilotlab.nn.tower.ReluTower`): no autograd
graph, buffers allocated once, and no critic weight gradients for the actor's loss; the functions `critic_loss`,
`actor_loss` and `alpha_loss` state the losses they differentiate. The replay buffer, HER, the env loop,
checkpoints and the final evaluation are those of DDPG/TD3.

Defaults follow the RL Baselines3 Zoo SAC settings for Pendulum-v1 (``hyperparams/sac.yml``: lr 1e-3,
20k steps; the rest SB3's defaults: batch 256, tau 0.005, gamma 0.99, one gradient step per env step,
100 random warm-up steps, 256-256 networks, alpha initialised at 1 and tuned).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal, NamedTuple

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
from pilotlab.nn.tower import ReluTower, cat_into, grad_buffer, linears
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
from pilotlab.rl.ddpg import Critic, DeterministicPolicy, polyak
from pilotlab.rl.envs import EpisodeStats, StepMask, make_vec_env, obs_shape, to_float_obs
from pilotlab.rl.evaluate import Policy
from pilotlab.rl.networks import RunningNorm, flat_layers, run_layers
from pilotlab.rl.returns import td_target

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # the clamp of the authors' code: keeps exp(log_std) finite and nonzero


@dataclass(frozen=True, kw_only=True)
class SACConfig(ReplayConfig):
    algo: Literal["sac"] = "sac"
    """Algorithm (registry name)."""
    env: str = "Pendulum-v1"
    """Gymnasium env id with a 1-D Box action space (a goal dict observation with --her)."""
    total_steps: int = 20_000
    """Environment steps to train for (summed over the parallel envs)."""
    lr: float = 1e-3
    """Adam learning rate of actor, critics and alpha."""
    batch_size: int = 256
    buffer_size: int = 200_000
    learning_starts: int = 100
    """Env steps of uniformly random actions before learning."""
    gamma: float = 0.99
    tau: float = 0.005
    """Polyak averaging weight of the target critics."""
    train_freq: int = 1
    """Env steps between training phases."""
    gradient_steps: int = 1
    """Gradient steps per training phase."""
    init_alpha: float = 1.0
    """Initial entropy coefficient alpha."""
    autotune: bool = True
    """Learn alpha towards the target entropy; --no-autotune keeps it at init-alpha."""
    target_entropy: float | None = None
    """Entropy the tuned alpha aims for, in nats of the squashed action; None: -dim(A)."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of actor and critics."""
    normalize_obs: bool = False
    """Feed actor and critics observations shifted and scaled by their running mean and std (each part of a goal
    dict too); stored observations stay raw and are normalized with the current statistics when sampled."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.network != "mlp":
            raise PilotlabError(f"sac supports network mlp only, got {self.network!r}")
        self.in_unit("tau")
        self.positive("init_alpha")


class GaussianActor(nn.Module):
    """Squashed Gaussian policy: (B, obs) -> mean and log-std of u, action = center + scale * tanh(u)."""

    def __init__(self, obs_dim: int, act_space: gym.spaces.Box, hidden: tuple[int, ...]):
        super().__init__()
        act_dim = int(act_space.shape[0])
        self.trunk = mlp(obs_dim, hidden[:-1], hidden[-1], out_act=nn.ReLU())
        self.heads = nn.Linear(hidden[-1], 2 * act_dim)  # mean and log-std
        self.register_buffer("center", torch.as_tensor((act_space.high + act_space.low) / 2, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor((act_space.high - act_space.low) / 2, dtype=torch.float32))
        self._layers = [*flat_layers(self.trunk), self.heads]  # two passes per gradient step: no module calls

    def dist(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log_std) of u, each (B, A)."""
        mean, log_std = run_layers(self._layers, obs.flatten(1)).chunk(2, dim=1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action center + scale * tanh(mean), (B, A): what evaluation plays."""
        return self.center + self.scale * torch.tanh(self.dist(obs)[0])

    def sample(self, obs: torch.Tensor, noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised sample (action (B, A) in the env's bounds, log pi(tanh u | s) (B,)).

        `noise` is the standard normal draw eps (u = mean + std eps); None draws it from torch's generator.
        """
        mean, log_std = self.dist(obs)
        eps = torch.randn_like(mean) if noise is None else noise
        u = mean + log_std.exp() * eps
        log_prob = squashed_log_prob(u, eps, log_std)
        return self.center + self.scale * torch.tanh(u), log_prob


def squashed_log_prob(u: torch.Tensor, eps: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log density of a = tanh(u), u ~ N(mean, std), with eps = (u - mean) / std; (B, A) -> (B,).

    log N(u) = -eps^2/2 - log std - log(2 pi)/2 per dimension; the tanh correction
    log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) is the same quantity without the cancellation of
    1 - tanh(u)^2 near |u| large.
    """
    gaussian = -0.5 * eps.pow(2) - log_std - 0.5 * math.log(2 * math.pi)
    correction = 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
    return (gaussian - correction).sum(dim=1)


class Temperature(nn.Module):
    """The entropy coefficient alpha, learned through its logarithm (positive, scale-free steps)."""

    def __init__(self, init_alpha: float):
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(init_alpha)))

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp().detach()


def soft_target(rewards: torch.Tensor, next_q: torch.Tensor, next_log_prob: torch.Tensor, terminated: torch.Tensor,
                gamma: float, alpha: torch.Tensor | float) -> torch.Tensor:
    """r + gamma (1 - terminated) (min_i Q'_i(s', a') - alpha log pi(a'|s')); next_q (n, B), the rest (B,)."""
    return td_target(rewards, next_q.min(dim=0).values - alpha * next_log_prob, terminated, gamma)


def critic_target(actor: GaussianActor, critic_t: Critic, batch: ReplayBatch, gamma: float,
                  alpha: torch.Tensor | float) -> torch.Tensor:
    """The soft TD target of a batch, a' drawn from the current policy at s'; (B,)."""
    with torch.no_grad():
        next_a, next_log_prob = actor.sample(batch.next_obs)
        return soft_target(batch.rewards, critic_t(batch.next_obs, next_a), next_log_prob, batch.terminated, gamma,
                           alpha)


def critic_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum over the n critics of 1/2 E[(Q_i(s, a) - target)^2]; q (n, B), target (B,)."""
    return 0.5 * (q - target).pow(2).mean(dim=1).sum()


def actor_loss(q_pi: torch.Tensor, log_prob: torch.Tensor, alpha: torch.Tensor | float) -> torch.Tensor:
    """E[alpha log pi(a|s) - min_i Q_i(s, a)] at a reparameterised a ~ pi(.|s); q_pi (n, B), log_prob (B,)."""
    return (alpha * log_prob - q_pi.min(dim=0).values).mean()


def alpha_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """-E[log alpha (log pi(a|s) + target entropy)], log_prob (B,) detached: its gradient raises alpha when the
    entropy -E[log pi] is below the target and lowers it when above."""
    return -(log_alpha * (log_prob.detach() + target_entropy)).mean()


class PolicySample(NamedTuple):
    """A reparameterised sample of `SACUpdate`, each (B, A) but log_prob (B,)."""

    action: torch.Tensor  # center + scale tanh(u)
    log_prob: torch.Tensor  # log pi(tanh u | s), `squashed_log_prob`
    # what the actor's gradient needs (None for the target's sample):
    squashed: torch.Tensor | None = None  # tanh(u)
    dlogp_du: torch.Tensor | None = None  # d log_prob / du (per element: log_prob sums over the action's dimensions)
    eps: torch.Tensor | None = None  # the standard normal draw, u = mean + std eps
    std: torch.Tensor | None = None  # exp(log_std), log_std clamped to [LOG_STD_MIN, LOG_STD_MAX]
    inside: torch.Tensor | None = None  # bool: the raw log_std inside the clamp's range, where its gradient passes


class SACUpdate:
    """One SAC gradient step (critics, actor, alpha, target critics) with every gradient written out by hand.

    The step that `train` runs. It computes what autograd computes for `critic_loss`, `actor_loss` and
    `alpha_loss` (tests/rl/test_hand_updates.py holds the autograd version as the oracle), with the networks'
    passes through `ReluTower` (buffers allocated once, no graph, no critic weight gradients for the actor's
    loss). The gradients land in the parameters' ``.grad``, where the optimizers read them. Each loss's gradient:

    - critics: d/dQ_i of 1/2 mean_b (Q_i - y)^2 is (Q_i - y) / B;
    - actor: a = center + scale tanh(u), u = mean + exp(log_std) eps with eps fixed by the draw, so
      d log pi / du = 2 - 4 softplus'(-2u) (the tanh correction's; the Gaussian term depends on eps only)
      and d log pi / d log_std = -1 directly; the min over the critics sends -1/B to the smaller one per row
      (the first on a tie, as torch.min's gradient), so each critic's backward runs on its own rows only;
      log_std's clamp passes the gradient inside [min, max] only;
    - alpha: d/d log alpha of -mean(log alpha (log pi + target entropy)) is -mean(log pi + target entropy).
    """

    def __init__(self, actor: GaussianActor, critic: Critic, critic_t: Critic, temperature: Temperature,
                 actor_opt: FusedAdam, critic_opt: FusedAdam, alpha_opt: FusedAdam, gamma: float, tau: float,
                 target_entropy: float, autotune: bool):
        self.actor, self.temperature = actor, temperature
        self.actor_opt, self.critic_opt, self.alpha_opt = actor_opt, critic_opt, alpha_opt
        self.gamma, self.tau, self.target_entropy, self.autotune = gamma, tau, target_entropy, autotune
        self.pi = ReluTower(linears(actor))  # trunk and heads: (B, obs) -> (B, 2A), mean | raw log-std
        self.qs = [ReluTower(linears(q)) for q in critic.qs]  # (B, obs + A) -> (B, 1) each
        self.qs_t = [ReluTower(linears(q)) for q in critic_t.qs]
        self.critic_params, self.critic_t_params = list(critic.parameters()), list(critic_t.parameters())
        self.x = torch.empty(0)  # the critics' input (B, obs + A): the obs columns written once per batch

    def _policy(self, obs: torch.Tensor, grads: bool) -> PolicySample:
        """A reparameterised sample at obs (B, obs), as `GaussianActor.sample`; with `grads` also what its gradient
        needs (else those fields are None)."""
        out = self.pi.forward(obs)  # (B, 2A)
        mean, raw_log_std = out.chunk(2, dim=1)
        log_std = raw_log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        std = log_std.exp()
        eps = torch.randn_like(mean)
        u = mean + std * eps
        log_prob = squashed_log_prob(u, eps, log_std)
        squashed = torch.tanh(u)
        action = self.actor.center + self.actor.scale * squashed
        if not grads:
            return PolicySample(action, log_prob)
        # d log pi / du = 2 - 4 softplus'(-2u) (the correction's terms -u and softplus(-2u)), softplus' = sigmoid
        # below 20 and 1 above, where torch's softplus turns into the identity: the derivative of the formula as
        # computed, which autograd takes too (2 tanh(u), the same in exact arithmetic, differs by up to 4e-9
        # relative where u < -10)
        slope = torch.where(u < -10.0, 1.0, torch.sigmoid(-2.0 * u))
        return PolicySample(action, log_prob, squashed, 2.0 - 4.0 * slope, eps, std,
                            (raw_log_std >= LOG_STD_MIN) & (raw_log_std <= LOG_STD_MAX))

    def _critic_input(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """cat(obs, action) (B, obs + A) in the reused buffer."""
        self.x = cat_into(self.x, obs, action)
        return self.x

    @torch.no_grad()
    def __call__(self, batch: ReplayBatch) -> dict[str, torch.Tensor]:
        """One gradient step on `batch` (observations flat (B, obs)); returns the step's losses, alpha, entropy."""
        obs, b = batch.obs.flatten(1), batch.obs.shape[0]
        d = obs.shape[1]
        alpha = self.temperature.alpha  # ()

        # -- target: y = r + gamma (1 - terminated) (min_i Q'_i(s', a') - alpha log pi(a'|s')), a' ~ pi(.|s')
        next_a, next_log_prob, *_ = self._policy(batch.next_obs.flatten(1), grads=False)
        x = self._critic_input(batch.next_obs.flatten(1), next_a)
        next_q = torch.cat([q.forward(x) for q in self.qs_t], dim=1).t()  # (n, B)
        target = soft_target(batch.rewards, next_q, next_log_prob, batch.terminated, self.gamma, alpha)  # (B,)

        # -- critics: 1/2 mean (Q_i(s, a) - y)^2 summed over i; d/dQ_i = (Q_i - y) / B
        x = self._critic_input(obs, batch.actions)
        diff = torch.cat([q.forward(x) for q in self.qs], dim=1) - target[:, None]  # (B, n)
        loss_q = 0.5 * diff.pow(2).mean(dim=0).sum()
        grad_q = diff / b  # (B, n)
        for i, q in enumerate(self.qs):
            q.backward(grad_q[:, i : i + 1])
        self.critic_opt.step()

        # -- actor: mean(alpha log pi(a|s) - min_i Q_i(s, a)) at a fresh a ~ pi(.|s)
        pi = self._policy(obs, grads=True)
        action, log_prob = pi.action, pi.log_prob
        x[:, d:].copy_(action)  # the obs columns are the batch's already
        q_pi = torch.cat([q.forward(x) for q in self.qs], dim=1).t()  # (n, B)
        q_min, smaller = q_pi.min(dim=0)  # (B,) each
        loss_pi = (alpha * log_prob - q_min).mean()
        # d loss / d action (B, A) through the critics' inputs only: each row from the critic that is its minimum
        grad_a = torch.empty_like(action)
        for i, q in enumerate(self.qs):
            rows = (smaller == i).nonzero().squeeze(1)  # (R,)
            grad_q = torch.full((len(rows), 1), -1.0 / b, dtype=obs.dtype, device=obs.device)  # (R, 1)
            grad_a.index_copy_(0, rows, q.input_grad(grad_q, slice(d, None), rows))
        grad_u = grad_a * self.actor.scale * (1.0 - pi.squashed.pow(2)) + (alpha / b) * pi.dlogp_du  # (B, A)
        grad_log_std = (grad_u * pi.std * pi.eps - alpha / b) * pi.inside  # (B, A)
        self.pi.backward(torch.cat([grad_u, grad_log_std], dim=1))
        self.actor_opt.step()

        # -- alpha: -mean(log alpha (log pi + target entropy)); d/d log alpha = -mean(log pi + target entropy)
        out: dict[str, torch.Tensor] = {}
        if self.autotune:
            log_alpha = self.temperature.log_alpha
            excess = log_prob + self.target_entropy  # (B,)
            out["losses/alpha_loss"] = -(log_alpha * excess).mean()
            grad_buffer(log_alpha).copy_(-excess.mean())
            self.alpha_opt.step()
        out.update({"losses/critic_loss": loss_q, "losses/actor_loss": loss_pi, "losses/entropy": -log_prob.mean(),
                    "losses/alpha": alpha})

        polyak(self.critic_t_params, self.critic_params, self.tau)
        return out


def build(cfg: SACConfig, obs_space: gym.Space, act_space: gym.spaces.Box) -> tuple[GaussianActor, Critic]:
    obs_dim = math.prod(obs_shape(obs_space))
    return GaussianActor(obs_dim, act_space, cfg.hidden), Critic(obs_dim, int(act_space.shape[0]), cfg.hidden, 2)


def build_norm(cfg: SACConfig, obs_space: gym.Space) -> nn.Module:
    """The observation normalizer (`RunningNorm`) with --normalize-obs, else the identity."""
    return RunningNorm((math.prod(obs_shape(obs_space)),)) if cfg.normalize_obs else nn.Identity()


def train(cfg: SACConfig) -> RunDir:
    """Train SAC on `cfg.env`; returns the run directory."""
    obs_space, act_space = env_spaces(cfg, "sac", ("box",))
    run, device = setup(cfg, "rl", "sac")
    with run:
        actor, critic = (m.to(device) for m in build(cfg, obs_space, act_space))
        _, critic_t = (m.to(device) for m in build(cfg, obs_space, act_space))
        norm = build_norm(cfg, obs_space).to(device)
        policy = nn.Sequential(norm, actor)  # what evaluation plays: actor(normalized obs)
        critic_t.load_state_dict(critic.state_dict())
        critic_t.requires_grad_(False)
        temperature = Temperature(cfg.init_alpha).to(device)
        actor_opt = FusedAdam(actor.parameters(), lr=cfg.lr)
        critic_opt = FusedAdam(critic.parameters(), lr=cfg.lr)
        alpha_opt = FusedAdam(temperature.parameters(), lr=cfg.lr)
        buffer = ReplayBuffer(cfg.buffer_size, obs_shape(obs_space), tuple(act_space.shape), discrete=False)
        start = restore(run, cfg, {"actor": actor, "critic": critic, "critic_target": critic_t, "norm": norm,
                                   "temperature": temperature, "actor_optim": actor_opt, "critic_optim": critic_opt,
                                   "alpha_optim": alpha_opt, "buffer": buffer}, {"updates": int})
        step, updates, wall = start.step, int(start.meta.get("updates", 0)), start.wall_s
        her = hindsight(cfg, run, buffer)
        target_entropy = -float(act_space.shape[0]) if cfg.target_entropy is None else cfg.target_entropy

        n_env, low, high = cfg.num_envs, act_space.low, act_space.high
        envs = run.own(make_vec_env(cfg.env, n_env, cfg.kwargs, cfg.vector_env, cfg.env_wrapper))
        mask, stats, keeper = StepMask(n_env), EpisodeStats(n_env), BestKeeper(cfg, run)
        raw_obs, obs, pending = start_envs(cfg, start, envs, obs_space, mask, stats, her, keeper)  # obs (N, obs_dim)
        update = SACUpdate(actor, critic, critic_t, temperature, actor_opt, critic_opt, alpha_opt, cfg.gamma, cfg.tau,
                           target_entropy, cfg.autotune)
        logged: dict[str, list[torch.Tensor]] = {k: list(v) for k, v in pending.items()}  # read once per log line
        progress = run.own(Progress(cfg.total_steps, f"rl sac {cfg.env}", initial=step, enabled=run.writable))
        t0, last_log_t, last_log_step = time.perf_counter(), time.perf_counter(), step
        while step < cfg.total_steps:
            # -- act: uniform random during warm-up, then a sample of the squashed Gaussian
            if step < cfg.learning_starts:
                actions = np.random.uniform(low, high, size=(n_env, *act_space.shape)).astype(np.float32)
            else:
                with torch.no_grad():
                    actions = actor.sample(norm(torch.as_tensor(obs, device=device)))[0].cpu().numpy()  # (N, A)
            raw_next, rewards, term, trunc, _ = envs.step(actions)
            next_obs = to_float_obs(raw_next, obs_space)
            valid = mask.valid()  # drop next-step-autoreset rows
            if her is not None:  # whole episodes go in when they end, with their relabelled copies
                her.add(raw_obs, actions, rewards, raw_next, term, trunc, valid)
            else:
                buffer.add(obs[valid], actions[valid], rewards[valid], next_obs[valid], term[valid])
            stats.update(rewards, valid, term | trunc)
            mask.update(term, trunc)
            if cfg.normalize_obs and valid.any():
                norm.update(torch.as_tensor(next_obs[valid], device=device))  # the states the envs reached
            raw_obs, obs = raw_next, next_obs
            prev, step = step, step + n_env
            progress.update(n_env)

            # -- learn
            if step > cfg.learning_starts and len(buffer) > 0 and step // cfg.train_freq > prev // cfg.train_freq:
                batches = buffer.sample_many(cfg.gradient_steps, cfg.batch_size)  # fields (G, B, ...)
                for g in range(cfg.gradient_steps):
                    batch = ReplayBatch(*(field[g].to(device) for field in batches))
                    if cfg.normalize_obs:  # with the current statistics, as SB3's VecNormalize does at sampling
                        batch = batch._replace(obs=norm(batch.obs), next_obs=norm(batch.next_obs))
                    for name, value in update(batch).items():
                        logged.setdefault(name, []).append(value)
                    updates += 1

            # -- log and checkpoint
            if step // cfg.log_every > prev // cfg.log_every or step >= cfg.total_steps:
                now = time.perf_counter()
                metrics = stats.pop()
                metrics.update({k: torch.stack(v).mean().item() for k, v in logged.items()})
                metrics["train/steps_per_s"] = (step - last_log_step) / (now - last_log_t)
                if "losses/critic_loss" in metrics:
                    check_finite(metrics["losses/critic_loss"], "losses/critic_loss", step)
                run.log(step, metrics)
                logged.clear()
                last_log_t, last_log_step = now, step
            if keeper.due(prev, step):  # before the checkpoint, which holds its best return
                keeper(step, DeterministicPolicy(policy, device), {"actor": actor.state_dict(),
                                                                     "norm": norm.state_dict()})
                policy.train()
            if step // cfg.checkpoint_every > prev // cfg.checkpoint_every or step >= cfg.total_steps:
                save_state(run, step, {"actor": actor.state_dict(), "critic": critic.state_dict(),
                                       "critic_target": critic_t.state_dict(), "temperature": temperature.state_dict(),
                                       "norm": norm.state_dict(), "actor_optim": actor_opt.state_dict(),
                                       "critic_optim": critic_opt.state_dict(), "alpha_optim": alpha_opt.state_dict(),
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
    """The deterministic SAC policy, center + scale * tanh(mean) (checkpoints/best if kept, else last)."""
    from pilotlab.core.config import from_dict

    cfg = from_dict(SACConfig, run.config()["config"])
    obs_space, act_space = env_spaces(cfg, "sac", ("box",))
    actor, _ = build(cfg, obs_space, act_space)
    norm = build_norm(cfg, obs_space)
    state, _ = load_weights(run, policy_checkpoint(run))
    actor.load_state_dict(state["actor"])
    norm.load_state_dict(state.get("norm", {}))
    return DeterministicPolicy(nn.Sequential(norm, actor).to(device), torch.device(device))
