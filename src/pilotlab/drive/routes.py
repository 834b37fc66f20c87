"""Route completion and driving score, defined per scenario.

highway-env's scenarios have no common notion of a route, so each gets its own (docs/drive.md, "Route
completion and driving score"). A `RouteMeter` is made at the start of an episode (after the reset), is
updated after every step and reports the completion in [0, 1]:

- ``highway-fast-v0``, ``highway-v0``: the road a car at the reference speed (top of the reward's speed
  range, 30 m/s) covers in the episode's duration; completion = distance driven / that length.
- ``merge-v0`` (no time limit): the road to x = 370 m, where the episode ends.
- ``roundabout-v0``, ``intersection-v0``: the ego's planned route to the env's destination (the lanes of
  ``vehicle.route`` at the reset, e.g. the roundabout's north exit); completion = the arc length driven
  along it / its length, monotone (leaving the route freezes it).
- ``exit-v0``: half for the road to the exit (x = 500 m, the end of the exit lane's section), half for
  taking the exit (the env's own success test: on the exit lane or the ramp).
- ``racetrack-v0``: the laps a car at the track's speed limit covers in the episode's duration; completion =
  arc length driven along the circuit / that length. `laps` counts whole laps.

Driving score, as the CARLA leaderboard computes it: completion x 0.60 per collision with a vehicle x
0.65 for leaving the road (CARLA's factor for a collision with the static layout).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

COLLISION_PENALTY = 0.60  # [] CARLA leaderboard multiplier for a collision with a vehicle
OFF_ROAD_PENALTY = 0.65  # [] CARLA's multiplier for hitting the static layout: leaving the road
MERGE_END_X = 370.0  # [m] merge-v0 ends once the ego passes x = 370 m
EXIT_X = 500.0  # [m] exit-v0: the end of the section where the exit lane runs beside the road


def driving_score(completion: float, collisions: int, off_road: bool = False) -> float:
    """CARLA-style: completion x 0.60 ** collisions x 0.65 if the ego left the road."""
    return float(completion * COLLISION_PENALTY**collisions * (OFF_ROAD_PENALTY if off_road else 1.0))


def _env_id(env: Any) -> str:
    return str(getattr(getattr(env, "spec", None), "id", "") or "")


def reference_speed(env: Any) -> float:
    """Speed [m/s] that earns the full speed reward: the top of ``reward_speed_range`` (30 on highways),
    else the track's speed limit (racetrack), else the top cruise set-point (16 in roundabout-v0), else 30."""
    cfg = env.unwrapped.config
    if "reward_speed_range" in cfg:
        return float(max(cfg["reward_speed_range"]))
    if "speed_limit" in cfg:
        return float(cfg["speed_limit"])
    speeds = cfg.get("action", {}).get("target_speeds")
    return float(max(speeds)) if speeds is not None else 30.0


def lap_length(env: Any) -> float:
    """Length [m] of the racetrack's circuit along its lane 0."""
    net = env.unwrapped.road.network
    return float(sum(net.get_lane((a, b, 0)).length for a in net.graph for b in net.graph[a]))


class RouteMeter:
    """Route completion of one episode; call `update(env)` after each step."""

    def __init__(self, env: Any):
        self.env_id = _env_id(env)
        ego = env.unwrapped.vehicle
        self.start = np.array(ego.position, dtype=float)
        self.completion = 0.0
        self.distance = 0.0  # [m] along the ego's path
        self.exited = False
        self._prev = self.start.copy()
        net = env.unwrapped.road.network
        cfg = env.unwrapped.config
        self._route: list[tuple[str, str]] = []
        self._lengths: list[float] = []
        self._arc = 0.0  # [m] racetrack: arc length driven along the circuit
        if self.env_id.startswith(("roundabout", "intersection")) and getattr(ego, "route", None):
            self._route = [(a, b) for a, b, _ in ego.route]
            self._lengths = [float(net.get_lane((a, b, 0)).length) for a, b in self._route]
            self.length = float(sum(self._lengths))
        elif self.env_id.startswith("merge"):
            self.length = max(MERGE_END_X - float(self.start[0]), 1.0)
        elif self.env_id.startswith("exit"):
            self.length = max(EXIT_X - float(self.start[0]), 1.0)
        elif self.env_id.startswith("racetrack"):
            self.lap = lap_length(env)
            self.length = reference_speed(env) * float(cfg["duration"])
            self._lane = ego.lane_index
            self._s = float(ego.lane.local_coordinates(ego.position)[0])
        else:
            self.length = reference_speed(env) * float(cfg.get("duration", 40.0))
        self.length = max(float(self.length), 1e-9)

    @property
    def laps(self) -> int:
        return int(self._arc // self.lap) if self.env_id.startswith("racetrack") else 0

    def update(self, env: Any) -> float:
        ego = env.unwrapped.vehicle
        pos = np.array(ego.position, dtype=float)
        step = float(np.hypot(*(pos - self._prev)))
        self.distance += step
        self._prev = pos
        if self._route:
            key = tuple(ego.lane_index[:2])
            if key in self._route:
                i = self._route.index(key)
                s = float(np.clip(ego.lane.local_coordinates(pos)[0], 0.0, self._lengths[i]))
                self.completion = max(self.completion, (sum(self._lengths[:i]) + s) / self.length)
        elif self.env_id.startswith("exit"):
            self.exited = self.exited or bool(env.unwrapped._is_success())
            road = min(1.0, max(0.0, float(pos[0] - self.start[0])) / self.length)
            self.completion = 0.5 * road + 0.5 * float(self.exited)
        elif self.env_id.startswith("racetrack"):
            self._arc += self._advance(env, ego)
            self.completion = min(1.0, self._arc / self.length)
        else:
            self.completion = min(1.0, self.distance / self.length)
        return self.completion

    def _advance(self, env: Any, ego: Any) -> float:
        """Arc length [m] driven since the last step along the circuit (lane-local s, lane switches included)."""
        prev = env.unwrapped.road.network.get_lane(self._lane)
        s_on_prev = float(prev.local_coordinates(ego.position)[0])
        s = float(ego.lane.local_coordinates(ego.position)[0])
        if ego.lane_index[:2] == self._lane[:2]:  # same section (a switch to the other lane keeps s continuous)
            ds = s_on_prev - self._s
        else:  # onto the next section: the rest of the previous one plus s on this one
            ds = max(prev.length - self._s, 0.0) + max(s, 0.0)
        self._lane, self._s = ego.lane_index, s
        return ds if math.isfinite(ds) and ds > -1.0 else 0.0


__all__ = ["COLLISION_PENALTY", "EXIT_X", "MERGE_END_X", "OFF_ROAD_PENALTY", "RouteMeter", "driving_score",
           "lap_length", "reference_speed"]
