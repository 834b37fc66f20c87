"""Tuned presets on classic control: does `pilotlab rl train` with RL Zoo's settings reach RL Zoo's return?

For every classic-control env with a DQN or PPO entry in RL Baselines3 Zoo, train with the zoo preset
(exactly what ``pilotlab rl train --algo A --env E`` builds, `pilotlab.cli.config_of`) for the zoo's own
step budget (its ``n_timesteps``), then compare the final evaluation's mean return (deterministic
actions, `--eval-episodes` episodes on held-out seeds 10000, ...) with the zoo's published mean return
(benchmark.md of the zoo, cited in src/pilotlab/rl/zoo_presets.toml; one trained agent each there).
A task meets the target when our mean return is at least the published mean.

    .venv/bin/python benchmarks/rl_presets.py                          # all 8 tasks, seed 0
    .venv/bin/python benchmarks/rl_presets.py --tasks dqn/CartPole-v1 ppo/Pendulum-v1 --seeds 0 1

Each finished (task, seed) is appended to benchmarks/results/rl_presets.jsonl at once, and the
`rl_presets` section of docs/benchmarks.md is rebuilt from every row there (the latest row per task and
seed), so a run split by --tasks over several invocations ends in one table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_section
from pilotlab.cli import build_parser, config_of
from pilotlab.core import registry
from pilotlab.core import summary as S
from pilotlab.core.config import command_line
from pilotlab.rl import ALGO, presets

RESULTS = Path(__file__).resolve().parent / "results" / "rl_presets.jsonl"
CLASSIC = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1")
TASKS = [f"{p.algo}/{p.env}" for p in presets.presets() if p.algo in ("dqn", "ppo") and p.env in CLASSIC]


def run_task(task: str, seed: int, eval_episodes: int, threads: int, root: Path, scale: float = 1.0,
             ) -> dict[str, object]:
    algo, env = task.split("/")
    preset = presets.find(algo, env)
    assert preset is not None and preset.published is not None
    argv = ["rl", "train", "--algo", algo, "--env", env, "--seed", str(seed), "--threads", str(threads),
            "--eval-episodes", str(eval_episodes), "--run-dir", str(root / f"{algo}-{env}-{seed}")]
    if scale != 1.0:  # smoke tests only: a flag overrides the preset's budget
        argv += ["--total-steps", str(max(1, int(preset.zoo["n_timesteps"] * scale)))]
    cfg = config_of(build_parser("rl", argv).parse_args(argv), argv)
    assert cfg.preset == "zoo"  # type: ignore[attr-defined]
    load0, c0, w0 = os.getloadavg()[0], time.process_time(), time.perf_counter()
    run = registry.implementation(ALGO, algo).train(cfg)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    summary = run.summary()
    ours, published = float(summary[S.RL_RETURN_MEAN]), float(preset.published["mean_reward"])
    return {"task": task, "seed": seed, "steps": cfg.total_steps, "ours": ours,  # type: ignore[attr-defined]
            "ours_std": float(summary[S.RL_RETURN_STD]), "episodes": eval_episodes, "published": published,
            "published_std": float(preset.published["std_reward"]), "met": ours >= published,
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_before": round(load0, 1),
            "load_after": round(os.getloadavg()[0], 1), "dropped": list(preset.dropped),
            "argv": "pilotlab " + " ".join(argv[:-2]),  # without the temporary --run-dir
            "command": command_line("rl train", cfg).replace(f" --run-dir {cfg.run_dir}", ""),  # type: ignore[attr-defined]
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def over_seeds(rows: list[dict[str, object]]) -> list[str]:
    """A table of each task's mean over seeds (of the per-seed mean returns) with its 95 % t interval over the
    seeds, against the published mean; met: the mean over seeds >= the published mean."""
    from scipy import stats

    lines = ["Over seeds (each seed's mean return over its eval episodes, then the mean over seeds; 95 % interval: "
             "Student t over the seeds, none for one seed):", "",
             "| task | seeds | episodes per seed | mean over seeds | 95 % interval | published | met |",
             "|---|---|---|---|---|---|---|"]
    for task in TASKS:
        mine = sorted((r for r in rows if r["task"] == task), key=lambda r: r["seed"])  # type: ignore[arg-type, return-value]
        if not mine:
            continue
        x = np.array([float(r["ours"]) for r in mine])  # type: ignore[arg-type]
        mean, published = float(x.mean()), float(mine[0]["published"])  # type: ignore[arg-type]
        if len(x) > 1:
            half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
            interval = f"[{mean - half:.1f}, {mean + half:.1f}]"
        else:
            interval = "-"
        episodes = sorted({int(r["episodes"]) for r in mine})  # type: ignore[call-overload]
        lines.append(f"| {task} | {', '.join(str(r['seed']) for r in mine)} | {'/'.join(map(str, episodes))} | "
                     f"{mean:.1f} | {interval} | {published:.1f} | {'yes' if mean >= published else 'no'} |")
    return lines


def section(rows: list[dict[str, object]]) -> str:
    latest = {(r["task"], r["seed"]): r for r in rows}
    lines = [
        "## RL presets: RL Zoo's settings on classic control vs RL Zoo's published return",
        "",
        "Command: `.venv/bin/python benchmarks/rl_presets.py --tasks TASK ... --seeds SEED ... --eval-episodes N` "
        "(seed and episodes per row; each row's own training command is below the tables; `--threads 1`).  ",
        f"Machine: {machine()}.  ",
        "Published: mean return in the zoo's benchmark.md (https://github.com/DLR-RM/rl-baselines3-zoo/blob/"
        "22e3ff2450fd92033f7f032915e1f64894a09584/benchmark.md), one trained agent, deterministic actions. "
        "Ours: mean over the eval episodes (seeds 10000, ...), deterministic actions, same step budget. "
        "Met: ours >= published mean.",
        "",
        "| task | env steps | seed | ours return (std, episodes) | published (std) | met | wall [s] | CPU [s] | "
        "load before/after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(latest.values(), key=lambda r: (TASKS.index(str(r["task"])), r["seed"])):
        lines.append(f"| {r['task']} | {r['steps']:,} | {r['seed']} | {r['ours']:.1f} ({r['ours_std']:.1f}, "
                     f"{r['episodes']}) | {r['published']:.1f} ({r['published_std']:.1f}) | "
                     f"{'yes' if r['met'] else 'no'} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | "
                     f"{r['load_before']}/{r['load_after']} |")
    lines += ["", *over_seeds(list(latest.values()))]
    missing = [t for t in TASKS if not any(r["task"] == t for r in latest.values())]
    if missing:
        lines += ["", "Not run yet: " + ", ".join(missing) + "."]
    lines += ["", "Training commands and what the preset cannot express (listed by `pilotlab rl presets`):", ""]
    for r in sorted(latest.values(), key=lambda r: (TASKS.index(str(r["task"])), r["seed"])):
        gaps = "; ".join(r["dropped"]) if r["dropped"] else "nothing"  # type: ignore[arg-type]
        lines.append(f"- {r['task']} seed {r['seed']} ({r['date']}): `{r.get('argv', r['command'])}`; "
                     f"not expressed: {gaps}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=TASKS, choices=TASKS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the step budget (smoke tests; implies "
                        "--no-write)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the results and docs alone")
    parser.add_argument("--rebuild", action="store_true", help="only rebuild the docs section from the results file")
    args = parser.parse_args()
    args.no_write |= args.scale != 1.0
    if args.rebuild:
        rows = [json.loads(line) for line in RESULTS.read_text(encoding="utf-8").splitlines() if line.strip()]
        print(f"wrote {write_section('rl_presets', section(rows))}")
        return
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="rl-presets-") as tmp:
        for task in args.tasks:
            for seed in args.seeds:
                row = run_task(task, seed, args.eval_episodes, args.threads, Path(tmp), args.scale)
                print(json.dumps(row), flush=True)
                if args.no_write:
                    continue
                RESULTS.parent.mkdir(parents=True, exist_ok=True)
                with open(RESULTS, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                rows = [json.loads(line) for line in RESULTS.read_text(encoding="utf-8").splitlines() if line.strip()]
                print(f"wrote {write_section('rl_presets', section(rows))}", flush=True)


if __name__ == "__main__":
    main()
