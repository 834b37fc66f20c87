"""A faster, exactly equivalent highway-env step for RL training (`FastHighway`, wrapper name ``fast-highway``).

Profiling highway-fast-v0 puts most of a step in the traffic's IDM + MOBIL decisions and much of the
rest in the kinematics observation (the profiles and timings: docs/drive.md, "Fast simulator path"):

- `Road.neighbour_vehicles(vehicle, lane)` (called many times per simulation step by the IDM/MOBIL
  vehicles) projects *every* vehicle onto the lane with `lane.local_coordinates` and `lane.on_lane`,
  so one simulation step repeats each of a few distinct (lane, position) projections many times;
- `KinematicObservation.observe` builds and normalizes pandas DataFrames of five rows.

Both are replaced per env instance (nothing in highway-env is modified globally):

- the projections are memoized by (lane, exact position) during one `Road.act` phase, when no
  vehicle moves; every value is still computed by highway-env's own `local_coordinates`/`on_lane`,
  and the neighbour search keeps highway-env's loop and comparisons, so the result is identical;
- `RoadNetwork.get_closest_lane_index`, which every vehicle calls after each move (a second profile,
  of a whole DQN training run, put it first once the above was done), is spelled out for straight
  lanes with the same NumPy operations, sharing the projection memo (so the next `Road.act` phase
  finds the new positions' projections there);
- the observation is assembled from the same `Vehicle.to_dict` rows and normalized by the obs
  type's own `normalize_obs` on NumPy columns (the same float64 operations pandas performs);
- during `step`, highway-env's vehicle modules see `np.clip` with a scalar fast path (`fast_clip`,
  NumPy's own comparison rule; restored after each step), through a copy of NumPy's namespace;
- a reset's own observation is built without pandas too (`define_spaces` installs the NumPy observe).

The equality of observations, rewards, termination and every vehicle's state with the unwrapped env
is tested on seeded random-action episodes (tests/drive/test_rl_driver.py), and whole `drive eval` episodes
of the drivers with and without it are the same (tests/drive/test_fast_eval.py). RL training uses it
(``--env-wrapper fast-highway``); `pilotlab drive eval` only with ``--fast-sim`` (the default stays highway-env
unmodified).
"""

from __future__ import annotations

import types
from typing import Any

import gymnasium as gym
import numpy as np


def _memo_local_coordinates(lane: Any, original: Any, memo: dict[tuple[int, float, float], tuple[float, float]]
                            ) -> Any:
    """`lane.local_coordinates` memoized on the exact world position (a pure function of it for a lane)."""
    lane_id = id(lane)

    def local_coordinates(position: np.ndarray) -> tuple[float, float]:
        key = (lane_id, float(position[0]), float(position[1]))
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = original(position)
        return hit

    return local_coordinates


def _memo_neighbour_vehicles(road: Any) -> Any:
    """`Road.neighbour_vehicles` for roads without connected-lane search, with the projections memoized
    between two moves of the vehicles (`road.step` clears the memo, and so does `road.act` before they decide)."""
    from highway_env.vehicle.objects import Landmark

    coords: dict[tuple[int, float, float], tuple[float, float]] = {}
    for lane in road.network.lanes_list():
        lane.local_coordinates = _memo_local_coordinates(lane, lane.local_coordinates, coords)
    on_lane: dict[int, list[tuple[float, Any]]] = {}  # id(lane) -> [(s [m], vehicle)] in road order

    def members(lane: Any) -> list[tuple[float, Any]]:
        """The vehicles on `lane` (1 m margin) and their longitudinal coordinates, in road.vehicles order."""
        hit = on_lane.get(id(lane))
        if hit is None:
            hit = []
            for v in road.vehicles + road.objects:
                if isinstance(v, Landmark):
                    continue
                s_v, lat_v = lane.local_coordinates(v.position)
                if lane.on_lane(v.position, s_v, lat_v, margin=1):
                    hit.append((s_v, v))
            on_lane[id(lane)] = hit
        return hit

    def neighbour_vehicles(vehicle: Any, lane_index: Any = None) -> tuple[Any, Any]:
        lane_index = lane_index or vehicle.lane_index
        if not lane_index:
            return None, None
        lane = road.network.get_lane(lane_index)
        s = lane.local_coordinates(vehicle.position)[0]
        s_front = s_rear = None
        v_front = v_rear = None
        for s_v, v in members(lane):  # highway-env's comparisons, over the same vehicles in the same order
            if v is vehicle:
                continue
            if s <= s_v and (s_front is None or s_v <= s_front):
                s_front, v_front = s_v, v
            if s_v < s and (s_rear is None or s_v > s_rear):
                s_rear, v_rear = s_v, v
        return v_front, v_rear

    _install_closest_lane(road.network, coords)
    original_act, original_step = road.act, road.step

    def act() -> None:
        on_lane.clear()
        original_act()

    def step(dt: float) -> None:
        original_step(dt)
        on_lane.clear()  # the vehicles moved: lane memberships hold only between two moves
        coords.clear()  # (value-keyed, so never stale: cleared only to bound its size)

    road.act, road.step = act, step
    return neighbour_vehicles


