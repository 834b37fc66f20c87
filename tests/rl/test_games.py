"""Game rules: placement, win detection against a naive full-board scan, move parsing, rendering."""

from __future__ import annotations

import random

import pytest

from pilotlab.rl.games import GAMES, ConnectFour, Game, State, TicTacToe, play_game
from pilotlab.rl.minimax import random_player


def naive_winner(game: Game, state: State) -> int | None:
    """Oracle: scan every row, column and diagonal of the whole board."""
    n = game.k
    b = [state.board[r * game.cols:(r + 1) * game.cols] for r in range(game.rows)]
    for r in range(game.rows):
        for c in range(game.cols):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + dr * i, c + dc * i) for i in range(n)]
                if all(0 <= y < game.rows and 0 <= x < game.cols for y, x in cells):
                    marks = {b[y][x] for y, x in cells}
                    if len(marks) == 1 and 0 not in marks:
                        return marks.pop()
    return 0 if 0 not in state.board else None


def random_positions(game: Game, n: int, seed: int) -> list[State]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = game.initial()
        while game.winner(s) is None:
            out.append(s)
            s = game.apply(s, rng.choice(game.legal_moves(s)))
        out.append(s)
    return out


@pytest.mark.parametrize("name", list(GAMES))
def test_winner_matches_full_scan(name: str) -> None:
    game = GAMES[name]
    for s in random_positions(game, 60, seed=1):
        assert game.winner(s) == naive_winner(game, s)


@pytest.mark.parametrize("name", list(GAMES))
def test_is_winning_move_matches_apply(name: str) -> None:
    game = GAMES[name]
    for s in random_positions(game, 20, seed=2):
        if game.winner(s) is not None:
            continue
        for m in game.legal_moves(s):
            assert game.is_winning_move(s, m, s.to_play) == (game.winner(game.apply(s, m)) == s.to_play)


def test_tic_tac_toe_rules() -> None:
    g = TicTacToe()
    s = g.initial()
    assert g.legal_moves(s) == list(range(9))
    for m in (0, 3, 1, 4):  # X: 0, 1; O: 3, 4
        s = g.apply(s, m)
    assert g.winner(s) is None
    assert s.to_play == 1
    assert g.winner(g.apply(s, 2)) == 1  # top row
    draw = State((1, -1, 1, 1, -1, -1, -1, 1, 1), 1, 8)
    assert g.winner(draw) == 0
    assert g.render(g.apply(g.initial(), 4)).splitlines()[2] == " 4 | X | 6"


def test_connect_four_discs_fall_and_columns_fill() -> None:
    g = ConnectFour()
    s = g.initial()
    for _ in range(6):
        s = g.apply(s, 3)
    assert 3 not in g.legal_moves(s)
    assert [s.board[r * 7 + 3] for r in range(6)] == [-1, 1, -1, 1, -1, 1]  # top row first
    with pytest.raises(ValueError, match="not a legal move"):
        g.check_move(s, 3)
    assert g.render(s).splitlines()[-1] == " 1 2 3 4 5 6 7"
    assert g.render(s).splitlines()[-2] == " . . . X . . ."


@pytest.mark.parametrize("text", ["abc", "", "-2"])
def test_parse_move_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="type a number"):
        GAMES["tic-tac-toe"].parse_move(text)
    assert GAMES["connect-four"].parse_move(" 7\n") == 6


@pytest.mark.parametrize("name", list(GAMES))
def test_random_games_end(name: str) -> None:
    game = GAMES[name]
    results = {play_game(game, random_player(game, i), random_player(game, 100 + i)) for i in range(30)}
    assert results <= {-1, 0, 1}
    assert 1 in results
