"""Why the modular driver crashes in a junction scenario: each crash classified, with the last policy steps.

For every crash on the given env seeds (training seeds by default, never the held-out 100000+), the fault
and kind of `scenarios.crash_fault` (the scenario hooks at default knobs leave the traffic unchanged), the
ego's and the partner's lane, speed and relative position over the last steps, the meta-action taken and
the planner's reason. A summary of the crash kinds at the end (docs/drive.md, "Roundabout crashes").

    PYTHONPATH=src .venv/bin/python benchmarks/drive_roundabout_crashes.py --env roundabout-v0 --seeds 0-29
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parse_seeds


class Recorder:
    """`episode.EpisodeHooks`: the scenario hooks (crash fault) plus the ego's and every car's state per step."""

    def __init__(self, hooks, agent):
        self.hooks, self.agent, self.steps = hooks, agent, []

    def after_reset(self, env) -> None:
        self.hooks.after_reset(env)

    def after_step(self, env, step: int) -> None:
        self.hooks.after_step(env, step)
        base = env.unwrapped
        self.steps.append({
            "reason": getattr(self.agent.last_plan, "reason", ""),
            "ego": (tuple(base.vehicle.lane_index), np.array(base.vehicle.position), float(base.vehicle.speed),
                    float(base.vehicle.heading), tuple(base.vehicle.target_lane_index)),
            "cars": {id(v): (tuple(v.lane_index), np.array(v.position), float(v.speed),
                             tuple(getattr(v, "target_lane_index", v.lane_index))) for v in base.road.vehicles}})


def main() -> None:
    from pilotlab.core import summary as S
    from pilotlab.drive import envs, metrics, scenarios
    from pilotlab.drive.agents import make_agent
    from pilotlab.drive.episode import run_episode

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="roundabout-v0")
    ap.add_argument("--agent", default="modular")
    ap.add_argument("--seeds", default="0-29")
    ap.add_argument("--history", type=int, default=4, help="policy steps shown before each crash")
    ap.add_argument("--agent-seed", type=int, default=None, help="the driver's seed (default: the first env seed, "
                    "as `drive eval --seed FIRST` seeds it)")
    args = ap.parse_args()

    seeds = parse_seeds(args.seeds)
    agent = make_agent(args.agent, seeds[0] if args.agent_seed is None else args.agent_seed)
    env = envs.make_env(args.env, {})
    kinds, stats, scorer = collections.Counter(), [], metrics.MotScorer()
    t0 = time.process_time()
    for seed in seeds:
        rec = Recorder(scenarios.ScenarioHooks(scenarios.Scenario(env=args.env, seed=seed)), agent)
        st = run_episode(agent, env, seed, scorer if args.agent == "modular" else None, hooks=rec)
        stats.append(st)
        if not st.crashed:
            continue
        crash = rec.hooks.crash or {}
        ego_v = env.unwrapped.vehicle
        partners = [v for v in env.unwrapped.road.vehicles if v is not ego_v and v.crashed]
        pid = id(min(partners, key=lambda v: np.hypot(*(v.position - ego_v.position)))) if partners else None
        kinds[(crash.get("kind"), crash.get("at_fault"))] += 1
        print(f"seed {seed}: crash at step {crash.get('step')} {crash.get('kind')} at_fault={crash.get('at_fault')} "
              f"return {st.ret:.2f}")
        for k, h in enumerate(rec.steps[-args.history:] if args.history > 0 else []):
            lane, pos, v, hd, tgt = h["ego"]
            line = f"  t={len(rec.steps) - min(args.history, len(rec.steps)) + k:2d} ego {lane} ->{tgt[2]} v {v:4.1f}"
            if pid in h["cars"]:
                plane, ppos, pv, ptgt = h["cars"][pid]
                rel = ppos - pos
                c, s = np.cos(hd), np.sin(hd)
                line += (f" | hit {plane} ->{ptgt[2]} v {pv:4.1f} lon {c * rel[0] + s * rel[1]:+5.1f}"
                         f" lat {-s * rel[0] + c * rel[1]:+5.1f}")
            print(line + f" | {h['reason']}")
    res = metrics.summarize(stats)
    mot = scorer.compute() if args.agent == "modular" else {}
    print(f"{sum(s.crashed for s in stats)} crashes in {len(seeds)} episodes, return {res[S.DRIVE_RETURN_MEAN]:.2f}, "
          f"MOTA {mot.get('mota', float('nan')):.3f} ({time.process_time() - t0:.0f} s CPU)")
    for (kind, fault), n in kinds.most_common():
        print(f"  {n:3d}  {kind} ({'ego' if fault else 'npc'} at fault)")


if __name__ == "__main__":
    main()
