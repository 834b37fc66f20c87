"""DDPG/TD3: actor bounds, the clipped double-Q target by hand, target smoothing, Polyak averaging, and the HER
paper's settings (target clipping, the action penalty, random exploration) by hand."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from pilotlab.rl.buffers import ReplayBatch
from pilotlab.rl.ddpg import Actor, Critic, actor_loss, critic_target, explore, polyak

SPACE = gym.spaces.Box(low=-2.0, high=1.0, shape=(2,))


def test_actor_stays_in_bounds() -> None:
    torch.manual_seed(0)
    actor = Actor(3, SPACE, (8,))
    a = actor(100 * torch.randn(50, 3))
    assert a.shape == (50, 2) and a.min() >= -2.0 and a.max() <= 1.0


class ConstCritic(Critic):
    """Critic returning fixed values per head, to check the target by hand."""

    def __init__(self, values: list[float]):
        super().__init__(1, 2, (4,), len(values))
        self.values = values

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return torch.tensor(self.values)[:, None].expand(len(self.values), obs.shape[0])  # (n, B)


def test_target_uses_minimum_of_twin_critics() -> None:
    batch = ReplayBatch(torch.zeros(2, 1), torch.zeros(2, 2), torch.tensor([1.0, 1.0]), torch.zeros(2, 1),
                        torch.tensor([0.0, 1.0]))
    actor = Actor(1, SPACE, (4,))
    target = critic_target(actor, ConstCritic([3.0, 5.0]), batch, 0.5, 0.2, 0.5)
    assert target.tolist() == [1.0 + 0.5 * 3.0, 1.0]  # min(3, 5); no bootstrap after a terminal


def test_target_clipping_to_the_range_of_sparse_returns() -> None:
    """Rewards in [-1, 0] with gamma 0.5: every return lies in [-2, 0], so the targets are clamped there."""
    batch = ReplayBatch(torch.zeros(3, 1), torch.zeros(3, 2), torch.tensor([-1.0, 0.0, -1.0]), torch.zeros(3, 1),
                        torch.zeros(3))
    actor = Actor(1, SPACE, (4,))
    assert critic_target(actor, ConstCritic([-10.0]), batch, 0.5, 0.0, 0.0, (-2.0, 0.0)).tolist() == [-2.0, -2.0, -2.0]
    assert critic_target(actor, ConstCritic([4.0]), batch, 0.5, 0.0, 0.0, (-2.0, 0.0)).tolist() == [0.0, 0.0, 0.0]
    assert critic_target(actor, ConstCritic([-1.0]), batch, 0.5, 0.0, 0.0, (-2.0, 0.0)).tolist() == [-1.5, -0.5, -1.5]


def test_actor_loss_with_the_action_penalty_by_hand() -> None:
    actor = Actor(1, SPACE, (4,))  # bounds [-2, 1]: center -0.5, half-range 1.5
    q, action = torch.tensor([1.0, 3.0]), torch.tensor([[1.0, -0.5], [-2.0, 0.25]])
    # scaled actions (1, 0) and (-1, 0.5): mean of squares (1 + 0 + 1 + 0.25) / 4 = 0.5625
    assert actor_loss(q, action, actor, 0.0).item() == -2.0
    assert actor_loss(q, action, actor, 2.0).item() == pytest.approx(-2.0 + 2.0 * 0.5625)


def test_exploration_noise_and_random_actions() -> None:
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 1.0])
    mu = np.tile([[1.9, 0.5]], (4000, 1))
    np.random.seed(0)
    a = explore(mu, low, high, 0.1, 0.0)
    assert (a >= low).all() and (a <= high).all() and (a[:, 0] == 2.0).any()  # clipped at the bound
    assert np.std(a[:, 1]) == pytest.approx(0.1 * 0.5, rel=0.1)  # std in half-ranges
    np.random.seed(0)
    a = explore(mu, low, high, 0.0, 0.3)
    random_rows = (a != mu).any(1)
    assert random_rows.mean() == pytest.approx(0.3, abs=0.03)  # whole rows replaced
    assert (a[random_rows] >= low).all() and (a[random_rows] <= high).all() and a[random_rows, 0].min() < 0
    np.random.seed(0)
    assert (explore(mu, low, high, 0.0, 0.0) == mu).all()


def test_her_paper_settings_train_and_resume_exactly(tmp_path: Path) -> None:
    """DDPG with the HER paper's settings on a goal env: the normalizer is in the checkpoint and a resumed run
    ends where the uninterrupted one does."""
    from safetensors.torch import load_file
    from tests.rl.test_her import TINY

    from pilotlab.cli import main

    argv = ["rl", "train", "--algo", "ddpg", *TINY, "--eval-every", "0", "--normalize-obs", "--action-l2", "1",
            "--clip-target", "--random-eps", "0.3", "--exploration-noise", "0.2"]
    assert main([*argv, "--run-dir", str(tmp_path / "full")]) == 0
    assert main([*argv, "--total-steps", "100", "--run-dir", str(tmp_path / "cut")]) == 0
    assert main([*argv, "--run-dir", str(tmp_path / "cut"), "--resume"]) == 0
    full, cut = (load_file(tmp_path / d / "checkpoints/last.safetensors") for d in ("full", "cut"))
    assert any(k.startswith("norm/") for k in full)
    for k in ("norm/mean", "actor/net.0.weight", "critic/qs.0.0.weight"):
        assert torch.equal(full[k], cut[k]), k


def test_target_smoothing_noise_is_clipped_and_in_bounds() -> None:
    torch.manual_seed(0)
    actor = Actor(1, SPACE, (4,))
    seen: list[torch.Tensor] = []

    class Spy(ConstCritic):
        def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
            seen.append(action)
            return super().forward(obs, action)

    batch = ReplayBatch(torch.zeros(500, 1), torch.zeros(500, 2), torch.zeros(500), torch.zeros(500, 1),
                        torch.zeros(500))
    critic_target(actor, Spy([0.0]), batch, 0.9, 10.0, 0.5)  # huge noise, clipped at 0.5 half-ranges
    a, mean = seen[0], actor(torch.zeros(1, 1)).detach()
    assert (a - mean).abs().max() <= 0.5 * 1.5 + 1e-6  # half-range 1.5
    assert a.min() >= -2.0 and a.max() <= 1.0


def test_polyak() -> None:
    t, p = [torch.zeros(3)], [torch.ones(3)]
    polyak(t, p, 0.25)
    assert torch.allclose(t[0], torch.full((3,), 0.25))
    polyak(t, p, 1.0)
    assert torch.allclose(t[0], p[0])


def test_twin_critic_shape() -> None:
    assert Critic(3, 2, (8,), 2)(torch.randn(5, 3), torch.randn(5, 2)).shape == (2, 5)


@pytest.mark.parametrize("bad", [{"tau": 1.5}, {"policy_delay": 0}, {"network": "deepsets"}, {"random_eps": 1.5},
                                 {"action_l2": -1.0}, {"action_l2": float("nan")}])
def test_bad_hyperparameters(bad: dict) -> None:
    from pilotlab.core.errors import PilotlabError
    from pilotlab.rl.ddpg import DDPGConfig

    with pytest.raises(PilotlabError):
        DDPGConfig(**bad)
