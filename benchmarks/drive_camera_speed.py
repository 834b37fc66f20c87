"""Camera perception speed on one CPU thread (issue 14): rendering, detector + decoding, the whole camera loop.

    .venv/bin/python benchmarks/drive_camera_speed.py [--run RUN_DIR] [--frames 300] [--steps 60] [--lidar]
        [--sim plain|fast|both] [--rounds 1] [--cameras front+rear[,front+rear+sides]]

Rates are per second of this process's CPU time (one torch thread), so other processes on a shared
machine slow the wall clock but not the numbers; the load average is printed beside them.

1. Rendering: `camera_view` (front camera, nuisances on) on highway-fast-v0 states after a few steps.
2. Detector + decoding: one frame (front) and two frames in one batch (front + rear, as the loop does);
   with --run the trained detector of a `drive train-perception` run, else an untrained one of width 16.
3. The camera loop: `drive eval`'s modular driver with --perception camera+radar, per policy step: both
   cameras rendered and detected, radar fused, tracking, planning, and highway-env's own step; split into
   the driver's share (`act`: sensors, cameras, detector, fusion, tracking, planning) and the simulator's
   (`env.step`). With --lidar the same loop with the default lidar+radar perception, for comparison.
   `--sim` picks the simulator: highway-env as it is (``plain``), `FastHighway` (``fast``, what
   ``drive eval --fast-sim`` runs: the same episodes), or both; with several loops, `--rounds` runs them
   alternately that many times and reports the median of each (the machine's other load drifts).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None, help="a `pilotlab drive train-perception` run (default: untrained)")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--lidar", action="store_true", help="also time the lidar+radar loop")
    ap.add_argument("--sim", choices=["plain", "fast", "both"], default="fast",
                    help="highway-env as it is, FastHighway (drive eval --fast-sim), or both")
    ap.add_argument("--rounds", type=int, default=1, help="alternate the loops this many times; medians")
    ap.add_argument("--cameras", default="front+rear",
                    help="camera sets of the camera + radar loop, comma-separated (drive eval --cameras)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from pilotlab.drive import envs
    from pilotlab.drive.agents import make_agent
    from pilotlab.drive.camera import Camera, CameraConfig, camera_view
    from pilotlab.drive.camera_perception import CameraSensors
    from pilotlab.drive.perception import CenterNet, Detector, load_detector

    env = envs.make_env("highway-fast-v0")
    env.reset(seed=100_000)
    for _ in range(3):
        env.step(1)
    cam = Camera(CameraConfig())
    rng = np.random.default_rng(0)
    frame, _ = camera_view(env, cam, rng)
    t = time.process_time()
    for _ in range(args.frames):
        frame, _ = camera_view(env, cam, rng)
    render = args.frames / (time.process_time() - t)
    det = load_detector(args.run) if args.run else Detector(CenterNet(16))
    one, two = frame.image[None], np.stack([frame.image, frame.image])
    det.detect(one)
    rates = []
    for batch in (one, two):
        t = time.process_time()
        for _ in range(args.frames // 3):
            det.detect(batch)
        rates.append(len(batch) * (args.frames // 3) / (time.process_time() - t))
    sims = ["plain", "fast"] if args.sim == "both" else [args.sim]
    sets = [c.strip() for c in args.cameras.split(",")]
    modes = [(f"camera+radar ({c})" if len(sets) > 1 else "camera+radar", CameraSensors(det, "camera+radar", cameras=c))
             for c in sets] + ([("lidar+radar", None)] if args.lidar else [])
    envs_by_sim = {sim: envs.make_env("highway-fast-v0", fast=sim == "fast") for sim in sims}
    times: dict[tuple[str, str], list[tuple[float, float, float]]] = {}  # (mode, sim) -> [(steps/s, act, env)]
    for _ in range(max(1, args.rounds)):
        for name, sensors in modes:
            for sim in sims:
                agent = make_agent("modular", 0)
                agent.camera = sensors  # type: ignore[attr-defined]
                steps, act_s, env_s = loop(envs_by_sim[sim], agent, args.steps)
                times.setdefault((name, sim), []).append((steps / (act_s + env_s), 1000 * act_s / steps,
                                                          1000 * env_s / steps))
    lines = []
    for (name, sim), rows in times.items():
        rate, act_ms, env_ms = (float(np.median([r[k] for r in rows])) for k in range(3))
        lines.append(f"{name} loop, {sim} sim: {rate:.1f} steps/s (driver {act_ms:.1f} ms, highway-env step "
                     f"{env_ms:.1f} ms; rounds: {', '.join(f'{r[0]:.1f}' for r in rows)})")
    load = os.getloadavg()[0]
    print(f"render: {render:.0f} frames/s; detector + decoding: {rates[0]:.0f} frames/s (batch 1), "
          f"{rates[1]:.0f} frames/s (batch 2); load average {load:.1f}")
    print("\n".join(lines))


def loop(env: object, agent: object, n: int) -> tuple[int, float, float]:
    """(steps, CPU seconds in the driver, CPU seconds in highway-env's step) over `n` steps of held-out episodes."""
    steps, act_s, env_s = 0, 0.0, 0.0
    seed = 100_000
    while steps < n:
        agent.prepare(env)  # type: ignore[attr-defined]
        obs, _ = env.reset(seed=seed)  # type: ignore[attr-defined]
        agent.reset(env, seed)  # type: ignore[attr-defined]
        done = False
        while not done and steps < n:
            t0 = time.process_time()
            action = agent.act(env, obs)  # type: ignore[attr-defined]
            t1 = time.process_time()
            obs, _, term, trunc, _ = env.step(action)  # type: ignore[attr-defined]
            act_s += t1 - t0
            env_s += time.process_time() - t1
            steps += 1
            done = term or trunc
        seed += 1
    return steps, act_s, env_s


if __name__ == "__main__":
    main()
