"""Yielding at the intersection (`junction.yield_decision`) on scripted scenes, and the ego motion model it uses."""

from __future__ import annotations

import numpy as np
import pytest

from pilotlab.drive import junction
from pilotlab.drive.agents import make_agent
from pilotlab.drive.envs import make_env


def _intersection(crossing_s: float | None, speed: float = 8.0, stop_line: bool = True) -> tuple:
    """intersection-v0 with the ego alone at its start (the oracle's grid) and, if `crossing_s` is given, one
    car `crossing_s` m along the west approach, driving straight across the ego's left turn at `speed`."""
    from highway_env.vehicle.behavior import IDMVehicle

    env = make_env("intersection-v0", {"spawn_probability": 0.0})
    agent = make_agent("oracle", 0)
    agent.stop_line = stop_line
    agent.prepare(env)
    env.reset(seed=0)
    base = env.unwrapped
    base.road.vehicles[:] = [base.vehicle]
    if crossing_s is not None:
        lane = base.road.network.get_lane(("o1", "ir1", 0))
        car = IDMVehicle(base.road, lane.position(crossing_s, 0.0), lane.heading_at(crossing_s), speed,
                         target_speed=speed)
        car.plan_route_to("o3")  # straight on
        base.road.vehicles.append(car)
    agent.reset(env, 0)
    return env, agent


def _objects(env) -> tuple[np.ndarray, np.ndarray]:
    others = [v for v in env.unwrapped.road.vehicles if v is not env.unwrapped.vehicle]
    return (np.array([v.position for v in others]).reshape(-1, 2),
            np.array([v.velocity for v in others]).reshape(-1, 2))


def test_meta_profile_predicts_the_simulators_speed_loop() -> None:
    env, _ = _intersection(None)
    ego = env.unwrapped.vehicle
    grid = np.asarray(env.unwrapped.action_type.target_speeds, dtype=float)
    start, v, sp = np.array(ego.position, dtype=float), float(ego.speed), float(ego.target_speed)
    actions = ["SLOWER", "IDLE", "FASTER"]
    _, s, speeds = junction.meta_profile(v, sp, grid, actions, 1.0, 1.0 / env.unwrapped.config["simulation_frequency"])
    for a in actions:
        env.step(env.unwrapped.action_type.actions_indexes[a])
    assert float(ego.speed) == pytest.approx(speeds[-1], abs=0.05)
    assert float(np.hypot(*(ego.position - start))) == pytest.approx(s[-1], abs=0.3)
    assert speeds.min() < v - 2.0  # SLOWER on the 3-point grid really brakes
    # stopping: the later the first SLOWER, the longer the way
    d = [junction.stop_distance(9.0, 9.0, grid, a, 1.0, 1 / 15) for a in ("SLOWER", "IDLE", "FASTER")]
    assert d[0] < d[1] <= d[2] and d[0] < 15.0


def test_yields_to_a_crossing_car_with_a_small_time_to_collision_and_goes_when_it_is_far() -> None:
    # the car reaches the ego's path a little before the ego would (ego ~35 m + ~10 m from the conflict at 9 m/s)
    env, agent = _intersection(crossing_s=65.0)
    decision = junction.yield_decision(env, *_objects(env), agent._map)
    ego = env.unwrapped.vehicle
    grid = np.asarray(env.unwrapped.action_type.target_speeds, dtype=float)
    assert decision.action != "FASTER"  # no full-speed crossing: stop at the line or arrive later
    action = junction.yield_action(decision, float(ego.speed), float(ego.target_speed), grid, 1.0, 1 / 15)
    assert junction.set_point_after(action, float(ego.speed), float(ego.target_speed), grid) < float(ego.speed)
    env, agent = _intersection(crossing_s=0.0)  # ~90 m from the crossing: 11 s away
    decision = junction.yield_decision(env, *_objects(env), agent._map)
    assert np.isinf(decision.stop_at) and decision.action == "FASTER" and "gap accepted" in decision.reason
    env, agent = _intersection(None)
    assert junction.yield_decision(env, *_objects(env), agent._map).action == "FASTER"


def _drive(env, agent) -> tuple[bool, bool]:
    """(crashed, arrived) of the agent's episode."""
    done, arrived = False, False
    while not done:
        _, _, terminated, truncated, _ = env.step(agent.act(env, None))
        done = terminated or truncated
        arrived = arrived or bool(env.unwrapped.has_arrived(env.unwrapped.vehicle))
    return bool(env.unwrapped.vehicle.crashed), arrived


@pytest.mark.parametrize("crossing_s", [70.0, 75.0])
def test_the_oracle_lets_a_priority_car_cross_then_goes(crossing_s: float) -> None:
    """Closed loop: the crossing car has the right of way (highway-env never makes it yield to the ego).
    Without the stop-line decision the oracle hits it; with it, the ego waits and still arrives in time."""
    assert _drive(*_intersection(crossing_s, stop_line=False))[0]
    assert _drive(*_intersection(crossing_s)) == (False, True)


