"""PPO: log-probabilities and entropies against torch.distributions, the clipped objective by hand,
running observation normalization against NumPy."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from pilotlab.rl.ppo import ActorCritic, PPOConfig, RunningNorm, ppo_losses


@pytest.mark.parametrize("space", [gym.spaces.Discrete(3), gym.spaces.Box(-2.0, 2.0, shape=(2,))])
def test_log_prob_and_entropy_match_torch_distributions(space: gym.Space) -> None:
    torch.manual_seed(0)
    cfg = PPOConfig(log_std_init=-0.3)
    model = ActorCritic(cfg, gym.spaces.Box(-1, 1, shape=(4,)), space)
    params = model.dist_params(torch.randn(6, 4))
    actions = model.sample(params)
    logp, ent = model.log_prob_entropy(params, actions)
    if isinstance(space, gym.spaces.Discrete):
        ref: torch.distributions.Distribution = torch.distributions.Categorical(logits=params)
        ref_logp, ref_ent = ref.log_prob(actions), ref.entropy()
    else:
        assert model.log_std is not None
        ref = torch.distributions.Normal(params, model.log_std.exp())
        ref_logp, ref_ent = ref.log_prob(actions).sum(-1), ref.entropy().sum(-1)
    assert torch.allclose(logp, ref_logp, atol=1e-5) and torch.allclose(ent, ref_ent, atol=1e-5)


def test_clipped_objective_by_hand() -> None:
    torch.manual_seed(0)
    model = ActorCritic(PPOConfig(), gym.spaces.Box(-1, 1, shape=(4,)), gym.spaces.Discrete(2))
    obs, actions = torch.randn(2, 4), torch.tensor([0, 1])
    with torch.no_grad():
        logp, _ = model.log_prob_entropy(model.dist_params(obs), actions)
        values = model.value(obs)
    adv = torch.tensor([1.0, -1.0])  # normalized: (+1, -1)
    # old log-probs lower by 0.5: ratio e^0.5 = 1.65 for both samples
    out = ppo_losses(model, obs, actions, logp - 0.5, values, adv, values, clip=0.2, clip_vf=None)
    # sample 0 (A=+1): min(1.65, 1.2) = 1.2 ; sample 1 (A=-1): min(-1.65, -1.2) = -1.65
    assert out["policy_loss"].item() == pytest.approx(-(1.2 - np.exp(0.5)) / 2, abs=1e-4)
    assert out["clip_fraction"].item() == 1.0
    assert out["value_loss"].item() == pytest.approx(0.0)
    assert out["approx_kl"].item() == pytest.approx(np.exp(0.5) - 1 - 0.5, abs=1e-5)
    clipped = ppo_losses(model, obs, actions, logp, values - 1.0, adv, values, clip=0.2, clip_vf=0.1)
    assert clipped["value_loss"].item() == pytest.approx(0.9**2, abs=1e-5)  # prediction held at old + 0.1


def test_running_norm_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    norm = RunningNorm((3,))
    chunks = [rng.normal(2.0, 3.0, size=(n, 3)) for n in (5, 17, 40)]
    for c in chunks:
        norm.update(torch.tensor(c, dtype=torch.float32))
    data = np.concatenate(chunks)
    assert np.allclose(norm.mean.numpy(), data.mean(0), atol=1e-4)
    assert np.allclose(norm.var.numpy(), data.var(0), rtol=1e-3)
