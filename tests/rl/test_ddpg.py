"""DDPG/TD3: actor bounds, the clipped double-Q target by hand, target smoothing, Polyak averaging."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

from pilotlab.rl.buffers import ReplayBatch
from pilotlab.rl.ddpg import Actor, Critic, critic_target, polyak

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


@pytest.mark.parametrize("bad", [{"tau": 1.5}, {"policy_delay": 0}, {"network": "deepsets"}])
def test_bad_hyperparameters(bad: dict) -> None:
    from pilotlab.core.errors import PilotlabError
    from pilotlab.rl.ddpg import DDPGConfig

    with pytest.raises(PilotlabError):
        DDPGConfig(**bad)
