"""Autonomous driving in highway-env: sensors -> detection -> tracking -> prediction/planning -> control.

`AGENTS` names the drivers `pilotlab drive eval --agent` accepts; `evaluate.evaluate_agents` runs them.
Modules: envs, sensors, detection, tracking, prediction, planning, control, agents, metrics, render,
evaluate, cli. Submodules are imported on use (highway-env and pygame load only when driving).
"""

from __future__ import annotations

AGENTS: dict[str, str] = {
    "modular": "IDM + MOBIL planner on lidar + radar detections tracked by Kalman filters",
    "oracle": "the modular planner fed the simulator's ground-truth vehicles",
    "idm": "highway-env's IDMVehicle (IDM + MOBIL) as the ego: the baseline",
    "rl:RUN_DIR": "a DQN/PPO policy trained with `pilotlab rl train` (or `pilotlab drive train`)",
}

__all__ = ["AGENTS"]
