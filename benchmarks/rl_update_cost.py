"""CPU per gradient step of SAC and TD3 on HalfCheetah-v5, for two source trees measured alternately.

Per algorithm, a child process (one torch thread) trains twice on the same env steps, L + N: once learning
from step L on (N gradient steps, one per env step) and once with random actions throughout (no gradient
step); the difference in CPU time (`time.process_time()`, both `train` calls whole) divided by N is the
cost of one gradient step plus the policy's action minus a random one. The first call also carries the
warm-up (imports are done before both), so the first run is repeated once untimed. The trees (each a
checkout whose ``src`` goes first on PYTHONPATH) take turns, the order flipping every round, so load from
other jobs hits both alike; the medians over rounds are reported.

    .venv/bin/python benchmarks/rl_update_cost.py --trees /path/to/before /path/to/after --rounds 4
    .venv/bin/python benchmarks/rl_update_cost.py --trees . sb3 --algos sac    # ours against SB3 2.9

A tree named ``sb3`` measures Stable-Baselines3's SAC / TD3 the same way (``model.learn`` with learning
starting at L, and at L + N, on the same settings; SB3's TD3 with its Gaussian action noise of 0.1).

Settings: RL Zoo's MuJoCo entries as in rl_robots.py (SAC 256-256, TD3 400-300, batch 256, buffer 1M),
L = 1,000, N = 500 by default. Nothing is written; docs/rl.md holds the measured numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = "HalfCheetah-v5"
SAC = {"lr": 3e-4, "gamma": 0.99, "batch_size": 256, "tau": 0.005, "hidden": (256, 256)}
TD3 = {"lr": 1e-3, "gamma": 0.99, "batch_size": 256, "tau": 0.005, "hidden": (400, 300), "exploration_noise": 0.1}


def child(algo: str, warm: int, n: int) -> dict[str, float]:
    """ms of CPU per gradient step for `algo` in this process's source tree."""
    import torch

    from pilotlab.core import registry
    from pilotlab.rl import ALGO

    torch.set_num_threads(1)
    fields = SAC if algo == "sac" else TD3
    cls = registry.config_class(ALGO, algo)
    with tempfile.TemporaryDirectory() as tmp:

        def cpu(learning_starts: int, name: str) -> float:
            cfg = cls(algo=algo, env=ENV, total_steps=warm + n, learning_starts=learning_starts, train_freq=1,
                      gradient_steps=1, buffer_size=1_000_000, seed=0, eval_episodes=1, eval_every=0,
                      log_every=warm + n, checkpoint_every=10 * (warm + n), run_dir=str(Path(tmp) / name),
                      **fields)
            c0 = time.process_time()
            registry.implementation(ALGO, algo).train(cfg)
            return time.process_time() - c0

        cpu(warm, "warm-up")
        learn, random = cpu(warm, "learn"), cpu(warm + n, "random")
    return {"ms_per_update": (learn - random) / n * 1e3, "ms_per_step_learning": learn / (warm + n) * 1e3}


def child_sb3(algo: str, warm: int, n: int) -> dict[str, float]:
    """The same difference for Stable-Baselines3's `algo` (SB3's defaults otherwise, as rl_robots.py)."""
    import gymnasium as gym
    import numpy as np
    import torch
    from stable_baselines3 import SAC as SB3SAC
    from stable_baselines3 import TD3 as SB3TD3
    from stable_baselines3.common.noise import NormalActionNoise

    torch.set_num_threads(1)
    f = SAC if algo == "sac" else TD3

    def cpu(learning_starts: int) -> float:
        env = gym.make(ENV)
        common = {"learning_rate": f["lr"], "gamma": f["gamma"], "batch_size": f["batch_size"], "tau": f["tau"],
                  "learning_starts": learning_starts, "train_freq": 1, "gradient_steps": 1,
                  "buffer_size": 1_000_000, "policy_kwargs": {"net_arch": list(f["hidden"])}, "seed": 0,
                  "device": "cpu"}
        if algo == "td3":
            act = env.action_space.shape[0]
            noise = NormalActionNoise(np.zeros(act), f["exploration_noise"] * np.ones(act))
            model = SB3TD3("MlpPolicy", env, action_noise=noise, **common)
        else:
            model = SB3SAC("MlpPolicy", env, **common)
        c0 = time.process_time()
        model.learn(warm + n)
        return time.process_time() - c0

    cpu(warm)
    learn, random = cpu(warm), cpu(warm + n)
    return {"ms_per_update": (learn - random) / n * 1e3, "ms_per_step_learning": learn / (warm + n) * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trees", nargs="+", required=True, help="checkouts whose src/ to measure")
    parser.add_argument("--algos", nargs="+", default=["sac", "td3"], choices=["sac", "td3"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=1000, help="L: random env steps before learning")
    parser.add_argument("--updates", type=int, default=500, help="N: gradient steps timed")
    parser.add_argument("--child", nargs=3, metavar=("ALGO", "L", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure = child_sb3 if args.trees == ["sb3"] else child
        print(json.dumps(measure(args.child[0], int(args.child[1]), int(args.child[2]))))
        return
    results: dict[tuple[str, str], list[float]] = {}
    for r in range(args.rounds):
        for tree in args.trees if r % 2 == 0 else args.trees[::-1]:
            for algo in args.algos:
                src = Path(__file__).resolve().parents[1] / "src" if tree == "sb3" else Path(tree) / "src"
                env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
                out = subprocess.run([sys.executable, __file__, "--trees", tree, "--child", algo, str(args.warm),
                                      str(args.updates)], env=env, capture_output=True, text=True, check=True)
                ms = json.loads(out.stdout.strip().splitlines()[-1])["ms_per_update"]
                results.setdefault((tree, algo), []).append(ms)
                print(f"round {r} {algo} {tree}: {ms:.2f} ms/update (load {os.getloadavg()[0]:.1f})", flush=True)
    for (tree, algo), v in results.items():
        print(f"{algo} {tree}: median {statistics.median(v):.2f} ms/update over {len(v)} rounds "
              f"({', '.join(f'{x:.2f}' for x in v)})")


if __name__ == "__main__":
    main()
