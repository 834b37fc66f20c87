"""Steering-only driving (racetrack-v0: ContinuousAction with ``longitudinal=False``, the speed is fixed).

The planner drivers' lateral loop alone: pure pursuit (`control.pure_pursuit`) onto a point one look-ahead
ahead on the chosen lane, followed across the circuit's sections (a section's end continues on the next
section's lane of the same id). With no throttle, the only way past a slower car is the other lane: the
ego switches when a car ahead in its lane is slower and within `block_distance`, and the other lane is
free from `rear_clear` behind to `block_distance` ahead; it stays otherwise (switching back and forth on
the curves costs centring reward and risks leaving the road).

Objects are placed on the circuit by arc length: each object's closest lane gives its section and its
lane-local s; arc = the section's start (lane 0 lengths summed) + s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pilotlab.drive import control

BLOCK_DISTANCE = 30.0  # [m] a slower car closer than this ahead in the ego's lane blocks it
REAR_CLEAR = 8.0  # [m] the other lane must be free this far behind the ego
SLOWER_BY = 0.5  # [m/s] "slower": below the ego's speed by more than this


def _sections(net: Any) -> tuple[list[tuple[str, str]], dict[tuple[str, str], float], float]:
    """The circuit's sections in driving order, the arc length [m] where each starts, and the lap length."""
    order = [(a, b) for a in net.graph for b in net.graph[a]]
    starts, total = {}, 0.0
    for key in order:
        starts[key] = total
        total += float(net.get_lane((*key, 0)).length)
    return order, starts, total


def next_section(net: Any, lane_index: tuple[str, str, int]) -> tuple[str, str, int]:
    """The lane of the same id on the section after `lane_index`'s."""
    _, to, lane_id = lane_index
    after = next(iter(net.graph[to]))
    return (to, after, min(int(lane_id), len(net.graph[to][after]) - 1))


def lane_point(net: Any, lane_index: tuple[str, str, int], s: float) -> np.ndarray:
    """The centre-line point `s` [m] along lane `lane_index`, continuing onto the following sections."""
    lane = net.get_lane(lane_index)
    for _ in range(len(net.graph) + 1):
        if s <= lane.length:
            break
        s -= lane.length
        lane_index = next_section(net, lane_index)
        lane = net.get_lane(lane_index)
    return np.asarray(lane.position(s, 0.0), dtype=float)


def arc_and_lane(net: Any, position: np.ndarray) -> tuple[float, int]:
    """(arc length [m] along the circuit, lane id) of a point."""
    _, starts, _ = _sections(net)
    index = net.get_closest_lane_index(np.asarray(position, dtype=float))
    s = float(net.get_lane(index).local_coordinates(np.asarray(position, dtype=float))[0])
    return starts.get(tuple(index[:2]), 0.0) + s, int(index[2])


def choose_lane(net: Any, ego_position: np.ndarray, ego_speed: float, ego_lane: int, n_lanes: int,
                positions: np.ndarray, velocities: np.ndarray) -> int:
    """The lane id to drive in: the current one unless a slower car blocks it and the other one is free."""
    _, _, lap = _sections(net)
    ego_arc, _ = arc_and_lane(net, ego_position)
    ahead = {k: np.inf for k in range(n_lanes)}  # nearest slower car ahead per lane [m]
    near = dict.fromkeys(range(n_lanes), False)  # anything from REAR_CLEAR behind to BLOCK_DISTANCE ahead
    pos = np.asarray(positions, dtype=float).reshape(-1, 2)
    vel = np.asarray(velocities, dtype=float).reshape(-1, 2)
    for p, v in zip(pos, vel):
        arc, lane_id = arc_and_lane(net, p)
        d = (arc - ego_arc) % lap
        if d > lap / 2:
            d -= lap  # behind
        if lane_id not in ahead:
            continue
        if -REAR_CLEAR <= d <= BLOCK_DISTANCE:
            near[lane_id] = True
        if 0.0 < d <= BLOCK_DISTANCE and float(np.hypot(*v)) < ego_speed - SLOWER_BY:
            ahead[lane_id] = min(ahead[lane_id], d)
    if np.isfinite(ahead[ego_lane]):
        free = [k for k in range(n_lanes) if k != ego_lane and not near[k]]
        if free:
            return min(free, key=lambda k: abs(k - ego_lane))
    return ego_lane


def steering_action(env: Any, positions: np.ndarray, velocities: np.ndarray,
                    lane_id: int | None) -> tuple[np.ndarray, int]:
    """(ContinuousAction array with the steering alone, the lane id chosen) for the ego of `env`."""
    ego = env.unwrapped.vehicle
    net = env.unwrapped.road.network
    index = tuple(ego.lane_index)
    n_lanes = len(net.graph[index[0]][index[1]])
    current = int(index[2]) if lane_id is None else int(min(lane_id, n_lanes - 1))
    lane_id = choose_lane(net, ego.position, float(ego.speed), current, n_lanes, positions, velocities)
    target_index = (index[0], index[1], lane_id)
    s = float(net.get_lane(target_index).local_coordinates(ego.position)[0])
    target = lane_point(net, target_index, max(s, 0.0) + control.lookahead_distance(float(ego.speed)))
    steer = control.pure_pursuit(np.asarray(ego.position, dtype=float), float(ego.heading), target)
    steer = float(np.clip(steer, *control.STEERING_RANGE))
    return np.array([np.interp(steer, control.STEERING_RANGE, [-1.0, 1.0])], dtype=np.float32), lane_id


__all__ = ["BLOCK_DISTANCE", "REAR_CLEAR", "arc_and_lane", "choose_lane", "lane_point", "next_section",
           "steering_action"]
