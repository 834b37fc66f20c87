"""benchmarks/drive_intersection_bound.py: the clairvoyant search on one short episode (beam 2)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "drive_intersection_bound.py"
SHORT = {"duration": 3}  # [s] three policy steps


def _bench():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCHMARK.parent))
    spec = importlib.util.spec_from_file_location("drive_intersection_bound_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_euler_ratio_matches_the_speed_loop() -> None:
    """period * v_end - distance = c * (v_end - v_start) over one policy step, for any start and set-point."""
    b = _bench()
    kp, period, dt = 1 / 0.6, 1.0, 1 / 15
    c = b.euler_ratio(kp, period, dt)
    for v0, sp in ((0.0, 9.0), (10.0, 4.5), (3.0, 3.0), (9.0, 0.0)):
        v, dist = v0, 0.0
        for _ in range(15):
            dist += v * dt
            v += kp * (sp - v) * dt
        assert abs(period * v - dist - c * (v - v0)) < 1e-9


def test_search_replays_and_bounds_hold() -> None:
    """Deep copies step like the env; the best sequence replays through `drive eval`'s loop to the same return
    without a crash; along it, return so far + the rest's bound never falls below the final return."""
    b = _bench()
    env = b.make_env(SHORT)
    try:
        assert b.check_copies(env, 0, [2, 1, 0])
        res = b.search(env, 0, beam=2)
        assert res.best is not None and res.expanded > 0
        assert res.best.ret <= res.upper + 1e-9
        env.reset(seed=0)
        base, ret = env.unwrapped, 0.0
        for a in res.best.actions:
            assert ret + b.rest_bound(base) >= res.best.ret - 1e-9
            ret += float(base.step(a)[1])
        assert abs(ret - res.best.ret) < 1e-9
    finally:
        env.close()
    stats, log = b.drive(b.ReplayAgent(res.best.actions), 0, SHORT)
    assert not stats.crashed and abs(stats.ret - res.best.ret) < 1e-9
    assert np.allclose(log.speeds, res.best.speeds)
