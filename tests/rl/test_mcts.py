"""UCT search: the UCB score by hand, tactics, determinism, the solver, and no loss to perfect play."""

from __future__ import annotations

import math
import random

import pytest

from pilotlab.rl import mcts
from pilotlab.rl.games import GAMES, ConnectFour, TicTacToe, play_game
from pilotlab.rl.minimax import Solver


def test_uct_score_by_hand() -> None:
    g = TicTacToe()
    node = mcts.Node(g, g.initial())
    node.visits, node.value = 4, 3.0
    assert mcts.uct_score(node, math.log(16), 0.5) == pytest.approx(0.75 + 0.5 * math.sqrt(math.log(16) / 4))


def test_terminal_nodes_are_proven_for_the_mover() -> None:
    g = TicTacToe()
    s = g.initial()
    for m in (0, 3, 1, 4, 2):  # X completes the top row
        s = g.apply(s, m)
    assert mcts.Node(g, s).proven == 1
    with pytest.raises(ValueError, match="finished"):
        mcts.search(g, s, 10)


@pytest.mark.parametrize("seed", range(5))
def test_takes_a_win_and_blocks_a_loss(seed: int) -> None:
    g = TicTacToe()
    s = g.initial()
    for m in (0, 3, 1):  # X threatens 2; O to move must block
        s = g.apply(s, m)
    assert mcts.search(g, s, 60, rng=random.Random(seed)).move == 2
    s = g.apply(g.apply(s, 4), 8)  # O plays 4 instead (threatening 5), X plays 8; O wins at 5
    result = mcts.search(g, s, 60, rng=random.Random(seed))
    assert result.move == 5
    assert result.value == 1.0  # proven by the solver


@pytest.mark.parametrize("seed", range(2))
def test_connect_four_tactics(seed: int) -> None:
    g = ConnectFour()
    s = g.initial()
    for m in (0, 6, 1, 6, 2):  # X has three in the bottom row; O must block column 4
        s = g.apply(s, m)
    assert mcts.search(g, s, 150, rng=random.Random(seed)).move == 3


def test_same_seed_same_search() -> None:
    g = GAMES["connect-four"]
    a = mcts.search(g, g.initial(), 100, rng=random.Random(7))
    b = mcts.search(g, g.initial(), 100, rng=random.Random(7))
    assert a == b
    assert sum(a.visits.values()) == 100


def test_rollout_without_decisive_moves_is_uniform() -> None:
    g = TicTacToe()
    results = [mcts.rollout(g, g.initial(), random.Random(i), decisive=False) for i in range(400)]
    assert 0.45 < results.count(1) / 400 < 0.72  # random play: X wins about 58.5% of games


@pytest.mark.slow
def test_no_loss_against_perfect_minimax_either_side() -> None:
    """100 games as X and 100 as O; the perfect opponent picks at random among its optimal moves."""
    g = TicTacToe()
    solver = Solver(g)
    losses = []
    for i in range(100):
        as_x = play_game(g, mcts.mcts_player(g, 1000, seed=7000 + i), solver.player(seed=8000 + i))
        as_o = play_game(g, solver.player(seed=9000 + i), mcts.mcts_player(g, 1000, seed=6000 + i))
        losses += [("X", i)] * (as_x == -1) + [("O", i)] * (as_o == 1)
    assert losses == []
