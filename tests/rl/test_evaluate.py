"""Generic evaluation: held-out seeds, returns and lengths, success where it applies, GIFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pilotlab.rl.evaluate import evaluate_policy, record_gif


def always(action: int):  # type: ignore[no-untyped-def]
    return lambda obs: np.full(len(obs), action, dtype=np.int64)


def test_returns_lengths_and_seeds() -> None:
    res = evaluate_policy(always(0), "CartPole-v1", {}, episodes=20, seed=5)  # 20 > 16: two parallel chunks
    assert res.returns.shape == (20,) and np.array_equal(res.returns, res.lengths.astype(float))
    assert res.successes is None and "eval/success_rate" not in res.summary()
    again = evaluate_policy(always(0), "CartPole-v1", {}, episodes=3, seed=5)
    assert np.array_equal(again.returns, res.returns[:3])  # episode i uses seed + i
    assert res.summary()["eval/episodes"] == 20.0


def test_success_rate_for_toy_text() -> None:
    # deterministic FrozenLake 4x4: down, down, right, right, down, right reaches the goal
    plan = [1, 1, 2, 2, 1, 2]

    class Scripted:
        t = 0

        def __call__(self, obs: np.ndarray) -> np.ndarray:
            a = plan[min(self.t, len(plan) - 1)]
            self.t += 1
            return np.full(len(obs), a)

    res = evaluate_policy(Scripted(), "FrozenLake-v1", {"is_slippery": False}, episodes=2)
    assert res.summary()["eval/success_rate"] == 1.0 and res.returns.tolist() == [1.0, 1.0]
    fail = evaluate_policy(always(0), "FrozenLake-v1", {"is_slippery": False}, episodes=2, max_steps=50)
    assert fail.summary()["eval/success_rate"] == 0.0


def test_gif(tmp_path: Path) -> None:
    out = record_gif(always(1), "CartPole-v1", {}, tmp_path / "a.gif", max_frames=20)
    assert out.is_file() and out.stat().st_size > 1000
