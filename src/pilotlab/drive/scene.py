"""The planner's view of the simulator: the ego on its road and the other objects in its lane frame.

Shared by the planner drivers (`agents`) and the safety shield (`rl_driver`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pilotlab.drive import envs, planning, prediction


def build_scene(env: Any, position: np.ndarray, velocity: np.ndarray, planner: planning.PlannerConfig,
                crossing_horizon: float = 3.0, lane_index: Any = None, junction: bool = False) -> planning.Scene:
    """The planner's view: the ego on its road and the given objects (N, 2) in the road frame.

    Objects crossing the ego's path (heading more than 20 degrees off the road, closest approach under
    3 m within `crossing_horizon` [s]) are added as a standing obstacle in the ego lane at the point of
    conflict, so the IDM brakes for them (roundabouts, intersections). `lane_index` is the lane the
    ego is steering to (default: the meta-action vehicle's own `target_lane_index`). With `junction`
    (roundabouts, intersections) the lane-following gap acceptance of `junction.yield_points` replaces that
    straight-line test.
    """
    ego = envs.ego_vehicle(env)
    road = env.unwrapped.road
    lane_index = tuple(lane_index if lane_index is not None else ego.target_lane_index)
    lane = road.network.get_lane(lane_index)
    width = float(lane.width_at(0.0))
    ego_s, _ = lane.local_coordinates(ego.position)
    objs = prediction.to_lane_frame(road, lane_index, width, position, velocity)
    n_lanes = len(road.network.all_side_lanes(lane_index))
    ego_vel = np.asarray(ego.velocity, dtype=float)
    heading_off = np.abs(np.arctan2(objs.v_lat, np.maximum(np.abs(objs.v_s), 1e-6) * np.sign(objs.v_s + 1e-9)))
    crossing = (heading_off > np.radians(20.0)) & (np.hypot(objs.v_s, objs.v_lat) > 0.5)
    if junction:
        from pilotlab.drive.junction import yield_points

        dists = np.asarray(yield_points(env, position, velocity, planner.v0), dtype=float)
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


__all__ = ["build_scene"]
