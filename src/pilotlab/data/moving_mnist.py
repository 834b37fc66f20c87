"""Moving MNIST, generated procedurally from MNIST digits (Srivastava et al. 2015 protocol).

Each sequence: `frames` 64x64 frames in which `num_digits` 28x28 digits move in straight lines at a constant
speed and bounce off the frame's edges; where digits overlap, the brighter pixel wins (np.maximum), as in
the original data set. A digit's top-left corner lives on [0, 36]^2 (64 - 28 = 36 free pixels), its
position is stored as a fraction of that range, it starts uniformly inside it, heads in a uniformly drawn
direction and moves `STEP` of the range per frame (3.6 px). A step that would leave [0, 1] is mirrored
back inside and that velocity component flips: an elastic bounce, so a digit never leaves the frame.

Sequences are never stored: sequence `i` of a set is a pure function of (the set's seed, i) and the digit
images (`np.random.default_rng([seed, i])` draws its digits, starts and directions), so the fixed test set
of 10,000 sequences from the MNIST test digits is the same on every machine and a resumed run sees the same
training batches. Training sequences come from the training digits as an endless stream (sequence ids
0, 1, 2, ...): every id is a new combination of digits and trajectories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

CANVAS = 64
"""Frame side [px]."""
FRAMES = 20
"""Frames per sequence (10 context + 10 future in the prediction protocol)."""
NUM_DIGITS = 2
STEP = 0.1
"""Distance a digit moves per frame, as a fraction of its free range (CANVAS - digit side)."""
TEST_SEED = 2015
"""Seed of the fixed test set (the year of Srivastava et al.)."""
TEST_SEQUENCES = 10_000


def trajectory(rng: np.random.Generator, frames: int, step: float = STEP) -> np.ndarray:
    """Positions (frames, 2) in [0, 1]^2 (row, column) of one bouncing digit, drawn from `rng`."""
    pos = rng.random(2)
    theta = rng.random() * 2.0 * np.pi
    vel = np.array([np.sin(theta), np.cos(theta)]) * step
    out = np.empty((frames, 2))
    for t in range(frames):
        out[t] = pos
        pos = pos + vel
        for k in range(2):  # mirror a step that crossed an edge back inside and flip that component
            if pos[k] < 0.0:
                pos[k], vel[k] = -pos[k], -vel[k]
            elif pos[k] > 1.0:
                pos[k], vel[k] = 2.0 - pos[k], -vel[k]
    return out


@dataclass(frozen=True)
class MovingMNIST:
    """The sequences of one set: `digits` (N, h, w) uint8 moved around a `canvas`-pixel square.

    ``sequence(i)`` is sequence i (uint8 (frames, canvas, canvas)); ``batch(ids)`` a float batch in [0, 1].
    """

    digits: np.ndarray
    seed: int
    frames: int = FRAMES
    num_digits: int = NUM_DIGITS
    canvas: int = CANVAS

    def __post_init__(self) -> None:
        if self.digits.ndim != 3 or self.digits.dtype != np.uint8 or len(self.digits) == 0:
            raise ValueError(f"digits must be a non-empty uint8 (N, h, w) array, got {self.digits.dtype} "
                             f"{self.digits.shape}")
        if max(self.digits.shape[1:]) > self.canvas:
            raise ValueError(f"digits of {self.digits.shape[1:]} do not fit a {self.canvas}-pixel canvas")

    def draw(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Sequence i's digit indices (num_digits,) and top-left corners (frames, num_digits, 2) [px]."""
        rng = np.random.default_rng([self.seed, i])
        which = rng.integers(0, len(self.digits), self.num_digits)
        free = np.array([self.canvas - self.digits.shape[1], self.canvas - self.digits.shape[2]])
        corners = [np.round(trajectory(rng, self.frames) * free).astype(np.int64) for _ in range(self.num_digits)]
        return which, np.stack(corners, axis=1)

    def sequence(self, i: int) -> np.ndarray:
        """Sequence i: uint8 (frames, canvas, canvas)."""
        which, corners = self.draw(i)
        h, w = self.digits.shape[1:]
        out = np.zeros((self.frames, self.canvas, self.canvas), np.uint8)
        for d, idx in enumerate(which):
            digit = self.digits[idx]
            for t in range(self.frames):
                r, c = corners[t, d]
                np.maximum(out[t, r:r + h, c:c + w], digit, out=out[t, r:r + h, c:c + w])
        return out

    def batch(self, ids: range | list[int] | np.ndarray) -> torch.Tensor:
        """Sequences `ids` as float32 (B, frames, 1, canvas, canvas) in [0, 1]."""
        arr = np.stack([self.sequence(int(i)) for i in ids])  # (B, T, H, W) uint8
        return torch.from_numpy(arr).unsqueeze(2).float().div_(255.0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Digits (N, 1, h, w) float in [0, 1] (an `ImageDataset` split) -> uint8 (N, h, w)."""
    return (images[:, 0].clamp(0, 1) * 255.0).round().to(torch.uint8).numpy()


def training_stream(digits: torch.Tensor, seed: int, frames: int = FRAMES) -> MovingMNIST:
    """The endless training stream of a run seeded `seed`, from the training digits (N, 1, 28, 28) in [0, 1]."""
    return MovingMNIST(to_uint8(digits), seed=1_000_003 + seed, frames=frames)  # never the test seed


def fixed_test_sequences(digits: torch.Tensor, frames: int = FRAMES) -> MovingMNIST:
    """The fixed test set: sequences 0..TEST_SEQUENCES-1 of the test digits with `TEST_SEED`."""
    return MovingMNIST(to_uint8(digits), seed=TEST_SEED, frames=frames)
