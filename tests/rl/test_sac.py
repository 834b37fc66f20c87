"""SAC: the squashed-Gaussian log-density, the soft critic target, the actor and alpha losses by hand;
resume after a kill; a slow test that it learns Pendulum."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from pilotlab.cli import main
from pilotlab.core.run import RunDir
from pilotlab.rl import sac
from pilotlab.rl.buffers import ReplayBatch
from pilotlab.rl.ddpg import Critic
from pilotlab.rl.sac import (
    GaussianActor,
    Temperature,
    actor_loss,
    alpha_loss,
    critic_loss,
    critic_target,
    soft_target,
    squashed_log_prob,
)

SPACE = gym.spaces.Box(low=-2.0, high=1.0, shape=(2,))


def test_squashed_log_prob_is_the_change_of_variables_by_hand() -> None:
    u = torch.tensor([[0.3, -1.2], [4.0, 0.0]], dtype=torch.float64)
    mean = torch.tensor([[0.1, -1.0], [3.0, 0.5]], dtype=torch.float64)
    log_std = torch.tensor([[-0.5, 0.2], [0.0, -1.0]], dtype=torch.float64)
    std = log_std.exp()
    eps = (u - mean) / std
    got = squashed_log_prob(u, eps, log_std)
    expected = []
    for i in range(2):
        total = 0.0
        for j in range(2):
            x, m, s = u[i, j].item(), mean[i, j].item(), std[i, j].item()
            normal = -((x - m) ** 2) / (2 * s * s) - math.log(s) - 0.5 * math.log(2 * math.pi)
            total += normal - math.log(1 - math.tanh(x) ** 2)
        expected.append(total)
    assert got.tolist() == pytest.approx(expected, rel=1e-9)


def test_sample_squashes_and_scales_into_the_bounds() -> None:
    torch.manual_seed(0)
    actor = GaussianActor(3, SPACE, (8,))
    obs = 50 * torch.randn(200, 3)
    mean, log_std = actor.dist(obs)
    noise = torch.randn(200, 2)
    action, log_prob = actor.sample(obs, noise)
    expected = -0.5 + 1.5 * torch.tanh(mean + log_std.exp() * noise)  # center -0.5, half-range 1.5
    assert torch.allclose(action, expected) and action.min() >= -2.0 and action.max() <= 1.0
    assert log_prob.shape == (200,) and torch.isfinite(log_prob).all()
    assert torch.allclose(actor(obs), -0.5 + 1.5 * torch.tanh(mean))  # evaluation plays tanh(mean)
    assert (log_std >= -20).all() and (log_std <= 2).all()


def test_soft_target_by_hand() -> None:
    rewards, terminated = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0])
    next_q = torch.tensor([[3.0, 1.0], [2.0, 4.0]])  # (n critics, B): minima 2 and 1
    next_log_prob = torch.tensor([0.5, -1.0])
    target = soft_target(rewards, next_q, next_log_prob, terminated, 0.9, 0.2)
    assert target.tolist() == pytest.approx([1.0 + 0.9 * (2.0 - 0.2 * 0.5), 2.0])  # no bootstrap after a terminal


class ConstCritic(Critic):
    """Critic returning fixed values per head."""

    def __init__(self, values: list[float]):
        super().__init__(1, 2, (4,), len(values))
        self.values = values

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return torch.tensor(self.values)[:, None].expand(len(self.values), obs.shape[0])  # (n, B)


def test_critic_target_draws_the_next_action_from_the_policy() -> None:
    actor = GaussianActor(1, SPACE, (4,))
    batch = ReplayBatch(torch.zeros(3, 1), torch.zeros(3, 2), torch.tensor([1.0, 0.0, -1.0]),
                        torch.randn(3, 1), torch.tensor([0.0, 0.0, 1.0]))
    critic = ConstCritic([3.0, 5.0])
    torch.manual_seed(5)
    _, log_prob = actor.sample(batch.next_obs)
    torch.manual_seed(5)
    target = critic_target(actor, critic, batch, 0.5, 0.1)
    expected = [1.0 + 0.5 * (3.0 - 0.1 * log_prob[0].item()), 0.5 * (3.0 - 0.1 * log_prob[1].item()), -1.0]
    assert target.tolist() == pytest.approx(expected, rel=1e-6)


def test_critic_loss_by_hand() -> None:
    q = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert critic_loss(q, torch.zeros(2)).item() == pytest.approx(0.5 * ((1 + 4) / 2 + (9 + 16) / 2))


def test_actor_loss_by_hand_uses_the_smaller_critic() -> None:
    q_pi = torch.tensor([[1.0, 3.0], [2.0, 0.0]])  # minima 1 and 0
    log_prob = torch.tensor([0.5, -0.5])
    assert actor_loss(q_pi, log_prob, 0.1).item() == pytest.approx(((0.05 - 1.0) + (-0.05 - 0.0)) / 2)


def test_alpha_loss_and_its_gradient_by_hand() -> None:
    temperature = Temperature(0.5)
    log_prob = torch.tensor([-1.0, 0.5], requires_grad=True)
    loss = alpha_loss(temperature.log_alpha, log_prob, target_entropy=-1.0)
    # mean(log_prob + target) = ((-1 - 1) + (0.5 - 1)) / 2 = -1.25
    assert loss.item() == pytest.approx(-math.log(0.5) * -1.25)
    loss.backward()
    # entropy -mean(log_prob) = 0.25 is above the target -1: the gradient step must lower alpha
    assert temperature.log_alpha.grad.item() == pytest.approx(1.25)
    assert log_prob.grad is None  # the policy gets no gradient from alpha's loss
    assert temperature.alpha.item() == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [{"tau": 1.5}, {"init_alpha": 0.0}, {"network": "deepsets"}, {"her_k": -1}])
def test_bad_hyperparameters(bad: dict) -> None:
    from pilotlab.core.errors import PilotlabError

    with pytest.raises(PilotlabError):
        sac.SACConfig(**bad)


ARGS = ["rl", "train", "--algo", "sac", "--env", "Pendulum-v1", "--total-steps", "500", "--learning-starts", "100",
        "--train-freq", "20", "--gradient-steps", "4", "--batch-size", "32", "--hidden", "16", "--log-every", "100",
        "--checkpoint-every", "250", "--eval-every", "250", "--eval-every-episodes", "1", "--eval-episodes", "2",
        "--num-envs", "2", "--normalize-obs", "--seed", "3"]


def metrics_rows(path: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock fields."""
    return [{k: v for k, v in json.loads(line).items() if k != "time" and not k.endswith(("steps_per_s", "wall_s"))}
            for line in (path / "metrics.jsonl").read_text().splitlines()]


