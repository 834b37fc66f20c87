"""Monte Carlo tree search with UCT, for any `games.Game`, and `pilotlab rl play` in the terminal.

UCT (Kocsis & Szepesvari, 2006; survey: Browne et al., 2012) repeats four steps per simulation:

1. selection: from the root, follow the child maximising Q/N + c sqrt(ln N_parent / N) while every
   move of the node has been tried;
2. expansion: add one untried move (chosen at random) as a new leaf;
3. simulation: play uniformly random moves to the end of the game;
4. backup: add the result (+1 win, 0 draw, -1 loss) to every node on the path, each from the point
   of view of the player who moved into that node.

The move played is the most visited child. The exploration constant defaults to c = 0.7, lower than
UCB1's sqrt(2) for rewards in [0, 1] (Auer et al., 2002), chosen on tic-tac-toe against a perfect
player (docs/rl_planning.md, Results): a larger c dilutes a small budget over bad moves, a smaller one
starves a good move whose first playouts were unlucky.
With ``solver=True`` (MCTS-Solver, Winands, Bjornsson & Saito, 2008) game-theoretic values found at
terminal leaves are propagated up: a node with a winning move is a proven win, a node all of whose
moves lose is a proven loss, so search stops wasting simulations on decided lines and never walks
into a proven loss when another move exists. Randomness comes only from the seeded `random.Random`.
"""

from __future__ import annotations

import math
import random
import sys
from typing import NamedTuple

from pilotlab.rl.games import GAMES, MARKS, Game, Player, State


class Node:
    """A position in the search tree; `value` sums results for the player who moved into it."""

    __slots__ = ("children", "move", "parent", "proven", "state", "untried", "value", "visits")

    def __init__(self, game: Game, state: State, parent: Node | None = None, move: int = -1):
        self.state, self.parent, self.move = state, parent, move
        self.children: list[Node] = []
        self.visits, self.value = 0, 0.0
        result = game.winner(state)
        self.untried: list[int] = game.legal_moves(state) if result is None else []
        # proven result for the player who moved into this node (+1 win, 0 draw, -1 loss), None if unknown
        self.proven: int | None = None if result is None else result * -state.to_play


class SearchResult(NamedTuple):
    """What one search returns."""

    move: int
    """The move to play."""
    visits: dict[int, int]
    """move -> simulations through it."""
    value: float
    """Mean result of the chosen move for the player to move, in [-1, 1] (+1: proven or certain win)."""


def uct_score(child: Node, log_parent_visits: float, exploration: float) -> float:
    """UCB1 of a child: mean result for the mover plus the exploration bonus."""
    return child.value / child.visits + exploration * math.sqrt(log_parent_visits / child.visits)


def _select(node: Node, exploration: float, solver: bool) -> Node:
    """The child of highest `uct_score`, skipping proven losses for the mover (an inlined loop: hot path)."""
    scale = exploration * math.sqrt(math.log(node.visits))
    best, best_score = node.children[0], -math.inf
    for c in node.children:
        if solver and c.proven == -1:
            continue
        score = c.value / c.visits + scale / math.sqrt(c.visits)
        if score > best_score:
            best, best_score = c, score
    return best


def rollout(game: Game, state: State, rng: random.Random, decisive: bool = True) -> int:
    """Play to the end; returns the winner (+1, -1 or 0).

    Moves are uniformly random; with `decisive`, a move that wins at once is always played and
    otherwise a move that stops the opponent's immediate win (Teytaud & Teytaud, 2010), so a playout
    does not count a position as good because the random opponent forgot to take its win.
    """
    while (result := game.winner(state)) is None:
        moves = game.legal_moves(state)
        move = -1
        if decisive:
            me = state.to_play
            move = next((m for m in moves if game.is_winning_move(state, m, me)), -1)
            if move < 0:
                move = next((m for m in moves if game.is_winning_move(state, m, -me)), -1)
        state = game.apply(state, move if move >= 0 else rng.choice(moves))
    return result


