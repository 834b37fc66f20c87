"""Proximal Policy Optimization (Schulman et al., 2017) with GAE (Schulman et al., 2016) for discrete
(categorical) and continuous (diagonal Gaussian) actions over a Gymnasium 1.x `SyncVectorEnv`.

Defaults are the RL Baselines3 Zoo hyperparameters for CartPole-v1 (``hyperparams/ppo.yml``): 8 envs,
32 steps each per rollout, one minibatch of 256, 20 epochs, gamma 0.98, lambda 0.8, learning rate
1e-3 and clip range 0.2 both annealed linearly to 0, no entropy bonus. The rest follows SB3's
defaults: separate 64-64 tanh MLPs for policy and value, orthogonal initialization, value loss
weight 0.5, gradient clip 0.5, advantages normalized per minibatch. Value clipping and running
observation normalization are optional.

Under next-step autoreset the step after an episode end is a reset step: its action is ignored by the
env, so it is masked out of every loss (`valid`), and GAE neither learns from it nor bootstraps
through it (see `returns.gae`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from pilotlab.core.errors import PilotlabError, check_finite
from pilotlab.core.progress import Progress
from pilotlab.core.run import RunDir
from pilotlab.core.session import load_weights, restore, save_state, setup
from pilotlab.rl.common import (
    BestKeeper,
    DeepRLConfig,
    env_spaces,
    final_weights,
    finish,
    policy_checkpoint,
    reset_seed,
)
from pilotlab.rl.envs import EpisodeStats, StepMask, make_vec_env, obs_shape, to_float_obs
from pilotlab.rl.evaluate import Policy
from pilotlab.rl.networks import build_encoder
from pilotlab.rl.returns import gae


@dataclass(frozen=True, kw_only=True)
class PPOConfig(DeepRLConfig):
    algo: Literal["ppo"] = "ppo"
    """Algorithm (registry name)."""
    total_steps: int = 100_000
    """Environment steps to train for (summed over the parallel envs)."""
    num_envs: int = 8
    """Parallel environments in the SyncVectorEnv."""
    n_steps: int = 32
    """Steps per env per rollout (rollout size = n-steps x num-envs)."""
    batch_size: int = 256
    """Minibatch size of the PPO updates."""
    n_epochs: int = 20
    """Passes over each rollout."""
    lr: float = 1e-3
    """Adam learning rate (annealed linearly to 0 with --anneal-lr)."""
    anneal_lr: bool = True
    """Anneal the learning rate and the clip range linearly to 0 over training (RL Zoo's lin_ schedules)."""
    gamma: float = 0.98
    """Discount factor."""
    gae_lambda: float = 0.8
    """GAE lambda."""
    clip_range: float = 0.2
    """PPO ratio clip epsilon."""
    clip_range_vf: float | None = None
    """Clip value predictions to this distance from the old values (None: no value clipping)."""
    ent_coef: float = 0.0
    """Entropy bonus weight."""
    vf_coef: float = 0.5
    """Value loss weight."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""
    normalize_obs: bool = False
    """Normalize observations with running mean/std (saved with the policy)."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of the policy and the value network (separate networks)."""
    activation: Literal["tanh", "relu"] = "tanh"
    """Hidden activation."""
    log_std_init: float = 0.0
    """Initial log standard deviation of the Gaussian policy (continuous actions)."""
    log_every: int = 2048
    """Log train/ and losses/ metrics every this many env steps (at rollout ends)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_steps", "batch_size", "n_epochs"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        self.positive("lr", "clip_range", "max_grad_norm")
        self.in_unit("gamma", "gae_lambda")
        if self.ent_coef < 0 or self.vf_coef < 0:
            raise PilotlabError("ent-coef and vf-coef must be >= 0")
        if self.clip_range_vf is not None and self.clip_range_vf <= 0:
            raise PilotlabError(f"clip-range-vf must be > 0 or None, got {self.clip_range_vf}")
        if any(h < 1 for h in self.hidden):
            raise PilotlabError(f"hidden sizes must be >= 1, got {self.hidden}")


CONFIGS: dict[str, type[PPOConfig]] = {"ppo": PPOConfig}


class RunningNorm(nn.Module):
    """Running mean/variance of observations (Chan et al. parallel update); normalizes and clips to +-10."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("var", torch.ones(shape))
        self.register_buffer("count", torch.tensor(1e-4))

    def update(self, x: torch.Tensor) -> None:
        b_mean, b_var, b = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta, total = b_mean - self.mean, self.count + b
        self.mean += delta * b / total
        self.var.copy_((self.var * self.count + b_var * b + delta.pow(2) * self.count * b / total) / total)
        self.count += b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / torch.sqrt(self.var + 1e-8)).clamp(-10.0, 10.0)


