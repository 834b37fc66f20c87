"""Predict other vehicles forward and express them in the ego road's lane frame.

The planner reasons in a road-aligned frame: ``s`` [m] along the ego's lane, ``lat`` [m] across the
road measured from the centre of lane 0 (lane k's centre is at ``k * lane_width``), and ``v_s``
[m/s], the speed along the road. Predictions are constant velocity, the model the tracker filters
with; `closest_approach` gives the time and distance of the nearest approach of two constant-velocity
points, used for crossing traffic that no lane relation describes (roundabouts, intersections).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


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


def to_lane_frame(road: Any, lane_index: Any, lane_width: float, position: np.ndarray,
                  velocity: np.ndarray) -> LaneObjects:
    """World positions (N, 2) and velocities (N, 2) -> `LaneObjects` in the frame of `lane_index`."""
    lane = road.network.get_lane(lane_index)
    n = len(position)
    s, lat, vs, vl = (np.zeros(n) for _ in range(4))
    for i in range(n):
        si, di = lane.local_coordinates(position[i])
        h = lane.heading_at(si)
        s[i], lat[i] = si, lane_index[2] * lane_width + di
        vs[i] = velocity[i, 0] * np.cos(h) + velocity[i, 1] * np.sin(h)
        vl[i] = -velocity[i, 0] * np.sin(h) + velocity[i, 1] * np.cos(h)
    return LaneObjects(s, lat, vs, vl)


__all__ = ["LaneObjects", "closest_approach", "predict_cv", "to_lane_frame"]
