"""Replay buffer for the off-policy agents (DQN, DDPG, TD3).

The buffer is a ring of preallocated NumPy arrays (no per-transition Python objects; adding a vector
step is far cheaper than torch index writes, docs/rl.md), so a batch is one
fancy-index per field, handed to torch without a copy. Its whole state (filled rows, write position) goes into the
run's safetensors checkpoint through `state_dict`, so a resumed run samples from the same memory.
Sampling draws indices from NumPy's global generator, whose state the checkpoint also restores.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch


class ReplayBatch(NamedTuple):
    """A batch of B transitions (s, a, r, s', terminated)."""

    obs: torch.Tensor  # (B, *obs_shape) float32
    actions: torch.Tensor  # (B,) int64 for discrete actions, (B, A) float32 for continuous
    rewards: torch.Tensor  # (B,) float32
    next_obs: torch.Tensor  # (B, *obs_shape) float32
    terminated: torch.Tensor  # (B,) float32, 1.0 where s' is terminal (no bootstrap)


class ReplayBuffer:
    """Fixed-capacity FIFO of transitions stored as preallocated tensors.

    Args:
        capacity: transitions kept; the oldest is overwritten first.
        obs_shape: shape of one observation.
        action_shape: () for discrete actions (stored as int64), (A,) for continuous (float32).
        discrete: whether actions are integer indices.
    """

    FIELDS = ("obs", "next_obs", "actions", "rewards", "terminated")

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], action_shape: tuple[int, ...], discrete: bool):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=np.float32)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=np.float32)
        self.actions = np.zeros((capacity, *action_shape), dtype=np.int64 if discrete else np.float32)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.pos = 0  # next row to write
        self.size = 0  # rows filled

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray) -> None:
        """Append K transitions given as arrays with a leading (K,) axis (K may be 0)."""
        k = len(rewards)
        if k == 0:
            return
        if k > self.capacity:  # keep only the newest rows
            obs, actions, rewards, next_obs, terminated = (x[-self.capacity:] for x in
                                                           (obs, actions, rewards, next_obs, terminated))
            k = self.capacity
        if self.pos + k <= self.capacity:
            idx: slice | np.ndarray = slice(self.pos, self.pos + k)
        else:
            idx = (self.pos + np.arange(k)) % self.capacity  # (K,) wraps around
        self.obs[idx] = obs
        self.next_obs[idx] = next_obs
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.terminated[idx] = terminated
        self.pos = (self.pos + k) % self.capacity
        self.size = min(self.size + k, self.capacity)

    def sample(self, batch_size: int) -> ReplayBatch:
        """B transitions drawn uniformly with replacement."""
        return self.gather(np.random.randint(0, self.size, size=batch_size))

    def sample_many(self, n_batches: int, batch_size: int) -> ReplayBatch:
        """`n_batches` batches in one draw: every field gets a leading (n_batches, B) shape."""
        return self.gather(np.random.randint(0, self.size, size=(n_batches, batch_size)))

    def gather(self, idx: np.ndarray) -> ReplayBatch:
        """The transitions at `idx` (any index shape), as tensors sharing memory with fresh NumPy copies."""
        return ReplayBatch(*(torch.from_numpy(a[idx]) for a in
                             (self.obs, self.actions, self.rewards, self.next_obs, self.terminated)))

    def state_dict(self) -> dict[str, Any]:
        """Filled rows and counters, for a safetensors checkpoint."""
        n = self.size
        out: dict[str, Any] = {name: torch.from_numpy(getattr(self, name)[:n]) for name in self.FIELDS}
        return {**out, "pos": self.pos, "size": n}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        n = int(state["size"])
        if n > self.capacity:
            raise ValueError(f"checkpointed buffer holds {n} rows, more than the capacity {self.capacity}")
        for name in self.FIELDS:
            getattr(self, name)[:n] = state[name].numpy()
        self.pos, self.size = int(state["pos"]), n
