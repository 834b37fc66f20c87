"""`drive eval --fast-sim`: whole episodes of the drivers on `FastHighway` equal highway-env's own, step for step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pilotlab.cli import main
from pilotlab.drive import metrics
from pilotlab.drive.agents import make_agent
from pilotlab.drive.envs import make_env
from pilotlab.drive.episode import run_episode
from pilotlab.drive.fast_sim import FastHighway


class _Trajectory:
    """Episode hooks that record every vehicle's exact state after each step."""

    def __init__(self) -> None:
        self.states: list[list[tuple[Any, ...]]] = []

    def after_reset(self, env: Any) -> None:
        self.after_step(env, -1)

    def after_step(self, env: Any, step: int) -> None:
        self.states.append([(*map(float, v.position), float(v.heading), float(v.speed), v.lane_index, v.crashed)
                            for v in env.unwrapped.road.vehicles])


def _episode(spec: str, seed: int, fast: bool) -> tuple[metrics.EpisodeStats, list, dict[str, float]]:
    env = make_env("highway-fast-v0", {"duration": 8}, fast=fast)
    assert isinstance(env, FastHighway) == fast
    scorer = metrics.MotScorer() if spec == "modular" else None
    hooks = _Trajectory()
    stats = run_episode(make_agent(spec, seed), env, seed, scorer, hooks=hooks)
    env.close()
    return stats, hooks.states, scorer.compute() if scorer is not None else {}


@pytest.mark.parametrize("spec", ["modular", "oracle", "idm"])
def test_fast_sim_episodes_equal_highway_env_for_the_drivers(spec: str) -> None:
    for seed in (100_000, 100_001):
        (a, traj_a, mot_a), (b, traj_b, mot_b) = _episode(spec, seed, False), _episode(spec, seed, True)
        assert len(traj_a) > 2 and traj_a == traj_b, f"{spec} seed {seed}: trajectories differ"
        assert (a.ret, a.speeds, a.crashed, a.distance, a.lane_changes, a.completion) == \
               (b.ret, b.speeds, b.crashed, b.distance, b.lane_changes, b.completion)
        assert mot_a.keys() == mot_b.keys() and all(np.isclose(mot_a[k], mot_b[k], equal_nan=True) and
                                                    (mot_a[k] == mot_b[k] or np.isnan(mot_a[k])) for k in mot_a)


def test_drive_eval_fast_sim_gives_the_same_summary(tmp_path: Path) -> None:
    summaries = []
    for name, flag in (("plain", []), ("fast", ["--fast-sim"])):
        argv = ["drive", "eval", "--agent", "modular", "--episodes", "1", "--duration", "4", "--no-gif",
                "--run-dir", str(tmp_path / name), *flag]
        assert main(argv) == 0
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        summaries.append({k: v for k, v in summary.items() if not k.endswith(("ms_per_step", "steps_per_s"))})
    assert json.loads((tmp_path / "fast" / "config.json").read_text())["config"]["fast_sim"] is True
    assert summaries[0] == summaries[1] and "eval/return_mean" in summaries[0]