def _install_closest_lane(network: Any, coords: dict[tuple[int, float, float], tuple[float, float]]) -> None:
    """`RoadNetwork.get_closest_lane_index` for networks of straight lanes, with the projections shared with the
    neighbour memo. Every vehicle calls it after each move (`Vehicle.on_state_update`), once per lane; this
    spells out highway-env's `StraightLane.distance_with_heading` with the same NumPy operations in the same
    order (so the same floats), without its four method calls per lane."""
    from highway_env.road.lane import StraightLane
    from highway_env.utils import wrap_to_pi

    indexes = [(a, b, i) for a, to in network.graph.items() for b, ls in to.items() for i in range(len(ls))]
    lanes = [network.graph[a][b][i] for a, b, i in indexes]  # highway-env's search order
    if not lanes or any(type(lane) is not StraightLane for lane in lanes):
        return
    original = network.get_closest_lane_index

    def get_closest_lane_index(position: np.ndarray, heading: float | None = None) -> Any:
        if heading is None:
            return original(position, heading)
        x, y = float(position[0]), float(position[1])
        best, best_d = 0, None
        lane_heading, angle = None, None
        for i, lane in enumerate(lanes):
            key = (id(lane), x, y)
            hit = coords.get(key)
            if hit is None:  # StraightLane.local_coordinates
                delta = position - lane.start
                hit = coords[key] = (float(np.dot(delta, lane.direction)), float(np.dot(delta, lane.direction_lateral)))
            s, r = hit
            # local_angle (heading_at(s) is lane.heading), once per heading value: the lanes of a straight road
            # share it (a signed zero cannot matter: wrap_to_pi adds pi first)
            if lane_heading is None or lane.heading != lane_heading:
                lane_heading = lane.heading
                angle = np.abs(wrap_to_pi(heading - lane_heading))
            d = abs(r) + max(s - lane.length, 0) + max(0 - s, 0) + 1.0 * angle  # heading_weight 1.0
            if d != d:  # NaN: np.argmin returns the first one
                return indexes[i]
            if best_d is None or d < best_d:  # the first minimum, as np.argmin
                best, best_d = i, d
        return indexes[best]

    network.get_closest_lane_index = get_closest_lane_index


def _numpy_observe(obs_type: Any) -> Any:
    """`KinematicObservation.observe` without pandas: same rows, same normalization, same dtype."""

    def observe() -> np.ndarray:
        env = obs_type.env
        if not env.road:
            return np.zeros(obs_type.space().shape)
        ego = obs_type.observer_vehicle
        rows = [ego.to_dict()]
        close = env.road.close_objects_to(ego, env.PERCEPTION_DISTANCE, count=obs_type.vehicles_count - 1,
                                          see_behind=obs_type.see_behind, sort=obs_type.order == "sorted",
                                          vehicles_only=not obs_type.include_obstacles)
        if close:
            origin = ego if not obs_type.absolute else None
            rows += [v.to_dict(origin, observe_intentions=obs_type.observe_intentions)
                     for v in close[-obs_type.vehicles_count + 1:]]
        columns = {f: np.array([r[f] for r in rows]) for f in obs_type.features}  # each (R,)
        if obs_type.normalize:
            columns = obs_type.normalize_obs(columns)  # lmap + clip on each ranged column, as on the DataFrame
        obs = np.zeros((obs_type.vehicles_count, len(obs_type.features)))  # (V, F) float64, zero-padded rows
        for j, f in enumerate(obs_type.features):
            obs[: len(rows), j] = columns[f]
        if obs_type.order == "shuffled":
            env.np_random.shuffle(obs[1:])
        return obs.astype(obs_type.space().dtype)

    return observe


