"""Camera detections in the driving loop, alone or fused with radar and lidar (``drive eval --perception``).

Modes:

- ``lidar+radar``: `detection.detect` as before (no camera);
- ``camera``: the front and rear cameras (`camera.rear_camera`), and with ``cameras="front+rear+sides"`` the two
  wide side cameras (`camera.side_camera`), through the trained detector; each detection is the vehicle centre
  with the detector's own covariance, rotated into the world frame;
- ``camera+radar``: a radar point within `radar_gate` (Mahalanobis, camera + radar covariance) of a camera
  detection gives it a radial velocity and its position: the two position estimates (the camera's, the
  radar's) are fused in information form. Radar points no camera
  detection explains are kept (by default: the camera misses too many cars beyond 20 m to refute radar;
  `camera_trust_range` drops them within that range where a camera looks, as the lidar's free space does);
  a point within the gate of a camera detection already fused, or of a radar-only one, is the same car seen by
  a second radar (the corner radars' sectors overlap the front and rear radars' and each other's) and is dropped;
- ``camera+lidar+radar``: lidar + radar as before, plus the camera detections that no lidar/radar detection
  lies within `merge_distance` of (cars beyond the lidar's reach that the radar missed).

The detections keep the tracker's interface (`detection.Detections`); camera-only ones have no radial
velocity (NaN) and source 3. `CameraSensors.coverage` tells the tracker where the mode's sensors look (the
cameras' horizontal fields of view, the radars' and the lidar's where the mode uses them), so that a tracked
car that drives into the gap beside the ego is kept rather than deleted after `max_misses` unseen steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pilotlab.core.errors import PilotlabError
from pilotlab.drive.camera import Camera, CameraConfig, Vehicles, camera_set, road_segments, scene_vehicles
from pilotlab.drive.detection import Detections, DetectorConfig, detect
from pilotlab.drive.envs import EgoState
from pilotlab.drive.sensors import LidarScan, RadarScan, SensorConfig

MODES = ("lidar+radar", "camera", "camera+radar", "camera+lidar+radar")
SOURCE_CAMERA = 3


@dataclass(frozen=True)
class FusionConfig:
    radar_gate: float = 13.8  # [] squared Mahalanobis gate of a radar point to a camera detection (chi2 2 dof, 99.9 %)
    centre_offset: float = 0.0  # [m] from a radar point to the car centre along the line of sight: 0, as the
    # simulated radar (`sensors.radar_scan`) measures the range to the centre (2.0 placed every fused and
    # radar-only position 2 m too far, as far as the MOT metrics' match distance)
    extent_var: float = 1.0  # [m^2] added along the line of sight to a radar position for the car's extent
    camera_trust_range: float = 0.0  # [m] within this a camera that sees nothing refutes a radar point (0: never)
    merge_distance: float = 4.0  # [m] a camera detection this close to a lidar/radar one is the same car
    coverage_margin: float = 8.0  # [px] a car centre this close to an image's side edge is not counted as in
    # view (half the car is outside, the detector may miss it)
    camera_merge_gate: float = 13.8  # [] squared Mahalanobis gate within which detections of two cameras whose
    # views overlap (front or rear and a side camera) are one car, fused (chi2 2 dof, 99.9 %)


class CameraSensors:
    """The cameras and the detector of one driver; `detections(...)` for one step in a given mode."""

    def __init__(self, detector: Any, mode: str, cfg: FusionConfig = FusionConfig(),
                 camera: CameraConfig | None = None, cameras: str = "front+rear"):
        if mode not in MODES:
            raise PilotlabError(f"unknown perception {mode!r}; choose one of {', '.join(MODES)}")
        self.detector, self.mode, self.cfg = detector, mode, cfg
        self.cameras = [Camera(c) for c in camera_set(cameras, camera or CameraConfig()).values()]
        self._focal = np.array([c.cfg.fx for c in self.cameras])

    def camera_detections(self, env: Any, ego: EgoState, rng: np.random.Generator, colour_seed: int
                          ) -> Detections:
        """Every camera rendered and detected in one batch, as world-frame `Detections`."""
        base = env.unwrapped
        veh: Vehicles = scene_vehicles(env)
        road = road_segments(base.road)
        frames = [cam.render(ego.position, ego.heading, veh, road, rng, colour_seed) for cam in self.cameras]
        dets = self.detector.detect(np.stack([f.image for f in frames]), self._focal)
        pos, cov = [], []
        for cam, d in zip(self.cameras, dets):
            origin, heading = cam.pose(ego.position, ego.heading)
            rot = np.array([[np.cos(heading), -np.sin(heading)], [np.sin(heading), np.cos(heading)]])
            pos.append(origin + d.position @ rot.T)
            cov.append(rot[None] @ d.cov @ rot.T[None])
        which = np.concatenate([np.full(len(d.position), k) for k, d in enumerate(dets)]).astype(int)
        p, c = merge_cameras(np.concatenate(pos).reshape(-1, 2), np.concatenate(cov).reshape(-1, 2, 2), which,
                             self.cfg.camera_merge_gate)
        return _detections(ego, p, c, np.full(len(p), np.nan), np.full(len(p), SOURCE_CAMERA))

    def coverage(self, ego: EgoState, sensors: SensorConfig) -> Callable[[np.ndarray], np.ndarray] | None:
        """Whether this mode's sensors look at ground points (N, 2) [m] from this ego pose (None: everywhere,
        as the lidar+radar mode's 360-degree lidar is taken to)."""
        if self.mode == "lidar+radar":
            return None
        margin = self.cfg.coverage_margin
        radars = sensors.radars if self.mode != "camera" else ()
        lidar = sensors.lidar_range if self.mode == "camera+lidar+radar" else 0.0

        def covered(points: np.ndarray) -> np.ndarray:
            p = np.asarray(points, dtype=float).reshape(-1, 2)
            out = np.zeros(len(p), dtype=bool)
            for cam in self.cameras:
                uv, z = cam.project(np.column_stack([p, np.full(len(p), 0.75)]), ego.position, ego.heading)
                with np.errstate(invalid="ignore"):
                    inside = (uv[:, 0] >= margin) & (uv[:, 0] <= cam.cfg.width - margin)
                out |= (z > 0) & (z <= cam.cfg.max_range) & inside
            rel = p - ego.position
            dist = np.hypot(rel[:, 0], rel[:, 1])
            bearing = np.arctan2(rel[:, 1], rel[:, 0])
            for m in radars:
                off = np.angle(np.exp(1j * (bearing - ego.heading - m.yaw)))
                out |= (np.abs(off) <= m.half_fov) & (dist <= m.max_range)
            return out | (dist <= lidar)

        return covered

    def detections(self, env: Any, ego: EgoState, lidar: LidarScan, radar: RadarScan, sensors: SensorConfig,
                   detector_cfg: DetectorConfig, rng: np.random.Generator, colour_seed: int) -> Detections:
        if self.mode == "lidar+radar":
            return detect(ego, lidar, radar, sensors, detector_cfg)
        cam = self.camera_detections(env, ego, rng, colour_seed)
        if self.mode == "camera":
            return cam
        if self.mode == "camera+radar":
            return fuse_radar(ego, cam, radar, sensors, self.cfg, self.cameras)
        base = detect(ego, lidar, radar, sensors, detector_cfg)
        if len(base.position) and len(cam.position):
            d = np.hypot(*(cam.position[:, None, :] - base.position[None]).transpose(2, 0, 1))  # (C, B)
            cam = _select(cam, d.min(axis=1) > self.cfg.merge_distance)
        return _concat(base, cam)


