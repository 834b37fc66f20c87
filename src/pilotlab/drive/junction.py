"""Yielding at junctions (roundabouts, intersections): gap acceptance on lane-following predictions.

The highway planner sees crossing traffic only through a straight-line closest-approach test, which misses
cars circulating on the roundabout's curved lanes. Here both sides follow the road network's own lanes:

- the ego along its planned route (``vehicle.route``, the env's destination) with the speed profile it
  would drive if it went now: accelerating at `GO_ACCEL` from its speed up to the planner's desired speed;
- every other object along each lane sequence it may take (its closest lane, matched with its heading,
  then every successor two junctions deep: the turn hypotheses), at its constant speed.

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

HORIZON = 4.0  # [s]
DT = 0.25  # [s]
CONFLICT_DISTANCE = 4.5  # [m] centre distance below which two cars' predictions conflict
GO_ACCEL = 2.0  # [m/s^2] the ego's acceleration in the "go" hypothesis
COMMIT_DECEL = 5.0  # [m/s^2] the ego yields only if it can still stop before the conflict at this rate
STOP_MARGIN = 2.0  # [m]


def _route_points(net: Any, route: list[tuple], start_index: tuple, s: np.ndarray) -> np.ndarray:
    """Points (K, 2) at arc lengths `s` (K,) along `route` (its first lane is `start_index`). Route entries
    without a lane id keep the current one where the road has it (highway-env's own fallback checks the
    wrong road's lane count)."""
    lanes = []
    for a, b, lane_id in route:
        n = len(net.graph[a][b])
        lanes.append(net.get_lane((a, b, min(int(start_index[2] if lane_id is None else lane_id), n - 1))))
    out = np.empty((len(s), 2))
    for k, x in enumerate(np.asarray(s, dtype=float)):
        i = 0
        while i < len(lanes) - 1 and x > lanes[i].length:
            x -= lanes[i].length
            i += 1
        out[k] = lanes[i].position(float(x), 0.0)
    return out


def _hypotheses(net: Any, lane_index: tuple, depth: int = 2) -> list[list[tuple]]:
    """Lane sequences from `lane_index`: every successor `depth` junctions deep."""
    routes = [[tuple(lane_index)]]
    for _ in range(depth):
        grown = []
        for r in routes:
            _, to, lane_id = r[-1]
            nexts = list(net.graph.get(to, {}).keys())
            if not nexts:
                grown.append(r)
                continue
            for nxt in nexts:
                n = len(net.graph[to][nxt])
                grown.append([*r, (to, nxt, min(int(lane_id), n - 1))])
        routes = grown
    return routes


def yield_points(env: Any, position: np.ndarray, velocity: np.ndarray, desired_speed: float) -> list[float]:
    """Distances [m] along the ego's route, from the ego, of the conflict points it must stop before."""
    ego = env.unwrapped.vehicle
    net = env.unwrapped.road.network
    lane_index = tuple(ego.lane_index)
    route = [lane_index] + [tuple(r) for r in (getattr(ego, "route", None) or []) if tuple(r[:2]) != lane_index[:2]]
    s0 = float(ego.lane.local_coordinates(ego.position)[0])
    times = np.arange(DT, HORIZON + 1e-9, DT)
    v0 = float(ego.speed)
    vmax = max(desired_speed, v0)
    t_acc = max(vmax - v0, 0.0) / GO_ACCEL
    travelled = np.where(times < t_acc, v0 * times + 0.5 * GO_ACCEL * times**2,
                         v0 * t_acc + 0.5 * GO_ACCEL * t_acc**2 + vmax * (times - t_acc))
    ego_pts = _route_points(net, route, lane_index, s0 + travelled)
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
        index = tuple(net.get_closest_lane_index(p, heading))
        if index == lane_index:
            continue  # car following handles the own lane
        lane = net.get_lane(index)
        s_obj = float(lane.local_coordinates(p)[0])
        for hyp in _hypotheses(net, index):
            pts = _route_points(net, hyp, index, s_obj + speed * times)
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