def _init(module: nn.Module, gain: float) -> nn.Module:
    """Orthogonal weights with `gain` (sqrt 2 hidden, 0.01 policy output, 1 value output), zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.orthogonal_(m.weight, gain)
            nn.init.zeros_(m.bias)
    return module


class ActorCritic(nn.Module):
    """Separate policy and value networks over (optionally normalized) observations."""

    def __init__(self, cfg: PPOConfig, obs_space: gym.Space, act_space: gym.Space):
        super().__init__()
        shape = obs_shape(obs_space)
        self.discrete = isinstance(act_space, gym.spaces.Discrete)
        n_out = int(act_space.n) if self.discrete else int(act_space.shape[0])
        self.norm = RunningNorm(shape) if cfg.normalize_obs else None
        self.pi_body = _init(build_encoder(cfg.network, shape, cfg.hidden, cfg.activation), math.sqrt(2))
        self.v_body = _init(build_encoder(cfg.network, shape, cfg.hidden, cfg.activation), math.sqrt(2))
        self.pi_head = _init(nn.Linear(self.pi_body.out_dim, n_out), 0.01)
        self.v_head = _init(nn.Linear(self.v_body.out_dim, 1), 1.0)
        self.log_std = None if self.discrete else nn.Parameter(torch.full((n_out,), cfg.log_std_init))

    def prepare(self, obs: torch.Tensor) -> torch.Tensor:
        return obs if self.norm is None else self.norm(obs)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self.v_head(self.v_body(x)).squeeze(-1)  # (B,)

    def dist_params(self, x: torch.Tensor) -> torch.Tensor:
        return self.pi_head(self.pi_body(x))  # (B, A) logits or Gaussian means

    def log_prob_entropy(self, params: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) and the entropy, both (B,)."""
        if self.discrete:
            logp = torch.log_softmax(params, dim=-1)  # (B, A)
            chosen = logp.gather(1, actions.long().unsqueeze(1)).squeeze(1)
            return chosen, -(logp.exp() * logp).sum(-1)
        assert self.log_std is not None
        var = torch.exp(2 * self.log_std)
        logp = -((actions - params) ** 2) / (2 * var) - self.log_std - 0.5 * math.log(2 * math.pi)
        ent = (0.5 + 0.5 * math.log(2 * math.pi) + self.log_std).sum().expand(params.shape[0])
        return logp.sum(-1), ent

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return torch.multinomial(torch.softmax(params, dim=-1), 1).squeeze(1)  # (B,)
        assert self.log_std is not None
        return params + torch.exp(self.log_std) * torch.randn_like(params)  # (B, A)

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        return params.argmax(-1) if self.discrete else params


class Rollout(NamedTuple):
    """One rollout, time-major: every field (T, N, ...)."""

    obs: torch.Tensor  # (T, N, *obs_shape)
    actions: torch.Tensor  # (T, N) or (T, N, A)
    log_probs: torch.Tensor  # (T, N)
    values: torch.Tensor  # (T, N)
    rewards: torch.Tensor  # (T, N)
    terminated: torch.Tensor  # (T, N) bool
    truncated: torch.Tensor  # (T, N) bool
    valid: torch.Tensor  # (T, N) bool, False on next-step-autoreset steps


