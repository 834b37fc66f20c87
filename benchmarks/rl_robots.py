"""pilotlab SAC/TD3 (with HER on the Fetch arm) vs Stable-Baselines3 2.9, side by side on this machine.

Same env steps, seeds and hyperparameters (RL Baselines3 Zoo's), both with one torch thread; each
(task, seed) runs ours and then SB3 right after, so load from other jobs hits both alike. Both are
scored by the same evaluator (`pilotlab.rl.evaluate.evaluate_policy`: 10 deterministic episodes on
seeds 10000..10009; success rate from ``info["is_success"]`` on the Fetch tasks). Wall time is the
training call only (ours: `train/wall_s`; SB3: `model.learn`). Each result is appended to
benchmarks/results/rl_robots.jsonl as soon as its pair finishes, and the docs/benchmarks.md section is
rewritten from all results so far (earlier invocations' too, the latest per task, steps and seed), so
a long invocation that is stopped keeps what it measured and --tasks splits add up.

    .venv/bin/python benchmarks/rl_robots.py --tasks sac-pendulum                 # minutes
    .venv/bin/python benchmarks/rl_robots.py --tasks sac-halfcheetah td3-hopper   # 100k steps each: hours
    .venv/bin/python benchmarks/rl_robots.py --tasks fetchreach-her --seeds 0 1 2
    .venv/bin/python benchmarks/rl_robots.py --tasks sac-hopper --scale 0.01 --no-write   # smoke test
    .venv/bin/python benchmarks/rl_robots.py --tasks sac-pendulum --no-sb3        # ours only
    .venv/bin/python benchmarks/rl_robots.py --report   # rewrite the docs section from the results file

Needs the robots extra for everything but Pendulum (``pip install -e '.[robots]'``).
"""

from __future__ import annotations

import argparse
import json
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
RESULTS = Path("benchmarks/results/rl_robots.jsonl")

# Zoo settings (hyperparams/sac.yml, td3.yml, her.yml), as our config fields; SB3's are derived from them below.
SAC_MUJOCO = {"learning_starts": 10_000, "lr": 3e-4, "gamma": 0.99, "batch_size": 256, "tau": 0.005,
              "train_freq": 1, "gradient_steps": 1, "hidden": (256, 256), "buffer_size": 1_000_000}
TD3_MUJOCO = {"learning_starts": 10_000, "lr": 1e-3, "gamma": 0.99, "batch_size": 256, "tau": 0.005,
              "train_freq": 1, "gradient_steps": 1, "hidden": (400, 300), "exploration_noise": 0.1,
              "buffer_size": 1_000_000}
FETCH_REACH = {"learning_starts": 1000, "lr": 1e-3, "gamma": 0.95, "batch_size": 256, "tau": 0.005, "train_freq": 1,
               "gradient_steps": 1, "hidden": (64, 64), "her": True, "her_k": 4, "buffer_size": 1_000_000,
               "normalize_obs": True}
FETCH_HARD = {"learning_starts": 1000, "lr": 1e-3, "gamma": 0.95, "batch_size": 2048, "tau": 0.05, "train_freq": 1,
              "gradient_steps": 1, "hidden": (512, 512, 512), "her": True, "her_k": 4, "buffer_size": 1_000_000}
# The HER paper's DDPG settings for the Fetch tasks (Andrychowicz et al. 2017, appendix; the same values as the
# reference implementation, openai/baselines her/experiment/config.py, with one rollout worker of 2 envs): 3 x 256
# networks, lr 1e-3, batch 256, gamma 0.98, 40 gradient steps per 100 env steps, targets polyak-averaged by 0.95
# once per 40 steps (here spread over them: tau = 1 - 0.95^(1/40)), observations normalized, Gaussian noise 0.2,
# 30 % uniformly random actions, an action penalty of weight 1 and TD targets clipped to [-1/(1 - gamma), 0].
FETCH_HER_PAPER = {"learning_starts": 0, "lr": 1e-3, "gamma": 0.98, "batch_size": 256, "tau": 1 - 0.95 ** (1 / 40),
                   "train_freq": 100, "gradient_steps": 40, "num_envs": 2, "hidden": (256, 256, 256), "her": True,
                   "her_k": 4, "buffer_size": 500_000, "normalize_obs": True, "exploration_noise": 0.2,
                   "random_eps": 0.3, "action_l2": 1.0, "clip_target": True}
