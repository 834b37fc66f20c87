"""CPU per phase of one SAC gradient step (HalfCheetah-v5 sizes), against the bare matrix products it contains.

Builds SAC's actor, twin critics, target critics and optimizers from this tree's ``pilotlab.rl.sac`` (RL Zoo's
MuJoCo settings: 256-256 networks, batch 256, 17 observations, 6 actions; one torch thread), fills a replay buffer
with random transitions, and runs the autograd gradient step that ``sac.train`` ran before ``SACUpdate`` (the oracle
of tests/rl/test_hand_updates.py) phase by phase, summing `time.process_time()` per phase over N steps. Then times
the step's 16 products of 256 x 256 by 256 x 256 alone, on the same two tensors in a loop (the floor they would set
if nothing else cost anything). Nothing is written; docs/rl.md holds the measured numbers.

    PYTHONPATH=src .venv/bin/python benchmarks/rl_update_phases.py --steps 200
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import gymnasium as gym
import numpy as np
import torch

from pilotlab.nn.adam import FusedAdam
from pilotlab.rl import sac
from pilotlab.rl.buffers import ReplayBuffer
from pilotlab.rl.ddpg import Critic, polyak

OBS, ACT, BATCH, HIDDEN = 17, 6, 256, (256, 256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="gradient steps timed (after 20 untimed)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n = 5000
    buffer = ReplayBuffer(n, (OBS,), (ACT,), discrete=False)
    buffer.add(rng.standard_normal((n, OBS), dtype=np.float32), rng.uniform(-1, 1, (n, ACT)).astype(np.float32),
               rng.standard_normal(n, dtype=np.float32), rng.standard_normal((n, OBS), dtype=np.float32),
               (rng.uniform(size=n) < 0.01).astype(np.float32))
    act_space = gym.spaces.Box(-1.0, 1.0, (ACT,), np.float32)
    actor = sac.GaussianActor(OBS, act_space, HIDDEN)
    critic, critic_t = Critic(OBS, ACT, HIDDEN, 2), Critic(OBS, ACT, HIDDEN, 2)
    critic_t.load_state_dict(critic.state_dict())
    critic_t.requires_grad_(False)
    temperature = sac.Temperature(1.0)
    actor_opt, critic_opt = FusedAdam(actor.parameters(), lr=3e-4), FusedAdam(critic.parameters(), lr=3e-4)
    alpha_opt = FusedAdam(temperature.parameters(), lr=3e-4)
    critic_params, critic_t_params = list(critic.parameters()), list(critic_t.parameters())
    spent: dict[str, float] = defaultdict(float)

    def step() -> None:  # sac.train's gradient step, with a lap after each phase
        t = time.process_time()

        def lap(name: str) -> None:
            nonlocal t
            now = time.process_time()
            spent[name] += now - t
            t = now

        batch = buffer.sample(BATCH)
        lap("sample a batch")
        alpha = temperature.alpha
        target = sac.critic_target(actor, critic_t, batch, 0.99, alpha)
        lap("target (actor + 2 target critics, no grad)")
        loss_q = sac.critic_loss(critic(batch.obs, batch.actions), target)
        lap("critics forward")
        critic_opt.zero_grad(set_to_none=True)
        loss_q.backward()
        lap("critics backward")
        critic_opt.step()
        lap("critics Adam")
        for p in critic_params:
            p.requires_grad_(False)
        action_pi, log_prob = actor.sample(batch.obs)
        lap("actor forward (sample)")
        loss_pi = sac.actor_loss(critic(batch.obs, action_pi), log_prob, alpha)
        loss_alpha = sac.alpha_loss(temperature.log_alpha, log_prob, -float(ACT))
        lap("critics forward at pi")
        actor_opt.zero_grad(set_to_none=True)
        alpha_opt.zero_grad(set_to_none=True)
        (loss_pi + loss_alpha).backward()
        lap("actor backward (through the critics)")
        actor_opt.step()
        for p in critic_params:
            p.requires_grad_(True)
        alpha_opt.step()
        lap("actor and alpha Adam")
        polyak(critic_t_params, critic_params, 0.005)
        lap("Polyak")

    for _ in range(20):
        step()
    spent.clear()
    for _ in range(args.steps):
        step()
    total = sum(spent.values())
    for name, s in spent.items():
        print(f"{name:42s} {s / args.steps * 1e3:6.2f} ms {100 * s / total:5.1f} %")
    print(f"{'one gradient step':42s} {total / args.steps * 1e3:6.2f} ms")
    a, w = torch.randn(256, 256), torch.randn(256, 256)
    c0 = time.process_time()
    for _ in range(args.steps):
        for _ in range(16):
            torch.mm(a, w)
    print(f"{'16 bare 256^3 products (the same tensors)':42s} {(time.process_time() - c0) / args.steps * 1e3:6.2f} ms")


if __name__ == "__main__":
    main()
