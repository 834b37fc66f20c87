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

from typing import Any, NamedTuple

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




# --- Yielding before the stop line (intersection-v0) -------------------------------------------------------
#
# The rule above stops the ego "STOP_MARGIN short of the conflict" and trusts a braking rate it does not
# have: highway-env's meta-actions move the cruise set-point one grid step below the *current* speed per
# policy period, and its speed loop follows the set-point with a 0.6 s time constant. The decision below is
# made where it can still be carried out: it predicts the ego's own motion under meta-actions exactly as the
# simulator realises them (`meta_profile`), accepts a gap only if the whole crossing clears every predicted
# car by a post-encroachment time, and otherwise stops at the stop line (the end of the lane entering the
# junction) while the remaining meta-actions can still stop the ego there, else before the first conflict,
# else it goes on (committed).

YIELD_HORIZON = 8.0  # [s] long enough to cross the junction from a standstill at the stop line
CONFLICT_WIDTH = 3.5  # [m] a predicted car this close to the ego's path occupies it
OCCUPY_LENGTH = 5.5  # [m] the ego occupies a conflict point while its centre is this close to it along its path
PET = 1.5  # [s] post-encroachment time: the gap kept between the ego and a crossing car at a conflict point
FOLLOW_PET = 1.0  # [s] ... behind the ego, for a car joining its path behind it (a merge)
SAME_DIRECTION = np.radians(30.0)  # [rad] a car this well aligned with the ego's path follows or leads it
STOP_LINE_MARGIN = 1.0  # [m] the ego's front stops this far short of the stop line
KP_SPEED = 1.0 / 0.6  # [1/s] highway-env's speed loop: acceleration = KP (set-point - speed) (ControlledVehicle)


def set_point_after(action: str, speed: float, set_point: float, grid: np.ndarray) -> float:
    """The cruise set-point [m/s] after a meta-action (highway-env's MDPVehicle: FASTER / SLOWER move one grid
    step from the grid speed nearest the current speed, IDLE and lane changes keep the set-point)."""
    from pilotlab.drive.control import speed_index

    if action == "FASTER":
        return float(grid[min(speed_index(speed, grid) + 1, len(grid) - 1)])
    if action == "SLOWER":
        return float(grid[max(speed_index(speed, grid) - 1, 0)])
    return float(set_point)


def meta_profile(speed: float, set_point: float, grid: np.ndarray, actions: list[str], period: float,
                 sim_dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times (K,) [s], distance (K,) [m], speed (K,) [m/s]) at every simulation step while the meta-actions
    `actions` are taken one per policy `period`, integrated as highway-env does (explicit Euler at `sim_dt`)."""
    n = max(1, round(period / sim_dt))
    t, s, v = [0.0], [0.0], [float(speed)]
    for action in actions:
        set_point = set_point_after(action, v[-1], set_point, grid)
        for _ in range(n):
            s.append(s[-1] + v[-1] * sim_dt)
            v.append(v[-1] + KP_SPEED * (set_point - v[-1]) * sim_dt)
            t.append(t[-1] + sim_dt)
    return np.asarray(t), np.asarray(s), np.asarray(v)


def stop_distance(speed: float, set_point: float, grid: np.ndarray, first: str, period: float,
                  sim_dt: float) -> float:
    """Distance [m] the ego covers after taking `first` now and SLOWER from the next period on, until it
    stands: what it still needs to stop if it decides to yield only at the next decision."""
    _, s, _ = meta_profile(speed, set_point, grid, [first] + ["SLOWER"] * (len(grid) + 3), period, sim_dt)
    return float(s[-1])  # the set-point has been 0 for a few periods: the rest decays below a centimetre


class Conflict(NamedTuple):
    """Where and when a predicted car meets the ego's path."""

    s: float  # [m] along the ego's path, from the ego
    t_other: float  # [s] when the car is there
    t_ego: float  # [s] when the ego's "go" profile reaches it (inf: not within the horizon)


def path_conflicts(path: LanePath, s0: float, go_t: np.ndarray, go_s: np.ndarray, road: RoadMap,
                   position: np.ndarray, velocity: np.ndarray, times: np.ndarray) -> list[Conflict]:
    """Conflicts of the ego driving `path` from arc `s0` with the distance profile (go_t, go_s) against every
    object (N, 2) at constant speed along each of its lane hypotheses at `times` (T,) [s].

    A hypothesis point within `CONFLICT_WIDTH` of the path occupies the path at its nearest arc; the ego's
    centre occupies that arc from `OCCUPY_LENGTH` before to `OCCUPY_LENGTH` after it. A crossing car is a
    conflict if it is there less than `PET` before the ego comes or after the ego leaves; a car moving along
    the path (within `SAME_DIRECTION`) only if it comes behind the ego, less than `FOLLOW_PET` after it left
    (a car ahead of the ego on its path is car following, the planner's IDM)."""
    reach = float(go_s[-1]) + OCCUPY_LENGTH + 5.0
    arcs = s0 + np.arange(-OCCUPY_LENGTH, reach, 0.5)  # (M,)
    pts = np.array([path.position(float(a)) for a in arcs])  # (M, 2)
    path_heading = np.array([path.heading_at(float(a)) for a in arcs])  # (M,)
    out: list[Conflict] = []
    for p, v in zip(np.asarray(position, dtype=float).reshape(-1, 2), np.asarray(velocity, dtype=float).reshape(-1, 2)):
        speed = float(np.hypot(*v))
        if speed < 0.5 or float(np.min(np.hypot(*(pts - p).T))) > speed * float(times[-1]) + CONFLICT_WIDTH + 10.0:
            continue
        heading = float(np.arctan2(v[1], v[0]))
        for _, hyp in predict_along_lanes(road, p, v, times):
            d = np.hypot(hyp[:, None, 0] - pts[None, :, 0], hyp[:, None, 1] - pts[None, :, 1])  # (T, M)
            j = np.argmin(d, axis=1)  # (T,)
            near = d[np.arange(len(times)), j] < CONFLICT_WIDTH
            for k in np.nonzero(near)[0]:
                arc = float(arcs[j[k]] - s0)
                t_in = _time_at(go_t, go_s, arc - OCCUPY_LENGTH)
                t_out = _time_at(go_t, go_s, arc + OCCUPY_LENGTH)
                if arc + OCCUPY_LENGTH <= 0.0:
                    continue  # behind the ego's centre already
                if k + 1 < len(times):
                    h = float(np.arctan2(*(hyp[k + 1] - hyp[k])[::-1]))
                else:
                    h = heading
                aligned = abs(frenet.wrap_angle(h - float(path_heading[j[k]]))) < SAME_DIRECTION
                t = float(times[k])
                if aligned:
                    hit = t_in < t < t_out + FOLLOW_PET
                else:
                    hit = t_in - PET < t < t_out + PET
                if hit:
                    out.append(Conflict(arc, t, t_in))
                    break
    return out


