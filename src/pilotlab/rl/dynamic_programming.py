"""Dynamic programming on a known tabular model: value iteration, policy evaluation, exact returns.

Gymnasium's toy-text envs (FrozenLake, Taxi, CliffWalking) expose their dynamics as
``env.unwrapped.P[s][a] = [(prob, next_state, reward, terminated), ...]``. `tabular_model` turns that
into dense arrays, and the functions below solve the MDP with them (Sutton & Barto, *Reinforcement
Learning: An Introduction*, 2nd ed., ch. 4):

- `value_iteration`: the discounted optimum Q* (Bellman optimality backups until the largest change
  is below `tol`);
- `policy_evaluation`: V^pi of a deterministic policy in closed form, (I - gamma P_pi)^-1 R_pi;
- `finite_horizon`: backward induction over the H steps an episode may last (Gymnasium's TimeLimit),
  undiscounted. With a policy it gives that policy's *exact* expected episode return and success
  probability (what 1,000 evaluation episodes estimate); without one it gives the optimum within the
  time limit, the number a learned policy is compared with.

Terminal transitions carry no continuation: ``p_next`` holds only the probability of moving on
*without* terminating, so 1 - p_next.sum(-1) is the probability that the episode ends there.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from pilotlab.core.errors import PilotlabError


class TabularModel(NamedTuple):
    """Dense dynamics of a finite MDP with S states and A actions."""

    p_next: np.ndarray
    """(S, A, S) probability of moving to s' and continuing the episode."""
    reward: np.ndarray
    """(S, A) expected immediate reward."""
    p_success: np.ndarray
    """(S, A) probability that this step ends the episode with a positive reward (FrozenLake's goal)."""
    initial: np.ndarray
    """(S,) distribution of the first state."""


class HorizonResult(NamedTuple):
    """Output of `finite_horizon`: per-state values at the start of an H-step episode."""

    value: np.ndarray
    """(S,) expected undiscounted return of the remaining H steps."""
    success: np.ndarray
    """(S,) probability of a successful termination within H steps."""
    first_action: np.ndarray
    """(S,) action taken at the first step (the optimal one when no policy is given)."""


def tabular_model(env: Any) -> TabularModel | None:
    """Arrays of `env.unwrapped.P` (None when the env does not expose its model)."""
    u = env.unwrapped
    table = getattr(u, "P", None)
    n_s, n_a = int(env.observation_space.n), int(env.action_space.n)
    if not isinstance(table, dict) or len(table) != n_s:
        return None
    p_next = np.zeros((n_s, n_a, n_s))
    reward = np.zeros((n_s, n_a))
    p_success = np.zeros((n_s, n_a))
    for s, actions in table.items():
        for a, outcomes in actions.items():
            for prob, s2, r, terminated in outcomes:
                reward[s, a] += prob * r
                if terminated:
                    p_success[s, a] += prob * (r > 0)
                else:
                    p_next[s, a, s2] += prob
    initial = np.asarray(getattr(u, "initial_state_distrib", np.full(n_s, 1.0 / n_s)), dtype=np.float64)
    return TabularModel(p_next, reward, p_success, initial / initial.sum())


def bellman_q(model: TabularModel, v: np.ndarray, gamma: float) -> np.ndarray:
    """One backup: Q(s, a) = R(s, a) + gamma sum_s' P(s' | s, a) V(s'). Returns (S, A)."""
    return model.reward + gamma * model.p_next @ v  # (S, A, S) @ (S,) -> (S, A)


def value_iteration(model: TabularModel, gamma: float, tol: float = 1e-10,
                    max_iters: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Optimal (V*, Q*) of the discounted MDP; `gamma` in [0, 1). Returns ((S,), (S, A))."""
    if not 0.0 <= gamma < 1.0:
        raise PilotlabError(f"value iteration needs 0 <= gamma < 1, got {gamma}")
    v = np.zeros(model.reward.shape[0])
    for _ in range(max_iters):
        q = bellman_q(model, v, gamma)
        v_new = q.max(axis=1)
        delta = float(np.abs(v_new - v).max())
        v = v_new
        if delta < tol:
            break
    return v, bellman_q(model, v, gamma)


def _policy_arrays(model: TabularModel, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P_pi (S, S), R_pi (S,), success_pi (S,) of a deterministic policy (S,) of action indices."""
    states = np.arange(model.reward.shape[0])
    return model.p_next[states, policy], model.reward[states, policy], model.p_success[states, policy]


def policy_evaluation(model: TabularModel, policy: np.ndarray, gamma: float) -> np.ndarray:
    """V^pi (S,) of a deterministic policy, solving (I - gamma P_pi) V = R_pi exactly; gamma < 1."""
    if not 0.0 <= gamma < 1.0:
        raise PilotlabError(f"policy evaluation in closed form needs 0 <= gamma < 1, got {gamma}")
    p_pi, r_pi, _ = _policy_arrays(model, np.asarray(policy))
    return np.linalg.solve(np.eye(len(r_pi)) - gamma * p_pi, r_pi)


def finite_horizon(model: TabularModel, horizon: int, policy: np.ndarray | None = None) -> HorizonResult:
    """Undiscounted H-step values by backward induction; optimal when `policy` is None.

    The optimum is non-stationary (the best action may depend on the steps left), so it upper-bounds
    every stationary policy, learned ones included.
    """
    n_s = model.reward.shape[0]
    states = np.arange(n_s)
    v = np.zeros(n_s)
    succ = np.zeros(n_s)
    action = np.zeros(n_s, dtype=np.int64) if policy is None else np.asarray(policy, dtype=np.int64)
    for _ in range(horizon):
        q = bellman_q(model, v, 1.0)  # (S, A)
        if policy is None:
            action = q.argmax(axis=1)
        v_new = q[states, action]
        succ = model.p_success[states, action] + model.p_next[states, action] @ succ  # (S,)
        v = v_new
    return HorizonResult(v, succ, action)


def expected_start(model: TabularModel, per_state: np.ndarray) -> float:
    """Average of a per-state quantity over the initial-state distribution."""
    return float(model.initial @ per_state)
