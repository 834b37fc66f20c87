"""Proximal Policy Optimization (Schulman et al., 2017) with GAE (Schulman et al., 2016) for discrete
(categorical) and continuous (diagonal Gaussian) actions over a Gymnasium 1.x `SyncVectorEnv`.

Defaults are the RL Baselines3 Zoo hyperparameters for CartPole-v1 (``hyperparams/ppo.yml``): 8 envs,
32 steps each per rollout, one minibatch of 256, 20 epochs, gamma 0.98, lambda 0.8, learning rate
1e-3 and clip range 0.2 both annealed linearly to 0, no entropy bonus. The rest follows SB3's
defaults: separate 64-64 tanh MLPs for policy and value, orthogonal initialization, value loss
weight 0.5, gradient clip 0.5, advantages normalized per minibatch. Value clipping, running
observation normalization and reward scaling (SB3's VecNormalize) are optional, and so is generalized
state-dependent exploration (gSDE; Raffin, Kober and Stulp, "Smooth Exploration for Robotic Reinforcement
Learning", CoRL 2021), which RL Zoo's MountainCarContinuous and Pendulum entries use.

Under next-step autoreset the step after an episode end is a reset step: its action is ignored by the
env, so it is masked out of every loss (`valid`), and GAE neither learns from it nor bootstraps
through it (see `returns.gae`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
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
from pilotlab.nn.adam import FusedAdam
from pilotlab.rl.batched_envs import BatchedEnv
from pilotlab.rl.common import (
    BestKeeper,
    DeepRLConfig,
    clip_grad_norm,
    env_spaces,
    final_weights,
    finish,
    loop_state,
    policy_checkpoint,
    start_envs,
)
from pilotlab.rl.envs import EpisodeStats, StepMask, make_vec_env, obs_shape, to_float_obs
from pilotlab.rl.evaluate import Policy
from pilotlab.rl.networks import RunningNorm, build_encoder
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
    normalize_reward: bool = False
    """Divide each reward by the running std of the discounted return (gamma), clipped to +-10, for the
    losses only: the value targets stay near unit scale, so the value loss does not dominate the shared
    gradient clip. Logged returns stay unscaled (SB3's VecNormalize reward half, RL Zoo's normalize)."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of the policy and the value network (separate networks)."""
    activation: Literal["tanh", "relu"] = "tanh"
    """Hidden activation."""
    ortho_init: bool = True
    """Orthogonal initialization (gains sqrt 2 hidden, 0.01 policy head, 1 value head; SB3's default); off:
    PyTorch's default uniform initialization of every layer (SB3's ortho_init=False)."""
    log_std_init: float = 0.0
    """Initial log standard deviation of the Gaussian policy (continuous actions); with --sde, of every entry of
    the noise matrix."""
    sde: bool = False
    """Generalized state-dependent exploration (gSDE, continuous actions; RL Zoo's use_sde): an action's noise
    is the policy's last hidden features times a Gaussian matrix (one learned std per feature and action)
    drawn per env at each rollout's start, so the noise changes smoothly with the state instead of at every
    step; its log-probability is that of the Gaussian with std sqrt(sum_i h_i^2 std_ij^2 + 1e-6), the
    features h taken as constants (SB3's defaults: full_std, no learned features, no expln)."""
    sde_sample_freq: int = field(default=-1, metadata={"signed": True})
    """With --sde: draw new noise matrices every this many steps of a rollout (-1: once per rollout)."""
    log_every: int = 2048
    """Log train/ and losses/ metrics every this many env steps (at rollout ends)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.at_least(1, "n_steps", "n_epochs")
        self.positive("clip_range", "max_grad_norm")
        self.in_unit("gae_lambda")
        if self.ent_coef < 0 or self.vf_coef < 0:
            raise PilotlabError("ent-coef and vf-coef must be >= 0")
        if self.clip_range_vf is not None and self.clip_range_vf <= 0:
            raise PilotlabError(f"clip-range-vf must be > 0 or None, got {self.clip_range_vf}")
        if self.sde_sample_freq != -1 and self.sde_sample_freq < 1:
            raise PilotlabError(f"sde-sample-freq must be -1 (once per rollout) or >= 1, got {self.sde_sample_freq}")


SDE_EPS = 1e-6  # added to gSDE's action variance (SB3's StateDependentNoiseDistribution.epsilon)


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
        init = _init if cfg.ortho_init else (lambda module, gain: module)
        self.pi_body = init(build_encoder(cfg.network, shape, cfg.hidden, cfg.activation), math.sqrt(2))
        self.v_body = init(build_encoder(cfg.network, shape, cfg.hidden, cfg.activation), math.sqrt(2))
        self.pi_head = init(nn.Linear(self.pi_body.out_dim, n_out), 0.01)
        self.v_head = init(nn.Linear(self.v_body.out_dim, 1), 1.0)
        self.n_act = n_out
        self.sde = cfg.sde and not self.discrete
        # gSDE: one log std per (feature, action) pair, (H, A); else one per action, (A,)
        std_shape = (self.pi_body.out_dim, n_out) if self.sde else (n_out,)
        self.log_std = None if self.discrete else nn.Parameter(torch.full(std_shape, cfg.log_std_init))
        # reward scaling state: running stats of the discounted return and each env's running return; buffers, so
        # checkpoints (and an exact resume) keep them; the policy itself never reads them
        self.gamma = cfg.gamma
        self.ret_norm = RunningNorm(()) if cfg.normalize_reward else None
        if cfg.normalize_reward:
            self.register_buffer("ret", torch.zeros(cfg.num_envs))

    def scale_rewards(self, rewards: np.ndarray, valid: np.ndarray, ended: np.ndarray) -> np.ndarray:
        """Rewards (N,) divided by the running std of the discounted return, clipped to +-10 (SB3's
        VecNormalize: the return is accumulated and its statistics updated before the division, and reset
        at an episode end). Reset steps of next-step autoreset (`valid` False) carry no reward and leave
        the statistics alone."""
        assert self.ret_norm is not None
        r = torch.from_numpy(rewards)
        ok = torch.from_numpy(valid)
        self.ret.mul_(self.gamma).add_(r)
        if bool(ok.any()):
            self.ret_norm.update(self.ret[ok])
        out = (r / torch.sqrt(self.ret_norm.var + 1e-8)).clamp(-10.0, 10.0)
        self.ret[torch.from_numpy(ended)] = 0.0
        return out.numpy()

    def prepare(self, obs: torch.Tensor) -> torch.Tensor:
        return obs if self.norm is None else self.norm(obs)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self.v_head(self.v_body(x)).squeeze(-1)  # (B,)

    def dist_params(self, x: torch.Tensor) -> torch.Tensor:
        """(B, A) logits or Gaussian means; with gSDE (B, 2A): the means, then the per-state stds."""
        h = self.pi_body(x)  # (B, H)
        if not self.sde:
            return self.pi_head(h)
        assert self.log_std is not None
        var = (h.detach() ** 2) @ torch.exp(2 * self.log_std)  # (B, H) @ (H, A) -> (B, A)
        return torch.cat([self.pi_head(h), torch.sqrt(var + SDE_EPS)], dim=-1)  # (B, 2A)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """gSDE's last hidden features h (B, H) and the Gaussian means (B, A)."""
        h = self.pi_body(x)
        return h, self.pi_head(h)

    def _mean_log_std(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gaussian means and log stds, both (B, A) (the stds broadcast from (A,) without gSDE)."""
        assert self.log_std is not None
        if self.sde:
            mean, std = params.split(self.n_act, dim=-1)
            return mean, torch.log(std)
        return params, self.log_std.expand_as(params)

    def log_prob(self, params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log pi(a|s), (B,)."""
        if self.discrete:
            logp = torch.log_softmax(params, dim=-1)  # (B, A)
            return logp.gather(1, actions.long().unsqueeze(1)).squeeze(1)
        mean, log_std = self._mean_log_std(params)
        var = torch.exp(2 * log_std)
        logp = -((actions - mean) ** 2) / (2 * var) - log_std - 0.5 * math.log(2 * math.pi)  # (B, A)
        return logp.sum(-1)

    def entropy(self, params: torch.Tensor) -> torch.Tensor:
        """Entropy of pi(.|s), (B,)."""
        if self.discrete:
            logp = torch.log_softmax(params, dim=-1)  # (B, A)
            return -(logp.exp() * logp).sum(-1)
        assert self.log_std is not None
        if self.sde:
            return (0.5 + 0.5 * math.log(2 * math.pi) + self._mean_log_std(params)[1]).sum(-1)
        return (0.5 + 0.5 * math.log(2 * math.pi) + self.log_std).sum().expand(params.shape[0])

    def log_prob_entropy(self, params: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) and the entropy, both (B,)."""
        return self.log_prob(params, actions), self.entropy(params)

    def sample(self, params: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return torch.multinomial(torch.softmax(params, dim=-1), 1).squeeze(1)  # (B,)
        mean, log_std = self._mean_log_std(params)  # gSDE: its per-step marginal (the rollout draws correlated noise)
        return mean + torch.exp(log_std) * torch.randn_like(mean)  # (B, A)

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        return params.argmax(-1) if self.discrete else params[..., : self.n_act]


def sample_actions(params: np.ndarray, log_std: np.ndarray | None) -> np.ndarray:
    """a ~ pi(.|s) drawn with NumPy's global generator (seeded and checkpointed with the run).

    Categorical (log_std None): logits (B, A) -> (B,) int64 by inverse CDF. Gaussian: means (B, A) ->
    means + exp(log_std) * N(0, 1) noise, (B, A) float32. Same distributions as `ActorCritic.sample`;
    NumPy because these are a few tiny ops per env step, each several times cheaper than in torch.
    """
    if log_std is None:
        cdf = np.cumsum(np.exp(params - params.max(axis=1, keepdims=True)), axis=1)  # (B, A) unnormalized
        u = np.random.random((len(cdf), 1)) * cdf[:, -1:]  # (B, 1) uniform on [0, total)
        return (u >= cdf[:, :-1]).sum(axis=1)  # (B,) first action whose cumulative mass exceeds u
    return (params + np.exp(log_std) * np.random.standard_normal(params.shape)).astype(np.float32)


def sde_noise_matrices(log_std: np.ndarray, n_env: int) -> np.ndarray:
    """gSDE's exploration matrices, one per env: (N, H, A), entry (n, i, j) ~ N(0, exp(log_std[i, j])^2)."""
    return (np.exp(log_std) * np.random.standard_normal((n_env, *log_std.shape))).astype(np.float32)


class Rollout(NamedTuple):
    """One rollout, time-major: every field (T, N, ...)."""

    obs: torch.Tensor  # (T, N, *obs_shape) as the policy saw them (normalized with normalize-obs)
    actions: torch.Tensor  # (T, N) or (T, N, A)
    log_probs: torch.Tensor  # (T, N)
    values: torch.Tensor  # (T, N)
    rewards: torch.Tensor  # (T, N)
    terminated: torch.Tensor  # (T, N) bool
    truncated: torch.Tensor  # (T, N) bool
    valid: torch.Tensor  # (T, N) bool, False on next-step-autoreset steps


def ppo_losses(model: ActorCritic, obs: torch.Tensor, actions: torch.Tensor, old_logp: torch.Tensor,
               old_values: torch.Tensor, adv: torch.Tensor, returns: torch.Tensor, clip: float,
               clip_vf: float | None, entropy: bool = True, diagnostics: bool = True, normalize_adv: bool = True,
               ) -> dict[str, torch.Tensor]:
    """Clipped surrogate, (optionally clipped) value loss, entropy and diagnostics for one minibatch.

    Advantages are normalized over the minibatch (`normalize_adv=False`: the caller already did, e.g. once
    for a minibatch that is the whole rollout). `entropy=False` leaves the entropy out (no bonus: ent-coef
    0) and `diagnostics=False` the logged-only approx_kl and clip_fraction: on a CPU each small op costs
    microseconds, and PPO runs thousands of minibatches.
    """
    params = model.dist_params(obs)
    logp = model.log_prob(params, actions)
    log_ratio = logp - old_logp
    ratio = log_ratio.exp()
    if normalize_adv:
        adv = normalize(adv)
    policy_loss = -torch.min(adv * ratio, adv * ratio.clamp(1 - clip, 1 + clip)).mean()
    values = model.value(obs)
    if clip_vf is not None:
        values = old_values + (values - old_values).clamp(-clip_vf, clip_vf)
    out = {"policy_loss": policy_loss, "value_loss": F.mse_loss(values, returns)}
    if entropy or diagnostics:
        out["entropy"] = model.entropy(params).mean()
    if diagnostics:
        with torch.no_grad():
            out["approx_kl"] = ((ratio - 1) - log_ratio).mean()  # Schulman's low-variance KL estimator
            out["clip_fraction"] = ((ratio - 1).abs() > clip).float().mean()
    return out


def normalize(adv: torch.Tensor) -> torch.Tensor:
    """Advantages shifted and scaled to mean 0, std 1 (SB3's per-minibatch normalization)."""
    return (adv - adv.mean()) / (adv.std(unbiased=False) + 1e-8)


class PPOPolicy:
    """Deterministic policy: the most likely action (argmax, or the Gaussian mean clipped to bounds)."""

    def __init__(self, model: ActorCritic, obs_space: gym.Space, act_space: gym.Space, device: torch.device):
        self.model, self.obs_space, self.device = model.eval(), obs_space, device
        box = isinstance(act_space, gym.spaces.Box)
        self.low = torch.as_tensor(act_space.low) if box else None
        self.high = torch.as_tensor(act_space.high) if box else None

    @torch.inference_mode()
    def scores(self, obs: np.ndarray) -> np.ndarray:
        """Action logits (B, A) of a discrete policy: what a caller ranks actions by when it must skip some."""
        if not self.model.discrete:
            raise PilotlabError("scores are defined for discrete action spaces only")
        x = self.model.prepare(torch.from_numpy(to_float_obs(obs, self.obs_space)).to(self.device))
        return self.model.dist_params(x).cpu().numpy()

    @torch.inference_mode()
    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x = self.model.prepare(torch.from_numpy(to_float_obs(obs, self.obs_space)).to(self.device))
        act = self.model.mode(self.model.dist_params(x)).cpu()
        if self.low is not None:
            act = torch.max(torch.min(act, self.high), self.low)
        return act.numpy()


def train(cfg: PPOConfig) -> RunDir:
    """Train PPO on `cfg.env`; returns the run directory."""
    obs_space, act_space = env_spaces(cfg, "ppo", ("discrete", "box"))
    if cfg.sde and not isinstance(act_space, gym.spaces.Box):
        raise PilotlabError(f"--sde needs continuous actions; {cfg.env} has {act_space}: drop --sde")
    run, device = setup(cfg, "rl", "ppo")
    with run:
        model = ActorCritic(cfg, obs_space, act_space).to(device)
        opt = FusedAdam(model.parameters(), lr=cfg.lr, eps=1e-5)
        start = restore(run, cfg, {"model": model, "optim": opt})
        step, wall = start.step, start.wall_s

        n_env, t_len = cfg.num_envs, cfg.n_steps
        envs = run.own(make_vec_env(cfg.env, n_env, cfg.kwargs, cfg.vector_env, cfg.env_wrapper))
        batched = isinstance(envs, BatchedEnv)
        mask, stats, keeper = StepMask(n_env), EpisodeStats(n_env), BestKeeper(cfg, run)
        raw_obs, obs, pending = start_envs(cfg, start, envs, obs_space, mask, stats, None, keeper)  # (N, *obs_shape)
        box = isinstance(act_space, gym.spaces.Box)
        low, high = (act_space.low, act_space.high) if box else (None, None)
        progress = run.own(Progress(cfg.total_steps, f"rl ppo {cfg.env}", initial=step, enabled=run.writable))
        t0, last_log_t, last_log_step = time.perf_counter(), time.perf_counter(), step
        logged: dict[str, list[torch.Tensor]] = {k: list(v) for k, v in pending.items()}  # read once per log line
        weights = list(model.parameters())
        # rollout storage as NumPy arrays, reused (a NumPy row write costs a fraction of a torch one)
        obs_buf = np.zeros((t_len, *obs.shape), dtype=np.float32)  # (T, N, *obs_shape) raw
        x_buf = obs_buf if model.norm is None else np.zeros_like(obs_buf)  # (T, N, *obs_shape) normalized
        act_buf = np.zeros((t_len, n_env, *act_space.shape), dtype=np.float32 if box else np.int64)  # (T, N[, A])
        rew_buf = np.zeros((t_len, n_env), dtype=np.float32)
        term_buf, trunc_buf, valid_buf = (np.zeros((t_len, n_env), dtype=bool) for _ in range(3))
        while step < cfg.total_steps:
            frac = 1.0 - step / cfg.total_steps if cfg.anneal_lr else 1.0
            for group in opt.param_groups:
                group["lr"] = cfg.lr * frac
            clip = cfg.clip_range * frac
            # -- rollout: T batched steps of the N envs; per step only the policy's forward pass runs in torch
            log_std = None if model.log_std is None else model.log_std.detach().cpu().numpy()
            with torch.no_grad():
                for t in range(t_len):
                    x = torch.from_numpy(obs).to(device)
                    if model.norm is not None:
                        model.norm.update(x)
                        x = model.norm(x)
                        x_buf[t] = x.cpu().numpy()
                    obs_buf[t] = obs
                    if model.sde:  # noise = h @ theta, theta redrawn per env at the rollout's start (and every freq)
                        if t == 0 or (cfg.sde_sample_freq > 0 and t % cfg.sde_sample_freq == 0):
                            theta = sde_noise_matrices(log_std, n_env)  # (N, H, A)
                        h, mean = (v.cpu().numpy() for v in model.features(x))  # (N, H), (N, A)
                        act_buf[t] = action = mean + np.einsum("nh,nha->na", h, theta)
                    else:
                        act_buf[t] = action = sample_actions(model.dist_params(x).cpu().numpy(), log_std)
                    if batched:  # float32 observations as they come, the env's own flags for the restarting rows
                        np.logical_not(envs.ended, out=valid_buf[t])
                        obs, rew_buf[t], term_buf[t], trunc_buf[t], _ = envs.step(np.clip(action, low, high) if box
                                                                                  else action)
                    else:
                        raw_obs, rew_buf[t], term_buf[t], trunc_buf[t], _ = envs.step(np.clip(action, low, high) if box
                                                                                      else action)
                        valid_buf[t] = mask.valid()
                        mask.update(term_buf[t], trunc_buf[t])
                        obs = to_float_obs(raw_obs, obs_space)
                    stats.update(rew_buf[t], valid_buf[t], term_buf[t] | trunc_buf[t])  # unscaled returns
                    if model.ret_norm is not None:
                        rew_buf[t] = model.scale_rewards(rew_buf[t], valid_buf[t], term_buf[t] | trunc_buf[t])
                # log pi(a_t|s_t) and V(s_t) of the whole rollout in one batched pass: the weights did not change
                flat_x = torch.from_numpy(x_buf).to(device).flatten(0, 1)  # (T*N, *obs_shape)
                actions = torch.from_numpy(act_buf).to(device)  # (T, N[, A])
                log_probs = model.log_prob(model.dist_params(flat_x), actions.flatten(0, 1)).view(t_len, n_env)
                last_x = model.prepare(torch.from_numpy(obs).to(device))
                values = model.value(torch.cat([flat_x, last_x]))  # (T*N + N,)
            # the update sees each observation as it was normalized when acted on (SB3 stores VecNormalize's output),
            # so the first epoch's probability ratios are 1 whatever the statistics did since
            ro = Rollout(torch.from_numpy(x_buf).to(device), actions, log_probs, values[:-n_env].view(t_len, n_env),
                         *(torch.from_numpy(b) for b in (rew_buf, term_buf, trunc_buf, valid_buf)))
            adv, returns = gae(ro.rewards, ro.values, values[-n_env:], ro.terminated, ro.truncated, ro.valid,
                               cfg.gamma, cfg.gae_lambda)
            prev, step = step, step + t_len * n_env
            progress.update(t_len * n_env)

            # -- update: n_epochs passes of shuffled minibatches over the valid samples
            keep = ro.valid.flatten().nonzero().squeeze(1)  # indices into the flat (T*N,) rollout
            flat = [t.flatten(0, 1)[keep.to(t.device)] for t in (ro.obs, ro.actions, ro.log_probs, ro.values)]
            flat += [t.flatten()[keep].to(device) for t in (adv, returns)]  # + (advantages, returns)
            n_batches = max(1, round(len(keep) / cfg.batch_size))
            if n_batches == 1:  # the minibatch is the whole rollout: normalize its advantages once, not every epoch
                flat[4] = normalize(flat[4])
            for epoch in range(cfg.n_epochs):
                last = epoch == cfg.n_epochs - 1  # diagnostics (entropy, KL, clip fraction) of the last epoch only
                # one minibatch holds the whole rollout: its order changes nothing, so skip the shuffle
                chunks = [None] if n_batches == 1 else torch.randperm(len(keep)).chunk(n_batches)
                for idx in chunks:
                    o, a, lp, v, f_adv, f_ret = flat if idx is None else (t[idx.to(t.device)] for t in flat)
                    terms = ppo_losses(model, o, a, lp, v, f_adv, f_ret, clip, cfg.clip_range_vf,
                                       entropy=cfg.ent_coef > 0, diagnostics=last, normalize_adv=n_batches > 1)
                    loss = terms["policy_loss"] + cfg.vf_coef * terms["value_loss"]
                    if cfg.ent_coef > 0:
                        loss = loss - cfg.ent_coef * terms["entropy"]
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    clip_grad_norm(weights, cfg.max_grad_norm)
                    opt.step()
                    if last:
                        for k, val in terms.items():
                            logged.setdefault(f"losses/{k}", []).append(val.detach())

            # -- log and checkpoint
            if step // cfg.log_every > prev // cfg.log_every or step >= cfg.total_steps:
                now = time.perf_counter()
                metrics = stats.pop()
                metrics.update({k: torch.stack(v).mean().item() for k, v in logged.items()})
                metrics.update({"train/lr": cfg.lr * frac, "train/clip_range": clip,
                                "train/steps_per_s": (step - last_log_step) / (now - last_log_t)})
                check_finite(metrics.get("losses/value_loss", 0.0), "losses/value_loss", step)
                run.log(step, metrics)
                logged.clear()
                last_log_t, last_log_step = now, step
            if keeper.due(prev, step):  # before the checkpoint, which holds its best return
                keeper(step, PPOPolicy(model, obs_space, act_space, device), {"model": model.state_dict()})
                model.train()
            if step // cfg.checkpoint_every > prev // cfg.checkpoint_every or step >= cfg.total_steps:
                save_state(run, step, {"model": model.state_dict(), "optim": opt.state_dict(),
                                       "loop": loop_state(envs, obs, mask, stats, logged, None, keeper)},
                           {"wall_s": wall + time.perf_counter() - t0})
        envs.close()
        progress.close()
        wall += time.perf_counter() - t0
        best = final_weights(run)
        if best is not None:
            model.load_state_dict(best["model"])
        finish(run, cfg, PPOPolicy(model, obs_space, act_space, device), step, wall)
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
