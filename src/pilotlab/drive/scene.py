"""The planner's view of the simulator: the ego on its road and the other objects in its lane frame.

Shared by the planner drivers (`agents`) and the safety shield (`rl_driver`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pilotlab.drive import envs, frenet, planning, prediction

PATH_AHEAD = 150.0  # [m] how far the ego's lane path runs on along its route (beyond the braking distances)


def ego_path(road: frenet.RoadMap, ego: Any, lane_index: tuple, ahead: float = PATH_AHEAD) -> frenet.LanePath:
    """The Frenet path of the planner's frame: `lane_index` and the lanes after it, `ahead` [m] beyond the ego,
    on the ego's route (`vehicle.route`, the env's destination; lane ids kept where the road has them) or,
    without one, the successors that turn least."""
    lane = road.lane(lane_index)
    s, _ = frenet.to_frenet(lane, np.asarray(ego.position, dtype=float))
    need = s + ahead
    route = [tuple(r) for r in (getattr(ego, "route", None) or [])]
    keys = [r[:2] for r in route]
    indices = [tuple(lane_index)]
    total = float(lane.length)
    if tuple(lane_index[:2]) in keys:
        for a, b, lane_id in route[keys.index(tuple(lane_index[:2])) + 1:]:
            if total >= need or a != indices[-1][1]:
                break
            n = len(road.net.graph[a][b])
            indices.append((a, b, min(int(lane_index[2] if lane_id is None else lane_id), n - 1)))
            total += float(road.lane(indices[-1]).length)
    if total < need:
        rest = road.straightest(indices[-1], need - total + float(road.lane(indices[-1]).length))
        for i in rest[1:]:
            if i in indices:  # round a roundabout's ring back to the ego's own lane
                break
            indices.append(i)
    return road.path(indices)


def build_scene(env: Any, position: np.ndarray, velocity: np.ndarray, planner: planning.PlannerConfig,
                crossing_horizon: float = 3.0, lane_index: Any = None, junction: bool = False,
                road_map: frenet.RoadMap | None = None) -> planning.Scene:
    """The planner's view: the ego on its road and the given objects (N, 2) in the road frame.

    Objects crossing the ego's path (heading more than 20 degrees off the road, closest approach under
    3 m within `crossing_horizon` [s]) are added as a standing obstacle in the ego lane at the point of
    conflict, so the IDM brakes for them (roundabouts, intersections). `lane_index` is the lane the
    ego is steering to (default: the meta-action vehicle's own `target_lane_index`). With `junction`
    (roundabouts, intersections) the lane-following gap acceptance of `junction.yield_points` replaces that
    straight-line test. The road frame is the Frenet frame of `ego_path` (the ego's lane and its route
    on), so s and the lateral offsets hold round bends and through junctions; `road_map` is the map's
    `frenet.RoadMap` (built here when not given).
    """
    ego = envs.ego_vehicle(env)
    road = env.unwrapped.road
    lane_index = tuple(lane_index if lane_index is not None else ego.target_lane_index)
    lane = road.network.get_lane(lane_index)
    width = float(lane.width_at(0.0))
    road_map = road_map if road_map is not None else frenet.RoadMap(road.network)
    path = ego_path(road_map, ego, lane_index)
    ego_s, _ = path.to_frenet(np.asarray(ego.position, dtype=float)) if len(path.lanes) > 1 else \
        lane.local_coordinates(ego.position)
    objs = prediction.to_lane_frame(road, lane_index, width, position, velocity, path)
    n_lanes = len(road.network.all_side_lanes(lane_index))
    ego_vel = np.asarray(ego.velocity, dtype=float)
    heading_off = np.abs(np.arctan2(objs.v_lat, np.maximum(np.abs(objs.v_s), 1e-6) * np.sign(objs.v_s + 1e-9)))
    crossing = (heading_off > np.radians(20.0)) & (np.hypot(objs.v_s, objs.v_lat) > 0.5)
    if junction:
        from pilotlab.drive.junction import yield_points

        dists = np.asarray(yield_points(env, position, velocity, planner.v0, road_map), dtype=float)
        if len(dists):
            s_c = ego_s + dists + envs.VEHICLE_LENGTH
            lat_c = np.full(len(s_c), lane_index[2] * width)
            z = np.zeros(len(s_c))
            objs = prediction.LaneObjects(np.concatenate([objs.s, s_c]), np.concatenate([objs.lat, lat_c]),
                                          np.concatenate([objs.v_s, z]), np.concatenate([objs.v_lat, z]))
    elif np.any(crossing):
        t, d = prediction.closest_approach(position[crossing] - ego.position, velocity[crossing] - ego_vel,
                                           crossing_horizon)
        conflict = d < 3.0
        if np.any(conflict):
            s_c = ego_s + ego.speed * t[conflict] + envs.VEHICLE_LENGTH
            lat_c = np.full(len(s_c), lane_index[2] * width)
            z = np.zeros(len(s_c))
            objs = prediction.LaneObjects(np.concatenate([objs.s, s_c]), np.concatenate([objs.lat, lat_c]),
                                          np.concatenate([objs.v_s, z]), np.concatenate([objs.v_lat, z]))
    changing = tuple(ego.lane_index) != lane_index or abs(float(lane.local_coordinates(ego.position)[1])) > 1.0
    return planning.Scene(
        ego_s=float(ego_s), ego_v=float(ego.speed), ego_lane=int(lane_index[2]), n_lanes=n_lanes,
        lane_width=width, objects=objs, lane_change_allowed=not changing,
        also_lane=int(ego.lane_index[2]) if changing and ego.lane_index[:2] == lane_index[:2] else -1)


__all__ = ["PATH_AHEAD", "build_scene", "ego_path"]
