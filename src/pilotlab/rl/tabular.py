"""Tabular TD control: Q-learning, SARSA and expected SARSA on any discrete Gymnasium env.

- Q-learning (Watkins, 1989): Q(s,a) <- Q(s,a) + alpha [r + gamma max_a' Q(s',a') - Q(s,a)];
- SARSA (Rummery & Niranjan, 1994): the target uses the action a' actually taken next;
- expected SARSA (van Seijen et al., 2009): the target averages Q(s', .) under the epsilon-greedy policy.

Sutton & Barto (2nd ed., ch. 6) give the three as one loop that differs only in the TD target, so the
targets are pure functions (`TARGETS`) and `train` is that one loop. Epsilon decays linearly; the step
size either stays constant, decays linearly, or follows the per-pair polynomial schedule
alpha_n(s,a) = alpha (n + 1)^-omega of Even-Dar & Mansour (2003), which converges where a constant step
size keeps FrozenLake's noisy returns from settling. Q-learning defaults to the polynomial schedule.
SARSA and expected SARSA default to the linear one: their targets follow the behaviour policy, so in
states that the random early policy visits often and the greedy late policy rarely (FrozenLake's top
row), a per-visit decay freezes the values of random play and the greedy policy ends up worse
(docs/rl_planning.md).
Where the env exposes its model (FrozenLake, Taxi, CliffWalking) the learned greedy policy is also
scored exactly and printed beside the optimum from `dynamic_programming`. Episode k is reset with a
seed drawn from (seed, k), so a resumed run repeats the same episodes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError, check_finite, one_line
from pilotlab.core.progress import Progress
from pilotlab.core.run import RunDir
from pilotlab.core.session import load_weights, restore, save_state, setup
from pilotlab.core.summary import (
    RL_EPISODES,
    RL_OPTIMAL_RETURN,
    RL_OPTIMAL_SUCCESS,
    RL_RETURN_EXACT,
    RL_RETURN_MEAN,
    RL_RETURN_STD,
    RL_SUCCESS_EXACT,
    RL_SUCCESS_RATE,
    TRAIN_ENV_STEPS,
    TRAIN_EPISODES,
    TRAIN_WALL_S,
)
from pilotlab.report.figures import save_line_plot
from pilotlab.rl import dynamic_programming as dp
from pilotlab.rl.gridplot import grid_layout, save_policy_map

EVAL_SEED = 1_000_000  # evaluation episodes use seeds EVAL_SEED, EVAL_SEED + 1, ... (never seen in training)
FALLBACK_MAX_STEPS = 1000  # episode cap for envs registered without a TimeLimit (CliffWalking)


# -- configs ------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class TabularConfig(RunConfig):
    algo: Literal["q-learning", "sarsa", "expected-sarsa"] = "q-learning"
    """TD target: q-learning (max), sarsa (next action), expected-sarsa (epsilon-greedy mean)."""
    env: str = "FrozenLake-v1"
    """Gymnasium id with Discrete observations and actions (FrozenLake-v1, FrozenLake8x8-v1, Taxi-v4, ...)."""
    episodes: int = 20_000
    """Training episodes."""
    gamma: float = 0.99
    """Discount; FrozenLake needs >= 0.99 (with 0.9 the greedy policy is 1.1 points worse in success)."""
    alpha: float = 1.0
    """Initial step size."""
    alpha_schedule: Literal["constant", "linear", "visits"] = "visits"
    """constant; linear to alpha-min over the run; visits: alpha (n(s,a) + 1)^-alpha-power (Even-Dar & Mansour)."""
    alpha_power: float = 0.6
    """Exponent omega of the visits schedule, in (0.5, 1] for convergence."""
    alpha_min: float = 0.0
    """Floor of the step size."""
    epsilon: float = 1.0
    """Initial exploration rate of the epsilon-greedy behaviour policy."""
    epsilon_min: float = 0.05
    """Final exploration rate."""
    explore_fraction: float = 0.5
    """Fraction of the episodes over which epsilon decays linearly to epsilon-min."""
    q_init: float = 0.0
    """Initial value of every Q(s, a) (optimistic values explore more)."""
    max_episode_steps: int | None = None
    """Episode step cap; default the env's TimeLimit, or 1000 where it has none."""
    eval_episodes: int = 1000
    """Evaluation episodes of the greedy policy at the end."""
    eval_every: int = 1000
    """Score the greedy policy every this many episodes (exactly where the env exposes its model)."""
    log_every: int = 100
    """Log training metrics every this many episodes."""
    checkpoint_every: int = 1000
    """Save checkpoints/last every this many episodes (and at the end)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("episodes", "eval_episodes", "eval_every", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.gamma <= 1.0:
            raise PilotlabError(f"gamma must be in [0, 1], got {self.gamma}")
        if not 0.0 < self.alpha <= 1.0 or not 0.0 <= self.alpha_min <= self.alpha:
            raise PilotlabError(f"need 0 <= alpha-min <= alpha <= 1 and alpha > 0, got {self.alpha_min}, {self.alpha}")
        if not 0.0 < self.alpha_power <= 1.0:
            raise PilotlabError(f"alpha-power must be in (0, 1], got {self.alpha_power}")
        if not 0.0 <= self.epsilon_min <= self.epsilon <= 1.0:
            raise PilotlabError(f"need 0 <= epsilon-min <= epsilon <= 1, got {self.epsilon_min}, {self.epsilon}")
        if not 0.0 < self.explore_fraction <= 1.0:
            raise PilotlabError(f"explore-fraction must be in (0, 1], got {self.explore_fraction}")
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise PilotlabError(f"max-episode-steps must be >= 1, got {self.max_episode_steps}")


@dataclass(frozen=True, kw_only=True)
class QLearningConfig(TabularConfig):
    algo: Literal["q-learning"] = "q-learning"
    """Q-learning: off-policy, target r + gamma max_a' Q(s', a')."""


