"""Camera perception speed on one CPU thread (issue 14): rendering, detector + decoding, the whole camera loop.

    .venv/bin/python benchmarks/drive_camera_speed.py [--run RUN_DIR] [--frames 300] [--steps 60]

Rates are per second of this process's CPU time (one torch thread), so other processes on a shared
machine slow the wall clock but not the numbers; the load average is printed beside them.

1. Rendering: `camera_view` (front camera, nuisances on) on highway-fast-v0 states after a few steps.
2. Detector + decoding: one frame (front) and two frames in one batch (front + rear, as the loop does);
   with --run the trained detector of a `drive train-perception` run, else an untrained one of width 16.
3. The camera loop: `drive eval`'s modular driver with --perception camera+radar, per policy step: both
   cameras rendered and detected, radar fused, tracking, planning, and highway-env's own step.
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
    agent = make_agent("modular", 0)
    agent.camera = CameraSensors(det, "camera+radar")  # type: ignore[attr-defined]
    steps, cpu = 0, 0.0
    seed = 100_000
    while steps < args.steps:
        agent.prepare(env)
        obs, _ = env.reset(seed=seed)
        agent.reset(env, seed)
        done = False
        while not done and steps < args.steps:
            t = time.process_time()
            obs, _, term, trunc, _ = env.step(agent.act(env, obs))
            cpu += time.process_time() - t
            steps += 1
            done = term or trunc
        seed += 1
    load = os.getloadavg()[0]
    print(f"render: {render:.0f} frames/s; detector + decoding: {rates[0]:.0f} frames/s (batch 1), "
          f"{rates[1]:.0f} frames/s (batch 2); camera+radar loop: {steps / cpu:.1f} steps/s "
          f"({1000 * cpu / steps:.1f} ms/step incl. highway-env); load average {load:.1f}")


if __name__ == "__main__":
    main()
