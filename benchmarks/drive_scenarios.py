"""Driving on every scenario of `pilotlab drive eval --env`: the modular driver against highway-env's IDM+MOBIL.

    .venv/bin/python benchmarks/drive_scenarios.py                       # 7 envs x 50 held-out episodes
    .venv/bin/python benchmarks/drive_scenarios.py --envs roundabout-v0,intersection-v0 --episodes 20
    .venv/bin/python benchmarks/drive_scenarios.py --stress-budget 200 --stress-envs highway-fast-v0

Every driver drives the same held-out env seeds (100000, 100001, ...). Each (env, driver) result is
appended to `--results` (JSON lines) as soon as it finishes, and the `drive_scenarios` section of
docs/benchmarks.md is rewritten from every row of that file after each one, so the envs can be split
over several calls (`--envs`) and an interrupted run keeps what it finished; a repeated (env, driver,
episodes, duration) replaces the older row. `--racetrack-duration` shortens racetrack-v0's 300 s
episodes (1,500 steps at 5 Hz; one lap of 348 m takes ~35 s at the fixed 10 m/s).

With `--stress-budget N`, `pilotlab drive stress` runs on each of `--stress-envs` (`--stress-methods`: CEM and
uniform random sampling by default, ``cem,random,rl`` adds the RL adversary, trained for
`--stress-adversary-steps` inside its budget; N episodes each) and its counts join the section.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_section
from pilotlab.drive import envs
from pilotlab.drive.evaluate import EVAL_SEED, evaluate_agents

ENVS = list(envs.SCENARIOS)


def _targets(env_id: str, rows: dict[str, dict]) -> str:
    """The issue's target for `env_id`, and whether the modular driver meets it."""
    m, i = rows.get("modular"), rows.get("idm")
    if m is None:
        return ""
    if env_id.startswith("racetrack"):
        ok = m["lap_rate"] >= 0.95
        return f"laps without leaving the road >= 95 %: {'met' if ok else 'not met'} ({m['lap_rate']:.0%})"
    if i is None:
        return ""
    ret_ok = m["return_mean"] >= i["return_mean"]
    if env_id in ("highway-fast-v0", "highway-v0", "merge-v0"):
        ok = m["crash_rate"] == 0 and ret_ok
        return f"0 crashes, return >= IDM: {'met' if ok else 'not met'}"
    crash_ok = m["crash_rate"] <= min(0.5 * i["crash_rate"], 0.04)
    mota_ok = m["mota"] >= 0.85
    return (f"crashes <= min(IDM/2, 4 %): {'met' if crash_ok else 'not met'}; return >= IDM: "
            f"{'met' if ret_ok else 'not met'}; MOTA >= 0.85: {'met' if mota_ok else 'not met'}")


