"""Benchmark: tabular TD control against the value-iteration optimum, MCTS against minimax.

    .venv/bin/python benchmarks/rl_tabular_mcts.py            # ~15 min on a shared 2-core machine
    .venv/bin/python benchmarks/rl_tabular_mcts.py --quick    # smoke run, a minute; does not write docs

Part 1 trains Q-learning / SARSA / expected SARSA through `pilotlab.rl.tabular.train` (the code the CLI
runs) and prints each learned greedy policy's success or return, measured over 1,000 episodes and
exactly from the model, beside the optimum within the time limit and the best *stationary* policy we
can find (local search over deterministic policies, exact scores): a Markov greedy policy cannot beat
the former. Issue 5's FrozenLake 8x8 target (0.90) lies between the best stationary policy found (0.894)
and the non-stationary optimum (0.913); its Taxi target (8.0) lies above Taxi's exact optimum (7.93).
Part 2 plays UCT against the perfect tic-tac-toe solver (100 games per side) at a few exploration
constants, and against depth-4 alpha-beta at connect four at a few simulation budgets.
Writes the `rl_planning` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_section
from pilotlab.core import registry
from pilotlab.core import summary as S
from pilotlab.rl import ALGO, mcts, tabular
from pilotlab.rl import dynamic_programming as dp
from pilotlab.rl.games import GAMES, play_game
from pilotlab.rl.minimax import Solver, alphabeta_player

# (algo, env, episodes, gamma, target on the headline metric, metric)
TABULAR = [
    ("q-learning", "FrozenLake-v1", 20_000, 0.99, 0.73, "success"),
    ("sarsa", "FrozenLake-v1", 20_000, 0.99, 0.73, "success"),
    ("expected-sarsa", "FrozenLake-v1", 20_000, 0.99, 0.73, "success"),
    ("q-learning", "FrozenLake8x8-v1", 40_000, 0.999, 0.90, "success"),
    ("q-learning", "Taxi-v4", 5_000, 0.99, 8.0, "return"),
]


def best_stationary(model: dp.TabularModel, horizon: int, start: np.ndarray) -> float:
    """Coordinate ascent over deterministic stationary policies, scored exactly; a lower bound on the best."""
    policy = start.copy()

    def score(p: np.ndarray) -> float:
        return dp.expected_start(model, dp.finite_horizon(model, horizon, p).value)

    best, improved = score(policy), True
    while improved:
        improved = False
        for s in range(len(policy)):
            for a in range(model.reward.shape[1]):
                if a == policy[s]:
                    continue
                trial = policy.copy()
                trial[s] = a
                if (v := score(trial)) > best + 1e-12:
                    best, policy, improved = v, trial, True
    return best


def tabular_part(quick: bool, root: Path) -> list[str]:
    rows = ["| algo | env | episodes | env steps | wall [s] | CPU [s] | steps/CPU-s | measured (1,000 ep.) | "
            "exact greedy | best stationary | optimum (VI, time limit) | target | met |", "|" + "---|" * 13]
    for algo, env_id, episodes, gamma, target, metric in TABULAR:
        episodes = episodes // 20 if quick else episodes
        cfg_cls = registry.config_class(ALGO, algo)
        cfg = cfg_cls(env=env_id, episodes=episodes, gamma=gamma, seed=0, device="cpu",
                      run_dir=str(root / f"{algo}-{env_id}"), eval_every=max(episodes // 20, 1))
        t0, c0 = time.perf_counter(), time.process_time()
        run = tabular.train(cfg)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        s = run.summary()
        measured = s[S.RL_SUCCESS_RATE] if metric == "success" else s[S.RL_RETURN_MEAN]
        exact = s[S.RL_SUCCESS_EXACT if metric == "success" else S.RL_RETURN_EXACT]
        optimum = s[S.RL_OPTIMAL_SUCCESS if metric == "success" else S.RL_OPTIMAL_RETURN]
        stationary = "-"
        if env_id.startswith("FrozenLake"):
            env = tabular.make_env(env_id)
            model = dp.tabular_model(env)
            _, q = dp.value_iteration(model, 0.999)
            stationary = f"{best_stationary(model, int(env.spec.max_episode_steps), q.argmax(axis=1)):.4f}"
        rows.append(f"| {algo} | {env_id} | {episodes:,} | {int(s[S.TRAIN_ENV_STEPS]):,} | {wall:.0f} | {cpu:.0f} | "
                    f"{s[S.TRAIN_ENV_STEPS] / cpu:,.0f} | {measured:.3f} {metric} | {exact:.4f} | "
                    f"{stationary} | {optimum:.4f} | >= {target} | {'yes' if exact >= target else 'no'} |")
        print(rows[-1], flush=True)
    return rows


def tic_tac_toe_part(quick: bool) -> list[str]:
    game = GAMES["tic-tac-toe"]
    solver = Solver(game)
    games = 10 if quick else 100
    rows = ["| simulations | c | games per side | MCTS as X: W/D/L | MCTS as O: W/D/L | CPU s per game |",
            "|---|---|---|---|---|---|"]
    for sims, c in ((300, 0.7), (500, 0.3), (500, 0.7), (500, 1.0), (1000, 0.7)):
        t0 = time.process_time()
        as_x, as_o = [0, 0, 0], [0, 0, 0]  # wins, draws, losses of MCTS
        for i in range(games):
            w = play_game(game, mcts.mcts_player(game, sims, c, seed=100 + i), solver.player(seed=200 + i))
            as_x[{1: 0, 0: 1, -1: 2}[w]] += 1
            w = play_game(game, solver.player(seed=300 + i), mcts.mcts_player(game, sims, c, seed=400 + i))
            as_o[{-1: 0, 0: 1, 1: 2}[w]] += 1
        per_game = (time.process_time() - t0) / (2 * games)
        rows.append(f"| {sims} | {c} | {games} | {'/'.join(map(str, as_x))} | {'/'.join(map(str, as_o))} | "
                    f"{per_game:.2f} |")
        print(rows[-1], flush=True)
    return rows


def connect_four_part(quick: bool) -> list[str]:
    game = GAMES["connect-four"]
    games = 2 if quick else 6  # half with MCTS first
    rows = ["| simulations | games | MCTS W/D/L vs alpha-beta depth 4 | CPU s per MCTS move (+ the reply) |",
            "|---|---|---|---|"]
    for sims in ((50, 200) if quick else (100, 400, 1600)):
        t0, moves = time.process_time(), 0
        score = [0, 0, 0]
        for i in range(games):
            player = mcts.mcts_player(game, sims, seed=500 + i)

            def counted(state, _p=player):  # type: ignore[no-untyped-def]
                nonlocal moves
                moves += 1
                return _p(state)

            opponent = alphabeta_player(game, depth=4, seed=600 + i)
            if i % 2 == 0:
                w = play_game(game, counted, opponent)
            else:
                w = -play_game(game, opponent, counted)
            score[{1: 0, 0: 1, -1: 2}[w]] += 1
        rows.append(f"| {sims} | {games} | {'/'.join(map(str, score))} | "
                    f"{(time.process_time() - t0) / max(moves, 1):.2f} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets; prints, does not write docs")
    args = parser.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tab = tabular_part(args.quick, Path(tmp))
    ttt = tic_tac_toe_part(args.quick)
    c4 = connect_four_part(args.quick)
    total = time.perf_counter() - t0
    md = "\n".join([
        "## rl_planning: tabular TD control vs value iteration, MCTS vs minimax",
        "",
        "Command: `.venv/bin/python benchmarks/rl_tabular_mcts.py`  ",
        f"Machine: {machine()}; shared with other engineers' jobs while it ran, so wall times are inflated "
        f"and noisy: compare the CPU-time columns (this process only). Total {total / 60:.1f} min wall.",
        "",
        "### Tabular (seed 0; 'exact' = scored from the env's transition model within its time limit)",
        "",
        *tab,
        "",
        "Optimum = backward induction over the time limit (non-stationary). Best stationary = coordinate "
        "ascent over deterministic Markov policies from the value-iteration policy, exact scores. Met = the "
        "exact greedy score reaches the target.",
        "",
        "### Tic-tac-toe: UCT (solver + decisive playouts) vs the perfect solver (random among optimal moves)",
        "",
        *ttt,
        "",
        "### Connect four: UCT vs depth-4 alpha-beta (centre-first ordering, window heuristic)",
        "",
        *c4,
    ])
    print(md)
    if not args.quick:
        print(f"wrote {write_section('rl_planning', md)}")


if __name__ == "__main__":
    main()
