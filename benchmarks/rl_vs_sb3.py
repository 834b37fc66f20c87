"""pilotlab RL agents vs Stable-Baselines3 2.9, side by side on this machine.

Same env steps, same seeds, both with one torch thread; each (task, seed) runs ours and then SB3
right after, so load from other jobs on the machine hits both alike. Both are scored by the same
evaluator (`pilotlab.rl.evaluate.evaluate_policy`, 10 episodes on seeds 10000..10009, deterministic
actions). SB3 uses the RL Baselines3 Zoo hyperparameters; ours uses its defaults (which start from
the same Zoo settings; see docs/rl.md for where they differ). Wall time is the training call only
(ours: `train/wall_s`, which includes its periodic evaluations; SB3: `model.learn`).

    .venv/bin/python benchmarks/rl_vs_sb3.py                 # DQN + PPO CartPole (3 seeds), TD3 Pendulum
    .venv/bin/python benchmarks/rl_vs_sb3.py --tasks dqn ppo  # a subset
    nice -n 10 .venv/bin/python benchmarks/rl_vs_sb3.py --lunar   # only PPO LunarLander-v3, 1M steps (Box2D);
                                                              # its own section, rl_lunar
    .venv/bin/python benchmarks/rl_vs_sb3.py --jobs 3         # (task, seed) pairs in 3 processes

With --jobs, each process still runs ours and SB3 back to back for its (task, seed) pair.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_section
from pilotlab.core import summary as S
from pilotlab.rl.evaluate import evaluate_policy

EVAL_EPISODES, EVAL_SEED = 10, 10_000


def sb3_dqn_cartpole(seed: int, steps: int) -> Any:
    import gymnasium as gym
    from stable_baselines3 import DQN

    return DQN("MlpPolicy", gym.make("CartPole-v1"), learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
               learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
               exploration_fraction=0.16, exploration_final_eps=0.04, policy_kwargs={"net_arch": [256, 256]},
               seed=seed, device="cpu")


def _lin(v: float):  # type: ignore[no-untyped-def]
    return lambda progress_remaining: progress_remaining * v


def sb3_ppo_cartpole(seed: int, steps: int) -> Any:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    return PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
               learning_rate=_lin(1e-3), clip_range=_lin(0.2), seed=seed, device="cpu")


def sb3_td3_pendulum(seed: int, steps: int) -> Any:
    import gymnasium as gym
    from stable_baselines3 import TD3
    from stable_baselines3.common.noise import NormalActionNoise

    env = gym.make("Pendulum-v1")
    noise = NormalActionNoise(np.zeros(1), 0.1 * np.ones(1))
    return TD3("MlpPolicy", env, gamma=0.98, buffer_size=200_000, learning_starts=10_000, action_noise=noise,
               gradient_steps=-1, train_freq=(1, "episode"), learning_rate=1e-3,
               policy_kwargs={"net_arch": [400, 300]}, seed=seed, device="cpu")


def sb3_ppo_lunar(seed: int, steps: int) -> Any:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env("LunarLander-v3", n_envs=16, seed=seed)
    return PPO("MlpPolicy", env, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4,
               ent_coef=0.01, seed=seed, device="cpu")


# task -> (env id, env steps, our algo, our config overrides, SB3 builder, target return, seeds key)
TASKS: dict[str, tuple[str, int, str, dict[str, Any], Any, float]] = {
    "dqn": ("CartPole-v1", 50_000, "dqn", {}, sb3_dqn_cartpole, 475.0),
    "ppo": ("CartPole-v1", 100_000, "ppo", {}, sb3_ppo_cartpole, 475.0),
    "td3": ("Pendulum-v1", 20_000, "td3", {}, sb3_td3_pendulum, -200.0),
    "ppo-lunar": ("LunarLander-v3", 1_000_000, "ppo",
                  {"num_envs": 16, "n_steps": 1024, "batch_size": 64, "gae_lambda": 0.98, "gamma": 0.999,
                   "n_epochs": 4, "ent_coef": 0.01, "lr": 3e-4, "anneal_lr": False}, sb3_ppo_lunar, 200.0),
}


def run_ours(task: str, seed: int, root: Path) -> tuple[float, float, float]:
    from pilotlab.core import registry
    from pilotlab.rl import ALGO

    env, steps, algo, overrides, _, _ = TASKS[task]
    module = registry.implementation(ALGO, algo)
    cfg_cls = registry.config_class(ALGO, algo)
    cfg = cfg_cls(algo=algo, env=env, total_steps=steps, seed=seed, eval_episodes=EVAL_EPISODES,
                               eval_seed=EVAL_SEED, run_dir=str(root / f"{task}-{seed}"), checkpoint_every=steps,
                               **overrides)
    c0 = time.process_time()
    summary = module.train(cfg).summary()
    return summary[S.RL_RETURN_MEAN], summary[S.TRAIN_WALL_S], time.process_time() - c0


def run_pair(job: tuple[str, int, str, int]) -> tuple[str, int, float, float, float, float, float, float]:
    """Ours, then SB3, for one (task, seed); returns (task, seed, ours return, SB3 return, ours wall, SB3 wall,
    ours CPU, SB3 CPU)."""
    task, seed, root, steps = job
    TASKS[task] = (TASKS[task][0], steps, *TASKS[task][2:])
    torch.set_num_threads(1)
    r, w, c = run_ours(task, seed, Path(root))
    r2, w2, c2 = run_sb3(task, seed)
    print(f"{task} seed {seed}: ours {r:.1f} in {w:.1f} s ({c:.1f} s CPU), SB3 {r2:.1f} in {w2:.1f} s "
          f"({c2:.1f} s CPU); load {os.getloadavg()[0]:.1f}", flush=True)
    return task, seed, r, r2, w, w2, c, c2


def run_sb3(task: str, seed: int) -> tuple[float, float, float]:
    env, steps, _, _, build, _ = TASKS[task]
    model = build(seed, steps)
    t0, c0 = time.perf_counter(), time.process_time()
    model.learn(steps)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0

    def policy(obs: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    return float(evaluate_policy(policy, env, {}, EVAL_EPISODES, EVAL_SEED).returns.mean()), wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=None, choices=["dqn", "ppo", "td3"],
                        help="default: dqn ppo td3 (none with --lunar)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--td3-seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--lunar", action="store_true",
                        help="PPO LunarLander-v3 for 1M steps (needs Box2D), written to its own section rl_lunar")
    parser.add_argument("--lunar-seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every step budget (smoke tests only)")
    parser.add_argument("--jobs", type=int, default=1, help="(task, seed) pairs run in this many processes")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tasks = list(args.tasks or ([] if args.lunar else ["dqn", "ppo", "td3"])) + (["ppo-lunar"] if args.lunar else [])
    key = "rl_lunar" if tasks == ["ppo-lunar"] else "rl"
    for task in tasks:  # the scale reaches the worker processes through the job tuple
        TASKS[task] = (TASKS[task][0], int(TASKS[task][1] * args.scale), *TASKS[task][2:])
    lines = ["| task | env steps | seed | ours return | SB3 return | ours wall [s] | SB3 wall [s] | ours/SB3 wall | "
             "ours CPU [s] | SB3 CPU [s] | ours/SB3 CPU |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    load_before = os.getloadavg()
    means: list[str] = []
    notes: list[str] = []
    if "ppo-lunar" in tasks:
        try:
            import Box2D  # noqa: F401
        except ImportError:
            tasks.remove("ppo-lunar")
            notes.append("PPO LunarLander-v3: not measured; the `box2d` package (gymnasium[box2d]) is not "
                         "installed here.")
            print(notes[-1])
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [(task, seed, tmp, TASKS[task][1]) for task in tasks
                for seed in {"td3": args.td3_seeds, "ppo-lunar": args.lunar_seeds}.get(task, args.seeds)]
        if args.jobs > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(args.jobs) as pool:
                results = pool.map(run_pair, jobs, chunksize=1)
        else:
            results = [run_pair(job) for job in jobs]
    for task in tasks:
        env, steps, _, _, _, target = TASKS[task]
        rows = [r for r in results if r[0] == task]
        for _, seed, r, r2, w, w2, c, c2 in rows:
            lines.append(f"| {task} {env} | {steps:,} | {seed} | {r:.1f} | {r2:.1f} | {w:.1f} | {w2:.1f} | "
                         f"{w / w2:.2f} | {c:.1f} | {c2:.1f} | {c / c2:.2f} |")
            print(lines[-1], flush=True)
        ours_r, sb3_r = [r[2] for r in rows], [r[3] for r in rows]
        ours_w, sb3_w = [r[4] for r in rows], [r[5] for r in rows]
        ours_c, sb3_c = [r[6] for r in rows], [r[7] for r in rows]
        mr, ms = float(np.mean(ours_r)), float(np.mean(sb3_r))
        ratio, cpu_ratio = float(np.sum(ours_w) / np.sum(sb3_w)), float(np.sum(ours_c) / np.sum(sb3_c))
        means.append(f"| {task} {env} | {len(rows)} | {mr:.1f} ({'met' if mr >= target else 'NOT met'}: "
                     f">= {target:g}) | {ms:.1f} | {np.mean(ours_w):.1f} | {np.mean(sb3_w):.1f} | {ratio:.2f} | "
                     f"{cpu_ratio:.2f} |")
    table = "\n".join(lines)
    summary = "\n".join(["| task | seeds | ours mean return (target) | SB3 mean return | ours mean wall [s] | "
                         "SB3 mean wall [s] | ours/SB3 wall | ours/SB3 CPU |", "|---|---|---|---|---|---|---|---|",
                         *means])
    load = f"load average (1 min) {load_before[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    cmd = "`.venv/bin/python benchmarks/rl_vs_sb3.py " + " ".join(sys.argv[1:]) + "`"
    title = "## rl: pilotlab vs Stable-Baselines3 2.9" + (", PPO LunarLander-v3" if key == "rl_lunar" else "")
    text = "\n\n".join([title,
                        f"Command: {cmd}  \nMachine: {machine()}  \n"
                        "The machine (2 cores) was shared with other jobs while this ran; ours and SB3 ran "
                        f"back to back per (task, seed), {args.jobs} pair(s) at a time, so the load hit both "
                        f"alike, but absolute times are inflated and noisy ({load}). CPU time is the process's "
                        "`time.process_time()`: for SB3 around `model.learn`, for ours around the whole `train` "
                        "call (which also builds the run dir and runs the final evaluation: it favours SB3). "
                        "Returns: mean of 10 deterministic evaluation episodes (seeds 10000-10009) "
                        "with the same evaluator for both. Policy selection differs: our DQN (default "
                        "`--eval-every 5000`) reports the policy with the best periodic evaluation (5 episodes on "
                        "seeds 15000+, apart from the scored ones), SB3 its final model; PPO and TD3 report final "
                        "models on both sides.", summary, table, *notes])
    print(summary)
    if not args.no_write:
        print(f"wrote {write_section(key, text)}")


if __name__ == "__main__":
    main()
