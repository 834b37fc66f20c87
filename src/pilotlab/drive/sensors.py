"""Simulated sensors computed from the simulator state: lidar, radar and camera.

Every sensor is a pure function of (ego pose, other vehicles' boxes, a `numpy.random.Generator`):
the same state and the same generator seed give the same readings. Vehicles are oriented boxes of
5 m x 2 m (highway-env's `Vehicle.LENGTH`, `WIDTH`). Defaults are of the order of automotive sensors
(a 360-degree scanning lidar with ~0.1 m range noise, a 77 GHz radar with ~0.5 m / 0.5 degree /
0.2 m/s noise and ~90 % detection probability), chosen so the lidar resolves a car's 2 m width out
to its 50 m range (2 degree sectors) and the front radar sees three seconds ahead at 30 m/s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from pilotlab.core.errors import PilotlabError
from pilotlab.drive.envs import VEHICLE_LENGTH, VEHICLE_WIDTH, EgoState, Objects


@dataclass(frozen=True)
class RadarMount:
    """One radar: where it looks relative to the ego heading, how wide and how far."""

    yaw: float = 0.0  # [rad] boresight relative to the ego heading (0 front, pi rear)
    half_fov: float = np.radians(30.0)  # [rad]
    max_range: float = 150.0  # [m]


# Short-range corner radars, as production cars carry them for blind-spot and cross-traffic warning: one at each
# corner, boresight 45 degrees off the car's axis, +-60 degrees wide, 70 m; with the front and rear radars they
# cover the full circle, including the cars alongside that neither long-range radar nor a forward or rear camera
# sees (docs/drive.md, "Camera perception: the crashes").
CORNER_RADARS: tuple[RadarMount, ...] = tuple(RadarMount(yaw, np.radians(60.0), 70.0) for yaw in
                                              np.radians([45.0, -45.0, 135.0, -135.0]))
RADAR_SUITES = ("front+rear", "front+rear+corners")


@dataclass(frozen=True)
class SensorConfig:
    """Noise and geometry of the sensor suite (defaults: see the module docstring)."""

    lidar_sectors: int = 180  # [] one ray per 2 degree sector
    lidar_range: float = 50.0  # [m]
    lidar_noise: float = 0.1  # [m] std of the range noise
    lidar_dropout: float = 0.05  # [] probability that a ray returns nothing
    radars: tuple[RadarMount, ...] = (RadarMount(0.0, np.radians(30.0), 150.0),
                                      RadarMount(np.pi, np.radians(30.0), 80.0))
    radar_range_noise: float = 0.5  # [m]
    radar_bearing_noise: float = np.radians(0.5)  # [rad]
    radar_rate_noise: float = 0.2  # [m/s]
    radar_detect_prob: float = 0.9  # []
    radar_false_alarms: float = 0.1  # [] mean false points per radar per scan (Poisson)


def radar_suite(name: str) -> tuple[RadarMount, ...]:
    """The radar mounts of a named suite (`RADAR_SUITES`): the default front + rear pair, or with the corners."""
    if name not in RADAR_SUITES:
        raise PilotlabError(f"unknown radar suite {name!r}; choose one of {', '.join(RADAR_SUITES)}")
    base = SensorConfig().radars
    return base + CORNER_RADARS if name == "front+rear+corners" else base


class LidarScan(NamedTuple):
    """One sweep: a range per sector; `hit` False where the ray returned nothing (no object, dropout)."""

    angles: np.ndarray  # (R,) [rad] world-frame ray directions
    ranges: np.ndarray  # (R,) [m] measured range; lidar_range where nothing returned
    hit: np.ndarray  # (R,) bool
    hit_index: np.ndarray  # (R,) int: index into Objects of the true first hit, -1 for none (for evaluation)


class RadarScan(NamedTuple):
    """Radar points in polar form around the ego position (world-frame bearing)."""

    range: np.ndarray  # (P,) [m]
    bearing: np.ndarray  # (P,) [rad] world frame
    range_rate: np.ndarray  # (P,) [m/s] d(range)/dt, relative to the moving ego
    true_index: np.ndarray  # (P,) int: index into Objects, -1 for a false alarm (for evaluation)


def ray_box_distances(origin: np.ndarray, angles: np.ndarray, centers: np.ndarray, headings: np.ndarray,
                      length: float = VEHICLE_LENGTH, width: float = VEHICLE_WIDTH) -> np.ndarray:
    """Distance [m] along each ray to each oriented box (slab method); inf where the ray misses.

    Args: origin (2,), angles (R,), centers (V, 2), headings (V,). Returns (V, R).
    """
    d = np.stack([np.cos(angles), np.sin(angles)], axis=-1)  # (R, 2) ray directions
    c, s = np.cos(headings), np.sin(headings)  # (V,)
    rel = origin[None, :] - centers  # (V, 2) ray origin relative to each box centre
    # rotate into each box frame: x' = c x + s y, y' = -s x + c y
    ox = (c * rel[:, 0] + s * rel[:, 1])[:, None]  # (V, 1)
    oy = (-s * rel[:, 0] + c * rel[:, 1])[:, None]
    dx = c[:, None] * d[None, :, 0] + s[:, None] * d[None, :, 1]  # (V, R)
    dy = -s[:, None] * d[None, :, 0] + c[:, None] * d[None, :, 1]
    half = (length / 2.0, width / 2.0)
    t_near = np.full(dx.shape, -np.inf)
    t_far = np.full(dx.shape, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for o, dd, h in ((ox, dx, half[0]), (oy, dy, half[1])):
            parallel = np.abs(dd) < 1e-12
            t1 = (-h - o) / dd
            t2 = (h - o) / dd
            lo = np.where(parallel, np.where(np.abs(o) <= h, -np.inf, np.inf), np.minimum(t1, t2))
            hi = np.where(parallel, np.where(np.abs(o) <= h, np.inf, -np.inf), np.maximum(t1, t2))
            t_near = np.maximum(t_near, lo)
            t_far = np.minimum(t_far, hi)
    hit = (t_far >= np.maximum(t_near, 0.0)) & np.isfinite(t_far)
    return np.where(hit, np.maximum(t_near, 0.0), np.inf)


def lidar_scan(ego: EgoState, objects: Objects, cfg: SensorConfig, rng: np.random.Generator) -> LidarScan:
    """A 360-degree sweep of `cfg.lidar_sectors` rays from the ego centre, with noise and dropout."""
    n = cfg.lidar_sectors
    angles = ego.heading + (np.arange(n) + 0.5) * (2 * np.pi / n) - np.pi  # (R,) sector centres
    if len(objects.ids):
        dist = ray_box_distances(ego.position, angles, objects.position, objects.heading)  # (V, R)
        first = np.argmin(dist, axis=0)  # (R,)
        true_range = dist[first, np.arange(n)]
    else:
        first = np.zeros(n, dtype=int)
        true_range = np.full(n, np.inf)
    noise = rng.normal(0.0, cfg.lidar_noise, n)  # drawn for every ray so the stream is state-independent
    dropped = rng.random(n) < cfg.lidar_dropout
    in_range = true_range <= cfg.lidar_range
    hit = in_range & ~dropped
    ranges = np.where(hit, np.clip(true_range + noise, 0.0, cfg.lidar_range), cfg.lidar_range)
    hit_index = np.where(in_range, first, -1)
    return LidarScan(angles, ranges, hit, hit_index)


def visible(ego: EgoState, objects: Objects, max_range: float) -> np.ndarray:
    """(N,) bool: centre within `max_range` and the line of sight to it not blocked by another vehicle."""
    n = len(objects.ids)
    if n == 0:
        return np.zeros(0, dtype=bool)
    rel = objects.position - ego.position  # (N, 2)
    dist = np.hypot(rel[:, 0], rel[:, 1])
    bearings = np.arctan2(rel[:, 1], rel[:, 0])
    along = ray_box_distances(ego.position, bearings, objects.position, objects.heading)  # (V, N)
    own = along[np.arange(n), np.arange(n)]  # (N,) where each ray meets its own target's surface
    blocked = along < own[None, :]  # another box cuts the ray first
    blocked[np.arange(n), np.arange(n)] = False
    return (dist <= max_range) & ~blocked.any(axis=0)


def radar_scan(ego: EgoState, objects: Objects, cfg: SensorConfig, rng: np.random.Generator) -> RadarScan:
    """Points (range, bearing, range-rate) of the visible vehicles in each radar's field of view."""
    ego_vel = ego.speed * np.array([np.cos(ego.heading), np.sin(ego.heading)])  # (2,) [m/s]
    rel = objects.position - ego.position  # (N, 2)
    rng_true = np.hypot(rel[:, 0], rel[:, 1])
    brg_true = np.arctan2(rel[:, 1], rel[:, 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        los = rel / np.maximum(rng_true, 1e-9)[:, None]  # (N, 2) unit line of sight
    rate_true = ((objects.velocity - ego_vel[None, :]) * los).sum(axis=1)
    max_range = max((m.max_range for m in cfg.radars), default=0.0)
    seen = visible(ego, objects, max_range) if len(objects.ids) else np.zeros(0, dtype=bool)
    out: list[tuple[np.ndarray, ...]] = []
    for mount in cfg.radars:
        boresight = ego.heading + mount.yaw
        off = np.angle(np.exp(1j * (brg_true - boresight)))  # wrapped to (-pi, pi]
        in_fov = seen & (np.abs(off) <= mount.half_fov) & (rng_true <= mount.max_range)
        n = len(objects.ids)
        # draw every random number for every object so the stream does not depend on who is in view
        detected = rng.random(n) < cfg.radar_detect_prob
        e_r, e_b, e_v = (rng.normal(0.0, s, n) for s in (cfg.radar_range_noise, cfg.radar_bearing_noise,
                                                          cfg.radar_rate_noise))
        keep = in_fov & detected
        out.append((rng_true[keep] + e_r[keep], brg_true[keep] + e_b[keep], rate_true[keep] + e_v[keep],
                    np.flatnonzero(keep)))
        n_false = rng.poisson(cfg.radar_false_alarms)
        out.append((rng.uniform(5.0, mount.max_range, n_false),
                    boresight + rng.uniform(-mount.half_fov, mount.half_fov, n_false),
                    rng.normal(0.0, 5.0, n_false), np.full(n_false, -1)))
    r, b, v, idx = (np.concatenate([o[k] for o in out]) if out else np.zeros(0) for k in range(4))
    return RadarScan(r, b, v, idx.astype(int))


def camera_frame(env: Any) -> np.ndarray:
    """The rendered top-down frame (H, W, 3) uint8; the env must be made with ``render=True``.

    highway-env's viewer switches itself off when ``SDL_VIDEODRIVER=dummy`` (the headless setting),
    yet its off-screen surfaces draw fine without a display: switch it back on.
    """
    base = env.unwrapped
    if base.viewer is None:
        from highway_env.envs.common.graphics import EnvViewer

        base.viewer = EnvViewer(base)
    base.viewer.enabled = True
    frame = env.render()
    return np.asarray(frame, dtype=np.uint8)


__all__ = [
    "CORNER_RADARS",
    "RADAR_SUITES",
    "LidarScan",
    "RadarMount",
    "RadarScan",
    "SensorConfig",
    "camera_frame",
    "lidar_scan",
    "radar_scan",
    "radar_suite",
    "ray_box_distances",
    "visible",
]