def ppo_losses(model: ActorCritic, obs: torch.Tensor, actions: torch.Tensor, old_logp: torch.Tensor,
               old_values: torch.Tensor, adv: torch.Tensor, returns: torch.Tensor, clip: float,
               clip_vf: float | None) -> dict[str, torch.Tensor]:
    """Clipped surrogate, (optionally clipped) value loss, entropy and diagnostics for one minibatch."""
    logp, entropy = model.log_prob_entropy(model.dist_params(obs), actions)
    log_ratio = logp - old_logp
    ratio = log_ratio.exp()
    adv = (adv - adv.mean()) / (adv.std(unbiased=False) + 1e-8)
    policy_loss = -torch.min(adv * ratio, adv * ratio.clamp(1 - clip, 1 + clip)).mean()
    values = model.value(obs)
    if clip_vf is not None:
        values = old_values + (values - old_values).clamp(-clip_vf, clip_vf)
    value_loss = (returns - values).pow(2).mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - log_ratio).mean()  # Schulman's low-variance KL estimator
        clip_frac = ((ratio - 1).abs() > clip).float().mean()
    return {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy.mean(),
            "approx_kl": approx_kl, "clip_fraction": clip_frac}


class PPOPolicy:
    """Deterministic policy: the most likely action (argmax, or the Gaussian mean clipped to bounds)."""

    def __init__(self, model: ActorCritic, obs_space: gym.Space, act_space: gym.Space, device: torch.device):
        self.model, self.obs_space, self.device = model.eval(), obs_space, device
        box = isinstance(act_space, gym.spaces.Box)
        self.low = torch.as_tensor(act_space.low) if box else None
        self.high = torch.as_tensor(act_space.high) if box else None

    @torch.no_grad()
    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x = self.model.prepare(torch.as_tensor(to_float_obs(obs, self.obs_space), device=self.device))
        act = self.model.mode(self.model.dist_params(x)).cpu()
        if self.low is not None:
            act = torch.max(torch.min(act, self.high), self.low)
        return act.numpy()


