"""Yielding at junctions (roundabouts, intersections): gap acceptance on lane-following predictions.

The highway planner sees crossing traffic only through a straight-line closest-approach test, which misses
cars circulating on the roundabout's curved lanes. Here both sides follow the road network's own lanes:

- the ego along the lanes it will really drive (`followed_route`: its target lane, then its planned route,
  ``vehicle.route``, with the lane ids highway-env's `next_lane` gives it, so the one-lane entry joins the
  ring on its outer lane) at two speed profiles if it went now: keeping its speed, and accelerating at
  `GO_ACCEL` up to the planner's desired speed;
- every other object along each lane sequence it may take (its closest lane, matched with its heading,
  then every successor `HYPOTHESIS_DEPTH` junctions deep, each the lane highway-env's vehicles take: the
  turn hypotheses), at its constant speed (`prediction.predict_along_lanes`, on the Frenet lane paths of
  `frenet.py`); a slow one (below `SLOW_SPEED`) may also stay where it is.

If a "go" profile comes closer than `CONFLICT_ALONG` along and `CONFLICT_ACROSS` across the ego's path to
some hypothesis of an object within `HORIZON`, the gap is refused: the conflict point becomes a standing
obstacle on the ego's path, `STOP_MARGIN` short of where the ego would be at the conflict, so the IDM stops
before it; unless the ego could not stop there any more at `COMMIT_DECEL` (it is committed: braking inside
the junction is worse). A car on the next ring lane (4 m across) runs beside the ego and is no conflict; one
leaving the ring across the ego's lane, or joining it, is. Cars driving along a lane of the ego's route are
left to car following, and cars behind the ego on its own path (they follow it) are ignored. This is the
roundabout's rule.

At the intersection the ego yields before the stop line instead (`yield_decision`, below): it predicts its
own motion under meta-actions as the simulator realises them, accepts a plan of meta-actions only if the
whole crossing keeps a post-encroachment time to every predicted car, and otherwise stops at the line
while it still can.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import numpy as np

from pilotlab.drive import frenet
from pilotlab.drive.frenet import LanePath, RoadMap
from pilotlab.drive.prediction import predict_along_lanes

HORIZON = 4.0  # [s]
DT = 0.25  # [s]
CONFLICT_DISTANCE = 4.5  # [m] centre distance below which two cars' predictions conflict (`yield_decision`'s
# stop before the conflict)
CONFLICT_ALONG = 6.0  # [m] `yield_points`: a prediction conflicts with the ego's closer than this along its path
CONFLICT_ACROSS = 3.0  # [m] ... and this across it (a car width and 1 m: a car on the next ring lane, 4 m off,
# runs beside the ego, it does not cross it)
IN_LANE_OFFSET = 1.0  # [m] a car this close to a lane's centre line ...
IN_LANE_HEADING = np.radians(10.0)  # [rad] ... and this well aligned with it drives along it (not merging)
SLOW_SPEED = 5.0  # [m/s] a car slower than this may also stay where it is over the horizon (a car that crashed
# into another one slides to a stop off its lane, on no lane hypothesis)
HYPOTHESIS_DEPTH = 4  # [] junctions ahead of a car's lane in its turn hypotheses: a roundabout's ring sections
# are 15-20 m long, and a car may leave at the third node it reaches within `HORIZON`
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


def followed_route(road: RoadMap, ego: Any) -> list[tuple]:
    """The lanes the ego will really drive: its target lane (the one highway-env steers it along; its closest
    lane, `lane_index`, is at times a lane off its route, such as the ring's section beside the end of a
    roundabout's entry) and the rest of its route (`vehicle.route`) with the lane ids highway-env's
    `RoadNetwork.next_lane` gives it: the same id where the next road has as many lanes (the route's own id
    where it names one), else that road's lane nearest the end of the previous one (a one-lane entry joins
    the ring on its outer lane)."""
    current = tuple(ego.target_lane_index)
    route = [tuple(r) for r in (getattr(ego, "route", None) or [])]
    starts = [k for k, r in enumerate(route) if r[0] == current[1]]
    out = [current]
    for a, b, lane_id in route[starts[0]:] if starts else []:
        prev = out[-1]
        if a != prev[1] or b not in road.net.graph.get(a, {}):
            break
        lanes = road.net.graph[a][b]
        if len(lanes) == len(road.net.graph[prev[0]][prev[1]]):
            k = min(int(prev[2] if lane_id is None else lane_id), len(lanes) - 1)
        else:
            end = road.lane(prev).position(float(road.lane(prev).length), 0.0)
            k = min(range(len(lanes)), key=lambda j: float(lanes[j].distance(end)))
        out.append((a, b, k))
    return out


def _in_lane(lane: Any, position: np.ndarray, heading: float | None) -> bool:
    """Whether a car at `position` with `heading` [rad] (None: standing) drives along `lane` (within
    `IN_LANE_OFFSET` of its centre line and `IN_LANE_HEADING` of its heading), rather than merging into it
    or crossing it."""
    s, d = frenet.to_frenet(lane, position)
    aligned = heading is None or abs(frenet.wrap_angle(heading - float(lane.heading_at(s)))) < IN_LANE_HEADING
    return abs(d) < IN_LANE_OFFSET and aligned


def yield_points(env: Any, position: np.ndarray, velocity: np.ndarray, desired_speed: float,
                 road: RoadMap | None = None) -> list[float]:
    """Distances [m] along the ego's route, from the ego, of the conflict points it must stop before."""
    ego = env.unwrapped.vehicle
    road = road if road is not None else RoadMap(env.unwrapped.road.network)
    route = followed_route(road, ego)
    lane_index = route[0]
    s0, _ = frenet.to_frenet(road.lane(lane_index), np.asarray(ego.position, dtype=float))
    times = np.arange(DT, HORIZON + 1e-9, DT)
    v0 = float(ego.speed)
    vmax = max(desired_speed, v0)
    t_acc = max(vmax - v0, 0.0) / GO_ACCEL
    go = np.where(times < t_acc, v0 * times + 0.5 * GO_ACCEL * times**2,
                  v0 * t_acc + 0.5 * GO_ACCEL * t_acc**2 + vmax * (times - t_acc))
    ego_path = road.path(route)
    # the ego "goes" at some speed between keeping its own and accelerating (on the roundabout's 1.33 m/s
    # set-point grid it gains about that much per second, below `GO_ACCEL`): a car must clear both
    profiles = []
    for travelled in (go, v0 * times):
        pts = np.array([ego_path.position(float(x)) for x in s0 + travelled])  # (T, 2)
        h = np.array([ego_path.heading_at(float(x)) for x in s0 + travelled])
        profiles.append((travelled, pts, np.stack([np.cos(h), np.sin(h)], axis=1)))
    out: list[float] = []
    pos = np.asarray(position, dtype=float).reshape(-1, 2)
    vel = np.asarray(velocity, dtype=float).reshape(-1, 2)
    forward = np.array([np.cos(ego.heading), np.sin(ego.heading)])
    for p, v in zip(pos, vel):
        speed = float(np.hypot(*v))
        if float(np.hypot(*(p - ego.position))) > 80.0:
            continue
        heading = float(np.arctan2(v[1], v[0]))
        moving = speed >= 0.5
        if moving and (p - ego.position) @ forward < 0 and \
                abs(frenet.wrap_angle(heading - float(ego.heading))) < SAME_DIRECTION:
            continue  # behind the ego, driving its way: it follows the ego
        index = road.closest(p, heading if moving else None)
        if index in route and _in_lane(road.lane(index), p, heading if moving else None):
            continue  # car following handles the lanes of the ego's route (not a car merging into them)
        paths = [] if not moving else [
            pts for _, pts in predict_along_lanes(road, p, v, times, HYPOTHESIS_DEPTH, closest=True)]
        if speed < SLOW_SPEED:  # it may stay where it is (a car that crashed slides to a stop off its lane)
            paths.append(np.repeat(p[None, :], len(times), axis=0))
        dists = []
        for pts in paths:
            for travelled, ego_pts, ego_dir in profiles:
                rel = pts - ego_pts
                along = np.abs(rel[:, 0] * ego_dir[:, 0] + rel[:, 1] * ego_dir[:, 1])
                across = np.abs(rel[:, 1] * ego_dir[:, 0] - rel[:, 0] * ego_dir[:, 1])
                hit = np.nonzero((along < CONFLICT_ALONG) & (across < CONFLICT_ACROSS))[0]
                if len(hit):
                    dists.append(float(travelled[hit[0]]) - STOP_MARGIN)
        if not dists:
            continue
        dist = min(dists)
        if dist > v0 * v0 / (2.0 * COMMIT_DECEL):  # it can still stop before the conflict
            out.append(max(dist, 0.0))
    return out


