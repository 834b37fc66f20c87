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


def test_running_norm_std_floor_and_clip_by_hand() -> None:
    """A coordinate constant in the data (std 0) is divided by the floor, not blown up to the clip."""
    norm = RunningNorm((2,), min_std=0.01, clip=5.0)
    norm.load_state_dict({"mean": torch.tensor([2.0, 0.42]), "var": torch.tensor([1.0, 0.0]),
                          "count": torch.tensor(100.0)})
    out = norm(torch.tensor([[2.5, 0.425], [100.0, 0.0]]))
    assert torch.allclose(out, torch.tensor([[0.5, 0.5], [5.0, -5.0]]), atol=1e-4)  # 0.005 / 0.01; clipped at 5
    unfloored = RunningNorm((2,))
    unfloored.load_state_dict(norm.state_dict())
    assert unfloored(torch.tensor([[2.0, 0.425]]))[0, 1].item() == 10.0  # 0.005 / 1e-4: at the default clip


def test_numpy_sampler_matches_the_policy_distribution() -> None:
    from pilotlab.rl.ppo import sample_actions

    np.random.seed(0)
    logits = np.log(np.array([[0.1, 0.6, 0.3], [0.98, 0.01, 0.01]], dtype=np.float32)) + 5.0  # shift: no effect
    draws = np.stack([sample_actions(logits, None) for _ in range(20_000)])  # (20000, 2)
    assert draws.dtype == np.int64 and draws.min() >= 0 and draws.max() <= 2
    freq = np.stack([np.bincount(draws[:, i], minlength=3) / len(draws) for i in range(2)])
    assert np.allclose(freq, np.exp(logits - 5.0), atol=0.01)
    means, log_std = np.array([[1.0, -2.0]], dtype=np.float32), np.array([0.0, np.log(0.5)], dtype=np.float32)
    cont = np.concatenate([sample_actions(means, log_std) for _ in range(20_000)])  # (20000, 2)
    assert cont.dtype == np.float32
    assert np.allclose(cont.mean(0), means[0], atol=0.02) and np.allclose(cont.std(0), [1.0, 0.5], atol=0.02)


def test_clip_grad_norm_matches_torch() -> None:
    from pilotlab.rl.common import clip_grad_norm

    torch.manual_seed(0)
    for max_norm in (0.1, 1e6):  # clipped, and left alone
        a = [torch.randn(3, 4, requires_grad=True), torch.randn(5, requires_grad=True)]
        b = [t.detach().clone().requires_grad_() for t in a]
        for ps in (a, b):
            sum((p**2).sum() for p in ps).backward()
        clip_grad_norm(a, max_norm)
        torch.nn.utils.clip_grad_norm_(b, max_norm)
        assert all(torch.allclose(p.grad, q.grad, atol=1e-6) for p, q in zip(a, b))


def test_reward_scaling_follows_vecnormalize_by_hand() -> None:
    """Two envs, gamma 0.5: the running return is accumulated, its variance updated (count starts at 1e-4,
    as SB3's RunningMeanStd), then the reward divided by the std; the return restarts after an end, and a
    reset step (invalid) neither adds a sample nor a reward."""
    cfg = PPOConfig(num_envs=2, gamma=0.5, normalize_reward=True)
    model = ActorCritic(cfg, gym.spaces.Box(-1, 1, shape=(3,)), gym.spaces.Discrete(2))
    returns: list[float] = []
    steps = [([1.0, 3.0], [True, True], [False, True]),  # env 1 ends here
             ([2.0, 0.0], [True, False], [False, False]),  # env 1 resets (invalid)
             ([-4.0, 1.0], [True, True], [False, False])]
    ret = np.zeros(2)
    for rewards, valid, ended in steps:
        r, ok, end = np.array(rewards, np.float32), np.array(valid), np.array(ended)
        ret = ret * 0.5 + r
        returns += list(ret[ok])
        n, data = 1e-4 + len(returns), np.array(returns)
        # merged with the prior (mean 0, var 1, weight 1e-4), as Chan et al.
        var = (1e-4 * 1.0 + ((data - data.mean()) ** 2).sum() + data.mean() ** 2 * 1e-4 * len(data) / n) / n
        out = model.scale_rewards(r.copy(), ok, end)
        assert np.allclose(out, np.clip(r / np.sqrt(var + 1e-8), -10, 10), rtol=1e-4), (out, r, var)
        ret[end] = 0.0
    assert model.ret.tolist() == pytest.approx(list(ret))
    assert "ret" in model.state_dict() and "ret_norm.var" in model.state_dict()  # checkpointed with the weights


