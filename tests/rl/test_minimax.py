"""Minimax opponents: the tic-tac-toe solver against known facts, alpha-beta against plain negamax."""

from __future__ import annotations

import random

import pytest

from pilotlab.rl.games import ConnectFour, Game, State, TicTacToe, play_game
from pilotlab.rl.minimax import Solver, alphabeta, alphabeta_player, connect_four_heuristic, random_player


def negamax(game: Game, state: State, depth: int) -> float:
    """Oracle: the same search without pruning."""
    result = game.winner(state)
    if result is not None:
        return (1000.0 + depth) * result * state.to_play if result else 0.0
    if depth == 0:
        return connect_four_heuristic(game, state) if isinstance(game, ConnectFour) else 0.0
    return max(-negamax(game, game.apply(state, m), depth - 1) for m in game.legal_moves(state))


def test_solver_knows_tic_tac_toe() -> None:
    g = TicTacToe()
    solver = Solver(g)
    assert solver.value(g.initial()) == 0  # a draw with perfect play
    assert len(solver.memo) == 5478  # the number of reachable tic-tac-toe positions
    s = g.initial()
    for m in (0, 4, 8):  # X corners, O centre; O to move must not play a corner: X would fork
        s = g.apply(s, m)
    assert set(solver.best_moves(s)) == {1, 3, 5, 7}
    threat = g.initial()
    for m in (0, 1, 4, 2):  # X holds 0 and 4, O holds 1 and 2; X to move completes the diagonal at 8
        threat = g.apply(threat, m)
    assert solver.value(threat) == 1
    assert 8 in solver.best_moves(threat)
    lost = g.apply(threat, 5)  # X plays 5 instead: two threats (8 and 3), O can block only one
    assert solver.value(lost) == -1


def test_perfect_play_draws_and_never_loses_to_random() -> None:
    g = TicTacToe()
    solver = Solver(g)
    for i in range(5):
        assert play_game(g, solver.player(i), solver.player(10 + i)) == 0
    for i in range(50):
        assert play_game(g, solver.player(i), random_player(g, i)) in (0, 1)
        assert play_game(g, random_player(g, i), solver.player(i)) in (0, -1)


def test_full_depth_alphabeta_agrees_with_solver() -> None:
    g = TicTacToe()
    solver = Solver(g)
    rng = random.Random(0)
    for _ in range(40):
        s = g.initial()
        for _ in range(rng.randrange(0, 6)):
            s = g.apply(s, rng.choice(g.legal_moves(s)))
        if g.winner(s) is None:
            v = alphabeta(g, s, 9)
            assert (v > 0) - (v < 0) == solver.value(s)


def test_alphabeta_equals_negamax_on_connect_four() -> None:
    g = ConnectFour()
    rng = random.Random(1)
    for _ in range(6):
        s = g.initial()
        for _ in range(rng.randrange(4, 16)):
            if g.winner(s) is None:
                s = g.apply(s, rng.choice(g.legal_moves(s)))
        if g.winner(s) is None:
            assert alphabeta(g, s, 3) == pytest.approx(negamax(g, s, 3))


def test_heuristic_is_antisymmetric() -> None:
    g = ConnectFour()
    s = g.initial()
    for m in (3, 3, 4, 2, 4):
        s = g.apply(s, m)
    assert connect_four_heuristic(g, s) == -connect_four_heuristic(g, s._replace(to_play=-s.to_play))


def test_alphabeta_player_wins_and_blocks() -> None:
    g = ConnectFour()
    s = g.initial()
    for m in (0, 6, 1, 6, 2):  # X has three in the bottom row; O to move must block column 4
        s = g.apply(s, m)
    assert alphabeta_player(g, depth=2)(s) == 3
    s = g.apply(s, 5)  # O does not block: X wins at column 4
    assert alphabeta_player(g, depth=2)(s) == 3