# --- Yielding before the stop line (intersection-v0) -------------------------------------------------------
#
# The rule above stops the ego "STOP_MARGIN short of the conflict" and trusts a braking rate it does not
# have: highway-env's meta-actions move the cruise set-point one grid step below the *current* speed per
# policy period, and its speed loop follows the set-point with a 0.6 s time constant. The decision below is
# made where it can still be carried out: it predicts the ego's own motion under meta-actions exactly as the
# simulator realises them (`meta_profile`), and accepts a plan (a short sequence of meta-actions, then
# FASTER) only if the whole crossing clears every predicted car by a post-encroachment time; slowing down
# first to arrive in a later gap is such a plan. What the road map and the cars' motion tell is used: a car
# whose turn joins the ego's exit lane merges (it may follow the ego), a crossing car that arrives once the
# ego is already in the crossing brakes for it, and a slow car beside the path may stay there. Without a
# plan it stops at the stop line (the end of the lane entering the junction) while the remaining meta-actions
# can still stop the ego there, else before the first conflict, else it goes on (committed).

YIELD_HORIZON = 8.0  # [s] long enough to cross the junction from a standstill at the stop line
CONFLICT_WIDTH = 3.5  # [m] a predicted car this close to the ego's path occupies it
OCCUPY_LENGTH = 5.5  # [m] the ego occupies a conflict point while its centre is this close to it along its path
PET = 1.5  # [s] post-encroachment time: the gap kept between the ego and a crossing car at a conflict point
EGO_FIRST = 0.5  # [s] ... except that a crossing car reaching the point more than this after the ego began to
# occupy it finds the ego on its lane ahead and brakes behind it (highway-env's cars follow what is on their lane)
FOLLOW_PET = 1.0  # [s] the gap behind the ego for a car moving along its path
MERGE_LEAD = 1.5  # [s] the gap ahead of the ego for a car converging with its path to join its route (a merge) ...
MERGE_BEHIND = 0.0  # [s] ... and behind it once the ego left the point (the car joins behind the ego, following it)
SAME_DIRECTION = np.radians(30.0)  # [rad] a car this well aligned with the ego's path follows or leads it
STOP_LINE_MARGIN = 1.0  # [m] the ego's front stops this far short of the stop line
KP_SPEED = 1.0 / 0.6  # [1/s] highway-env's speed loop: acceleration = KP (set-point - speed) (ControlledVehicle)
# Risk-weighted gap acceptance: a car's turn shows only once it is inside the junction, so its turn hypotheses are
# weighted with how often cars take each turn (traffic statistics a driver may know, never a car's own route),
# renormalised over the hypotheses its lane still allows; a plan is accepted if the probability that some car
# takes a conflicting hypothesis stays within `RISK_THRESHOLD`.
TURN_PRIOR = {"left": 0.336, "straight": 0.328, "right": 0.336}  # [] share of the cars taking each turn (docs/drive.md)
RISK_THRESHOLD = 0.0  # [] the largest accepted probability that a plan conflicts with some car (0, the default:
# every hypothesis counts as certain; 0.3, tuned on training seeds, crashed more on held-out ones: docs/drive.md)
MARGINAL_WEIGHT = 0.25  # [] a hypothesis conflicting only within the post-encroachment margin (never at the same
# instant as the ego occupies the point) counts with this share of its probability


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