def _time_at(t: np.ndarray, s: np.ndarray, target: float) -> float:
    """First time [s] the distance profile reaches `target` [m] (0 if already past it, inf if never)."""
    if target <= 0.0:
        return 0.0
    idx = np.nonzero(s >= target)[0]
    return float(t[idx[0]]) if len(idx) else float("inf")


class YieldDecision(NamedTuple):
    stop_at: float  # [m] the ego's centre must stand before this distance along its path (inf: go)
    reason: str


def stop_line(road: RoadMap, route: list[tuple]) -> float | None:
    """Path arc [m] of the ego's stop line: the end of the first lane of `route` (its current lane first)
    whose end node is a junction (several lanes leave it); None where the route has no junction left."""
    total = 0.0
    for k, index in enumerate(route):
        lane = road.lane(index)
        if len(road.successors(tuple(index))) > 1 and k + 1 < len(route):
            return total + float(lane.length)
        total += float(lane.length)
    return None


def yield_decision(env: Any, position: np.ndarray, velocity: np.ndarray, road: RoadMap | None = None,
                   period: float = 1.0) -> YieldDecision:
    """Go, or stop at the stop line (or before the first conflict), for the ego of `env` against the
    objects (N, 2) as the driver perceives them; see the comment above `YIELD_HORIZON`."""
    base = env.unwrapped
    ego = base.vehicle
    road = road if road is not None else RoadMap(base.road.network)
    grid = np.asarray(base.action_type.target_speeds, dtype=float)
    sim_dt = 1.0 / float(base.config["simulation_frequency"])
    lane_index = tuple(ego.lane_index)
    route = [lane_index] + [tuple(r) for r in (getattr(ego, "route", None) or []) if tuple(r[:2]) != lane_index[:2]]
    path = _route_path(road, route, lane_index)
    s0, _ = frenet.to_frenet(ego.lane, np.asarray(ego.position, dtype=float))
    speed, set_point = float(ego.speed), float(ego.target_speed)
    n = int(np.ceil(YIELD_HORIZON / period))
    go_t, go_s, _ = meta_profile(speed, set_point, grid, ["FASTER"] * n, period, sim_dt)
    times = np.arange(DT, YIELD_HORIZON + 1e-9, DT)
    conflicts = path_conflicts(path, float(s0), go_t, go_s, road, position, velocity, times)
    if not conflicts:
        return YieldDecision(float("inf"), "junction: gap accepted")
    first = min(c.s for c in conflicts)
    line = stop_line(road, [tuple(i) for i in path.indices])
    need = stop_distance(speed, set_point, grid, "SLOWER", period, sim_dt)
    half = 0.5 * OCCUPY_LENGTH
    if line is not None and line - s0 - half - STOP_LINE_MARGIN >= need - 0.5:
        return YieldDecision(max(line - float(s0) - half - STOP_LINE_MARGIN, 0.0), "junction: yield at the line")
    if first - OCCUPY_LENGTH >= need:
        return YieldDecision(first - OCCUPY_LENGTH, "junction: yield before the conflict")
    return YieldDecision(float("inf"), "junction: committed")


def yield_action(decision: YieldDecision, speed: float, set_point: float, grid: np.ndarray, period: float,
                 sim_dt: float) -> str | None:
    """The fastest meta-action after which SLOWER still stops the ego within `decision.stop_at`
    (SLOWER if none does); None when the decision is to go."""
    if not np.isfinite(decision.stop_at):
        return None
    for action in sorted(("FASTER", "IDLE", "SLOWER"), key=lambda a: -set_point_after(a, speed, set_point, grid)):
        if stop_distance(speed, set_point, grid, action, period, sim_dt) <= decision.stop_at:
            return action
    return "SLOWER"


__all__ = ["CONFLICT_DISTANCE", "HORIZON", "Conflict", "YieldDecision", "meta_profile", "path_conflicts",
           "set_point_after", "stop_distance", "stop_line", "yield_action", "yield_decision", "yield_points"]
