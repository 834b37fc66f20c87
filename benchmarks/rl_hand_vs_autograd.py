"""CPU per gradient step of SAC and TD3: the hand-written steps (`SACUpdate`, `TD3Update`) against the autograd steps
they replaced, in one process, alternating.

The autograd steps are the oracles of tests/rl/test_hand_updates.py (the code sac.train / ddpg.train ran before);
both sides start from the same weights and learn from the same random batches (HalfCheetah-v5 sizes: 17
observations, 6 actions, batch 256; SAC 256-256, TD3 400-300 with policy delay 2, as RL Zoo's MuJoCo entries; one
torch thread). Each round times N steps of every variant by `time.process_time()`, the order flipping each round;
medians over rounds are printed. With --bits it instead runs one step of each on the same weights, batch and draws
in float32 and counts the gradient entries that are equal bit for bit. Nothing is written; docs/rl.md holds the
measured numbers.

    PYTHONPATH=src .venv/bin/python benchmarks/rl_hand_vs_autograd.py --steps 60 --rounds 4
    PYTHONPATH=src .venv/bin/python benchmarks/rl_hand_vs_autograd.py --bits
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from pilotlab.nn.adam import FusedAdam
from pilotlab.rl import ddpg, sac
from pilotlab.rl.buffers import ReplayBatch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "rl"))
from test_hand_updates import sac_autograd_step, td3_autograd_step

OBS, ACT, BATCH = 17, 6, 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="gradient steps per variant and round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--bits", action="store_true", help="compare one step's float32 gradients bit for bit")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    space = gym.spaces.Box(-1.0, 1.0, (ACT,), np.float32)
    batches = [ReplayBatch(torch.randn(BATCH, OBS), torch.rand(BATCH, ACT) * 2 - 1, torch.randn(BATCH),
                           torch.randn(BATCH, OBS), (torch.rand(BATCH) < 0.01).float()) for _ in range(20)]

    def sac_nets() -> dict:
        actor, critic = sac.GaussianActor(OBS, space, (256, 256)), ddpg.Critic(OBS, ACT, (256, 256), 2)
        critic_t, temperature = copy.deepcopy(critic).requires_grad_(False), sac.Temperature(1.0)
        return {"actor": actor, "critic": critic, "critic_t": critic_t, "temperature": temperature,
                "actor_opt": FusedAdam(actor.parameters(), lr=3e-4),
                "critic_opt": FusedAdam(critic.parameters(), lr=3e-4),
                "alpha_opt": FusedAdam(temperature.parameters(), lr=3e-4)}

    def td3_nets() -> dict:
        actor, critic = ddpg.Actor(OBS, space, (400, 300)), ddpg.Critic(OBS, ACT, (400, 300), 2)
        return {"actor": actor, "critic": critic, "actor_t": copy.deepcopy(actor), "critic_t": copy.deepcopy(critic),
                "actor_opt": FusedAdam(actor.parameters(), lr=1e-3),
                "critic_opt": FusedAdam(critic.parameters(), lr=1e-3)}

    def seeded(make, seed: int) -> dict:
        torch.manual_seed(seed)
        return make()

    s_ref, s_hand, t_ref, t_hand = seeded(sac_nets, 1), seeded(sac_nets, 1), seeded(td3_nets, 2), seeded(td3_nets, 2)
    sac_step = sac.SACUpdate(s_hand["actor"], s_hand["critic"], s_hand["critic_t"], s_hand["temperature"],
                             s_hand["actor_opt"], s_hand["critic_opt"], s_hand["alpha_opt"], 0.99, 0.005, -float(ACT),
                             True)
    td3_step = ddpg.TD3Update(t_hand["actor"], t_hand["critic"], t_hand["actor_t"], t_hand["critic_t"],
                              t_hand["actor_opt"], t_hand["critic_opt"], 0.99, 0.005, 0.2, 0.5, None, 0.0)
    variants = {
        "sac autograd": lambda i: sac_autograd_step(s_ref, batches[i % 20], 0.99, 0.005, -float(ACT)),
        "sac hand": lambda i: sac_step(batches[i % 20]),
        "td3 autograd": lambda i: td3_autograd_step(t_ref, batches[i % 20], i % 2 == 1, 0.99, 0.005, (0.2, 0.5),
                                                    None, 0.0),
        "td3 hand": lambda i: td3_step(batches[i % 20], i % 2 == 1),
    }
    if args.bits:
        for algo, hand, ref, names in (("sac", s_hand, s_ref, ["critic", "actor", "temperature"]),
                                       ("td3", t_hand, t_ref, ["critic", "actor"])):
            for kind in ("hand", "autograd"):
                torch.manual_seed(5)
                variants[f"{algo} {kind}"](1)  # step 1: TD3's actor step too
            for name in names:
                pairs = [(p.grad, q.grad) for p, q in zip(hand[name].parameters(), ref[name].parameters(), strict=True)]
                same = sum(int((g == r).sum()) for g, r in pairs)
                total = sum(r.numel() for _, r in pairs)
                worst = max(float((g - r).abs().max() / r.abs().max()) for g, r in pairs)
                print(f"{algo} {name}: {same} of {total} gradient entries equal bit for bit, largest difference "
                      f"{worst:.1e} of the largest gradient")
        return
    for run in variants.values():  # warm-up: buffers, Adam state, first-call costs
        for i in range(10):
            run(i)
    ms: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name in list(variants) if r % 2 == 0 else list(variants)[::-1]:
            c0 = time.process_time()
            for i in range(args.steps):
                variants[name](i)
            ms[name].append((time.process_time() - c0) / args.steps * 1e3)
        print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in ms.items())
              + f" ms (load {os.getloadavg()[0]:.1f})", flush=True)
    for algo in ("sac", "td3"):
        ref, hand = statistics.median(ms[f"{algo} autograd"]), statistics.median(ms[f"{algo} hand"])
        print(f"{algo}: autograd {ref:.2f} ms, hand {hand:.2f} ms per gradient step (medians), {hand / ref:.2f}x")


if __name__ == "__main__":
    main()
