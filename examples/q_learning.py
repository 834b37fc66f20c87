"""Tabular Q-learning on FrozenLake 4x4 (slippery), with the correct target, checked against value iteration.

The classic mistakes in Q-learning listings are all in one line, the target:
  * bootstrapping from the current state, r + gamma * max_a Q(s, a), instead of the next state s';
  * bootstrapping through a terminal state: after the agent falls in a hole or reaches the goal there is
    no future, so the target is just r;
  * treating a time-limit truncation as terminal: the state after a truncation still has a future.
This version uses the target of Watkins & Dayan (1992), "Q-learning", Machine Learning 8; Sutton & Barto
(2018), "Reinforcement Learning: An Introduction", 2nd ed., section 6.5:

    target = r + gamma * max_a' Q(s', a') * (1 - terminated)      # truncated: still bootstraps

Q starts optimistic (1.0, the largest discounted return here; Sutton & Barto 2.6) so that the greedy agent
explores. That also makes the terminal mask load-bearing: with a zero start, terminal states' rows are never
updated and stay 0, so a listing that forgets the mask can look right by accident.

The script then solves the same MDP exactly by value iteration on the environment's own transition table
(env.unwrapped.P) and checks two things, each of which a wrong target fails:
  * the learned greedy policy reaches the goal (within the time limit; computed exactly) about as often as
    the optimal policy does (the learned policy is also played for --eval-episodes episodes);
  * the learned values max_a Q(s, a) are close to the optimal values V*(s). Q-learning converges to Q*
    whatever the time limit, so with a short --time-limit (truncations on most episodes) this also catches a
    target that stops at truncations: its values come out far too low.
Run: python examples/q_learning.py --seed 0
"""

from __future__ import annotations

import argparse
import sys

import gymnasium as gym
import numpy as np

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--seed", type=int, default=0)
p.add_argument("--steps", type=int, default=100_000, help="environment steps of training")
p.add_argument("--gamma", type=float, default=0.99)
p.add_argument("--lr", type=float, default=0.1, help="step size alpha, decayed linearly to 5%% of it")
p.add_argument("--eps-start", type=float, default=1.0)
p.add_argument("--eps-end", type=float, default=0.05)
p.add_argument("--q-init", type=float, default=1.0, help="initial Q (optimistic)")
p.add_argument("--time-limit", type=int, default=100, help="episode length limit (FrozenLake's own is 100)")
p.add_argument("--eval-episodes", type=int, default=1000)
p.add_argument("--tolerance", type=float, default=0.05, help="allowed gap to the optimal success rate")
p.add_argument("--value-tolerance", type=float, default=0.05, help="allowed max |max_a Q(s, a) - V*(s)|")
args = p.parse_args()

env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=True, max_episode_steps=args.time_limit)
P = env.unwrapped.P  # P[s][a] = [(prob, next_state, reward, terminated), ...]
n_s, n_a = env.observation_space.n, env.action_space.n
rng = np.random.default_rng(args.seed)

# ---- Q-learning ----
Q = np.full((n_s, n_a), args.q_init)
s, _ = env.reset(seed=args.seed)
episodes, successes = 0, 0
for step in range(args.steps):
    frac = step / args.steps
    alpha = args.lr * max(0.05, 1 - frac)  # a decaying step size averages out the slippery noise
    eps = args.eps_end + (args.eps_start - args.eps_end) * max(0.0, 1 - 2 * frac)  # linear, over the first half
    if rng.random() < eps:
        a = int(rng.integers(n_a))
    else:  # greedy, ties broken at random (an all-equal row would otherwise always pick action 0)
        a = int(rng.choice(np.flatnonzero(Q[s] == Q[s].max())))
    s2, r, terminated, truncated, _ = env.step(a)
    target = r + args.gamma * Q[s2].max() * (1.0 - terminated)  # s2, not s; no future after a terminal state
    Q[s, a] += alpha * (target - Q[s, a])
    s = s2
    if terminated or truncated:  # truncation ends the episode but did not change the target above
        episodes, successes = episodes + 1, successes + (r > 0)
        s, _ = env.reset()
learned = Q.argmax(axis=1)
print(f"trained {args.steps} steps, {episodes} episodes, {successes / max(episodes, 1):.3f} reached the goal")

# ---- value iteration on the true model ----
V = np.zeros(n_s)
for _ in range(10_000):
    Qv = np.array([[sum(pr * (rw + args.gamma * V[s_] * (not done)) for pr, s_, rw, done in P[st][ac])
                    for ac in range(n_a)] for st in range(n_s)])
    V, delta = Qv.max(axis=1), np.abs(Qv.max(axis=1) - V).max()
    if delta < 1e-10:
        break
optimal = Qv.argmax(axis=1)


def success_prob(policy: np.ndarray) -> float:
    """Exact probability of reaching the goal within the time limit from the start state, following `policy`."""
    p_goal = np.zeros(n_s)  # chance of reaching the goal in at most k more steps
    for _ in range(args.time_limit):
        p_goal = np.array([sum(pr * (rw > 0 if done else p_goal[s_]) for pr, s_, rw, done in P[st][policy[st]])
                           for st in range(n_s)])
    return float(p_goal[0])


def play(policy: np.ndarray, seed: int) -> float:
    """Fraction of --eval-episodes greedy episodes that reach the goal."""
    wins = 0
    for i in range(args.eval_episodes):
        s, _ = env.reset(seed=seed + i)
        while True:
            s, r, terminated, truncated, _ = env.step(int(policy[s]))
            if terminated or truncated:
                wins += r > 0
                break
    return wins / args.eval_episodes


arrows = np.array(list("<v>^"))
desc = env.unwrapped.desc.astype(str)
for name, pol in (("learned", learned), ("optimal", optimal)):
    grid = np.where(np.isin(desc.ravel(), ["H", "G"]), desc.ravel(), arrows[pol]).reshape(desc.shape)
    print(f"{name} policy: " + " / ".join("".join(row) for row in grid))
exact_l, exact_o = success_prob(learned), success_prob(optimal)
played = play(learned, 10_000 * (args.seed + 1))
nonterminal = ~np.isin(desc.ravel(), ["H", "G"])
value_err = float(np.abs(Q.max(axis=1) - V)[nonterminal].max())
ok = exact_l >= exact_o - args.tolerance and value_err <= args.value_tolerance
print(f"learned greedy policy reached the goal in {played:.3f} of {args.eval_episodes} played episodes")
print(f"start-state value: learned max_a Q = {Q[0].max():.3f}, optimal V* = {V[0]:.3f}")
print(f"result: learned_success={exact_l:.3f} optimal_success={exact_o:.3f} played={played:.3f} "
      f"value_error={value_err:.3f} {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
