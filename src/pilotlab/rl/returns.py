"""Bootstrapped returns as pure functions: one-step TD targets, n-step returns, GAE.

All functions take time-major arrays ``(T, N)`` (T steps of N parallel envs) and follow Gymnasium's
split of episode ends: ``terminated`` (a true terminal state, bootstrap with 0) versus ``truncated``
(a time limit, bootstrap with the value of the final observation). With Gymnasium 1.x's next-step
autoreset the step after an episode end is the reset step: its ``valid`` flag is False and it is
neither learned from nor bootstrapped through.

References: Sutton & Barto (2018) ch. 6-7 (TD and n-step returns); Schulman et al. (2016),
"High-Dimensional Continuous Control Using Generalized Advantage Estimation" (GAE).
"""

from __future__ import annotations

import numpy as np
import torch


def td_target(reward: torch.Tensor, next_value: torch.Tensor, terminated: torch.Tensor, gamma: float) -> torch.Tensor:
    """One-step TD target ``r + gamma * (1 - terminated) * V(s')``; all arguments share one shape."""
    return reward + gamma * (1.0 - terminated.float()) * next_value


def n_step_returns(rewards: np.ndarray, next_values: np.ndarray, terminated: np.ndarray, truncated: np.ndarray,
                   gamma: float, n: int) -> np.ndarray:
    """n-step returns ``G_t = sum_{k<m} gamma^k r_{t+k} + gamma^m V(s_{t+m})`` with m <= n.

    The sum stops early at an episode end (m = steps to the end; a terminal bootstraps 0, a truncation
    bootstraps the value of its final observation) and at the end of the rollout.

    Args:
        rewards: (T, N) rewards r_t.
        next_values: (T, N) V(s_{t+1}) of the observation that followed step t (the final observation
            when step t ended its episode).
        terminated: (T, N) bool, step t reached a terminal state.
        truncated: (T, N) bool, step t hit a time limit.
        gamma: discount in [0, 1].
        n: horizon >= 1.

    Returns:
        (T, N) float array of n-step returns.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    t_len = rewards.shape[0]
    term = terminated.astype(np.float64)
    ends = np.logical_or(terminated, truncated)
    out = np.empty(rewards.shape, dtype=np.float64)
    for t in range(t_len):
        g = np.zeros(rewards.shape[1:], dtype=np.float64)
        discount = np.ones(rewards.shape[1:], dtype=np.float64)
        alive = np.ones(rewards.shape[1:], dtype=bool)  # the sum has not stopped yet
        for k in range(n):
            s = t + k
            if s >= t_len:
                break
            g += alive * discount * rewards[s]
            discount = discount * gamma
            stop_here = alive & (ends[s] | (k == n - 1) | (s == t_len - 1))
            g += stop_here * discount * (1.0 - term[s]) * next_values[s]
            alive = alive & ~stop_here
        out[t] = g
    return out


def gae(rewards: torch.Tensor, values: torch.Tensor, last_value: torch.Tensor, terminated: torch.Tensor,
        truncated: torch.Tensor, valid: torch.Tensor, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation over a next-step-autoreset rollout.

    ``delta_t = r_t + gamma (1 - terminated_t) V(s_{t+1}) - V(s_t)`` and
    ``A_t = delta_t + gamma lam (1 - end_t) A_{t+1}``. Because the env resets one step after an end,
    ``s_{t+1}`` of an ending step is its final observation, whose value is ``values[t + 1]``: truncated
    episodes bootstrap from it, terminated ones do not. Invalid (reset) steps get A_t = 0.

    Args:
        rewards, values, terminated, truncated, valid: (T, N); values are V(s_t) of the observed s_t.
        last_value: (N,) V(s_T) of the observation after the rollout.
        gamma: discount; lam: GAE lambda (1 gives Monte Carlo minus baseline, 0 the TD error).

    Returns:
        (advantages, returns), both (T, N), with returns = advantages + values.
    """
    # the backward recursion runs in NumPy: T steps of tiny (N,) ops cost several times more as torch ops
    v = values.detach().cpu().numpy()
    rew = rewards.cpu().numpy().astype(v.dtype)
    term, trunc, ok = (x.cpu().numpy().astype(bool) for x in (terminated, truncated, valid))
    next_v = np.concatenate([v[1:], last_value.detach().cpu().numpy()[None]])  # (T, N) V(s_{t+1})
    deltas = rew + gamma * (~term) * next_v - v  # (T, N)
    decay = gamma * lam * ~(term | trunc)  # (T, N)
    adv = np.zeros_like(v)
    running = np.zeros_like(v[0])
    for t in range(v.shape[0] - 1, -1, -1):
        running = (deltas[t] + decay[t] * running) * ok[t]
        adv[t] = running
    adv_t = torch.from_numpy(adv).to(values.device)
    return adv_t, adv_t + values