def train(cfg: PPOConfig) -> RunDir:
    """Train PPO on `cfg.env`; returns the run directory."""
    obs_space, act_space = env_spaces(cfg, "ppo", ("discrete", "box"))
    run, device = setup(cfg, "rl", "ppo")
    model = ActorCritic(cfg, obs_space, act_space).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=1e-5, fused=device.type == "cpu")
    step, wall = 0, 0.0
    restored = restore(run, cfg)
    if restored is not None:
        state, meta = restored
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        step, wall = int(meta["step"]), float(meta["wall_s"])

    n_env, t_len = cfg.num_envs, cfg.n_steps
    envs = make_vec_env(cfg.env, n_env, cfg.kwargs)
    raw_obs, _ = envs.reset(seed=reset_seed(cfg, step))
    obs = torch.as_tensor(to_float_obs(raw_obs, obs_space))  # (N, *obs_shape)
    mask, stats = StepMask(n_env), EpisodeStats(n_env)
    box = isinstance(act_space, gym.spaces.Box)
    low, high = (act_space.low, act_space.high) if box else (None, None)
    progress = Progress(cfg.total_steps, f"rl ppo {cfg.env}", initial=step, enabled=run.writable)
    t0, last_log_t, last_log_step = time.perf_counter(), time.perf_counter(), step
    logged: dict[str, list[float]] = {}
    keeper = BestKeeper(cfg, run)
    params = list(model.parameters())
    while step < cfg.total_steps:
        frac = 1.0 - step / cfg.total_steps if cfg.anneal_lr else 1.0
        for group in opt.param_groups:
            group["lr"] = cfg.lr * frac
        clip = cfg.clip_range * frac
        # -- rollout: T batched steps of the N envs
        buf: dict[str, list[Any]] = {k: [] for k in Rollout._fields}
        with torch.no_grad():
            for _ in range(t_len):
                if cfg.normalize_obs and model.norm is not None:
                    model.norm.update(obs.to(device))
                x = model.prepare(obs.to(device))
                params = model.dist_params(x)
                action = model.sample(params)
                logp, _ = model.log_prob_entropy(params, action)
                value = model.value(x)
                env_action = action.cpu().numpy()
                if box:
                    env_action = np.clip(env_action, low, high)
                raw_obs, rewards, term, trunc, _ = envs.step(env_action)
                valid = mask.valid()
                stats.update(rewards, valid, term | trunc)
                mask.update(term, trunc)
                for key, val in zip(Rollout._fields, (obs, action.cpu(), logp.cpu(), value.cpu(),
                                                      torch.as_tensor(rewards, dtype=torch.float32),
                                                      torch.as_tensor(term), torch.as_tensor(trunc),
                                                      torch.as_tensor(valid))):
                    buf[key].append(val)
                obs = torch.as_tensor(to_float_obs(raw_obs, obs_space))
            last_value = model.value(model.prepare(obs.to(device))).cpu()  # (N,)
        ro = Rollout(*(torch.stack(buf[k]) for k in Rollout._fields))  # each (T, N, ...)
        adv, returns = gae(ro.rewards, ro.values, last_value, ro.terminated, ro.truncated, ro.valid,
                           cfg.gamma, cfg.gae_lambda)
        prev, step = step, step + t_len * n_env
        progress.update(t_len * n_env)

        # -- update: n_epochs passes of shuffled minibatches over the valid samples
        keep = ro.valid.flatten().nonzero().squeeze(1)  # indices into the flat (T*N,) rollout
        flat = [t.flatten(0, 1)[keep].to(device) for t in (ro.obs, ro.actions, ro.log_probs, ro.values)]
        f_adv, f_ret = adv.flatten()[keep].to(device), returns.flatten()[keep].to(device)
        n_batches = max(1, round(len(keep) / cfg.batch_size))
        for _ in range(cfg.n_epochs):
            for idx in torch.randperm(len(keep)).chunk(n_batches):
                o, a, lp, v = (t[idx] for t in flat)
                terms = ppo_losses(model, model.prepare(o), a, lp, v, f_adv[idx], f_ret[idx], clip, cfg.clip_range_vf)
                loss = terms["policy_loss"] + cfg.vf_coef * terms["value_loss"] - cfg.ent_coef * terms["entropy"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                opt.step()
                for k, val in terms.items():
                    logged.setdefault(f"losses/{k}", []).append(val.item())

        # -- log and checkpoint
        if step // cfg.log_every > prev // cfg.log_every or step >= cfg.total_steps:
            now = time.perf_counter()
            metrics = stats.pop()
            metrics.update({k: float(np.mean(v)) for k, v in logged.items()})
            metrics.update({"train/lr": cfg.lr * frac, "train/clip_range": clip,
                            "train/steps_per_s": (step - last_log_step) / (now - last_log_t)})
            check_finite(metrics.get("losses/value_loss", 0.0), "losses/value_loss", step)
            run.log(step, metrics)
            logged.clear()
            last_log_t, last_log_step = now, step
        if step // cfg.checkpoint_every > prev // cfg.checkpoint_every or step >= cfg.total_steps:
            save_state(run, step, {"model": model.state_dict(), "optim": opt.state_dict()},
                       {"wall_s": wall + time.perf_counter() - t0})
        if keeper.due(prev, step):
            keeper(step, PPOPolicy(model, obs_space, act_space, device), {"model": model.state_dict()})
            model.train()
    envs.close()
    progress.close()
    wall += time.perf_counter() - t0
    best = final_weights(run)
    if best is not None:
        model.load_state_dict(best["model"])
    finish(run, cfg, PPOPolicy(model, obs_space, act_space, device), step, wall)
    run.close()
    return run


def load_policy(run: RunDir, device: torch.device | str = "cpu") -> Policy:
    """The deterministic policy of a trained PPO run (checkpoints/best if kept, else checkpoints/last)."""
    from pilotlab.core.config import from_dict

    cfg = from_dict(PPOConfig, run.config()["config"])
    obs_space, act_space = env_spaces(cfg, "ppo", ("discrete", "box"))
    model = ActorCritic(cfg, obs_space, act_space)
    state, _ = load_weights(run, policy_checkpoint(run))
    model.load_state_dict(state["model"])
    return PPOPolicy(model.to(device), obs_space, act_space, torch.device(device))