@dataclass(frozen=True, kw_only=True)
class SarsaConfig(TabularConfig):
    algo: Literal["sarsa"] = "sarsa"
    """SARSA: on-policy, target r + gamma Q(s', a') with a' the action taken next."""
    alpha: float = 0.5
    """Initial step size of the linear schedule."""
    alpha_schedule: Literal["constant", "linear", "visits"] = "linear"
    """linear by default for on-policy targets: per-visit decay freezes values learned under early random play."""
    alpha_min: float = 0.01
    """Final step size of the linear schedule."""


@dataclass(frozen=True, kw_only=True)
class ExpectedSarsaConfig(TabularConfig):
    algo: Literal["expected-sarsa"] = "expected-sarsa"
    """Expected SARSA: target r + gamma E_{a' ~ epsilon-greedy} Q(s', a')."""
    alpha: float = 0.5
    """Initial step size of the linear schedule."""
    alpha_schedule: Literal["constant", "linear", "visits"] = "linear"
    """linear by default for on-policy targets: per-visit decay freezes values learned under early random play."""
    alpha_min: float = 0.01
    """Final step size of the linear schedule."""


# -- pure math ----------------------------------------------------------------------------------
def q_learning_target(reward: float, q_next: np.ndarray, next_action: int, epsilon: float, gamma: float,
                      terminated: bool) -> float:
    """r + gamma max_a' Q(s', a'); no bootstrap past a terminal state (truncation does bootstrap)."""
    return reward if terminated else reward + gamma * float(q_next.max())


def sarsa_target(reward: float, q_next: np.ndarray, next_action: int, epsilon: float, gamma: float,
                 terminated: bool) -> float:
    """r + gamma Q(s', a') with a' the next action of the behaviour policy."""
    return reward if terminated else reward + gamma * float(q_next[next_action])