def _prove(node: Node) -> None:
    """MCTS-Solver: update the proven values of `node`'s ancestors after `node` was proven."""
    parent = node.parent
    while parent is not None and parent.proven is None:
        child_results = [c.proven for c in parent.children]
        if 1 in child_results:  # the player to move at parent has a winning move
            parent.proven = -1
        elif not parent.untried and None not in child_results:  # every move is decided
            parent.proven = -max(r for r in child_results if r is not None)
        else:
            return
        parent = parent.parent


def search(game: Game, state: State, simulations: int, exploration: float = 0.7, rng: random.Random | None = None,
           solver: bool = True) -> SearchResult:
    """Run `simulations` UCT simulations from `state` (not terminal) and pick a move."""
    if game.winner(state) is not None:
        raise ValueError("cannot search from a finished game")
    rng = rng or random.Random(0)
    root = Node(game, state)
    for _ in range(simulations):
        if solver and root.proven is not None:
            break  # the game value is known: more simulations cannot change the choice
        node = root
        while not node.untried and node.children and node.proven is None:  # 1. selection
            node = _select(node, exploration, solver)
        if node.untried and node.proven is None:  # 2. expansion
            move = node.untried.pop(rng.randrange(len(node.untried)))
            child = Node(game, game.apply(node.state, move), node, move)
            node.children.append(child)
            node = child
        if node.proven is not None:  # 3. simulation (a decided position needs none)
            reward = float(node.proven)
            if solver:
                _prove(node)
        else:
            reward = float(rollout(game, node.state, rng) * -node.state.to_play)
        while node is not None:  # 4. backup, alternating the point of view
            node.visits += 1
            node.value += reward
            reward = -reward
            node = node.parent  # type: ignore[assignment]
    return _choose(root, solver)


def _choose(root: Node, solver: bool) -> SearchResult:
    children = root.children
    if solver:
        winning = [c for c in children if c.proven == 1]
        safe = [c for c in children if c.proven != -1]
        children = winning or safe or children
    best = max(children, key=lambda c: (c.visits, c.value))
    value = float(best.proven) if best.proven is not None else best.value / max(best.visits, 1)
    return SearchResult(best.move, {c.move: c.visits for c in root.children}, value)


def mcts_player(game: Game, simulations: int = 1000, exploration: float = 0.7, seed: int | None = 0,
                solver: bool = True) -> Player:
    """A player that runs a fresh search of `simulations` simulations before each move."""
    rng = random.Random(seed)
    return lambda state: search(game, state, simulations, exploration, rng, solver).move


# -- pilotlab rl play ------------------------------------------------------------------------------
QUIT = ("q", "quit", "exit")


def play_terminal(cfg: object) -> int:
    """Play `cfg.game` against MCTS on stdin/stdout; returns the exit code (0, also on EOF or quit)."""
    game = GAMES[cfg.game]  # type: ignore[attr-defined]
    sims, seed = int(cfg.simulations), int(cfg.seed)  # type: ignore[attr-defined]
    exploration = float(getattr(cfg, "exploration", 0.7))
    human = 1 if cfg.human_first else -1  # type: ignore[attr-defined]
    rng = random.Random(seed)
    what = "a cell 1-9" if game.name == "tic-tac-toe" else "a column 1-7"
    print(f"{game.name}: you are {MARKS[human]}, MCTS ({sims} simulations) is {MARKS[-human]}; "
          f"X moves first. Type {what}, or q to quit.")
    state = game.initial()
    while (result := game.winner(state)) is None:
        if state.to_play == human:
            print(game.render(state))
            print("your move: ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                print("\nend of input; game abandoned")
                return 0
            if not sys.stdin.isatty():  # piped input is not echoed by a terminal: show it in the transcript
                print(line.rstrip("\n"))
            if line.strip().lower() in QUIT:
                print("game abandoned")
                return 0
            try:
                move = game.parse_move(line)
                game.check_move(state, move)
            except ValueError as e:
                print(f"invalid move: {e}")
                continue
        else:
            found = search(game, state, sims, exploration, rng)
            move = found.move
            print(f"MCTS plays {move + 1} (expected result for MCTS {found.value:+.2f})")
        state = game.apply(state, move)
    print(game.render(state))
    print("draw" if result == 0 else ("you win" if result == human else "MCTS wins"))
    return 0