def test_the_oracle_crosses_ahead_of_a_car_that_will_find_it_on_its_lane() -> None:
    """Closed loop: the priority car reaches the crossing a little after the ego entered it, so it finds the ego
    on its lane ahead and brakes (highway-env's cars follow what is on their lane): the ego goes at once and
    arrives; with the old rule (the ego's whole occupancy plus `PET` kept free) it waits at the line and the
    episode ends before it arrives (every turn hypothesis certain, as the old rule had it)."""
    assert _drive(*_intersection(55.0)) == (False, True)
    first, threshold = junction.EGO_FIRST, junction.RISK_THRESHOLD
    try:
        junction.EGO_FIRST, junction.RISK_THRESHOLD = float("inf"), 0.0
        assert _drive(*_intersection(55.0)) == (False, False)
    finally:
        junction.EGO_FIRST, junction.RISK_THRESHOLD = first, threshold


# --- the roundabout's gap acceptance (`junction.yield_points`) ------------------------------------------------


def _roundabout(ego_s: float | None = None) -> object:
    """roundabout-v0 with the ego alone; `ego_s`: the ego moved this far along its entry (`ses` -> `se`)."""
    env = make_env("roundabout-v0")
    env.reset(seed=0)
    base = env.unwrapped
    base.road.vehicles[:] = [base.vehicle]
    if ego_s is not None:
        lane = base.road.network.get_lane(("ses", "se", 0))
        base.vehicle.position = lane.position(ego_s, 0.0)
        base.vehicle.heading = lane.heading_at(ego_s)
        base.vehicle.target_lane_index = ("ses", "se", 0)
        base.vehicle.route = [("ses", "se", None), ("se", "ex", None), ("ex", "ee", None), ("ee", "nx", None),
                              ("nx", "nxs", None)]
    return env


def test_followed_route_joins_the_ring_on_the_lane_highway_env_takes() -> None:
    from pilotlab.drive.frenet import RoadMap

    env = _roundabout()
    road = RoadMap(env.unwrapped.road.network)
    route = junction.followed_route(road, env.unwrapped.vehicle)
    # the one-lane entry ends beside the outer ring lane (1); the one-lane exit leaves from it
    assert route == [("ser", "ses", 0), ("ses", "se", 0), ("se", "ex", 1), ("ex", "ee", 1), ("ee", "nx", 1),
                     ("nx", "nxs", 0)]
    # at the entry's end the closest lane is the ring's section before it, off the route: the route starts at
    # the lane the ego follows
    env = _roundabout(ego_s=16.5)
    ego = env.unwrapped.vehicle
    ego.lane_index = ("sx", "se", 1)
    assert junction.followed_route(road, ego)[:2] == [("ses", "se", 0), ("se", "ex", 1)]


def test_ring_neighbour_is_no_conflict_but_a_car_leaving_across_the_egos_lane_is() -> None:
    """The ego entering at 8 m/s; a car on the inner ring lane passing the entry with the ego: beside it (4 m
    across) it is no conflict while it stays on the ring, but its hypothesis of leaving at the next exit
    crosses the ego's outer lane ahead of the ego."""
    env = _roundabout(ego_s=10.0)
    base = env.unwrapped
    base.vehicle.speed = 8.0
    lane = base.road.network.get_lane(("sx", "se", 0))
    s = lane.length - 2.0
    p = np.array([lane.position(s, 0.0)])
    v = np.array([[8.0 * np.cos(lane.heading_at(s)), 8.0 * np.sin(lane.heading_at(s))]])
    points = junction.yield_points(env, p, v, desired_speed=18.4)
    assert len(points) == 1 and 0.0 < points[0] < 40.0
    depth = junction.HYPOTHESIS_DEPTH
    try:
        junction.HYPOTHESIS_DEPTH = 0  # the car can only stay on its ring lane: it runs beside the ego
        assert junction.yield_points(env, p, v, desired_speed=18.4) == []
    finally:
        junction.HYPOTHESIS_DEPTH = depth


def test_standing_car_off_its_lane_blocks_the_ring_only_where_it_overlaps_the_egos_lane() -> None:
    """A car that crashed stands between the ring and an exit: 2 m off the ego's ring lane it is an obstacle,
    6 m off it is not."""
    env = _roundabout(ego_s=10.0)
    base = env.unwrapped
    base.vehicle.speed = 8.0
    ring = base.road.network.get_lane(("se", "ex", 1))
    for offset, blocks in ((-2.0, True), (-6.0, False)):
        p = np.array([ring.position(ring.length - 2.0, offset)])
        points = junction.yield_points(env, p, np.zeros((1, 2)), desired_speed=18.4)
        assert (len(points) == 1) == blocks, (offset, points)