class Occupancy(NamedTuple):
    """When predicted cars occupy the ego's path: one row per prediction sample within `CONFLICT_WIDTH` of it."""

    arc: np.ndarray  # (K,) [m] along the ego's path, from the ego
    t: np.ndarray  # (K,) [s] when the car is there
    aligned: np.ndarray  # (K,) bool: the car moves along the path there (within `SAME_DIRECTION`)
    merging: np.ndarray  # (K,) bool: the car's lane hypothesis joins the ego's route further on (it converges
    # with the ego's path there rather than crossing it)
    car: np.ndarray | None = None  # (K,) int: which object (None: each row its own)
    hypothesis: np.ndarray | None = None  # (K,) int: which of all the objects' hypotheses (None: each row its own)
    probability: np.ndarray | None = None  # (K,) [] the hypothesis' probability (None: 1, certain)


def turn_of(road: RoadMap, lanes: list[tuple]) -> str:
    """The turn a lane sequence makes: "left", "right" or "straight", from its heading change (first lane's start
    to last lane's end; highway-env's y axis points down, so a left turn is a negative heading change)."""
    first, last = road.lane(lanes[0]), road.lane(lanes[-1])
    change = frenet.wrap_angle(float(last.heading_at(float(last.length))) - float(first.heading_at(0.0)))
    if abs(change) < np.pi / 4.0:
        return "straight"
    return "left" if change < 0.0 else "right"