def test_killed_after_a_checkpoint_then_resumed_repeats_the_uninterrupted_run(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The checkpoint at step 250 falls inside both envs' first episode (200-step episodes, 2 envs) and between two
    log rows: the resumed run must rebuild the episodes, the running statistics and the unlogged losses."""
    from safetensors.torch import load_file

    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main([*ARGS, "--run-dir", str(full)]) == 0
    real_save = sac.save_state

    def save_then_stop(run: object, step: int, *a: object, **kw: object) -> None:
        real_save(run, step, *a, **kw)  # type: ignore[arg-type]
        if kw.get("name", "last") == "last":
            raise KeyboardInterrupt  # the process dies right after its first checkpoint (step 250)

    monkeypatch.setattr(sac, "save_state", save_then_stop)
    assert main([*ARGS, "--run-dir", str(cut)]) == 130
    monkeypatch.setattr(sac, "save_state", real_save)
    assert json.loads((cut / "checkpoints/last.json").read_text())["meta"]["step"] == 250
    assert main([*ARGS, "--run-dir", str(cut), "--resume"]) == 0

    a, b = metrics_rows(full), metrics_rows(cut)
    assert any("eval/periodic_return" in r for r in a) and any("train/episode_return" in r for r in a)
    assert a == b  # every logged value, before and after the restart
    for name in ("last", "best"):
        x, y = load_file(full / f"checkpoints/{name}.safetensors"), load_file(cut / f"checkpoints/{name}.safetensors")
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), name
    updates = [json.loads((d / "checkpoints/last.json").read_text())["meta"]["updates"] for d in (full, cut)]
    assert updates[0] == updates[1] == 4 * (500 - 100) // 20  # gradient steps counted across the restart
    assert json.loads((full / "summary.json").read_text())["eval/return_mean"] == \
        json.loads((cut / "summary.json").read_text())["eval/return_mean"]


def test_resume_without_env_state_warns_and_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint whose envs cannot be rebuilt (here: no loop state, as an older version wrote) still resumes,
    with a warning that the run now differs from an uninterrupted one."""
    from pilotlab.core import checkpoint

    run = tmp_path / "run"
    assert main([*ARGS, "--total-steps", "250", "--run-dir", str(run)]) == 0
    state, meta = checkpoint.load(run / "checkpoints/last")
    del state["loop"]
    checkpoint.save(run / "checkpoints/last", state, meta)
    capsys.readouterr()
    assert main([*ARGS, "--run-dir", str(run), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "warning: the envs could not be put back into their episodes" in err and "no env state" in err
    assert RunDir.open(run).summary()["train/env_steps"] == 500


@pytest.mark.slow
def test_sac_learns_pendulum(tmp_path: Path) -> None:
    code = main(["rl", "train", "--algo", "sac", "--env", "Pendulum-v1", "--total-steps", "5000",
                 "--learning-starts", "500", "--train-freq", "50", "--gradient-steps", "50", "--hidden", "64", "64",
                 "--batch-size", "64", "--eval-episodes", "5", "--log-every", "1000", "--checkpoint-every", "5000",
                 "--run-dir", str(tmp_path / "run")])
    assert code == 0
    summary = RunDir.open(tmp_path / "run").summary()
    assert summary["eval/return_mean"] > -400, summary  # random play: about -1200
    assert np.isfinite(summary["train/wall_s"])
