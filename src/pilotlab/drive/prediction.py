"""Predict other vehicles forward and express them in the ego road's lane frame.

The planner reasons in a road-aligned frame: ``s`` [m] along the ego's lane, ``lat`` [m] across the
road measured from the centre of lane 0 (lane k's centre is at ``k * lane_width``), and ``v_s``
[m/s], the speed along the road. Given a `frenet.LanePath` (the ego's lane and the lanes its route
continues on) the frame is that path's Frenet frame, so s runs on round bends and through junctions;
on a single straight lane it is the lane's own coordinates, as before.

Predictions: `predict_cv` is constant velocity in the world, the tracker's model on straight roads;
`predict_along_lanes` is constant speed along each lane sequence an object may take (its lane matched
with its heading, then every successor a few junctions deep: the turn hypotheses), the model for
junctions (`junction.yield_points`). `closest_approach` gives the time and distance of the nearest
approach of two constant-velocity points, for crossing traffic that no lane relation describes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from pilotlab.drive import frenet
from pilotlab.drive.frenet import LanePath, RoadMap


class LaneObjects(NamedTuple):
    """Objects in the ego road frame (see the module docstring)."""

    s: np.ndarray  # (N,) [m]
    lat: np.ndarray  # (N,) [m]
    v_s: np.ndarray  # (N,) [m/s]
    v_lat: np.ndarray  # (N,) [m/s]


def predict_cv(position: np.ndarray, velocity: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Constant-velocity positions (N, T, 2) [m] at `times` (T,) [s] for objects (N, 2), (N, 2)."""
    return position[:, None, :] + velocity[:, None, :] * times[None, :, None]


def closest_approach(p_rel: np.ndarray, v_rel: np.ndarray, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """Time [s] in [0, horizon] and distance [m] of closest approach for relative states (N, 2), (N, 2).

    Closed form: t* = -(p . v) / |v|^2, clipped to the horizon.
    """
    vv = (v_rel**2).sum(axis=1)
    t = np.where(vv > 1e-9, -(p_rel * v_rel).sum(axis=1) / np.maximum(vv, 1e-9), 0.0)
    t = np.clip(t, 0.0, horizon)
    d = np.hypot(*(p_rel + v_rel * t[:, None]).T)
    return t, d


def predict_along_lanes(road: RoadMap, position: np.ndarray, velocity: np.ndarray, times: np.ndarray,
                        depth: int = 2, closest: bool = False) -> list[tuple[list[tuple], np.ndarray]]:
    """Hypotheses of one object at constant speed along the lanes: (lane sequence, points (T, 2) [m] at
    `times` (T,) [s]) for its closest lane (matched with its heading) and each successor `depth` junctions
    deep (`closest`: the successor lanes highway-env's vehicles take, `RoadMap.successors`). The object
    keeps its lateral offset from the lane (0: its centre line) and the speed |velocity|."""
    p, v = np.asarray(position, dtype=float), np.asarray(velocity, dtype=float)
    speed = float(np.hypot(*v))
    index = road.closest(p, float(np.arctan2(v[1], v[0])) if speed > 0.0 else None)
    s_obj, _ = frenet.to_frenet(road.lane(index), p)
    out = []
    for hyp in road.hypotheses(index, depth, closest):
        path = road.path(hyp)
        out.append((hyp, np.array([path.position(float(x)) for x in s_obj + speed * np.asarray(times)])))
    return out


def to_lane_frame(road: Any, lane_index: Any, lane_width: float, position: np.ndarray,
                  velocity: np.ndarray, path: LanePath | None = None) -> LaneObjects:
    """World positions (N, 2) and velocities (N, 2) -> `LaneObjects` in the frame of `lane_index`, or of
    `path` (the ego's lane and its continuation; its lateral offsets are from lane `lane_index[2]`)."""
    n = len(position)
    s, lat, vs, vl = (np.zeros(n) for _ in range(4))
    if path is not None and len(path.lanes) > 1:
        for i in range(n):
            s[i], di = path.to_frenet(position[i])
            lat[i] = lane_index[2] * lane_width + di
            vs[i], vl[i] = path.velocity_to_frenet(s[i], velocity[i])
        return LaneObjects(s, lat, vs, vl)
    lane = road.network.get_lane(lane_index)
    for i in range(n):
        si, di = lane.local_coordinates(position[i])
        h = lane.heading_at(si)
        s[i], lat[i] = si, lane_index[2] * lane_width + di
        vs[i] = velocity[i, 0] * np.cos(h) + velocity[i, 1] * np.sin(h)
        vl[i] = -velocity[i, 0] * np.sin(h) + velocity[i, 1] * np.cos(h)
    return LaneObjects(s, lat, vs, vl)


__all__ = ["LaneObjects", "closest_approach", "predict_along_lanes", "predict_cv", "to_lane_frame"]