def hypothesis_probabilities(road: RoadMap, hypotheses: list[list[tuple]]) -> np.ndarray:
    """Each lane hypothesis' probability: `TURN_PRIOR` of its turn, renormalised over the car's hypotheses (a car
    already on its turn lane has one, certain)."""
    prior = np.array([TURN_PRIOR.get(turn_of(road, h), 0.0) for h in hypotheses], dtype=float)
    total = float(prior.sum())
    return prior / total if total > 0.0 else np.full(len(hypotheses), 1.0 / max(len(hypotheses), 1))


def path_occupancy(path: LanePath, s0: float, reach: float, road: RoadMap, position: np.ndarray,
                   velocity: np.ndarray, times: np.ndarray) -> Occupancy:
    """Where and when the objects (N, 2), each at constant speed along every lane hypothesis at `times` (T,)
    [s], come within `CONFLICT_WIDTH` of the ego's `path` between arcs `s0` - `OCCUPY_LENGTH` and `s0` + `reach`
    + `OCCUPY_LENGTH`. A hypothesis that leaves the object's lane for a lane of the ego's route is a merge (the
    road map says so). An object slower than `SLOW_SPEED` may also stay where it is: within `CONFLICT_WIDTH` of
    the path it occupies its closest point there at every time (a car yielding inside the junction is not on
    the ego's lane, so the planner's car following would not stop for it)."""
    arcs = s0 + np.arange(-OCCUPY_LENGTH, reach + OCCUPY_LENGTH, 0.5)  # (M,)
    pts = np.array([path.position(float(a)) for a in arcs])  # (M, 2)
    path_heading = np.array([path.heading_at(float(a)) for a in arcs])  # (M,)
    rows: list[tuple[np.ndarray, ...]] = []
    ego_roads = {tuple(i[:2]) for i in path.indices[1:]}
    n_hyp = 0
    objects = zip(np.asarray(position, dtype=float).reshape(-1, 2), np.asarray(velocity, dtype=float).reshape(-1, 2))
    for k, (p, v) in enumerate(objects):
        speed = float(np.hypot(*v))
        gap = np.hypot(*(pts - p).T)  # (M,)
        if speed < SLOW_SPEED:  # it may stay where it is (yielding inside the junction): there it occupies the path
            j = int(np.argmin(gap))
            if gap[j] < CONFLICT_WIDTH:
                rows.append((np.full(len(times), arcs[j] - s0), times, np.zeros(len(times), dtype=bool),
                             np.zeros(len(times), dtype=bool), np.full(len(times), k), np.full(len(times), n_hyp),
                             np.ones(len(times))))  # staying counts as certain
                n_hyp += 1
        if speed < 0.5:
            continue
        if float(np.min(gap)) > speed * float(times[-1]) + CONFLICT_WIDTH:
            continue
        hyps = predict_along_lanes(road, p, v, times)
        probs = hypothesis_probabilities(road, [lanes for lanes, _ in hyps])
        for (lanes, hyp), prob in zip(hyps, probs):
            n_hyp += 1
            d = np.hypot(hyp[:, None, 0] - pts[None, :, 0], hyp[:, None, 1] - pts[None, :, 1])  # (T, M)
            j = np.argmin(d, axis=1)  # (T,)
            near = np.nonzero(d[np.arange(len(times)), j] < CONFLICT_WIDTH)[0]
            if len(near) == 0:
                continue
            step = np.diff(hyp, axis=0, append=2.0 * hyp[-1:] - hyp[-2:-1])  # (T, 2) its direction of travel
            h = np.arctan2(step[near, 1], step[near, 0])
            off = np.abs((h - path_heading[j[near]] + np.pi) % (2.0 * np.pi) - np.pi)
            joins = tuple(lanes[0][:2]) not in ego_roads and any(tuple(i[:2]) in ego_roads for i in lanes[1:])
            rows.append((arcs[j[near]] - s0, times[near], off < SAME_DIRECTION, np.full(len(near), joins),
                         np.full(len(near), k), np.full(len(near), n_hyp - 1), np.full(len(near), prob)))
    if not rows:
        return Occupancy(np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool), np.zeros(0, dtype=bool),
                         np.zeros(0, dtype=int), np.zeros(0, dtype=int), np.zeros(0))
    return Occupancy(*(np.concatenate(c) for c in zip(*rows)))