# --- what the stop-line decision reads from the road map and the other cars' motion ---------------------------


def _scene(cars: list[tuple[tuple, float, float]]) -> tuple:
    """intersection-v0 with the ego alone at its start (oracle) plus `cars`: (lane index, s [m], speed [m/s]),
    each driving along its lane."""
    from highway_env.vehicle.behavior import IDMVehicle

    env, agent = _intersection(None)
    base = env.unwrapped
    for index, s, speed in cars:
        lane = base.road.network.get_lane(index)
        base.road.vehicles.append(IDMVehicle(base.road, lane.position(s, 0.0), lane.heading_at(s), speed,
                                             target_speed=speed))
    return env, agent


def _ego_path(env, agent) -> tuple:
    ego = env.unwrapped.vehicle
    route = [tuple(ego.lane_index)] + [tuple(r) for r in ego.route if tuple(r[:2]) != tuple(ego.lane_index[:2])]
    path = junction._route_path(agent._map, route, tuple(ego.lane_index))
    s0 = float(junction.frenet.to_frenet(ego.lane, np.asarray(ego.position, dtype=float))[0])
    return path, s0


def test_a_car_joining_the_egos_exit_is_a_merge_and_its_other_turns_cross() -> None:
    """A car on the east approach: going straight it joins the ego's exit lane (a merge: it may follow the ego),
    turning left it crosses the ego's left turn; the road map tells which hypothesis is which."""
    env, agent = _scene([(("o3", "ir3", 0), 70.0, 8.0)])
    path, s0 = _ego_path(env, agent)
    occ = junction.path_occupancy(path, s0, 80.0, agent._map, *_objects(env), np.arange(0.25, 8.01, 0.25))
    assert occ.merging.any() and (~occ.merging).any()
    line = 100.0 - s0  # the ego's stop line (the end of its 100 m approach) along its path
    assert occ.arc[occ.merging].max() > line + 15.0  # it joins where the ego's turn ends
    assert occ.arc[~occ.merging].min() < line + 12.0  # its left turn crosses the ego's early


def test_conflict_windows_merging_crossing_and_after_the_ego_entered() -> None:
    """Car times at a conflict point 20 m ahead conflict or not by kind: a car a little before the ego or just
    after it began to occupy the point conflicts, crossing or merging; a crossing car reaching the point later
    than `EGO_FIRST` after that brakes for the ego (no conflict); with the old window (`EGO_FIRST` infinite) a
    crossing car just after the ego left conflicts (`PET`), a car joining behind it does not (it follows)."""
    t = np.linspace(0.0, 8.0, 321)
    s = 10.0 * t  # the ego at 10 m/s: its centre is within `OCCUPY_LENGTH` of arc 20 from 1.45 s to 2.55 s
    t_in, t_out = (20.0 - junction.OCCUPY_LENGTH) / 10.0, (20.0 + junction.OCCUPY_LENGTH) / 10.0
    times = np.array([t_in - 0.5 * junction.PET, t_in + 0.5 * junction.EGO_FIRST, t_out + 0.5])
    for merging, expected in ((False, {0, 1}), (True, {0, 1})):
        occ = junction.Occupancy(np.full(3, 20.0), times, np.zeros(3, dtype=bool), np.full(3, merging))
        assert set(junction.profile_conflicts(occ, t, s).tolist()) == expected
    late = np.array([t_in + junction.EGO_FIRST + 0.1])  # a crossing car arriving while the ego is there, late
    occ = junction.Occupancy(np.full(1, 20.0), late, np.zeros(1, dtype=bool), np.zeros(1, dtype=bool))
    assert len(junction.profile_conflicts(occ, t, s)) == 0
    # the old rule: every crossing car within PET of the ego's whole occupancy conflicts
    eg = junction.EGO_FIRST
    try:
        junction.EGO_FIRST = np.inf
        assert len(junction.profile_conflicts(occ, t, s)) == 1
        occ = junction.Occupancy(np.full(1, 20.0), np.array([t_out + 0.5]), np.zeros(1, dtype=bool),
                                 np.zeros(1, dtype=bool))
        assert len(junction.profile_conflicts(occ, t, s)) == 1  # crossing: within PET after the ego left
        occ = occ._replace(merging=np.ones(1, dtype=bool))
        assert len(junction.profile_conflicts(occ, t, s)) == 0  # joining behind the ego: it follows
    finally:
        junction.EGO_FIRST = eg


