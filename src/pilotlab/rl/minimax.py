"""Minimax opponents: a perfect memoised solver (tic-tac-toe) and depth-limited alpha-beta (connect four).

Both are written as negamax (von Neumann's minimax for zero-sum games, with values always taken from
the point of view of the player to move): value(s) = max over moves of -value(child).

- `Solver` searches to the end of the game and memoises each position's exact value (+1 win,
  0 draw, -1 loss for the player to move); tic-tac-toe has 5,478 reachable positions, so the
  whole game is solved in a fraction of a second. Its `player` picks uniformly among the optimal
  moves (seeded), so a test against it sees many different perfect games, not one.
- `alphabeta` prunes with the window [alpha, beta] (Knuth & Moore, 1975) down to a fixed depth and
  scores the frontier with a heuristic: for connect four `connect_four_heuristic` counts the
  four-cell windows that only one player occupies, weighted by how full they are. Wins found in
  the search score +/-(1000 + depth left), so nearer wins are preferred and slower losses chosen.
  Columns are tried centre first, which makes cutoffs earlier.
"""

from __future__ import annotations

import math
import random

from pilotlab.rl.games import ConnectFour, Game, Player, State

WIN = 1000.0  # score of a won position in alphabeta; far above any heuristic value


class Solver:
    """Exact game values by exhaustive negamax with a memo (a transposition table)."""

    def __init__(self, game: Game):
        self.game = game
        self.memo: dict[tuple[int, ...], int] = {}  # board -> value (the board fixes whose turn it is)

    def value(self, state: State) -> int:
        """+1 / 0 / -1: the result for the player to move under perfect play by both."""
        cached = self.memo.get(state.board)
        if cached is not None:
            return cached
        result = self.game.winner(state)
        if result is not None:
            v = result * state.to_play  # the last mover won -> -1 for the player to move
        else:
            v = max(-self.value(self.game.apply(state, m)) for m in self.game.legal_moves(state))
        self.memo[state.board] = v
        return v

    def best_moves(self, state: State) -> list[int]:
        """Every move that keeps the best achievable result."""
        scored = [(m, -self.value(self.game.apply(state, m))) for m in self.game.legal_moves(state)]
        best = max(v for _, v in scored)
        return [m for m, v in scored if v == best]

    def player(self, seed: int | None = 0) -> Player:
        """A perfect player choosing at random (seeded) among the optimal moves."""
        rng = random.Random(seed)
        return lambda state: rng.choice(self.best_moves(state))


def connect_four_heuristic(game: ConnectFour, state: State) -> float:
    """Board score for the player to move: sum over windows held by one side of 1, 4, 16 for 1, 2, 3 discs.

    Centre-column discs add 1 each (more lines pass through them). Bounded far below `WIN`.
    """
    me = state.to_play
    score = 0.0
    board = state.board
    for line in game.lines:
        mine = theirs = 0
        for i in line:
            v = board[i]
            if v == me:
                mine += 1
            elif v:
                theirs += 1
        if mine and not theirs:
            score += 4.0 ** (mine - 1)
        elif theirs and not mine:
            score -= 4.0 ** (theirs - 1)
    centre = game.cols // 2
    score += sum(board[r * game.cols + centre] for r in range(game.rows)) * me
    return score


def alphabeta(game: Game, state: State, depth: int, alpha: float = -math.inf, beta: float = math.inf) -> float:
    """Negamax value of `state` for the player to move, searched `depth` plies with alpha-beta pruning."""
    result = game.winner(state)
    if result is not None:
        return (WIN + depth) * result * state.to_play if result else 0.0
    if depth == 0:
        return connect_four_heuristic(game, state) if isinstance(game, ConnectFour) else 0.0
    value = -math.inf
    for move in _ordered(game, state):
        value = max(value, -alphabeta(game, game.apply(state, move), depth - 1, -beta, -alpha))
        alpha = max(alpha, value)
        if alpha >= beta:
            break  # the opponent will never allow this line
    return value


def _ordered(game: Game, state: State) -> list[int]:
    """Legal moves, centre first (centre columns/cells take part in the most lines)."""
    centre = (game.n_moves - 1) / 2
    return sorted(game.legal_moves(state), key=lambda m: abs(m - centre))


def alphabeta_player(game: Game, depth: int = 4, seed: int | None = 0) -> Player:
    """Plays a move of highest depth-limited alpha-beta value (random among ties, seeded)."""
    rng = random.Random(seed)

    def choose(state: State) -> int:
        scored = [(m, -alphabeta(game, game.apply(state, m), depth - 1)) for m in _ordered(game, state)]
        best = max(v for _, v in scored)
        return rng.choice([m for m, v in scored if v == best])

    return choose


def random_player(game: Game, seed: int | None = 0) -> Player:
    """Uniformly random legal moves: the weakest baseline."""
    rng = random.Random(seed)
    return lambda state: rng.choice(game.legal_moves(state))