SAC_PENDULUM = {"learning_starts": 100, "lr": 1e-3, "gamma": 0.99, "batch_size": 256, "tau": 0.005, "train_freq": 1,
                "gradient_steps": 1, "hidden": (256, 256)}

# RL Zoo's published curves at 100k env steps, the MuJoCo tasks' targets: the training-episode returns (column r)
# of the zoo's trained agents' monitor files, DLR-RM/rl-trained-agents, {sac,td3}/{HalfCheetah,Hopper}-v3_1/
# 0.monitor.csv, added in commit 6da6faf9559cacdcce7c201c793780cfe38fd0c1 (unchanged at cd35bde610f4045bf2e07
# 31c8f4c88d22df8fc85); the zoo's hyperparameters, seed 0, v3 envs, 1M steps. The number is the mean return of
# the training episodes that end within the 10k env steps before 100k (cumulative length l in (90000, 100000]):
# 10 episodes each for HalfCheetah, 31 (SAC) and 56 (TD3) for Hopper. Training episodes act stochastically
# (SAC) or with exploration noise (TD3), so the target is below what the zoo's deterministic policy scores.
ZOO_100K = {"sac-halfcheetah": 4442.9, "sac-hopper": 981.9, "td3-halfcheetah": 5197.3, "td3-hopper": 363.3}

# task -> (env id, env steps, algo, our config fields, target: (metric, value) or None)
TASKS: dict[str, tuple[str, int, str, dict[str, Any], tuple[str, float] | None]] = {
    "sac-pendulum": ("Pendulum-v1", 10_000, "sac", SAC_PENDULUM, ("return", -200.0)),
    "sac-halfcheetah": ("HalfCheetah-v5", 100_000, "sac", SAC_MUJOCO, ("return", ZOO_100K["sac-halfcheetah"])),
    "sac-hopper": ("Hopper-v5", 100_000, "sac", SAC_MUJOCO, ("return", ZOO_100K["sac-hopper"])),
    "td3-halfcheetah": ("HalfCheetah-v5", 100_000, "td3", TD3_MUJOCO, ("return", ZOO_100K["td3-halfcheetah"])),
    "td3-hopper": ("Hopper-v5", 100_000, "td3", TD3_MUJOCO, ("return", ZOO_100K["td3-hopper"])),
    "fetchreach-her": ("FetchReach-v4", 10_000, "sac", FETCH_REACH, ("success", 0.95)),
    "fetchpush-her": ("FetchPush-v4", 500_000, "ddpg", FETCH_HER_PAPER, ("success", 0.90)),
    "fetchpickandplace-her": ("FetchPickAndPlace-v4", 1_000_000, "ddpg", FETCH_HER_PAPER, ("success", 0.50)),
    "fetchpush-her-sac": ("FetchPush-v4", 500_000, "sac", FETCH_HARD, ("success", 0.90)),
}