def merge_cameras(pos: np.ndarray, cov: np.ndarray, camera: np.ndarray, gate: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One detection per car where the views of two cameras overlap: a detection within the squared Mahalanobis
    `gate` of a kept detection of another camera (one per camera) is fused into it in information form; else
    kept. Without this a car seen by two cameras is two detections, one of them a second, false track."""
    kept_p: list[np.ndarray] = []
    kept_c: list[np.ndarray] = []
    kept_cams: list[set[int]] = []
    for p, c, k in zip(pos, cov, camera):
        best, best_m = -1, np.inf
        for j, (q, d, cams) in enumerate(zip(kept_p, kept_c, kept_cams)):
            if int(k) in cams:
                continue
            e = q - p
            m = float(e @ np.linalg.solve(d + c, e))
            if m <= gate and m < best_m:
                best, best_m = j, m
        if best < 0:
            kept_p.append(p)
            kept_c.append(c)
            kept_cams.append({int(k)})
            continue
        info = np.linalg.inv(kept_c[best]) + np.linalg.inv(c)
        fused_c = np.linalg.inv(info)
        kept_p[best] = fused_c @ (np.linalg.solve(kept_c[best], kept_p[best]) + np.linalg.solve(c, p))
        kept_c[best] = fused_c
        kept_cams[best].add(int(k))
    return np.array(kept_p).reshape(-1, 2), np.array(kept_c).reshape(-1, 2, 2)


def _detections(ego: EgoState, pos: np.ndarray, cov: np.ndarray, rate: np.ndarray, source: np.ndarray
                ) -> Detections:
    rel = pos - ego.position
    los = rel / np.maximum(np.hypot(rel[:, 0], rel[:, 1]), 1e-9)[:, None]
    return Detections(pos, cov, los.reshape(-1, 2), rate, source.astype(int))


def _select(d: Detections, keep: np.ndarray) -> Detections:
    return Detections(*(a[keep] for a in d))


def _concat(a: Detections, b: Detections) -> Detections:
    return Detections(*(np.concatenate([x, y]) for x, y in zip(a, b)))


def fuse_radar(ego: EgoState, cam: Detections, radar: RadarScan, sensors: SensorConfig, cfg: FusionConfig,
               cameras: list[Camera]) -> Detections:
    """Camera detections refined by the radar points associated with them; unexplained radar points where
    no camera refutes them (module docstring)."""
    ego_vel = ego.speed * np.array([np.cos(ego.heading), np.sin(ego.heading)])
    pos, cov = cam.position.copy(), cam.position_cov.copy()
    rate_sum, rate_n = np.zeros(len(pos)), np.zeros(len(pos))
    used = np.zeros(len(pos), dtype=bool)
    extra_p, extra_c, extra_r = [], [], []
    for rr, br, rate in zip(radar.range, radar.bearing, radar.range_rate):
        u = np.array([np.cos(br), np.sin(br)])
        rot = np.array([[u[0], -u[1]], [u[1], u[0]]])
        r_cov = rot @ np.diag([sensors.radar_range_noise**2 + cfg.extent_var,
                               max(rr * sensors.radar_bearing_noise, 0.3) ** 2 + 0.25]) @ rot.T
        r_pos = ego.position + (rr + cfg.centre_offset) * u
        v_abs = rate + ego_vel @ u
        if len(pos):
            s = cam.position_cov + r_cov[None]  # (C, 2, 2)
            e = cam.position - r_pos  # (C, 2)
            m = np.einsum("ci,ci->c", e, np.linalg.solve(s, e[..., None])[..., 0])
            m[used] = np.inf  # one radar point per camera detection (the first, in scan order)
            j = int(np.argmin(m))
            if m[j] <= cfg.radar_gate:
                info = np.linalg.inv(cam.position_cov[j]) + np.linalg.inv(r_cov)
                cov[j] = np.linalg.inv(info)
                pos[j] = cov[j] @ (np.linalg.solve(cam.position_cov[j], cam.position[j])
                                   + np.linalg.solve(r_cov, r_pos))
                rate_sum[j] += v_abs
                rate_n[j] += 1
                used[j] = True
                continue
            if _within(pos[used], cov[used], r_pos, r_cov, cfg.radar_gate):
                continue  # another radar's point of a car already fused (the corner radars overlap)
        if rr <= cfg.camera_trust_range and _in_view(r_pos, ego, cameras):
            continue  # a camera looks there and saw nothing: a false alarm (or a car the camera missed)
        if _within(np.array(extra_p).reshape(-1, 2), np.array(extra_c).reshape(-1, 2, 2), r_pos, r_cov, cfg.radar_gate):
            continue  # the same car in two radars' overlapping sectors: one detection
        extra_p.append(r_pos)
        extra_c.append(r_cov)
        extra_r.append(v_abs)
    with np.errstate(invalid="ignore"):
        rates = np.where(rate_n > 0, rate_sum / np.maximum(rate_n, 1), np.nan)
    fused = _detections(ego, pos, cov, rates, np.where(rate_n > 0, 4, SOURCE_CAMERA))
    extra = _detections(ego, np.array(extra_p).reshape(-1, 2), np.array(extra_c).reshape(-1, 2, 2),
                        np.array(extra_r, dtype=float), np.ones(len(extra_p), dtype=int))
    return _concat(fused, extra)


def _within(pos: np.ndarray, cov: np.ndarray, point: np.ndarray, point_cov: np.ndarray, gate: float) -> bool:
    """Whether `point` (2,) lies within the squared Mahalanobis `gate` of any of the positions (N, 2)."""
    if not len(pos):
        return False
    e = pos - point
    m = np.einsum("ci,ci->c", e, np.linalg.solve(cov + point_cov[None], e[..., None])[..., 0])
    return bool((m <= gate).any())


def _in_view(point: np.ndarray, ego: EgoState, cameras: list[Camera]) -> bool:
    """Whether a ground point (2,) [m] projects inside any camera's image."""
    for cam in cameras:
        uv, z = cam.project(np.array([[point[0], point[1], 0.75]]), ego.position, ego.heading)
        if z[0] > 0 and 0 <= uv[0, 0] < cam.cfg.width and 0 <= uv[0, 1] < cam.cfg.height:
            return True
    return False


__all__ = ["MODES", "SOURCE_CAMERA", "CameraSensors", "FusionConfig", "fuse_radar", "merge_cameras"]
