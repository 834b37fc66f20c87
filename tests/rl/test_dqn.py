"""DQN: epsilon schedule, the (double) TD loss against a hand computation, dueling heads; CartPole (slow)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pilotlab.rl.buffers import ReplayBatch
from pilotlab.rl.dqn import DQNConfig, QNetwork, dqn_loss, linear_schedule, train
from pilotlab.rl.networks import build_encoder


def test_linear_schedule() -> None:
    assert linear_schedule(1.0, 0.1, 0.5, 0.0) == 1.0
    assert linear_schedule(1.0, 0.1, 0.5, 0.25) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 0.5, 0.9) == 0.1
    assert linear_schedule(1.0, 0.1, 0.0, 0.0) == 0.1


class Table(torch.nn.Module):
    """Q(s) = row s of a table; observations are one-hot states."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = torch.nn.Parameter(table.clone())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs @ self.table  # (B, S) @ (S, A) -> (B, A)


def test_double_and_plain_targets_by_hand() -> None:
    eye = torch.eye(2)
    online = Table(torch.tensor([[1.0, 2.0], [5.0, 3.0]]))  # online argmax in state 1: action 0
    target = Table(torch.tensor([[0.0, 0.0], [4.0, 6.0]]))  # target argmax in state 1: action 1
    batch = ReplayBatch(obs=eye[[0]], actions=torch.tensor([1]), rewards=torch.tensor([1.0]),
                        next_obs=eye[[1]], terminated=torch.tensor([0.0]))
    for double, next_v in ((True, 4.0), (False, 6.0)):
        loss, q_mean = dqn_loss(online, target, batch, 0.5, double)  # type: ignore[arg-type]
        expected_target = 1.0 + 0.5 * next_v
        assert q_mean.item() == 2.0
        assert loss.item() == pytest.approx(F.smooth_l1_loss(torch.tensor(2.0), torch.tensor(expected_target)).item())
    done = batch._replace(terminated=torch.tensor([1.0]))
    loss, _ = dqn_loss(online, target, done, 0.5, True)  # type: ignore[arg-type]
    assert loss.item() == pytest.approx(0.5)  # |2 - 1| = 1 -> Huber 0.5


def test_loss_gradient_reaches_only_the_chosen_action() -> None:
    eye = torch.eye(2)
    online, target = Table(torch.zeros(2, 2)), Table(torch.zeros(2, 2))
    batch = ReplayBatch(eye[[0]], torch.tensor([1]), torch.tensor([1.0]), eye[[1]], torch.tensor([0.0]))
    loss, _ = dqn_loss(online, target, batch, 0.9, True)  # type: ignore[arg-type]
    loss.backward()
    assert online.table.grad is not None
    assert torch.count_nonzero(online.table.grad).item() == 1 and online.table.grad[0, 1] < 0


def test_dueling_head_identity() -> None:
    torch.manual_seed(0)
    net = QNetwork(build_encoder("mlp", (3,), (8,)), 4, dueling=True)
    x = torch.randn(5, 3)
    h = net.encoder(x)
    adv = net.advantage(h)
    assert net.value is not None
    assert torch.allclose(net(x) - net.value(h), adv - adv.mean(1, keepdim=True), atol=1e-6)


@pytest.mark.slow
def test_dqn_solves_cartpole(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The default DQN reaches a mean evaluation return >= 475 on CartPole-v1 within 50k env steps."""
    run = train(DQNConfig(run_dir=str(tmp_path / "run"), seed=0, checkpoint_every=50_000))
    assert run.summary()["eval/return_mean"] >= 475
