"""Why the camera modes crash: for each crash of the modular driver, what it hit and what its sensors knew.

For every crash on the given env seeds (training seeds by default, never the held-out 100000+), the vehicle
hit (the other one the simulator marks crashed, else the nearest) and, over the preceding policy steps, where
it was relative to the ego (longitudinal / lateral [m], bearing [deg]), which sensors' fields of view held it
(F/R/L/S: the front / rear / left / right (starboard) camera's horizontal field of view with `--cameras
front+rear+sides`, f/r/c: a front / rear / corner radar mount of the
sensor config, each within its range), whether a reported track lay within `--match` metres of it and that
track's position error. One line per step; a summary of the crash causes at the end (docs/drive.md,
"Camera perception: the crashes").

    PYTHONPATH=src .venv/bin/python benchmarks/drive_camera_crashes.py --run det2 --perception camera+radar \
        --seeds 0-19
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parse_seeds


def coverage(agent, ego, rel_world: np.ndarray) -> str:
    """Letters of the sensors whose field of view (and range) holds the point rel_world (2,) [m] from the ego."""
    letters = ""
    if agent.camera is not None:
        for letter, cam in zip("FRLS", agent.camera.cameras):
            origin, heading = cam.pose(ego.position, ego.heading)
            rel = ego.position + rel_world - origin
            off = np.angle(np.exp(1j * (np.arctan2(rel[1], rel[0]) - heading)))
            half = np.arctan(cam.cfg.width / 2.0 / cam.cfg.fx)
            if abs(off) <= half and np.hypot(*rel) <= 150.0:
                letters += letter
    brg = np.arctan2(rel_world[1], rel_world[0])
    dist = float(np.hypot(*rel_world))
    for k, m in enumerate(agent.sensor_cfg.radars):
        off = np.angle(np.exp(1j * (brg - ego.heading - m.yaw)))
        if abs(off) <= m.half_fov and dist <= m.max_range:
            letters += "frc"[min(k, 2)]
    return letters or "-"


def main() -> None:
    from pilotlab.drive import envs, metrics
    from pilotlab.drive.agents import make_agent
    from pilotlab.drive.episode import _score_tracking

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None, help="drive train-perception run directory (camera modes)")
    ap.add_argument("--perception", default="camera+radar")
    ap.add_argument("--radars", default="front+rear", help="radar suite (drive eval --radars)")
    ap.add_argument("--cameras", default="front+rear", help="camera set of the camera modes (drive eval --cameras)")
    ap.add_argument("--env", default="highway-fast-v0")
    ap.add_argument("--seeds", default="0-19")
    ap.add_argument("--history", type=int, default=5, help="policy steps shown before each crash")
    ap.add_argument("--match", type=float, default=4.0, help="[m] a track this close to a car is its track")
    ap.add_argument("--json", default=None, help="write the per-crash records here")
    args = ap.parse_args()

    agent = make_agent("modular", 0, "meta", args.perception, args.run, args.radars, args.cameras)
    env = envs.make_env(args.env, {}, fast=True)
    seeds = parse_seeds(args.seeds)
    records, causes = [], collections.Counter()
    scorer, speeds = metrics.MotScorer(), []
    t0 = time.process_time()
    for seed in seeds:
        agent.prepare(env)
        env.reset(seed=seed)
        agent.reset(env, seed)
        history: list[dict] = []
        done, crashed = False, False
        scorer.new_episode()
        ep_speeds = []
        while not done:
            action = agent.act(env, None)
            _score_tracking(scorer, env, agent.perception)
            ego = envs.ego_state(env)
            truth = envs.ground_truth(env)
            tracks = [t for t in agent.perception.tracks if t.confirmed]
            history.append({"ego": ego, "truth": truth, "tracks": [(t.x[:2].copy(), t.misses, t.blind, t.x[2:].copy())
                                                                    for t in tracks],
                            "reason": getattr(agent.last_plan, "reason", ""), "action": int(action)})
            _, _, term, trunc, info = env.step(action)
            crashed = bool(info.get("crashed", envs.ego_vehicle(env).crashed))
            ep_speeds.append(float(envs.ego_vehicle(env).speed))
            done = bool(term or trunc) or crashed
        speeds.append(float(np.mean(ep_speeds)))
        if not crashed:
            continue
        ego_v = envs.ego_vehicle(env)
        others = [v for v in env.unwrapped.road.vehicles if v is not ego_v]
        hit = [v for v in others if v.crashed]
        if not hit:
            hit = sorted(others, key=lambda v: np.hypot(*(np.asarray(v.position) - ego_v.position)))[:1]
        target = id(hit[0])
        rel_end = np.asarray(hit[0].position) - np.asarray(ego_v.position)
        print(f"seed {seed}: crash after {len(history)} steps, hit car at {rel_end[0]:+.1f} / {rel_end[1]:+.1f} m "
              f"(ego lane {ego_v.lane_index[2]}, its lane {hit[0].lane_index[2]})")
        rows = []
        for k, h in enumerate(history[-args.history:]):
            ego, truth = h["ego"], h["truth"]
            idx = np.flatnonzero(truth.ids == target)
            if not len(idx):
                continue
            p = truth.position[idx[0]]
            rel = p - ego.position
            c, s = np.cos(ego.heading), np.sin(ego.heading)
            lon, lat = c * rel[0] + s * rel[1], -s * rel[0] + c * rel[1]
            errs = [float(np.hypot(*(tr[0] - p))) for tr in h["tracks"]]
            j = int(np.argmin(errs)) if errs else -1
            tracked = j >= 0 and errs[j] <= args.match
            cov = coverage(agent, ego, rel)
            row = {"t": len(history) - min(args.history, len(history)) + k, "lon": round(float(lon), 1),
                   "lat": round(float(lat), 1), "bearing": round(float(np.degrees(np.arctan2(lat, lon))), 0),
                   "coverage": cov, "tracked": tracked,
                   "track_err": round(errs[j], 2) if j >= 0 else None,
                   "track_misses": h["tracks"][j][1] if tracked else None,
                   "track_blind": h["tracks"][j][2] if tracked else None,
                   "track_vel_err": (round(float(np.hypot(*(h["tracks"][j][3] - truth.velocity[idx[0]]))), 2)
                                     if tracked else None),
                   "action": h["action"], "reason": h["reason"]}
            rows.append(row)
            print(f"  t={row['t']:2d} lon {lon:+6.1f} lat {lat:+5.1f} brg {row['bearing']:+5.0f}  cov {cov:4s} "
                  f"track {'yes' if tracked else 'NO '} err {row['track_err']} v-err {row['track_vel_err']} "
                  f"blind {row['track_blind']}  a={row['action']} {row['reason']}")
        last = rows[-1] if rows else {}
        cause = ("rear-end ahead" if last.get("lon", 0) > 2.5 else
                 "hit from behind" if last.get("lon", 0) < -2.5 else "side")
        cause += ", tracked" if last.get("tracked") else ", untracked"
        cause += ", unseen 2+ s" if all(r["coverage"] in ("-",) for r in rows[-3:]) else ""
        causes[cause] += 1
        records.append({"seed": seed, "steps": len(history), "rows": rows, "cause": cause})
    mot = scorer.compute()
    print(f"{len(records)} crashes in {len(seeds)} episodes, MOTA {mot['mota']:.3f}, IDF1 {mot['idf1']:.3f}, "
          f"mean speed {np.mean(speeds):.2f} m/s ({time.process_time() - t0:.0f} s CPU)")
    for cause, n in causes.most_common():
        print(f"  {n:3d}  {cause}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
