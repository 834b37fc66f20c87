"""Replay buffer: ring writes, sampling, checkpoint round trip; autoreset masking on a scripted env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from pilotlab.core import checkpoint
from pilotlab.rl.buffers import ReplayBatch, ReplayBuffer
from pilotlab.rl.envs import StepMask, make_vec_env

SCRIPTED_ID = "pilotlab-test/Countdown-v0"


class Countdown(gym.Env):
    """obs = [t] (steps since reset); reward 1 per step; terminates after `length` steps.

    The reset observation is [0] and the final one [length], so a stored transition crossing an
    autoreset would show up as next_obs != obs + 1.
    """

    def __init__(self, length: int = 3, render_mode: str | None = None):
        self.length = length
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0.0, 100.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], dtype=np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        return np.array([float(self.t)], dtype=np.float32), 1.0, self.t >= self.length, False, {}


if SCRIPTED_ID not in gym.registry:
    gym.register(SCRIPTED_ID, entry_point=Countdown, max_episode_steps=None)


def fill(buf: ReplayBuffer, start: int, k: int) -> None:
    x = np.arange(start, start + k, dtype=np.float32)
    buf.add(x[:, None], x.astype(np.int64) % 2, x, x[:, None] + 1, (x % 3 == 0).astype(np.float32))


def test_ring_overwrites_oldest() -> None:
    buf = ReplayBuffer(5, (1,), (), discrete=True)
    fill(buf, 0, 3)
    assert len(buf) == 3 and buf.pos == 3
    fill(buf, 3, 4)  # wraps: rows hold 5, 6, 2, 3, 4
    assert len(buf) == 5 and buf.pos == 2
    assert buf.rewards.tolist() == [5, 6, 2, 3, 4]
    fill(buf, 10, 7)  # more than the capacity: only the newest 5 stay
    assert sorted(buf.rewards.tolist()) == [12, 13, 14, 15, 16]


def test_sample_is_typed_and_consistent() -> None:
    buf = ReplayBuffer(100, (1,), (), discrete=True)
    fill(buf, 0, 50)
    batch = buf.sample(32)
    assert isinstance(batch, ReplayBatch)
    assert batch.obs.shape == (32, 1) and batch.actions.dtype == torch.int64 and batch.rewards.shape == (32,)
    assert torch.equal(batch.next_obs, batch.obs + 1) and torch.equal(batch.rewards, batch.obs[:, 0])
    many = buf.sample_many(4, 8)
    assert many.obs.shape == (4, 8, 1) and many.terminated.shape == (4, 8)
    assert batch.rewards.max() < 50  # never samples unfilled rows


def test_continuous_actions_and_state_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    buf = ReplayBuffer(10, (3,), (2,), discrete=False)
    rng = np.random.default_rng(0)
    for _ in range(4):
        buf.add(rng.normal(size=(3, 3)), rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=(3, 3)),
                np.zeros(3))
    checkpoint.save(tmp_path / "buf", {"buffer": buf.state_dict()})
    state, _ = checkpoint.load(tmp_path / "buf")
    other = ReplayBuffer(10, (3,), (2,), discrete=False)
    other.load_state_dict(state["buffer"])
    assert (other.pos, other.size) == (buf.pos, buf.size)
    for name in ReplayBuffer.FIELDS:
        assert np.array_equal(getattr(other, name), getattr(buf, name))
    np.random.seed(3)
    a = buf.sample(5)
    np.random.seed(3)
    assert torch.equal(other.sample(5).actions, a.actions)  # same RNG state -> same batch


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ReplayBuffer(0, (1,), (), discrete=True)


def test_autoreset_transitions_are_masked() -> None:
    """Collect with StepMask over envs of different lengths; no stored transition crosses a reset."""
    envs = make_vec_env(SCRIPTED_ID, 2, {})
    envs.envs[1].unwrapped.length = 5  # type: ignore[attr-defined]
    buf = ReplayBuffer(200, (1,), (), discrete=True)
    mask = StepMask(2)
    obs, _ = envs.reset(seed=0)
    dropped = 0
    for _ in range(40):
        nxt, rew, term, trunc, _ = envs.step(np.zeros(2, dtype=np.int64))
        valid = mask.valid()
        dropped += int((~valid).sum())
        buf.add(obs[valid], np.zeros(valid.sum(), dtype=np.int64), rew[valid], nxt[valid], term[valid])
        mask.update(term, trunc)
        obs = nxt
    envs.close()
    o, n, d = buf.obs[: len(buf), 0], buf.next_obs[: len(buf), 0], buf.terminated[: len(buf)]
    assert dropped > 0
    assert np.array_equal(n, o + 1)  # every stored transition is a real step
    assert set(n[d == 1].tolist()) == {3.0, 5.0}  # terminal flags exactly at the episode ends
    assert not np.any(d[(n != 3) & (n != 5)])


def test_dqn_training_loop_never_stores_reset_transitions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Through the real DQN loop (4 envs, next-step autoreset): the checkpointed buffer holds only real steps."""
    from pilotlab.rl.dqn import DQNConfig, train

    cfg = DQNConfig(env=SCRIPTED_ID, env_kwargs='{"length": 4}', num_envs=4, total_steps=200, learning_starts=100,
                    train_freq=50, gradient_steps=2, batch_size=8, hidden=(8,), eval_episodes=1,
                    run_dir=str(tmp_path / "run"), log_every=100, checkpoint_every=200)
    run = train(cfg)
    state, _ = checkpoint.load(run.checkpoints / "last")
    buf = state["buffer"]
    o, n, d = buf["obs"][:, 0], buf["next_obs"][:, 0], buf["terminated"]
    assert buf["size"] == 200 - 4 * (200 // 4 // 5)  # one reset step per env every 5 vector steps is dropped
    assert torch.equal(n, o + 1)
    assert torch.equal(d == 1, n == 4)
