"""Yielding at junctions (roundabouts, intersections): gap acceptance on lane-following predictions.

The highway planner sees crossing traffic only through a straight-line closest-approach test, which misses
cars circulating on the roundabout's curved lanes. Here both sides follow the road network's own lanes:

- the ego along its planned route (``vehicle.route``, the env's destination) with the speed profile it
  would drive if it went now: accelerating at `GO_ACCEL` from its speed up to the planner's desired speed;
- every other object along each lane sequence it may take (its closest lane, matched with its heading,
  then every successor two junctions deep: the turn hypotheses), at its constant speed
  (`prediction.predict_along_lanes`, on the Frenet lane paths of `frenet.py`).

If the ego's "go" profile comes within `CONFLICT_DISTANCE` of some hypothesis of an object within
`HORIZON`, the gap is refused: the conflict point becomes a standing obstacle on the ego's path,
`STOP_MARGIN` short of where the ego would be at the conflict, so the IDM stops before it; unless the ego
could not stop there any more at `COMMIT_DECEL` (it is committed: braking inside the junction is worse).
Cars in the ego's own lane are left to car following, and cars behind the ego on its own path (they follow
it) are ignored.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pilotlab.drive import frenet
from pilotlab.drive.frenet import LanePath, RoadMap
from pilotlab.drive.prediction import predict_along_lanes

HORIZON = 4.0  # [s]
DT = 0.25  # [s]
CONFLICT_DISTANCE = 4.5  # [m] centre distance below which two cars' predictions conflict
GO_ACCEL = 2.0  # [m/s^2] the ego's acceleration in the "go" hypothesis
COMMIT_DECEL = 5.0  # [m/s^2] the ego yields only if it can still stop before the conflict at this rate
STOP_MARGIN = 2.0  # [m]


def _route_path(road: RoadMap, route: list[tuple], start_index: tuple) -> LanePath:
    """The lanes of `route` (its first lane is `start_index`) as one Frenet path. Route entries without a
    lane id keep the current one where the road has it (highway-env's own fallback checks the wrong road's
    lane count)."""
    indices = []
    for a, b, lane_id in route:
        n = len(road.net.graph[a][b])
        indices.append((a, b, min(int(start_index[2] if lane_id is None else lane_id), n - 1)))
    return road.path(indices)


def yield_points(env: Any, position: np.ndarray, velocity: np.ndarray, desired_speed: float,
                 road: RoadMap | None = None) -> list[float]:
    """Distances [m] along the ego's route, from the ego, of the conflict points it must stop before."""
    ego = env.unwrapped.vehicle
    road = road if road is not None else RoadMap(env.unwrapped.road.network)
    lane_index = tuple(ego.lane_index)
    route = [lane_index] + [tuple(r) for r in (getattr(ego, "route", None) or []) if tuple(r[:2]) != lane_index[:2]]
    s0, _ = frenet.to_frenet(ego.lane, np.asarray(ego.position, dtype=float))
    times = np.arange(DT, HORIZON + 1e-9, DT)
    v0 = float(ego.speed)
    vmax = max(desired_speed, v0)
    t_acc = max(vmax - v0, 0.0) / GO_ACCEL
    travelled = np.where(times < t_acc, v0 * times + 0.5 * GO_ACCEL * times**2,
                         v0 * t_acc + 0.5 * GO_ACCEL * t_acc**2 + vmax * (times - t_acc))
    ego_path = _route_path(road, route, lane_index)
    ego_pts = np.array([ego_path.position(float(x)) for x in s0 + travelled])  # (T, 2)
    out: list[float] = []
    pos = np.asarray(position, dtype=float).reshape(-1, 2)
    vel = np.asarray(velocity, dtype=float).reshape(-1, 2)
    for p, v in zip(pos, vel):
        speed = float(np.hypot(*v))
        if speed < 0.5 or float(np.hypot(*(p - ego.position))) > 80.0:
            continue
        heading = float(np.arctan2(v[1], v[0]))
        rel = p - np.asarray(ego.position, dtype=float)
        if rel @ np.array([np.cos(ego.heading), np.sin(ego.heading)]) < 0 and abs(
                (heading - float(ego.heading) + np.pi) % (2 * np.pi) - np.pi) < np.radians(30.0):
            continue  # behind the ego, driving its way: it follows the ego
        hypotheses = predict_along_lanes(road, p, v, times)
        if hypotheses[0][0][0] == lane_index:
            continue  # car following handles the own lane
        for _, pts in hypotheses:
            d = np.hypot(*(pts - ego_pts).T)
            hit = np.nonzero(d < CONFLICT_DISTANCE)[0]
            if len(hit) == 0:
                continue
            dist = float(travelled[hit[0]]) - STOP_MARGIN
            if dist > v0 * v0 / (2.0 * COMMIT_DECEL):  # it can still stop before the conflict
                out.append(max(dist, 0.0))
            break
    return out


__all__ = ["CONFLICT_DISTANCE", "HORIZON", "yield_points"]