def run_ours(task: str, seed: int, steps: int, root: Path) -> dict[str, float]:
    """One run of ours in root/TASK-SEED; a run dir there with a checkpoint is resumed (long runs checkpoint every
    50k steps, so a stopped invocation with --runs continues where it stopped)."""
    from pilotlab.core import registry
    from pilotlab.rl import ALGO

    env, _, algo, fields, _ = TASKS[task]
    if fields.get("her"):  # ours stores the k relabelled copies; SB3's buffer holds the real transitions only
        fields = {**fields, "buffer_size": fields["buffer_size"] * (fields["her_k"] + 1)}
    if fields.get("her"):  # the success-vs-steps curve: periodic evaluations (10 episodes, seeds 15000...)
        fields = {**fields, "eval_every": max(1, steps // (20 if steps > 100_000 else 10)),
                  "eval_every_episodes": EVAL_EPISODES}
    run_dir = root / f"{task}-{seed}"
    cfg = registry.config_class(ALGO, algo)(algo=algo, env=env, total_steps=steps, seed=seed,
                                           eval_episodes=EVAL_EPISODES, eval_seed=EVAL_SEED,
                                           run_dir=str(run_dir), checkpoint_every=min(steps, 50_000),
                                           resume=(run_dir / "checkpoints" / "last.json").is_file(),
                                           log_every=max(1000, steps // 50), **fields)
    c0 = time.process_time()
    run = registry.implementation(ALGO, algo).train(cfg)
    summary = run.summary()
    curve = [[r["step"], r["eval/periodic_success_rate"]] for r in run.metrics() if "eval/periodic_success_rate" in r]
    return {"return": summary[S.RL_RETURN_MEAN], "success": summary.get(S.RL_SUCCESS_RATE, float("nan")),
            "wall": summary[S.TRAIN_WALL_S], "cpu": time.process_time() - c0, "curve": curve}


def sb3_model(task: str, seed: int) -> Any:
    import gymnasium as gym
    from stable_baselines3 import SAC, TD3, HerReplayBuffer
    from stable_baselines3.common.noise import NormalActionNoise

    from pilotlab.rl.robots import register_robotics

    env_id, _, algo, f, _ = TASKS[task]
    if algo == "ddpg":
        raise SystemExit(f"{task}: SB3 has no counterpart of the HER paper's DDPG settings (random actions, action "
                         "penalty, target clipping); run it with --no-sb3")
    register_robotics()
    env = gym.make(env_id)
    common = {"learning_rate": f["lr"], "gamma": f["gamma"], "batch_size": f["batch_size"], "tau": f["tau"],
              "learning_starts": f["learning_starts"], "train_freq": f["train_freq"],
              "gradient_steps": f["gradient_steps"], "buffer_size": f.get("buffer_size", 200_000),
              "policy_kwargs": {"net_arch": list(f["hidden"])}, "seed": seed, "device": "cpu"}
    if f.get("normalize_obs"):  # the zoo's normalize: True (observations only, as ours)
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        env = VecNormalize(DummyVecEnv([lambda: gym.make(env_id)]), norm_obs=True, norm_reward=False)
    if f.get("her"):
        return SAC("MultiInputPolicy", env, replay_buffer_class=HerReplayBuffer,
                   replay_buffer_kwargs={"n_sampled_goal": f["her_k"], "goal_selection_strategy": "future"}, **common)
    if algo == "td3":
        act = env.action_space.shape[0]
        noise = NormalActionNoise(np.zeros(act), f["exploration_noise"] * np.ones(act))
        return TD3("MlpPolicy", env, action_noise=noise, **common)
    return SAC("MlpPolicy", env, **common)


def run_sb3(task: str, seed: int, steps: int) -> dict[str, float]:
    model = sb3_model(task, seed)
    t0, c0 = time.perf_counter(), time.process_time()
    model.learn(steps)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0

    norm = model.get_vec_normalize_env()

    def policy(obs: Any) -> np.ndarray:
        return model.predict(obs if norm is None else norm.normalize_obs(obs), deterministic=True)[0]

    result = evaluate_policy(policy, TASKS[task][0], {}, EVAL_EPISODES, EVAL_SEED)
    success = float(result.successes.mean()) if result.successes is not None else float("nan")
    return {"return": float(result.returns.mean()), "success": success, "wall": wall, "cpu": cpu}


def met(task: str, value: float) -> str:
    target = TASKS[task][4]
    if target is None:
        return "no bundled target (compare with RL Zoo's published curve)"
    return f"{'met' if value >= target[1] else 'NOT met'}: {target[0]} >= {target[1]:g}"


def section(rows: list[dict[str, Any]], command: str, load: str) -> str:
    lines = ["| task | env steps | seed | ours return | SB3 return | ours success | SB3 success | ours wall [s] | "
             "SB3 wall [s] | ours/SB3 wall | ours CPU [s] | SB3 CPU [s] | load (1 min) |", "|" + "---|" * 13]
    for r in rows:
        o, b = r["ours"], r.get("sb3")
        lines.append(
            f"| {r['task']} {r['env']} | {r['steps']:,} | {r['seed']} | {o['return']:.1f} | "
            f"{b['return'] if b else float('nan'):.1f} | {o['success']:.2f} | "
            f"{b['success'] if b else float('nan'):.2f} | {o['wall']:.1f} | {b['wall'] if b else float('nan'):.1f} | "
            f"{o['wall'] / b['wall'] if b else float('nan'):.2f} | {o['cpu']:.1f} | "
            f"{b['cpu'] if b else float('nan'):.1f} | {r['load']:.1f} |")
    means = ["| task | seeds | ours mean (target) | SB3 mean |", "|---|---|---|---|"]
    for task in dict.fromkeys(r["task"] for r in rows):
        rs = [r for r in rows if r["task"] == task]
        metric = (TASKS[task][4] or ("return", 0.0))[0]
        ours = float(np.mean([r["ours"][metric] for r in rs]))
        sb3 = [r["sb3"][metric] for r in rs if r.get("sb3")]
        verdict = met(task, ours)
        if TASKS[task][4] is not None and any(r["steps"] != TASKS[task][1] for r in rs):  # a --scale run
            verdict = f"target {TASKS[task][4][1]:g} is for {TASKS[task][1]:,} steps"
        means.append(f"| {task} | {len(rs)} | {metric} {ours:.2f} ({verdict}) | "
                     f"{float(np.mean(sb3)) if sb3 else float('nan'):.2f} |")
    curves = [r for r in rows if r["ours"].get("curve")]
    curve_lines = []
    if curves:
        steps = sorted({s for r in curves for s, _ in r["ours"]["curve"]})
        curve_lines = ["Ours, success rate of the periodic evaluations (10 episodes on seeds 15000-15009) by env step; "
                       "the final evaluation above plays the best of them (`checkpoints/best`):",
                       "| task | seed | " + " | ".join(f"{s:,}" for s in steps) + " |", "|" + "---|" * (len(steps) + 2)]
        for r in curves:
            at = dict(r["ours"]["curve"])
            curve_lines.append(f"| {r['task']} | {r['seed']} | "
                               + " | ".join(f"{at[s]:.1f}" if s in at else "" for s in steps) + " |")
    return "\n\n".join([
        "## rl robots: SAC, TD3 and SAC+HER vs Stable-Baselines3 2.9",
        f"Command: `{command}`  \nMachine: {machine()}  \nLoad: {load}. The machine (2 cores) is shared; ours and "
        "SB3 ran back to back per (task, seed) with the same Zoo hyperparameters, steps, seeds and one torch thread. "
        "Returns and success rates: 10 deterministic episodes (seeds 10000-10009), the same evaluator for both.",
        "\n".join(means), "\n".join(lines), *(["\n".join(curve_lines[:1]), "\n".join(curve_lines[1:])]
                                               if curve_lines else [])])


def previous_results() -> list[dict[str, Any]]:
    """Rows of earlier invocations (benchmarks/results/rl_robots.jsonl), the latest per (task, steps, seed): the docs
    section shows every task measured so far, whichever --tasks split measured it."""
    latest: dict[tuple[str, int, int], dict[str, Any]] = {}
    if RESULTS.is_file():
        for line in RESULTS.read_text().splitlines():
            row = json.loads(line)
            latest[(row["task"], row["steps"], row["seed"])] = row
    return list(latest.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["sac-pendulum"], choices=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every step budget (smoke tests only)")
    parser.add_argument("--no-sb3", action="store_true", help="run ours only")
    parser.add_argument("--runs", type=Path, default=None,
                        help="keep our run dirs here (default: a temporary folder); a run found there is resumed")
    parser.add_argument("--no-write", action="store_true", help="print only; leave runs/ and docs/benchmarks.md")
    parser.add_argument("--report", action="store_true", help="run nothing: rewrite the docs/benchmarks.md section "
                        "from the results file (rows appended from other checkouts, say)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # every run of the results file used one thread
    if args.report:
        rows = previous_results()
        commands = "`; `".join(dict.fromkeys(r["command"] for r in rows))
        loads = [r["load"] for r in rows]
        write_section("rl_robots", section(rows, commands, f"1-min load average {min(loads):.1f}-{max(loads):.1f} "
                                           "over the runs (per row below)"))
        return
    command = ".venv/bin/python benchmarks/rl_robots.py " + " ".join(sys.argv[1:])
    load_start = os.getloadavg()[0]
    rows = [] if args.no_write else previous_results()
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            for seed in args.seeds:
                steps = max(1, int(TASKS[task][1] * args.scale))
                ours = run_ours(task, seed, steps, args.runs or Path(tmp))
                sb3 = None if args.no_sb3 else run_sb3(task, seed, steps)
                row = {"task": task, "env": TASKS[task][0], "steps": steps, "seed": seed, "ours": ours, "sb3": sb3,
                       "load": os.getloadavg()[0], "command": command, "time": time.time()}
                rows = [r for r in rows if (r["task"], r["steps"], r["seed"]) != (task, steps, seed)] + [row]
                print(json.dumps(row), flush=True)
                if not args.no_write:  # results as each finishes: the JSONL and the docs section so far
                    RESULTS.parent.mkdir(parents=True, exist_ok=True)
                    with RESULTS.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    load = f"1-min load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} now"
                    write_section("rl_robots", section(rows, command, load))
    print(section(rows, command, f"1-min load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} "
                                 "at the end"))


if __name__ == "__main__":
    main()
