"""Grid-world figures: the greedy policy as arrows over a heat map of the value function.

`grid_layout` recognises the Gymnasium grid worlds whose observation is a cell index (FrozenLake,
CliffWalking) and returns the map shape, the cell letters and the arrow of each action;
`save_policy_map` draws any (values, actions) pair on such a layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

# (dx, dy) in plot coordinates (row 0 at the top, so "up" is dy = -1)
_FROZENLAKE_ARROWS = {0: (-1.0, 0.0), 1: (0.0, 1.0), 2: (1.0, 0.0), 3: (0.0, -1.0)}  # left, down, right, up
_CLIFF_ARROWS = {0: (0.0, -1.0), 1: (1.0, 0.0), 2: (0.0, 1.0), 3: (-1.0, 0.0)}  # up, right, down, left


class GridLayout(NamedTuple):
    """How the states of a grid world map onto its cells."""

    shape: tuple[int, int]
    """(rows, cols); state s is cell divmod(s, cols)."""
    labels: np.ndarray
    """(rows, cols) one-letter cell labels (S start, F frozen, H hole, G goal, C cliff)."""
    arrows: dict[int, tuple[float, float]]
    """action -> (dx, dy) arrow direction."""
    terminal: np.ndarray
    """(rows, cols) True where no action is drawn (holes, goal, cliff)."""


def grid_layout(env: Any) -> GridLayout | None:
    """The layout of FrozenLake or CliffWalking (None for other envs)."""
    u = env.unwrapped
    name = type(u).__name__
    if name == "FrozenLakeEnv":
        labels = np.asarray(u.desc).astype(str)  # (rows, cols) of b"S", b"F", ... -> str
        return GridLayout(labels.shape, labels, _FROZENLAKE_ARROWS, np.isin(labels, ["H", "G"]))
    if name == "CliffWalkingEnv":
        rows, cols = u.shape
        labels = np.full((rows, cols), ".", dtype="<U1")
        labels[3, 1:-1] = "C"
        labels[3, 0], labels[3, -1] = "S", "G"
        return GridLayout((rows, cols), labels, _CLIFF_ARROWS, np.isin(labels, ["C", "G"]))
    return None


def save_policy_map(layout: GridLayout, values: np.ndarray, actions: np.ndarray, path: str | Path,
                    title: str = "") -> Path:
    """Draw V(s) (S,) as a heat map and the greedy action (S,) of each non-terminal cell as an arrow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = layout.shape
    v = np.asarray(values, dtype=np.float64).reshape(rows, cols)  # (S,) -> (rows, cols)
    a = np.asarray(actions).reshape(rows, cols)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(0.75 * cols + 1.6, 0.75 * rows + 0.8), dpi=100)
    im = ax.imshow(v, cmap="viridis")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="V(s)")
    for r in range(rows):
        for c in range(cols):
            label = layout.labels[r, c]
            if layout.terminal[r, c]:
                ax.text(c, r, label, ha="center", va="center", fontsize=12, weight="bold",
                        color="white")
                continue
            dx, dy = layout.arrows[int(a[r, c])]
            ax.annotate("", xy=(c + 0.32 * dx, r + 0.32 * dy), xytext=(c - 0.32 * dx, r - 0.32 * dy),
                        arrowprops={"arrowstyle": "->", "color": "white", "lw": 1.8})
            if label == "S":
                ax.text(c - 0.38, r - 0.38, "S", fontsize=7, color="white", va="top")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(p)
    plt.close(fig)
    return p
