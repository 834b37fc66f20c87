"""The hand-written gradient steps of SAC and TD3/DDPG (`SACUpdate`, `TD3Update`) against autograd.

The oracles below are the autograd gradient steps the trainers ran before (the losses of sac.py and ddpg.py,
`.backward()`, the same optimizers); both run in float64 from the same weights and the same random draws, and
every gradient, every updated weight and the logged losses must agree to ~1e-9 relative."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pilotlab.nn.adam import FusedAdam
from pilotlab.nn.tower import ReluTower, linears
from pilotlab.rl import ddpg, sac
from pilotlab.rl.buffers import ReplayBatch

OBS, ACT, B = 5, 2, 7
SPACE = gym.spaces.Box(low=np.array([-2.0, 0.0]), high=np.array([1.0, 3.0]), dtype=np.float64)


def batch(seed: int) -> ReplayBatch:
    g = torch.Generator().manual_seed(seed)
    return ReplayBatch(torch.randn(B, OBS, generator=g, dtype=torch.float64),
                       torch.rand(B, ACT, generator=g, dtype=torch.float64) * 3 - 2,
                       torch.randn(B, generator=g, dtype=torch.float64),
                       torch.randn(B, OBS, generator=g, dtype=torch.float64),
                       (torch.arange(B) % 3 == 0).to(torch.float64))


def close(got: torch.Tensor, want: torch.Tensor, what: str) -> None:
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12, msg=lambda m: f"{what}: {m}")


def sac_nets(hidden: tuple[int, ...], log_std_bias: list[float] | None, seed: int) -> dict:
    torch.manual_seed(seed)
    actor = sac.GaussianActor(OBS, SPACE, hidden).double()
    if log_std_bias is not None:  # raw log-std exactly these values, at or beyond the clamp's edges
        with torch.no_grad():
            actor.heads.weight[ACT:] = 0.0
            actor.heads.bias[ACT:] = torch.tensor(log_std_bias, dtype=torch.float64)
    critic = ddpg.Critic(OBS, ACT, hidden, 2).double()
    critic_t = copy.deepcopy(critic)
    with torch.no_grad():  # targets that differ from the online critics, as after a few Polyak steps
        for p in critic_t.parameters():
            p.add_(0.1 * torch.randn_like(p))
    critic_t.requires_grad_(False)
    temperature = sac.Temperature(0.3).double()
    return {"actor": actor, "critic": critic, "critic_t": critic_t, "temperature": temperature,
            "actor_opt": FusedAdam(actor.parameters(), lr=1e-2), "critic_opt": FusedAdam(critic.parameters(), lr=1e-2),
            "alpha_opt": FusedAdam(temperature.parameters(), lr=1e-2)}


def sac_autograd_step(n: dict, b: ReplayBatch, gamma: float, tau: float, target_entropy: float) -> dict:
    """The autograd gradient step sac.train ran before SACUpdate."""
    actor, critic, critic_t, temperature = n["actor"], n["critic"], n["critic_t"], n["temperature"]
    alpha = temperature.alpha
    target = sac.critic_target(actor, critic_t, b, gamma, alpha)
    loss_q = sac.critic_loss(critic(b.obs, b.actions), target)
    n["critic_opt"].zero_grad(set_to_none=True)
    loss_q.backward()
    n["critic_opt"].step()
    for p in critic.parameters():
        p.requires_grad_(False)
    action_pi, log_prob = actor.sample(b.obs)
    loss_pi = sac.actor_loss(critic(b.obs, action_pi), log_prob, alpha)
    loss_alpha = sac.alpha_loss(temperature.log_alpha, log_prob, target_entropy)
    n["actor_opt"].zero_grad(set_to_none=True)
    n["alpha_opt"].zero_grad(set_to_none=True)
    (loss_pi + loss_alpha).backward()
    n["actor_opt"].step()
    for p in critic.parameters():
        p.requires_grad_(True)
    n["alpha_opt"].step()
    ddpg.polyak(list(critic_t.parameters()), list(critic.parameters()), tau)
    return {"losses/alpha_loss": loss_alpha, "losses/critic_loss": loss_q, "losses/actor_loss": loss_pi,
            "losses/entropy": -log_prob.mean(), "losses/alpha": alpha}


def assert_same_state(got: dict, want: dict, names: list[str]) -> None:
    for name in names:
        for (pname, p), q in zip(got[name].named_parameters(), want[name].parameters(), strict=True):
            if p.requires_grad:
                assert p.grad is not None and q.grad is not None, f"{name}.{pname} has no gradient"
                close(p.grad, q.grad, f"{name}.{pname}.grad")
            # Adam divides by sqrt(v): a gradient near 0 moves its weight by lr whatever its last digits, so the
            # weights are compared to an absolute 1e-9 (lr 1e-2)
            torch.testing.assert_close(p, q, rtol=0, atol=1e-9, msg=lambda m, w=f"{name}.{pname}": f"{w}: {m}")


@pytest.mark.parametrize(("hidden", "log_std_bias"), [
    ((8,), None),
    ((16, 8), None),
    ((5, 7, 3), None),
    ((6, 4), [2.0, -20.0]),  # exactly at the clamp's edges: the gradient passes
    ((6, 4), [2.5, -21.0]),  # beyond them: no gradient into the log-std head
])
def test_sac_step_has_autograds_gradients(hidden: tuple[int, ...], log_std_bias: list[float] | None) -> None:
    hand, ref = sac_nets(hidden, log_std_bias, 0), sac_nets(hidden, log_std_bias, 0)
    update = sac.SACUpdate(hand["actor"], hand["critic"], hand["critic_t"], hand["temperature"], hand["actor_opt"],
                           hand["critic_opt"], hand["alpha_opt"], gamma=0.9, tau=0.05, target_entropy=-2.0,
                           autotune=True)
    for step in range(3):  # later steps start from Adam moments and Polyak targets that both computed
        b = batch(step)
        torch.manual_seed(100 + step)
        got = update(b)
        torch.manual_seed(100 + step)
        want = sac_autograd_step(ref, b, 0.9, 0.05, -2.0)
        assert list(got) == list(want)
        for key in want:
            close(got[key], want[key].detach(), key)
        assert_same_state(hand, ref, ["actor", "critic", "critic_t", "temperature"])
    if log_std_bias is not None and log_std_bias[0] > sac.LOG_STD_MAX:
        assert hand["actor"].heads.bias.grad[ACT:].abs().max() == 0  # the clamp cut the log-std head's gradient
    else:
        assert hand["actor"].heads.bias.grad[ACT:].abs().min() > 0


def test_sac_step_without_autotune_keeps_alpha() -> None:
    n = sac_nets((8,), None, 1)
    update = sac.SACUpdate(n["actor"], n["critic"], n["critic_t"], n["temperature"], n["actor_opt"],
                           n["critic_opt"], n["alpha_opt"], gamma=0.9, tau=0.05, target_entropy=-2.0, autotune=False)
    got = update(batch(0))
    assert "losses/alpha_loss" not in got
    assert n["temperature"].log_alpha.item() == pytest.approx(np.log(0.3))


def td3_nets(hidden: tuple[int, ...], n_critics: int, seed: int) -> dict:
    torch.manual_seed(seed)
    actor, critic = ddpg.Actor(OBS, SPACE, hidden).double(), ddpg.Critic(OBS, ACT, hidden, n_critics).double()
    actor_t, critic_t = copy.deepcopy(actor), copy.deepcopy(critic)
    with torch.no_grad():
        for p in [*actor_t.parameters(), *critic_t.parameters()]:
            p.add_(0.1 * torch.randn_like(p))
            p.requires_grad_(False)  # no gradient to compare (train leaves the flag, unused under no_grad)
    return {"actor": actor, "critic": critic, "actor_t": actor_t, "critic_t": critic_t,
            "actor_opt": FusedAdam(actor.parameters(), lr=1e-2), "critic_opt": FusedAdam(critic.parameters(), lr=1e-2)}


def td3_autograd_step(n: dict, b: ReplayBatch, update_actor: bool, gamma: float, tau: float, smoothing: tuple,
                      clip: tuple | None, action_l2: float) -> dict:
    """The autograd gradient step ddpg.train ran before TD3Update."""
    actor, critic = n["actor"], n["critic"]
    target = ddpg.critic_target(n["actor_t"], n["critic_t"], b, gamma, *smoothing, clip)
    q = critic(b.obs, b.actions)
    critic_loss = F.mse_loss(q, target.expand_as(q), reduction="none").mean(1).sum()
    n["critic_opt"].zero_grad(set_to_none=True)
    critic_loss.backward()
    n["critic_opt"].step()
    out = {"losses/critic_loss": critic_loss.item()}
    if update_actor:
        for p in critic.parameters():
            p.requires_grad_(False)
        action = actor(b.obs)
        loss_pi = ddpg.actor_loss(critic.q1(b.obs, action), action, actor, action_l2)
        n["actor_opt"].zero_grad(set_to_none=True)
        loss_pi.backward()
        n["actor_opt"].step()
        for p in critic.parameters():
            p.requires_grad_(True)
        ddpg.polyak(list(n["actor_t"].parameters()), list(actor.parameters()), tau)
        ddpg.polyak(list(n["critic_t"].parameters()), list(critic.parameters()), tau)
        out["losses/actor_loss"] = loss_pi.item()
    return out


@pytest.mark.parametrize(("hidden", "n_critics", "smoothing", "clip", "action_l2"), [
    ((8,), 2, (0.2, 0.5), None, 0.0),  # TD3
    ((16, 8), 2, (0.2, 0.5), None, 0.0),
    ((5, 7, 3), 2, (0.3, 0.1), (-3.0, 0.0), 1.0),  # with the HER paper's target clip and action penalty
    ((6, 4), 1, (0.0, 0.0), None, 0.5),  # DDPG
])
def test_td3_step_has_autograds_gradients(hidden: tuple[int, ...], n_critics: int, smoothing: tuple,
                                          clip: tuple | None, action_l2: float) -> None:
    hand, ref = td3_nets(hidden, n_critics, 0), td3_nets(hidden, n_critics, 0)
    update = ddpg.TD3Update(hand["actor"], hand["critic"], hand["actor_t"], hand["critic_t"], hand["actor_opt"],
                            hand["critic_opt"], 0.9, 0.05, *smoothing, clip, action_l2)
    for step in range(4):  # critic only, then critic and actor, twice (policy delay 2)
        b = batch(10 + step)
        torch.manual_seed(200 + step)
        got = update(b, update_actor=step % 2 == 1)
        torch.manual_seed(200 + step)
        want = td3_autograd_step(ref, b, step % 2 == 1, 0.9, 0.05, smoothing, clip, action_l2)
        assert list(got) == list(want)
        assert got == pytest.approx(want, rel=1e-9)
        names = ["critic", "actor_t", "critic_t"] + (["actor"] if step % 2 == 1 else [])
        assert_same_state(hand, ref, names)


def test_tower_input_gradient_and_no_weight_gradients() -> None:
    torch.manual_seed(3)
    net = ddpg.Critic(OBS, ACT, (6, 5), 1).double().qs[0]
    x = torch.randn(B, OBS + ACT, dtype=torch.float64, requires_grad=True)
    g = torch.randn(B, 1, dtype=torch.float64)
    (net(x) * g).sum().backward()
    want_x = x.grad[:, OBS:].clone()
    for p in net.parameters():
        p.grad = None
    tower = ReluTower(linears(net))
    with torch.no_grad():
        out = tower.forward(x.detach())
        close(out, net(x.detach()), "output")
        got_x = tower.backward(g, weight_grads=False, input_cols=slice(OBS, None))
        rows = torch.tensor([1, 4, 5])  # only these output rows have a gradient: the others' input rows are skipped
        got_rows = tower.input_grad(g[rows], slice(OBS, None), rows)
    assert all(p.grad is None for p in net.parameters())  # no weight gradients computed
    close(got_x, want_x, "input gradient")
    x.grad = None
    (net(x)[rows] * g[rows]).sum().backward()
    close(got_rows, x.grad[rows, OBS:], "input gradient of some rows")