def test_a_car_standing_in_the_junction_on_the_egos_way_holds_it_at_the_line() -> None:
    """A north car standing on its straight lane where it crosses the ego's left turn (it yields to someone):
    the ego stops at the line; the same car standing on the north left turn, which never meets the ego's
    turn, lets it go."""
    for index, s, blocks in ((("ir2", "il0", 0), 12.5, True), (("ir2", "il3", 0), 10.0, False)):
        env, agent = _scene([(index, s, 0.0)])
        decision = junction.yield_decision(env, *_objects(env), agent._map)
        assert ("gap accepted (FASTER" not in decision.reason) == blocks, (index, decision)
        if blocks:
            assert np.isfinite(decision.stop_at) and decision.reason == "junction: yield at the line"


# --- risk-weighted gap acceptance: each car's turn hypotheses weigh with how often cars take that turn ---------


def test_turn_hypotheses_get_the_turn_priors_renormalised_over_what_the_lane_allows() -> None:
    _, agent = _intersection(None)
    road = agent._map
    assert junction.turn_of(road, [("o0", "ir0", 0), ("ir0", "il1", 0), ("il1", "o1", 0)]) == "left"  # the ego's
    approach = road.hypotheses(("o2", "ir2", 0), 2, False)
    p = junction.hypothesis_probabilities(road, approach)
    assert sorted(junction.turn_of(road, h) for h in approach) == ["left", "right", "straight"]
    assert p.sum() == pytest.approx(1.0) and p.min() > 0.2
    on_turn = road.hypotheses(("ir2", "il0", 0), 2, False)  # inside the junction: its turn is known
    assert junction.hypothesis_probabilities(road, on_turn).tolist() == [1.0]


def test_one_conflicting_turn_of_three_is_accepted_below_the_threshold_all_three_are_not() -> None:
    """A north car 30 m before its stop line at 8 m/s: only its right turn (about a third of the cars) meets the
    ego's full-speed left turn; with every hypothesis certain (threshold 0) the ego does not go at full speed,
    with the threshold above that turn's probability it goes. Three conflicting hypotheses of one car (all of
    its turns) add up to certainty and are refused at any threshold below 1."""
    env, agent = _scene([(("o2", "ir2", 0), 70.0, 8.0)])
    path, s0 = _ego_path(env, agent)
    ego = env.unwrapped.vehicle
    grid = np.asarray(env.unwrapped.action_type.target_speeds, dtype=float)
    t, s, _ = junction.meta_profile(float(ego.speed), float(ego.target_speed), grid, ["FASTER"] * 8, 1.0, 1 / 15)
    occ = junction.path_occupancy(path, s0, float(s[-1]), agent._map, *_objects(env), np.arange(0.25, 8.01, 0.25))
    hits = junction.profile_conflicts(occ, t, s)
    assert len(set(occ.hypothesis[hits].tolist())) == 1
    saved = junction.RISK_THRESHOLD, junction.MARGINAL_WEIGHT
    try:
        junction.MARGINAL_WEIGHT = 1.0
        risk = junction.profile_risk(occ, t, s)
        assert risk == pytest.approx(junction.TURN_PRIOR["right"] / sum(junction.TURN_PRIOR.values()))
        junction.RISK_THRESHOLD = 0.0
        assert junction.yield_decision(env, *_objects(env), agent._map).action != "FASTER"
        junction.RISK_THRESHOLD = risk + 0.01
        assert junction.yield_decision(env, *_objects(env), agent._map).action == "FASTER"
        junction.RISK_THRESHOLD = risk - 0.01
        assert junction.yield_decision(env, *_objects(env), agent._map).action != "FASTER"
        # the same car with its three hypotheses all conflicting: certain, refused at any threshold below 1
        all3 = occ._replace(hypothesis=np.arange(len(occ.arc)) % 3, probability=np.full(len(occ.arc), 1.0 / 3.0))
        hits = junction.profile_conflicts(all3, t, s)
        assert len(set(all3.hypothesis[hits].tolist())) == 3
        assert junction.profile_risk(all3, t, s) == pytest.approx(1.0)
        # a conflict only within the post-encroachment margin weighs `MARGINAL_WEIGHT` of its probability
        margin = junction.Occupancy(np.full(1, 20.0), np.array([1.0]), np.zeros(1, dtype=bool), np.zeros(1, dtype=bool),
                                    np.zeros(1, dtype=int), np.zeros(1, dtype=int), np.full(1, 0.4))
        t10 = np.linspace(0.0, 8.0, 321)  # the ego at 10 m/s reaches arc 20 - OCCUPY_LENGTH at 1.45 s
        for weight in (1.0, 0.5):
            junction.MARGINAL_WEIGHT = weight
            assert junction.profile_risk(margin, t10, 10.0 * t10) == pytest.approx(0.4 * weight)
    finally:
        junction.RISK_THRESHOLD, junction.MARGINAL_WEIGHT = saved