def _section(rows: list[dict], stress: list[dict], command: str) -> str:
    commands = list(dict.fromkeys([r["command"] for r in rows + stress if r.get("command")] + [command]))
    lines = ["## Driving scenarios (`benchmarks/drive_scenarios.py`)", "",
             "Command(s), rows accumulating over the calls: " + "; ".join(f"`{c}`" for c in commands) + ".",
             "", f"Machine: {machine()}; the load average is given per row (a shared 2-core machine).", "",
             "| env | driver | episodes | return | crash rate [95 % Wilson] | route completion | driving score | "
             "MOTA | laps | off road | wall [s] | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    by_env: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_env.setdefault(r["env"], {})[r["agent"]] = r
    for env_id in ENVS:
        for agent, r in sorted(by_env.get(env_id, {}).items()):
            mota = "" if r["mota"] != r["mota"] else f"{r['mota']:.3f}"
            laps = f"{r['laps_mean']:.2f}" if env_id.startswith("racetrack") else ""
            lines.append(f"| {env_id}{' (' + str(r['duration']) + ' s)' if r.get('duration') else ''} | {agent} | "
                         f"{int(r['episodes'])} | {r['return_mean']:.2f} | {r['crash_rate']:.0%} "
                         f"[{r['crash_rate_lo']:.0%}, {r['crash_rate_hi']:.0%}] | {r['route_completion']:.3f} | "
                         f"{r['driving_score']:.3f} | {mota} | {laps} | {r['off_road_rate']:.0%} | "
                         f"{r['wall_s']:.0f} | {r['load']} |")
    lines += ["", "Targets (issue 15), modular driver:", ""]
    for env_id in ENVS:
        if env_id in by_env:
            lines.append(f"- {env_id}: {_targets(env_id, by_env[env_id])}")
    if stress:
        lines += ["", "Stress search (`pilotlab drive stress`), at-fault failures of the driver:", "",
                  "| env | driver | method | episodes | at-fault crashes | distinct | distinct per 1,000 | "
                  "NPC-at-fault (flagged) | replays matched |", "|---|---|---|---|---|---|---|---|---|"]
        for s in stress:
            for m in [m for m in ("cem", "random", "rl") if m in s]:
                lines.append(f"| {s['env']} | {s['agent']} | {m} | {s[m]['episodes']:.0f} | {s[m]['at_fault']:.0f} | "
                             f"{s[m]['distinct']:.0f} | {s[m]['per_1000']:.1f} | {s[m]['npc_fault']:.0f} | "
                             f"{s['replays_matched']:.0f}/{s['replays']:.0f} |")
    return "\n".join(lines) + "\n"


def _load(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _append(path: Path, row: dict, key: tuple) -> list[dict]:
    rows = [r for r in _load(path) if tuple(r.get(k) for k in ("kind", "env", "agent", "episodes", "duration")) != key]
    rows.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envs", default=",".join(ENVS), help="comma-separated env ids")
    ap.add_argument("--agents", default="modular,idm")
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--racetrack-duration", type=float, default=40.0, help="[s]; 0: the env's own 300 s")
    ap.add_argument("--results", default="runs/bench-drive-scenarios.jsonl")
    ap.add_argument("--stress-budget", type=int, default=0, help="episodes per stress method (0: no stress search)")
    ap.add_argument("--stress-envs", default="roundabout-v0")
    ap.add_argument("--stress-population", type=int, default=20)
    ap.add_argument("--stress-duration", type=float, default=0.0, help="[s]; 0: the env's own")
    ap.add_argument("--stress-methods", default="cem,random", help="cem, random, rl (comma-separated)")
    ap.add_argument("--stress-adversary-steps", type=int, default=1500, help="rl: DQN steps inside its budget")
    args = ap.parse_args()
    torch.set_num_threads(1)
    env_ids = [e.strip() for e in args.envs.split(",") if e.strip()]
    for e in env_ids:
        if e not in ENVS:
            raise SystemExit(f"error: unknown env {e!r}; choose from {', '.join(ENVS)}")
    results = Path(args.results)
    command = "python benchmarks/drive_scenarios.py " + " ".join(sys.argv[1:])
    for env_id in env_ids:
        duration = args.racetrack_duration if env_id.startswith("racetrack") and args.racetrack_duration > 0 else None
        for agent in [a.strip() for a in args.agents.split(",")]:
            t0 = time.perf_counter()
            res = evaluate_agents([agent], env_id, args.episodes, EVAL_SEED,
                                  env_config={"duration": duration} if duration else {}, gif=False)[agent]
            wall = time.perf_counter() - t0
            row = {"kind": "eval", "env": env_id, "agent": agent, "episodes": args.episodes, "duration": duration,
                   "wall_s": wall, "load": f"{os.getloadavg()[0]:.1f}", "command": command, **res}
            rows = _append(results, row, ("eval", env_id, agent, args.episodes, duration))
            print(f"{env_id} {agent}: return {res['return_mean']:.2f} crash {res['crash_rate']:.0%} "
                  f"completion {res['route_completion']:.3f} ({wall:.0f} s)", flush=True)
            write_section("drive_scenarios", _section([r for r in rows if r["kind"] == "eval"],
                                                      [r for r in rows if r["kind"] == "stress"], command))
    if args.stress_budget > 0:
        from pilotlab.core import summary as S
        from pilotlab.drive.stress import DriveStressConfig, run_stress

        for env_id in [e.strip() for e in args.stress_envs.split(",") if e.strip()]:
            run_dir = Path("runs") / f"bench-stress-{env_id}-{time.strftime('%Y%m%d-%H%M%S')}"
            cfg = DriveStressConfig(env=env_id, budget=args.stress_budget, population=args.stress_population,
                                    duration=args.stress_duration or None, run_dir=str(run_dir), max_videos=3,
                                    methods=args.stress_methods, adversary_steps=args.stress_adversary_steps)
            summ = run_stress(cfg)
            row = {"kind": "stress", "env": env_id, "agent": cfg.agent, "episodes": args.stress_budget,
                   "duration": cfg.duration, "run_dir": str(run_dir), "command": command,
                   "replays": summ[S.STRESS_REPLAYS], "replays_matched": summ[S.STRESS_REPLAYS_MATCHED]}
            for m in cfg.method_list:
                row[m] = {"episodes": summ[S.stress_key(m, S.STRESS_EPISODES)],
                          "at_fault": summ[S.stress_key(m, S.STRESS_AT_FAULT)],
                          "distinct": summ[S.stress_key(m, S.STRESS_DISTINCT)],
                          "per_1000": summ[S.stress_key(m, S.STRESS_DISTINCT_PER_1000)],
                          "npc_fault": summ[S.stress_key(m, S.STRESS_NPC_FAULT)]}
            rows = _append(results, row, ("stress", env_id, cfg.agent, args.stress_budget, cfg.duration))
            write_section("drive_scenarios", _section([r for r in rows if r["kind"] == "eval"],
                                                      [r for r in rows if r["kind"] == "stress"], command))


if __name__ == "__main__":
    main()