_SCALAR = (float, np.float64)
_BOUND = (float, int, np.float64)


def fast_clip(a: Any, a_min: Any, a_max: Any, *args: Any, **kwargs: Any) -> Any:
    """`np.clip` with a fast path for a float scalar between number bounds (highway-env clips hundreds of such
    scalars per step, each slow through NumPy's array machinery). Like NumPy's float clip loop it keeps `a`
    unless it lies strictly outside the bounds, so NaN propagates and signed zeros come out as in NumPy
    (tested bit for bit); the result is an np.float64, as np.clip returns."""
    if not args and not kwargs and type(a) in _SCALAR and type(a_min) in _BOUND and type(a_max) in _BOUND:
        m = a_min if a < a_min else a
        return np.float64(a_max if m > a_max else m)
    return np.clip(a, a_min, a_max, *args, **kwargs)


def _fast_clip_numpy() -> types.ModuleType:
    """The `numpy` module as highway-env's vehicle modules see it during a `FastHighway` step: a copy of NumPy's
    namespace (plain dict lookups, no Python-level `__getattr__` per access) with `clip` = `fast_clip`; names
    NumPy loads lazily fall through to NumPy's own module `__getattr__` (PEP 562)."""
    proxy = types.ModuleType("numpy")
    proxy.__dict__.update(np.__dict__)
    proxy.clip = fast_clip  # type: ignore[attr-defined]
    proxy.__getattr__ = lambda name: getattr(np, name)  # type: ignore[method-assign]
    return proxy


_PROXY = _fast_clip_numpy()
_CLIP_MODULES = ("highway_env.vehicle.behavior", "highway_env.vehicle.controller")  # 99 % of the np.clip calls


class FastHighway(gym.Wrapper):
    """Installs the memoized neighbour search (highway-v0, highway-fast-v0) and the NumPy kinematics
    observation (any env) after every reset.

    Roads searching connected lane segments (``neighbour_vehicles_connected_lanes``) and observations
    other than ``Kinematics`` keep highway-env's own code.
    """

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        from highway_env.envs.common.observation import KinematicObservation
        from highway_env.envs.highway_env import HighwayEnv
        from highway_env.road.road import Road

        base = self.env.unwrapped
        if "define_spaces" not in vars(base):  # the observation of the reset itself without pandas too
            base.define_spaces = self._numpy_spaces(base, base.define_spaces, KinematicObservation)
        obs, info = self.env.reset(**kwargs)
        road = base.road
        # HighwayEnv (and highway-fast) never adds or removes vehicles within an episode, which the
        # membership memo relies on between two simulation steps
        if isinstance(base, HighwayEnv) and type(road) is Road and not road.neighbour_vehicles_connected_lanes:
            road.neighbour_vehicles = _memo_neighbour_vehicles(road)
        if type(base.observation_type) is KinematicObservation:
            base.observation_type.observe = _numpy_observe(base.observation_type)
        return obs, info

    @staticmethod
    def _numpy_spaces(base: Any, define_spaces: Any, kinematic: type) -> Any:
        """`define_spaces` (which builds a new observation type, twice per reset) followed by `_numpy_observe`."""

        def numpy_spaces() -> None:
            define_spaces()
            if type(base.observation_type) is kinematic:
                base.observation_type.observe = _numpy_observe(base.observation_type)

        return numpy_spaces

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        import sys

        modules = [sys.modules[name] for name in _CLIP_MODULES]
        for module in modules:  # only for the duration of this step, and only in highway-env's vehicle modules
            module.np = _PROXY  # type: ignore[attr-defined]
        try:
            return self.env.step(action)
        finally:
            for module in modules:
                module.np = np  # type: ignore[attr-defined]


__all__ = ["FastHighway", "fast_clip"]