def expected_sarsa_target(reward: float, q_next: np.ndarray, next_action: int, epsilon: float, gamma: float,
                          terminated: bool) -> float:
    """r + gamma [(1 - epsilon) max_a' Q(s', a') + epsilon mean_a' Q(s', a')] (epsilon-greedy expectation)."""
    if terminated:
        return reward
    return reward + gamma * ((1.0 - epsilon) * float(q_next.max()) + epsilon * float(q_next.mean()))


Target = Callable[[float, np.ndarray, int, float, float, bool], float]
TARGETS: dict[str, Target] = {
    "q-learning": q_learning_target,
    "sarsa": sarsa_target,
    "expected-sarsa": expected_sarsa_target,
}


def td_update(q: np.ndarray, state: int, action: int, target: float, alpha: float) -> float:
    """Q(s, a) += alpha (target - Q(s, a)) in place; returns the TD error."""
    td = target - q[state, action]
    q[state, action] += alpha * td
    return float(td)


def linear_schedule(start: float, end: float, progress: float) -> float:
    """start -> end linearly as progress goes 0 -> 1, then end."""
    return start + (end - start) * min(max(progress, 0.0), 1.0)


def step_size(cfg: TabularConfig, progress: float, visits: int) -> float:
    """alpha for this update: constant, linear in training progress, or polynomial in the pair's visits."""
    if cfg.alpha_schedule == "constant":
        return cfg.alpha
    if cfg.alpha_schedule == "linear":
        return linear_schedule(cfg.alpha, cfg.alpha_min, progress)
    return max(cfg.alpha_min, cfg.alpha * (visits + 1) ** -cfg.alpha_power)