def test_gsde_log_prob_entropy_and_noise_by_hand() -> None:
    """gSDE: the std of action j is sqrt(sum_i h_i^2 exp(2 log_std_ij) + 1e-6) for the policy's last hidden
    features h; log pi and the entropy are that Gaussian's; the rollout's noise h @ theta (theta drawn per env)
    has that std; the deterministic action is the mean."""
    from pilotlab.rl.ppo import SDE_EPS, sde_noise_matrices

    torch.manual_seed(0)
    cfg = PPOConfig(sde=True, log_std_init=-1.0, hidden=(8, 8))
    model = ActorCritic(cfg, gym.spaces.Box(-1, 1, shape=(3,)), gym.spaces.Box(-1, 1, shape=(2,)))
    assert model.log_std is not None and model.log_std.shape == (8, 2)
    with torch.no_grad():
        model.log_std.copy_(torch.linspace(-2.0, 0.5, 16).view(8, 2))
    x = torch.randn(5, 3)
    params = model.dist_params(x)  # (5, 4)
    h, mean = model.features(x)
    std = torch.sqrt((h**2) @ torch.exp(2 * model.log_std) + SDE_EPS)  # (5, 2)
    assert torch.allclose(params[:, :2], mean) and torch.allclose(params[:, 2:], std)
    actions = torch.randn(5, 2)
    logp, ent = model.log_prob_entropy(params, actions)
    ref = torch.distributions.Normal(mean, std)
    assert torch.allclose(logp, ref.log_prob(actions).sum(-1), atol=1e-5)
    assert torch.allclose(ent, ref.entropy().sum(-1), atol=1e-5)
    assert torch.equal(model.mode(params), mean)
    # the log std's gradient flows, the features' does not (they are constants of the noise)
    model.log_prob(params, actions).sum().backward()
    assert model.log_std.grad is not None and model.log_std.grad.abs().sum() > 0
    # the noise matrices: per env, entry-wise N(0, exp(log_std)^2); h @ theta has the std above
    np.random.seed(0)
    log_std = model.log_std.detach().numpy()
    theta = np.concatenate([sde_noise_matrices(log_std, 1000) for _ in range(20)])  # (20000, 8, 2)
    assert theta.shape == (20_000, 8, 2) and theta.dtype == np.float32
    assert np.allclose(theta.std(0), np.exp(log_std), rtol=0.05)
    noise = np.einsum("h,nha->na", h[0].detach().numpy(), theta)  # (20000, 2)
    assert np.allclose(noise.std(0), std[0].detach().numpy(), rtol=0.05)


def test_gsde_draws_its_noise_once_per_rollout_or_every_freq_steps(tmp_path, monkeypatch) -> None:
    """With --sde the rollout draws noise matrices at its start and, with sde-sample-freq k, every k steps:
    2 rollouts of 4 steps draw 2 times (k = -1) or 4 times (k = 2); a discrete action space is refused before
    any run dir is made."""
    from pilotlab.core.errors import PilotlabError
    from pilotlab.rl import ppo

    draws: list[tuple[int, ...]] = []
    real = ppo.sde_noise_matrices
    monkeypatch.setattr(ppo, "sde_noise_matrices", lambda log_std, n: draws.append(log_std.shape) or real(log_std, n))
    for freq, expected in ((-1, 2), (2, 4)):
        draws.clear()
        ppo.train(PPOConfig(env="Pendulum-v1", sde=True, sde_sample_freq=freq, total_steps=16, num_envs=2, n_steps=4,
                            batch_size=8, n_epochs=1, hidden=(8,), eval_episodes=1, run_dir=str(tmp_path / f"f{freq}")))
        assert draws == [(8, 1)] * expected
    with pytest.raises(PilotlabError, match="sde-sample-freq"):
        PPOConfig(sde=True, sde_sample_freq=0)
    with pytest.raises(PilotlabError, match="--sde needs continuous actions"):
        ppo.train(PPOConfig(env="CartPole-v1", sde=True, run_dir=str(tmp_path / "r")))
    assert not (tmp_path / "r").exists()


def test_ortho_init_off_keeps_pytorchs_default_initialization() -> None:
    """--no-ortho-init (SB3's ortho_init=False) leaves every layer as nn.Linear draws it: U(-1/sqrt(fan_in), ...)
    weights and biases, so the policy head is not scaled down to 0.01 and the biases are not zero."""
    torch.manual_seed(0)
    spaces = (gym.spaces.Box(-1, 1, shape=(4,)), gym.spaces.Box(-1, 1, shape=(2,)))
    ortho, plain = ActorCritic(PPOConfig(), *spaces), ActorCritic(PPOConfig(ortho_init=False), *spaces)
    assert torch.all(ortho.pi_head.bias == 0) and ortho.pi_head.weight.abs().max() < 0.05
    for layer in (plain.pi_head, plain.v_head):
        bound = 1 / np.sqrt(layer.in_features)
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.5 * bound
        assert torch.any(layer.bias != 0)
