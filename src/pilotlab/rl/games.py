"""Two-player, zero-sum, perfect-information board games for planning: tic-tac-toe and connect four.

A `Game` is stateless; positions are immutable `State` tuples, so search code can hash them, share
them between tree nodes and never undo moves. Players are +1 (moves first, shown as X) and -1 (O).
`winner(state)` is +1 or -1 once someone has won, 0 for a draw and None while the game goes on;
only lines through the last move are checked, which keeps random playouts cheap.

    game = GAMES["connect-four"]
    s = game.initial()
    s = game.apply(s, 3)            # drop a disc in the middle column
    print(game.render(s))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

MARKS = {1: "X", -1: "O", 0: "."}


class State(NamedTuple):
    """A position: cells (row-major, 0 empty, +1 / -1 the players' marks), whose turn, the last cell played."""

    board: tuple[int, ...]
    to_play: int
    last: int = -1
    """Cell index of the last move (-1 at the start)."""


def _lines(rows: int, cols: int, length: int) -> list[tuple[int, ...]]:
    """Every straight run of `length` cells: horizontal, vertical and both diagonals."""
    out = []
    for r in range(rows):
        for c in range(cols):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                end_r, end_c = r + dr * (length - 1), c + dc * (length - 1)
                if 0 <= end_r < rows and 0 <= end_c < cols:
                    out.append(tuple((r + dr * k) * cols + c + dc * k for k in range(length)))
    return out


class Game:
    """A connect-k game on a rows x cols grid; subclasses say where a move lands (`cell_of`)."""

    name = "game"
    rows = cols = k = 0

    def __init__(self) -> None:
        self.lines = _lines(self.rows, self.cols, self.k)
        self.lines_through: list[list[tuple[int, ...]]] = [
            [line for line in self.lines if cell in line] for cell in range(self.rows * self.cols)]

    # -- rules --------------------------------------------------------------------------------
    def initial(self) -> State:
        return State((0,) * (self.rows * self.cols), 1)

    def legal_moves(self, state: State) -> list[int]:
        raise NotImplementedError

    def cell_of(self, state: State, move: int) -> int:
        """The board cell that `move` fills."""
        raise NotImplementedError

    def apply(self, state: State, move: int) -> State:
        """The position after the player to move plays `move` (assumed legal; see `check_move`)."""
        cell = self.cell_of(state, move)
        board = list(state.board)
        board[cell] = state.to_play
        return State(tuple(board), -state.to_play, cell)

    def check_move(self, state: State, move: int) -> None:
        """Raise ValueError naming the legal moves when `move` is not one of them."""
        if self.winner(state) is not None:
            raise ValueError("the game is over")
        if move not in self.legal_moves(state):
            shown = ", ".join(str(m + 1) for m in self.legal_moves(state))
            raise ValueError(f"{move + 1} is not a legal move; legal: {shown}")

    def winner(self, state: State) -> int | None:
        """+1 / -1 when that player has completed a line, 0 for a full board, None otherwise."""
        board, last = state.board, state.last
        if last >= 0:
            mark = board[last]
            for line in self.lines_through[last]:  # explicit loops: 3x faster than any(all(...)) here
                for i in line:
                    if board[i] != mark:
                        break
                else:
                    return mark
        return 0 if 0 not in board else None

    def is_winning_move(self, state: State, move: int, player: int) -> bool:
        """Whether `player` playing `move` now would complete a line (for either side, whoever is to move)."""
        cell = self.cell_of(state, move)
        board = state.board
        for line in self.lines_through[cell]:
            for i in line:
                if i != cell and board[i] != player:
                    break
            else:
                return True
        return False

    # -- text ---------------------------------------------------------------------------------
    def render(self, state: State) -> str:
        """The board as text, top row first, with move numbers to type."""
        raise NotImplementedError

    def parse_move(self, text: str) -> int:
        """A typed move ("5") -> move index; ValueError with a readable message if malformed."""
        text = text.strip()
        if not text.isdigit():
            raise ValueError(f"type a number from 1 to {self.n_moves}, got {text!r}")
        return int(text) - 1

    @property
    def n_moves(self) -> int:
        return self.rows * self.cols


class TicTacToe(Game):
    """3x3, three in a row wins. Moves are cells 0-8 (typed 1-9, row by row from the top)."""

    name = "tic-tac-toe"
    rows = cols = k = 3

    def legal_moves(self, state: State) -> list[int]:
        return [i for i, v in enumerate(state.board) if v == 0]

    def cell_of(self, state: State, move: int) -> int:
        return move

    def render(self, state: State) -> str:
        rows = []
        for r in range(3):
            cells = [MARKS[v] if v else str(r * 3 + c + 1) for c, v in enumerate(state.board[r * 3:r * 3 + 3])]
            rows.append(" " + " | ".join(cells))
        return "\n---+---+---\n".join(rows)


class ConnectFour(Game):
    """6 rows x 7 columns, discs fall to the lowest free row, four in a row wins. Moves are columns 0-6."""

    name = "connect-four"
    rows, cols, k = 6, 7, 4

    def legal_moves(self, state: State) -> list[int]:
        return [c for c in range(self.cols) if state.board[c] == 0]  # row 0 is the top row

    def cell_of(self, state: State, move: int) -> int:
        for r in range(self.rows - 1, -1, -1):  # bottom row first
            if state.board[r * self.cols + move] == 0:
                return r * self.cols + move
        raise ValueError(f"column {move + 1} is full")

    @property
    def n_moves(self) -> int:
        return self.cols

    def render(self, state: State) -> str:
        lines = [" " + " ".join(MARKS[v] for v in state.board[r * self.cols:(r + 1) * self.cols])
                 for r in range(self.rows)]
        lines.append(" " + " ".join(str(c + 1) for c in range(self.cols)))
        return "\n".join(lines)


GAMES: dict[str, Game] = {"tic-tac-toe": TicTacToe(), "connect-four": ConnectFour()}

Player = Callable[[State], int]
"""Anything that picks a move for the player to move in a non-terminal state."""


def play_game(game: Game, first: Player, second: Player, start: State | None = None) -> int:
    """Play to the end; returns the winner (+1 = `first`, -1 = `second`, 0 = draw)."""
    state = start or game.initial()
    while (result := game.winner(state)) is None:
        player = first if state.to_play == 1 else second
        move = player(state)
        game.check_move(state, move)
        state = game.apply(state, move)
    return result
