"""Camera perception speed on one CPU thread (issue 14): rendering, detector + decoding, the whole camera loop.

    .venv/bin/python benchmarks/drive_camera_speed.py [--run RUN_DIR] [--frames 300] [--steps 60]

Rates are per second of this process's CPU time (one torch thread), so other processes on a shared
machine slow the wall clock but not the numbers; the load average is printed beside them.

1. Rendering: `camera_view` (front camera, nuisances on) on highway-fast-v0 states after a few steps.
2. Detector + decoding: one frame (front) and two frames in one batch (front + rear, as the loop does);
   with --run the trained detector of a `drive train-perception` run, else an untrained one of width 16.
3. The camera loop: `drive eval`'s modular driver with --perception camera+radar, per policy step: both
   cameras rendered and detected, radar fused, tracking, planning, and highway-env's own step; split into
   the driver's share (`act`: sensors, cameras, detector, fusion, tracking, planning) and the simulator's
   (`env.step`). With --lidar the same loop with the default lidar+radar perception, for comparison.
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
    loops = [("camera+radar", CameraSensors(det, "camera+radar"))] + ([("lidar+radar", None)] if args.lidar else [])
    lines = []
    for name, sensors in loops:
        agent = make_agent("modular", 0)
        agent.camera = sensors  # type: ignore[attr-defined]
        steps, act_s, env_s = loop(env, agent, args.steps)
        ms = 1000 * (act_s + env_s) / steps
        lines.append(f"{name} loop: {steps / (act_s + env_s):.1f} steps/s ({ms:.1f} ms/step: driver "
                     f"{1000 * act_s / steps:.1f}, highway-env step {1000 * env_s / steps:.1f})")
    load = os.getloadavg()[0]
    print(f"render: {render:.0f} frames/s; detector + decoding: {rates[0]:.0f} frames/s (batch 1), "
          f"{rates[1]:.0f} frames/s (batch 2); {'; '.join(lines)}; load average {load:.1f}")


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