def profile_conflicts(occ: Occupancy, t: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Indices of the `occ` rows that the ego's distance profile (t, s) (s non-decreasing) conflicts with.

    The ego's centre occupies a path arc from `OCCUPY_LENGTH` before it to `OCCUPY_LENGTH` after it. A crossing
    car conflicts if it is there less than `PET` before the ego comes or after the ego leaves, unless it comes
    more than `EGO_FIRST` after the ego began to occupy the point (it brakes for the ego on its lane); a merging
    car if it is there less than `MERGE_LEAD` before the ego comes or `MERGE_BEHIND` after it left (behind the
    ego it follows it); a car moving along the path only if it comes behind the ego, less than `FOLLOW_PET`
    after it left (a car ahead of the ego on its path is car following, the planner's IDM)."""
    if len(occ.arc) == 0:
        return np.zeros(0, dtype=int)

    def time_at(target: np.ndarray) -> np.ndarray:  # first time the profile reaches each distance
        i = np.searchsorted(s, target, side="left")
        out = t[np.minimum(i, len(t) - 1)].astype(float)
        out[target <= 0.0] = 0.0
        out[i >= len(t)] = np.inf
        return out

    t_in = time_at(occ.arc - OCCUPY_LENGTH)
    t_out = time_at(occ.arc + OCCUPY_LENGTH)
    ahead = occ.arc + OCCUPY_LENGTH > 0.0  # rows behind the ego's centre are passed
    crossing = (occ.t > t_in - PET) & (occ.t < np.minimum(t_out + PET, t_in + EGO_FIRST))
    merging = (occ.t > t_in - MERGE_LEAD) & (occ.t < t_out + MERGE_BEHIND)
    following = (occ.t > t_in) & (occ.t < t_out + FOLLOW_PET)
    return np.nonzero(ahead & np.where(occ.merging, merging, np.where(occ.aligned, following, crossing)))[0]


def profile_risk(occ: Occupancy, t: np.ndarray, s: np.ndarray) -> float:
    """Probability that the ego's distance profile (t, s) conflicts with some car (`profile_conflicts`): per car
    the probability of its conflicting hypotheses (a hypothesis whose conflicts all lie within the
    post-encroachment margin, none while the ego occupies the point, weighs `MARGINAL_WEIGHT` of it), then
    1 - prod(1 - p_car) over the cars."""
    hits = profile_conflicts(occ, t, s)
    if len(hits) == 0:
        return 0.0
    rows = np.arange(len(occ.arc))
    car = occ.car if occ.car is not None else rows
    hyp = occ.hypothesis if occ.hypothesis is not None else rows
    prob = occ.probability if occ.probability is not None else np.ones(len(rows))
    i = np.searchsorted(s, occ.arc[hits] - OCCUPY_LENGTH, side="left")
    o = np.searchsorted(s, occ.arc[hits] + OCCUPY_LENGTH, side="left")
    t_in = np.where(occ.arc[hits] - OCCUPY_LENGTH <= 0.0, 0.0, t[np.minimum(i, len(t) - 1)])
    t_in[i >= len(t)] = np.inf
    t_out = np.where(o >= len(t), np.inf, t[np.minimum(o, len(t) - 1)])
    inside = (occ.t[hits] >= t_in) & (occ.t[hits] <= t_out)  # there while the ego occupies the point
    mass: dict[int, float] = {}
    for h in np.unique(hyp[hits]):
        sel = hyp[hits] == h
        weight = 1.0 if bool(inside[sel].any()) else MARGINAL_WEIGHT
        c = int(car[hits][sel][0])
        mass[c] = min(1.0, mass.get(c, 0.0) + weight * float(prob[hits][sel][0]))
    return float(1.0 - np.prod([1.0 - m for m in mass.values()]))


def candidate_plans(n: int, slow_periods: int = 3) -> list[list[str]]:
    """The meta-action sequences (`n` long) the gap acceptance tries: FASTER throughout, or up to
    `slow_periods` periods of IDLE or SLOWER before it (arriving later, in the next gap)."""
    prefixes: list[list[str]] = [[]]
    for k in range(1, slow_periods + 1):
        prefixes += [list(p) for p in itertools.product(("IDLE", "SLOWER"), repeat=k)]
    return [p + ["FASTER"] * (n - len(p)) for p in prefixes]


class YieldDecision(NamedTuple):
    stop_at: float  # [m] the ego's centre must stand before this distance along its path (inf: no limit)
    reason: str
    action: str | None = None  # the first meta-action of the accepted plan (None: the planner's own)


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
    """Go (the conflict-free plan of `candidate_plans` that gets furthest), or stop at the stop line (or before
    the first conflict), for the ego of `env` against the objects (N, 2) as the driver perceives them; see the
    comment above `YIELD_HORIZON`. Cars behind the ego driving its way follow it (car following) and are left
    out."""
    base = env.unwrapped
    ego = base.vehicle
    road = road if road is not None else RoadMap(base.road.network)
    grid = np.asarray(base.action_type.target_speeds, dtype=float)
    sim_dt = 1.0 / float(base.config["simulation_frequency"])
    lane_index = tuple(ego.lane_index)
    route = [lane_index] + [tuple(r) for r in (getattr(ego, "route", None) or []) if tuple(r[:2]) != lane_index[:2]]
    path = _route_path(road, route, lane_index)
    s0 = float(frenet.to_frenet(ego.lane, np.asarray(ego.position, dtype=float))[0])
    speed, set_point = float(ego.speed), float(ego.target_speed)
    n = int(np.ceil(YIELD_HORIZON / period))
    profiles = [(plan, *meta_profile(speed, set_point, grid, plan, period, sim_dt)[:2]) for plan in candidate_plans(n)]
    profiles.sort(key=lambda x: -float(x[2][-1]))  # the most progress over the horizon first (full speed)
    times = np.arange(DT, YIELD_HORIZON + 1e-9, DT)
    pos = np.asarray(position, dtype=float).reshape(-1, 2)
    vel = np.asarray(velocity, dtype=float).reshape(-1, 2)
    forward = np.array([np.cos(ego.heading), np.sin(ego.heading)])
    cos_off = (vel @ forward) / np.maximum(np.hypot(vel[:, 0], vel[:, 1]), 1e-9)
    follows = ((pos - np.asarray(ego.position, dtype=float)) @ forward < 0.0) & (cos_off > np.cos(SAME_DIRECTION))
    occ = path_occupancy(path, s0, float(profiles[0][2][-1]), road, pos[~follows], vel[~follows], times)
    line = stop_line(road, [tuple(i) for i in path.indices])
    to_line = None if line is None else line - s0 - 0.5 * OCCUPY_LENGTH - STOP_LINE_MARGIN
    for plan, t, s in profiles:
        # a plan that slows first must keep the stop at the line possible, in case the gap closes
        keeps_stop = plan[0] == "FASTER" or to_line is None or to_line < 0.0 or \
            stop_distance(speed, set_point, grid, plan[0], period, sim_dt) <= to_line
        if keeps_stop and profile_risk(occ, t, s) <= RISK_THRESHOLD:
            return YieldDecision(float("inf"), f"junction: gap accepted ({' '.join(plan[:2])})", plan[0])
    hits = profile_conflicts(occ, profiles[0][1], profiles[0][2])
    first = float(occ.arc[hits].min()) if len(hits) else float("inf")
    need = stop_distance(speed, set_point, grid, "SLOWER", period, sim_dt)
    if to_line is not None and to_line >= need - 0.5:
        return YieldDecision(max(to_line, 0.0), "junction: yield at the line")
    if first - OCCUPY_LENGTH >= need:
        return YieldDecision(first - OCCUPY_LENGTH, "junction: yield before the conflict")
    return YieldDecision(float("inf"), "junction: committed")


def yield_action(decision: YieldDecision, speed: float, set_point: float, grid: np.ndarray, period: float,
                 sim_dt: float) -> str | None:
    """The fastest meta-action after which SLOWER still stops the ego within `decision.stop_at` (SLOWER if
    none does); without a stop, the accepted plan's first action (None: committed, the planner's own)."""
    if not np.isfinite(decision.stop_at):
        return decision.action
    for action in sorted(("FASTER", "IDLE", "SLOWER"), key=lambda a: -set_point_after(a, speed, set_point, grid)):
        if stop_distance(speed, set_point, grid, action, period, sim_dt) <= decision.stop_at:
            return action
    return "SLOWER"


__all__ = ["CONFLICT_DISTANCE", "HORIZON", "Occupancy", "YieldDecision", "candidate_plans", "meta_profile",
           "path_occupancy", "profile_conflicts", "profile_risk", "set_point_after", "stop_distance", "stop_line",
           "turn_of", "yield_action", "yield_decision", "yield_points"]