def epsilon_greedy(q_row: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """A random action with probability epsilon, else a greedy one (ties broken at random)."""
    if rng.random() < epsilon:
        return int(rng.integers(len(q_row)))
    best = np.flatnonzero(q_row == q_row.max())
    return int(best[0]) if len(best) == 1 else int(rng.choice(best))


# -- env, policy, evaluation --------------------------------------------------------------------
def make_env(env_id: str, max_episode_steps: int | None = None) -> gym.Env:
    """gym.make with a one-line error for unknown ids and non-discrete spaces; always time-limited."""
    try:
        env = gym.make(env_id, max_episode_steps=max_episode_steps)
    except Exception as e:  # envs reject input with any exception type; all of them are bad --env input
        raise PilotlabError(f"cannot make env {env_id!r} (--env): {one_line(e)}") from None
    if not isinstance(env.observation_space, gym.spaces.Discrete) or not isinstance(
            env.action_space, gym.spaces.Discrete):
        env.close()
        raise PilotlabError(f"tabular methods need Discrete observation and action spaces; {env_id} has "
                            f"{env.observation_space} and {env.action_space} (try dqn or ppo)")
    if env.spec is None or env.spec.max_episode_steps is None:
        env = gym.wrappers.TimeLimit(env, max_episode_steps or FALLBACK_MAX_STEPS)
    return env


class GreedyPolicy:
    """argmax_a Q(s, a) (lowest index on ties): observations (N,) -> actions (N,), deterministic."""

    def __init__(self, q: np.ndarray):
        self.q = np.asarray(q, dtype=np.float64)  # (S, A)

    def __call__(self, obs: Any) -> np.ndarray:
        states = np.asarray(obs, dtype=np.int64).reshape(-1)  # (N,)
        return self.q[states].argmax(axis=1)  # (N,)


def run_episodes(env: gym.Env, policy: Callable[[Any], np.ndarray], episodes: int,
                 seed: int = EVAL_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Returns (undiscounted returns, successes) of `episodes` episodes seeded seed, seed + 1, ...

    Success: the episode terminated (not truncated) on a positive reward, as at FrozenLake's goal.
    """
    returns, successes = np.zeros(episodes), np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        while True:
            obs, r, terminated, truncated, _ = env.step(int(policy(np.array([obs]))[0]))
            returns[i] += float(r)
            if terminated or truncated:
                successes[i] = float(terminated and r > 0)
                break
    return returns, successes


def exact_scores(env: gym.Env, model: dp.TabularModel, policy: np.ndarray | None) -> tuple[float, float]:
    """(expected return, success probability) within the time limit; the optimum when `policy` is None."""
    result = dp.finite_horizon(model, int(env.spec.max_episode_steps), policy)  # type: ignore[union-attr]
    return dp.expected_start(model, result.value), dp.expected_start(model, result.success)


# -- training -----------------------------------------------------------------------------------
class EpisodeStats(NamedTuple):
    """Sums over one training episode (one TD update per step)."""

    ret: float
    success: float
    length: int
    td_abs: float
    alpha: float


def td_episode(env: gym.Env, q: np.ndarray, visits: np.ndarray, cfg: TabularConfig, target_fn: Target,
               eps: float, progress: float, rng: np.random.Generator) -> EpisodeStats:
    """One epsilon-greedy episode, updating q (S, A) and visits (S, A) in place after every step.

    The next action a' is drawn before the update (SARSA needs it; Q-learning ignores it), and `rng`
    also seeds the env's reset, so the episode depends only on (q, visits, rng).
    """
    s, _ = env.reset(seed=int(rng.integers(2**31)))
    a = epsilon_greedy(q[s], eps, rng)
    ret, length, td_abs, alpha_sum = 0.0, 0, 0.0, 0.0
    while True:
        s2, r, terminated, truncated, _ = env.step(a)
        a2 = epsilon_greedy(q[s2], eps, rng)
        alpha = step_size(cfg, progress, int(visits[s, a]))
        td = td_update(q, s, a, target_fn(float(r), q[s2], a2, eps, cfg.gamma, terminated), alpha)
        visits[s, a] += 1
        ret, length, td_abs, alpha_sum = ret + float(r), length + 1, td_abs + abs(td), alpha_sum + alpha
        if terminated or truncated:
            return EpisodeStats(ret, float(terminated and r > 0), length, td_abs, alpha_sum)
        s, a = s2, a2


def train(cfg: TabularConfig) -> RunDir:
    """Learn Q with the TD target of `cfg.algo`; returns the run directory (checkpoints/last holds Q)."""
    env = make_env(cfg.env, cfg.max_episode_steps)  # before the run directory: a rejected env writes nothing
    run, _ = setup(cfg, "rl", cfg.algo)
    with run:
        run.own(env)
        model = dp.tabular_model(env)
        n_s, n_a = int(env.observation_space.n), int(env.action_space.n)  # type: ignore[attr-defined]
        q = np.full((n_s, n_a), cfg.q_init)
        visits = np.zeros((n_s, n_a), dtype=np.int64)
        window = {"return": 0.0, "success": 0.0, "length": 0.0, "td_abs": 0.0, "alpha": 0.0, "n": 0.0}  # sums
        start = restore(run, cfg, {}, {"episode": int, "window": dict})
        env_steps, wall, episode = start.step, start.wall_s, int(start.meta.get("episode", 0))
        if cfg.resume:
            for key, like in (("q", q), ("visits", visits)):
                if not isinstance(start.state.get(key), torch.Tensor) or tuple(start.state[key].shape) != like.shape:
                    raise PilotlabError(f"checkpoint of {str(run.path)!r} has no {key!r} table of shape {like.shape} "
                                        f"for {cfg.env}; start a new run in another --run-dir")
            q, visits = start.state["q"].numpy().copy(), start.state["visits"].numpy().copy()
            window = dict(start.meta["window"])
        progress = run.own(Progress(cfg.episodes, f"rl {cfg.algo} {cfg.env}", initial=episode,
                                    enabled=run.writable))
        t0, steps0 = time.perf_counter(), env_steps
        while episode < cfg.episodes:
            frac = episode / cfg.episodes
            eps = linear_schedule(cfg.epsilon, cfg.epsilon_min, frac / cfg.explore_fraction)
            rng = np.random.default_rng((cfg.seed, episode))  # episode k's reset seed and exploration noise
            ep = td_episode(env, q, visits, cfg, TARGETS[cfg.algo], eps, frac, rng)
            episode += 1
            env_steps += ep.length
            for key, value in zip(("return", "success", "length", "td_abs", "alpha"), ep):
                window[key] += value
            window["n"] += 1
            progress.update(1)
            if episode % cfg.log_every == 0 or episode == cfg.episodes:
                n, u = window["n"], window["length"]  # episodes, updates (one per step)
                metrics = {"train/return_mean": window["return"] / n, "train/success_rate": window["success"] / n,
                           "train/episode_length": window["length"] / n, "train/td_abs": window["td_abs"] / u,
                           "train/alpha": window["alpha"] / u, "train/epsilon": eps, "train/episodes": episode,
                           "train/steps_per_s": (env_steps - steps0) / max(time.perf_counter() - t0, 1e-9)}
                check_finite(metrics["train/td_abs"], "train/td_abs", env_steps)
                run.log(env_steps, metrics)
                progress.update(0, ret=metrics["train/return_mean"])
                window = dict.fromkeys(window, 0.0)
            if episode % cfg.eval_every == 0 or episode == cfg.episodes:
                run.log(env_steps, _greedy_score(env, model, q))
            if episode % cfg.checkpoint_every == 0 or episode == cfg.episodes:
                save_state(run, env_steps, {"q": torch.from_numpy(q.copy()), "visits": torch.from_numpy(visits.copy())},
                           {"episode": episode, "wall_s": wall + time.perf_counter() - t0, "window": window})
        progress.close()
        wall += time.perf_counter() - t0
        summary = evaluate(run, env, model, q, cfg, env_steps)
        run.update_summary({**summary, TRAIN_ENV_STEPS: env_steps, TRAIN_EPISODES: episode, TRAIN_WALL_S: wall})
        _print_result(cfg, run.summary())
    return run


def _greedy_score(env: gym.Env, model: dp.TabularModel | None, q: np.ndarray) -> dict[str, float]:
    """Learning-curve point: exact greedy return where the model is known, else 100 episodes."""
    if model is not None:
        ret, succ = exact_scores(env, model, q.argmax(axis=1))
        return {"eval/greedy_return": ret, "eval/greedy_success_rate": succ}
    returns, successes = run_episodes(env, GreedyPolicy(q), 100)
    return {"eval/greedy_return": float(returns.mean()), "eval/greedy_success_rate": float(successes.mean())}


def evaluate(run: RunDir, env: gym.Env, model: dp.TabularModel | None, q: np.ndarray, cfg: TabularConfig,
             step: int) -> dict[str, float]:
    """Episodes of the greedy policy, exact scores and the optimum beside them, and the figures."""
    returns, successes = run_episodes(env, GreedyPolicy(q), cfg.eval_episodes)
    out = {RL_RETURN_MEAN: float(returns.mean()), RL_RETURN_STD: float(returns.std()),
           RL_EPISODES: cfg.eval_episodes, RL_SUCCESS_RATE: float(successes.mean())}
    layout = grid_layout(env)
    if model is not None:
        out[RL_RETURN_EXACT], out[RL_SUCCESS_EXACT] = exact_scores(env, model, q.argmax(axis=1))
        out[RL_OPTIMAL_RETURN], out[RL_OPTIMAL_SUCCESS] = exact_scores(env, model, None)
        if not model.p_success.any():  # no goal with a positive reward (CliffWalking): success is meaningless
            for key in (RL_SUCCESS_RATE, RL_SUCCESS_EXACT, RL_OPTIMAL_SUCCESS):
                out.pop(key)
    run.log(step, out)
    if run.writable:
        rows = [r for r in run.metrics() if "train/return_mean" in r or "eval/greedy_return" in r]
        series = {"train return (epsilon-greedy)": ([r["step"] for r in rows if "train/return_mean" in r],
                                                    [r["train/return_mean"] for r in rows if "train/return_mean" in r]),
                  "greedy policy": ([r["step"] for r in rows if "eval/greedy_return" in r],
                                    [r["eval/greedy_return"] for r in rows if "eval/greedy_return" in r])}
        hlines = {"optimum (value iteration)": out[RL_OPTIMAL_RETURN]} if model is not None else None
        save_line_plot(series, run.figure("learning_curve.png"), title=f"{cfg.algo} on {cfg.env}",
                       xlabel="env steps", ylabel="episode return", hlines=hlines)
        if layout is not None:
            save_policy_map(layout, q.max(axis=1), q.argmax(axis=1), run.figure("policy.png"),
                            title=f"{cfg.algo} greedy policy and max_a Q(s, a), {cfg.env}")
            if model is not None:
                v_opt, q_opt = dp.value_iteration(model, min(cfg.gamma, 0.999))
                save_policy_map(layout, v_opt, q_opt.argmax(axis=1), run.figure("optimal_policy.png"),
                                title=f"value iteration (gamma={min(cfg.gamma, 0.999)}), {cfg.env}")
    return out


def _print_result(cfg: TabularConfig, s: dict[str, Any]) -> None:
    line = f"{cfg.algo} {cfg.env}: return {s[RL_RETURN_MEAN]:.3f} +- {s[RL_RETURN_STD]:.3f} " \
           f"over {int(s[RL_EPISODES])} episodes"
    if RL_SUCCESS_RATE in s:
        line += f", success {s[RL_SUCCESS_RATE]:.3f}"
    if RL_OPTIMAL_RETURN in s:
        line += f"; exact {s[RL_RETURN_EXACT]:.4f} vs value-iteration optimum {s[RL_OPTIMAL_RETURN]:.4f}"
    print(line)


def load_policy(run: RunDir, device: Any = "cpu") -> GreedyPolicy:
    """The greedy policy of a finished (or checkpointed) run; `device` is unused (numpy on CPU)."""
    state, _ = load_weights(run)
    if "q" not in state:
        raise PilotlabError(f"{run.path} holds no Q table (not a tabular run)")
    return GreedyPolicy(state["q"].numpy())


# -- the tour's FrozenLake demo -------------------------------------------------------------------
FROZENLAKE_DEMO = QLearningConfig(env="FrozenLake-v1", episodes=20_000, gamma=0.99, alpha_schedule="visits",
                                  alpha=1.0, alpha_power=0.6, epsilon_min=0.05, explore_fraction=0.5)
"""Settings with which Q-learning reaches FrozenLake 4x4's optimum (see docs/rl_planning.md)."""


def frozenlake_demo(seed: int, run_dir: str, episodes: int = 20_000) -> dict[str, Any]:
    """Q-learning on slippery FrozenLake 4x4; returns summary.json plus "run_dir" and "figures" paths.

    The run directory holds figures/learning_curve.png (greedy success vs env steps, optimum dashed),
    figures/policy.png (learned greedy arrows over max_a Q) and figures/optimal_policy.png.
    """
    cfg = replace(FROZENLAKE_DEMO, seed=seed, run_dir=run_dir, episodes=episodes, device="cpu")
    run = train(cfg)
    return {**run.summary(), "run_dir": str(run.path),
            "figures": {p.stem: str(p) for p in sorted(run.figures.glob("*.png"))}}


__all__ = ["TARGETS", "GreedyPolicy", "expected_sarsa_target", "frozenlake_demo", "load_policy",
           "q_learning_target", "sarsa_target", "td_update", "train"]
