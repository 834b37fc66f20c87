"""The modular driver's tracking error budget: MOTA's misses, false positives and identity switches by kind.

    .venv/bin/python benchmarks/drive_mot_budget.py --env roundabout-v0 --episodes 20 --seed 0

Drives the same episodes as `pilotlab drive eval --agent modular --env ENV --episodes N --seed S --no-gif`
(`episode.run_episode`, the same agent and seeds) and prints the eval summary, then MOTA under two ground-truth
definitions: `returned` (the scorer of `drive eval`: every vehicle within the lidar's range from which at
least one lidar ray returned) and `reached` (the definition before issue 15's tracking work: a vehicle that
a noise-free ray reaches, even if every ray on it dropped out). Each error of the `returned` definition is
put in one bin:

- miss: ``newborn`` (the object's first step in the ground truth), ``no detection`` (none within the match
  distance), ``no track`` (a detection but no reported track within it);
- false positive: ``off`` (a vehicle within 4 m, the track misplaced), ``unscored`` (a vehicle within the match
  distance that the ground truth leaves out), ``ghost`` (no vehicle within 4 m), ``duplicate``;
- identity switch: whether the object's previous track was still alive and updated at that step.
"""

from __future__ import annotations

import argparse
import collections

import numpy as np

from pilotlab.drive import envs, episode, metrics
from pilotlab.drive.evaluate import make_agent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", default="roundabout-v0")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    frames: list[dict] = []
    current = {"episode": 0}
    score = episode._score_tracking

    def record(scorer: metrics.MotScorer, env: object, perception: object) -> None:
        score(scorer, env, perception)
        truth, ego, lidar = envs.ground_truth(env), envs.ego_state(env), perception.lidar  # type: ignore[attr-defined]
        n = len(truth.ids)
        reached = np.bincount(lidar.hit_index[lidar.hit_index >= 0], minlength=n)[:n]
        returned = np.bincount(lidar.hit_index[(lidar.hit_index >= 0) & lidar.hit], minlength=n)[:n]
        near = np.hypot(*(truth.position - ego.position).T) <= float(lidar.ranges.max()) if n else np.zeros(0, bool)
        frames.append({"episode": current["episode"], "ego": ego.position, "ids": truth.ids, "pos": truth.position,
                       "returned": near & (returned > 0), "reached": near & (reached > 0),
                       "det": perception.detections.position,  # type: ignore[attr-defined]
                       "tracks": [(t.id, t.x[:2].copy(), t.misses, t.confirmed) for t in perception.tracks]})  # type: ignore[attr-defined]

    episode._score_tracking = record
    agent = make_agent("modular", args.seed, "meta", "lidar+radar", None)
    env = envs.make_env(args.env, {})
    scorer = metrics.MotScorer()
    stats = []
    for i in range(args.episodes):
        current["episode"] = args.seed + i
        stats.append(episode.run_episode(agent, env, args.seed + i, scorer))
    env.close()
    summary = metrics.summarize(stats)
    print(f"{args.env} seeds {args.seed}-{args.seed + args.episodes - 1}: " + ", ".join(
        f"{k} {v:.3f}" for k, v in summary.items() if k in ("return_mean", "crash_rate", "route_completion",
                                                            "speed_mean")))
    for definition in ("returned", "reached"):
        mot, bins = budget(frames, definition)
        print(f"  ground truth '{definition}': MOTA {mot['mota']:.3f}  objects {mot['num_objects']:.0f}  misses "
              f"{mot['num_misses']:.0f}  false positives {mot['num_false_positives']:.0f}  switches "
              f"{mot['num_switches']:.0f}  IDF1 {mot['idf1']:.3f}")
        if definition == "returned":
            for name, count in sorted(bins.items(), key=lambda kv: -kv[1]):
                print(f"    {name:55s} {count}")


def budget(frames: list[dict], definition: str) -> tuple[dict[str, float], collections.Counter]:
    """MOT metrics of the recorded frames under one ground-truth definition, and its errors by kind."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    keys: dict[tuple, int] = {}
    inverse: dict[int, tuple] = {}

    def key(k: tuple) -> int:
        if k not in keys:
            keys[k] = len(keys) + 1
            inverse[keys[k]] = k
        return keys[k]

    shown: list[list[tuple]] = []
    for f in frames:
        g = np.flatnonzero(f[definition])
        tracks = [t for t in f["tracks"] if t[3] and t[2] == 0 and np.hypot(*(t[1] - f["ego"])) <= 50.0]
        shown.append(tracks)
        hyp = np.array([t[1] for t in tracks]).reshape(-1, 2)
        d = np.sqrt(((f["pos"][g][:, None] - hyp[None]) ** 2).sum(-1))
        acc.update([key((f["episode"], int(i))) for i in f["ids"][g]], [key((f["episode"], -t[0])) for t in tracks],
                   np.where(d <= metrics.MATCH_DISTANCE, d, np.nan))
    mot = mm.metrics.create().compute(acc, metrics=["mota", "idf1", "num_switches", "num_false_positives",
                                                    "num_misses", "num_objects"], name="all")
    result = {k: float(mot[k].iloc[0]) for k in mot.columns}
    bins: collections.Counter = collections.Counter()
    first: dict[tuple, int] = {}
    last_track: dict[tuple, int] = {}
    for e in acc.mot_events.reset_index().itertuples():
        f = frames[e.FrameId]
        if e.Type in ("MISS", "MATCH", "SWITCH"):
            obj = inverse[int(e.OId)]
            k = int(np.flatnonzero(f["ids"] == obj[1])[0])
            p = f["pos"][k]
            age = e.FrameId - first.setdefault(obj, e.FrameId)
        if e.Type == "MISS":
            det = np.hypot(*(f["det"] - p).T) if len(f["det"]) else np.array([np.inf])
            near = [t for t in shown[e.FrameId] if np.hypot(*(t[1] - p)) <= metrics.MATCH_DISTANCE]
            bins["miss: " + ("newborn (first step in the ground truth)" if age == 0 else
                             "no detection within the match distance" if det.min() > metrics.MATCH_DISTANCE else
                             "reported track taken by another object" if near else
                             "detection, no reported track")] += 1
        elif e.Type == "FP":
            hid = -inverse[int(e.HId)][1]
            t = next(t for t in shown[e.FrameId] if t[0] == hid)
            dist = np.hypot(*(f["pos"] - t[1]).T) if len(f["ids"]) else np.array([np.inf])
            j = int(np.argmin(dist))
            bins["false positive: " + ("ghost (no vehicle within 4 m)" if dist[j] > 4.0 else
                                       "off (a vehicle 2-4 m away)" if dist[j] > metrics.MATCH_DISTANCE else
                                       "unscored vehicle (outside the ground truth)" if not f[definition][j] else
                                       "duplicate track")] += 1
        elif e.Type == "SWITCH":
            previous = last_track.get(obj)
            old = [t for t in f["tracks"] if previous is not None and -t[0] == inverse[previous][1]]
            bins["switch: " + ("previous track deleted" if not old else
                               "previous track coasting" if old[0][2] > 0 else
                               "previous track updated on another detection")] += 1
        if e.Type in ("MATCH", "SWITCH"):
            last_track[obj] = int(e.HId)
    return result, bins


if __name__ == "__main__":
    main()
