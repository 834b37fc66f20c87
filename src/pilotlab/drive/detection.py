"""Vehicle detections from lidar returns and radar points.

1. Lidar: hit rays become points; neighbouring rays (one missing ray tolerated, for dropout) whose
   points are closer than `join_distance` form a cluster. A cluster shows the near faces of a car; its
   centre is the model fit `fit_box`: a car-sized rectangle along the road-aligned frame, scored at every
   centre of a small grid by how well it explains the rays around the cluster (its points on the
   rectangle's sensor-facing boundary; no ray entering the rectangle and returning from beyond it or not at
   all, as the lidar casts rays in `sensors.lidar_scan`). The centre is the fit's mean, its std the fit's
   spread: a car seen by one ray with free rays on both sides is placed within a metre or so, one whose ends
   are hidden by nearer objects keeps the spread its points allow, and the tracker weighs each accordingly.
   A cluster that no one rectangle explains (two cars nose to tail joined by the clustering) is cut in two
   (`split_cluster`). The road-aligned frame is the ego's heading turned with the road (`frame`, e.g.
   `frenet.RoadMap.frame_rotation`): on a bend or at a junction a car is aligned with its own lane, not with
   the ego; on a straight road the turn is 0 and the frame is the ego's heading; a car the lane's heading fits
   badly (turning, leaving a roundabout) is fitted at other headings too. The earlier fit (`box_fit="faces"`,
   `box_centre`) placed the centre half a car length beyond the nearest point along each road axis, with
   fixed stds, wider (`occluded_std`) where a nearer object cuts the cluster off at either end.
2. Radar: each point is matched to the nearest lidar cluster within `radar_gate` and gives it a
   radial velocity. Unmatched points become radar-only detections (beyond the lidar's reach), unless
   the lidar saw clear space through them (a false alarm).
Misses (dropout, occlusion, radar misdetection) and false positives (split clusters, false radar
points) are both possible; the tracker downstream handles them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from pilotlab.drive.envs import VEHICLE_LENGTH, VEHICLE_WIDTH, EgoState
from pilotlab.drive.sensors import LidarScan, RadarScan, SensorConfig


@dataclass(frozen=True)
class DetectorConfig:
    join_along: float = 4.0  # [m] max road-aligned gap between neighbouring lidar points of one car
    join_across: float = 1.9  # [m] max gap across the road: rays are 1.75 m apart at 50 m; adjacent-lane cars >= 2 m
    max_ray_gap: int = 2  # [] rays; 2 bridges one dropped ray
    radar_gate: float = 3.0  # [m] radar point to lidar cluster association distance
    lidar_position_std: tuple[float, float] = (0.7, 0.5)  # [m] std of a box-fit centre along / across the road
    free_space_margin: float = 3.0  # [m] lidar range beyond a radar point that proves it false
    occluded_std: float = 2.5  # [m] along-road position std of a cluster cut off at either end by a nearer object:
    # the face the box fit places the centre from may be hidden (a car in a queue behind another), so the tracker
    # leans on its prediction there (docs/drive.md, "Tracking at the exit")
    occlusion_margin: float = 2.0  # [m] ... cut off: the ray beside that end returns this much closer
    one_car_extent: tuple[float, float] | None = (VEHICLE_LENGTH + 0.5, VEHICLE_WIDTH + 0.5)  # [m] neighbouring
    # clusters whose points together span at most this along / across the road are one car (None: off)
    box_fit: str = "model"  # [] "model": the car-sized rectangle that best explains the rays around a cluster
    # (`fit_box`), its std from the fit; "faces": half a car beyond the nearest points (`box_centre`), fixed stds
    fit_step: float = 0.2  # [m] grid spacing of the candidate centres
    fit_tolerance: float = 0.3  # [m] how far a cluster's points may lie outside a candidate (noise, a car's yaw off
    # its lane)
    fit_point_std: float = 0.25  # [m] std of a point off the rectangle's boundary, and of a ray's depth into it
    fit_cost_cap: float = 8.0  # [] most a single ray may cost (a stray point, a ray passing through)
    fit_dropout_cost: float = 3.0  # [] most a ray entering the rectangle and returning nothing costs (-ln dropout)
    fit_std_floor: tuple[float, float] = (0.3, 0.4)  # [m] least along / across std reported for a fitted centre
    # (across: the lane heading the rectangle takes is a few degrees off a car changing lanes or on a bend)
    fit_refit_cost: float = 8.0  # [] a fit along the lane's heading costing more than this tries other headings ...
    fit_yaw_offsets: tuple[float, ...] = (-0.35, 0.35, -0.7, 0.7, -1.05, 1.05, -1.4, 1.4, np.pi / 2)  # [rad] ...
    # these away from the lane's (a turning car at an intersection is at any angle to the lane it was matched to)
    fit_yaw_cost: float = 3.0  # [] ... and keeps one only if it costs this much less (the lane's heading is likelier)
    fit_split_cost: float = 20.0  # [] a cluster whose best fit costs more than this (or that none holds) is not
    # one car: it is cut in two (`split_cluster`) ...
    fit_split_candidates: int = 3  # [] ... at one of this many widest gaps between neighbouring points ...
    fit_split_gain: float = 8.0  # [] ... where the two fits together cost this much less than the whole

    def __post_init__(self) -> None:
        if self.box_fit not in ("model", "faces"):
            raise ValueError(f"box_fit must be 'model' or 'faces', got {self.box_fit!r}")


class Detections(NamedTuple):
    """D detections in the world frame. `radial_velocity` is NaN where no radar point supports it."""

    position: np.ndarray  # (D, 2) [m]
    position_cov: np.ndarray  # (D, 2, 2) [m^2]
    los: np.ndarray  # (D, 2) unit line of sight from the ego
    radial_velocity: np.ndarray  # (D,) [m/s] absolute (ground-frame) velocity along `los`
    source: np.ndarray  # (D,) 0 lidar, 1 radar only, 2 lidar + radar


def cluster_rays(scan: LidarScan, origin: np.ndarray, heading: float, cfg: DetectorConfig,
                 frame: Callable[[np.ndarray], float] | None = None) -> list[np.ndarray]:
    """Indices of hit rays grouped into clusters (angular order, wrapping around).

    Neighbouring points join when their gap in the road-aligned frame (`heading`, turned by
    `frame(point)` where given) is within (`join_along`, `join_across`): grazing rays along a car's side
    land metres apart, while cars in adjacent lanes are always separated by more than `join_across`.
    """
    idx = np.flatnonzero(scan.hit)
    if len(idx) == 0:
        return []
    pts = origin + scan.ranges[idx, None] * np.stack([np.cos(scan.angles[idx]), np.sin(scan.angles[idx])], -1)
    axes = np.array([[np.cos(heading), np.sin(heading)], [-np.sin(heading), np.cos(heading)]])  # (2, 2)
    n_rays = len(scan.angles)
    turns = None if frame is None else np.array([frame(p) for p in pts])  # (H,) [rad]

    def near(a: int, b: int) -> bool:
        ax = axes
        if turns is not None:  # the road's frame halfway between the two points
            h = heading + turns[a] + 0.5 * float(np.angle(np.exp(1j * (turns[b] - turns[a]))))
            ax = np.array([[np.cos(h), np.sin(h)], [-np.sin(h), np.cos(h)]])
        du, dw = np.abs(ax @ (pts[a] - pts[b]))
        return bool(du < cfg.join_along and dw < cfg.join_across)

    clusters: list[list[int]] = [[0]]
    for k in range(1, len(idx)):
        close = idx[k] - idx[k - 1] <= cfg.max_ray_gap and near(k, k - 1)
        if close:
            clusters[-1].append(k)
        else:
            clusters.append([k])
    if len(clusters) > 1:  # join the last and first clusters across the -pi/pi seam
        a, b = clusters[-1][-1], clusters[0][0]
        if (idx[b] + n_rays - idx[a]) <= cfg.max_ray_gap and near(a, b):
            clusters[0] = clusters.pop() + clusters[0]
    if cfg.one_car_extent is not None:
        clusters = _join_one_car(clusters, idx, pts, n_rays, heading, turns, cfg)
    return [idx[np.array(c)] for c in clusters]


def _join_one_car(clusters: list[list[int]], idx: np.ndarray, pts: np.ndarray, n_rays: int, heading: float,
                  turns: np.ndarray | None, cfg: DetectorConfig) -> list[list[int]]:
    """Join angular neighbours (within `max_ray_gap` rays) whose points together fit in one car's extent
    (`one_car_extent`, along / across the road): rays grazing a car's side land metres apart along it, so its
    rear face and a lone point near its front make two clusters, and the box fit puts the second one's
    centre half a car beyond that point, a phantom car 4-5 m ahead of the real one. Two cars never fit in
    one car's extent (a lane apart they span >= 2 m across their facing sides plus their widths)."""
    assert cfg.one_car_extent is not None
    max_along, max_across = cfg.one_car_extent

    def fits(members: list[int]) -> bool:
        h = heading if turns is None else heading + float(np.mean(turns[members]))
        rel = pts[members]
        u = rel @ np.array([np.cos(h), np.sin(h)])
        w = rel @ np.array([-np.sin(h), np.cos(h)])
        return float(np.ptp(u)) <= max_along and float(np.ptp(w)) <= max_across

    out = [list(c) for c in clusters]
    k = 0
    while len(out) > 1 and k < len(out):
        nxt = (k + 1) % len(out)
        a, b = out[k][-1], out[nxt][0]
        if (idx[b] - idx[a]) % n_rays <= cfg.max_ray_gap and fits(out[k] + out[nxt]):
            out[k] = out[k] + out[nxt]
            del out[nxt]
            if nxt < k:  # joined across the seam: the first cluster moved into this one
                k -= 1
            continue
        k += 1
    return out


def lidar_points(scan: LidarScan, rays: np.ndarray) -> np.ndarray:
    """World-frame offsets (P, 2) [m] from the sensor of the returns of `rays`."""
    return scan.ranges[rays, None] * np.stack([np.cos(scan.angles[rays]), np.sin(scan.angles[rays])], -1)


def box_centre(points: np.ndarray, origin: np.ndarray, heading: float) -> np.ndarray:
    """Centre (2,) [m] of a road-aligned car from the points (P, 2) on its visible faces.

    Along each axis: if every point lies beyond the ego (by `margin`), the near face is visible and
    the centre is half a car beyond the nearest point. If the points show one face only (they spread
    less than 0.6 m along the road), the lateral centre is the midpoint of the points on that face.
    """
    c, s = np.cos(heading), np.sin(heading)
    rel = points - origin
    u = rel @ np.array([c, s])  # (P,) along the road
    w = rel @ np.array([-s, c])  # (P,) across the road
    margin = 0.3  # [m]

    def fit(x: np.ndarray, half: float, face_only: bool) -> float:
        lo, hi = float(x.min()), float(x.max())
        if face_only or (lo <= margin and hi >= -margin):
            return 0.5 * (lo + hi)
        return lo + half if lo > margin else hi - half

    flat_u = float(np.ptp(u)) < 0.6  # the points lie on a rear or front face ...
    flat_w = float(np.ptp(w)) < 0.6  # ... or on a side face
    rear_or_front = flat_u and (not flat_w or abs(float(u.mean())) >= abs(float(w.mean())))
    cu = fit(u, VEHICLE_LENGTH / 2, face_only=False)
    cw = fit(w, VEHICLE_WIDTH / 2, face_only=rear_or_front)
    return origin + cu * np.array([c, s]) + cw * np.array([-s, c])


def fit_box(scan: LidarScan, rays: np.ndarray, origin: np.ndarray, heading: float, max_range: float,
            cfg: DetectorConfig = DetectorConfig()) -> tuple[np.ndarray, np.ndarray, float, float] | None:
    """The centre (2,) [m] of a car-sized rectangle that best explains the scan around a cluster, its std (2,)
    [m] along / across the rectangle, the rectangle's heading [rad] and the best candidate's cost (the negative
    log-likelihood below); None where no rectangle holds the cluster's points.

    Each candidate centre on a grid (`fit_step`) is scored by the negative log-likelihood of the rays that
    could meet it: the cluster's points must lie on the rectangle's boundary (Gaussian, `fit_point_std`, capped
    at `fit_cost_cap` so one stray point cannot veto), every ray that enters the rectangle must return there,
    not beyond it (a ray returning from further away passed through: as costly as a stray point), and a ray
    that enters it and returns nothing costs a dropout (`fit_dropout_cost`). Rays returning nearer than
    the rectangle say nothing (something in front hides it). The centre is the mean of the candidates weighted
    by exp(-cost), its std their spread: free rays on both sides of a car seen by one or two rays bound it
    tightly; a car with a hidden end keeps the spread of every position its points allow.

    The rectangle lies along `heading` (its lane's); where that explains the rays badly (the best candidate
    costs more than `fit_refit_cost`: a car turning off its lane, entering a roundabout, or a lane map that
    took the wrong lane) the headings `fit_yaw_offsets` away are tried too and the best fit is kept.
    """
    rel = lidar_points(scan, rays)  # (P, 2)
    fits = [_fit_along(scan, rel, heading, max_range, cfg)]
    if fits[0] is None or fits[0][3] > cfg.fit_refit_cost:
        fits += [_fit_along(scan, rel, heading + offset, max_range, cfg) for offset in cfg.fit_yaw_offsets]
    scored = [(fit[3] + (k > 0) * cfg.fit_yaw_cost, k) for k, fit in enumerate(fits) if fit is not None]
    if not scored:
        return None
    best = fits[min(scored)[1]]
    assert best is not None
    (mu, mw), std, h, cost = best
    c, s = np.cos(h), np.sin(h)
    return origin + mu * np.array([c, s]) + mw * np.array([-s, c]), std, h, cost


def split_cluster(scan: LidarScan, rays: np.ndarray, heading: float, max_range: float,
                  cfg: DetectorConfig = DetectorConfig()) -> tuple[np.ndarray, np.ndarray] | None:
    """A cluster that no one car explains (two cars nose to tail in a queue, or side by side, joined by
    `cluster_rays`) cut in two between angular neighbours: of the `fit_split_candidates` widest gaps between
    neighbouring points, the cut whose two fits cost least together, if that is `fit_split_gain` below the
    whole cluster's cost (None: keep it whole)."""
    if len(rays) < 2:
        return None
    rel = lidar_points(scan, rays)
    whole = fit_box(scan, rays, np.zeros(2), heading, max_range, cfg)
    whole_cost = np.inf if whole is None else whole[3]
    gaps = np.hypot(*np.diff(rel, axis=0).T)  # (P - 1,) [m] between angular neighbours
    best, best_cost = None, whole_cost - cfg.fit_split_gain
    for k in np.argsort(-gaps)[:cfg.fit_split_candidates] + 1:
        parts = (rays[:k], rays[k:])
        fits = [fit_box(scan, part, np.zeros(2), heading, max_range, cfg) for part in parts]
        if fits[0] is None or fits[1] is None:
            continue
        # two cars do not overlap: one car cut in two (a turning car, its heading off every tried one) would
        d = fits[1][0] - fits[0][0]
        du, dw = abs(d @ [np.cos(heading), np.sin(heading)]), abs(d @ [-np.sin(heading), np.cos(heading)])
        if du < VEHICLE_LENGTH - cfg.fit_tolerance and dw < VEHICLE_WIDTH - cfg.fit_tolerance:
            continue
        cost = fits[0][3] + fits[1][3]
        if cost < best_cost:
            best, best_cost = parts, cost
    return best


def _fit_along(scan: LidarScan, rel: np.ndarray, heading: float, max_range: float,
               cfg: DetectorConfig) -> tuple[np.ndarray, np.ndarray, float, float] | None:
    """`fit_box` for one heading: (centre (2,) [m] along / across `heading` from the sensor, its std (2,) [m],
    the heading, the best candidate's cost), or None where no candidate holds the points `rel` (P, 2)."""
    length, width = VEHICLE_LENGTH, VEHICLE_WIDTH
    c, s = np.cos(heading), np.sin(heading)
    pu, pw = rel @ np.array([c, s]), rel @ np.array([-s, c])  # (P,) along / across the box axis
    tol = cfg.fit_tolerance
    lo_u, hi_u = float(pu.max()) - length / 2 - tol, float(pu.min()) + length / 2 + tol
    lo_w, hi_w = float(pw.max()) - width / 2 - tol, float(pw.min()) + width / 2 + tol
    if lo_u > hi_u or lo_w > hi_w:  # the points span more than one car (two cars, or a car turned off the lane)
        return None
    step = cfg.fit_step
    gu = np.linspace(lo_u, hi_u, max(int(np.ceil((hi_u - lo_u) / step)) + 1, 2))  # (U,) candidate centres along
    gw = np.linspace(lo_w, hi_w, max(int(np.ceil((hi_w - lo_w) / step)) + 1, 2))  # (W,) ... across
    # the rays any candidate may meet: the bearings of the candidate region grown by half a car
    corners = np.array([[u, w] for u in (lo_u - length / 2, hi_u + length / 2)
                        for w in (lo_w - width / 2, hi_w + width / 2)])  # (4, 2) box frame
    if corners[:, 0].min() < 0 < corners[:, 0].max() and corners[:, 1].min() < 0 < corners[:, 1].max():
        near = np.arange(len(scan.angles))  # the sensor inside the region: every ray may meet it
    else:
        corner_xy = corners @ np.array([[c, s], [-s, c]])  # (4, 2) world offsets from the sensor
        mid = float(np.arctan2(*rel.mean(axis=0)[::-1]))
        spread = np.angle(np.exp(1j * (np.arctan2(corner_xy[:, 1], corner_xy[:, 0]) - mid)))  # (4,)
        off = np.angle(np.exp(1j * (scan.angles - mid)))  # (R,)
        near = np.flatnonzero((off >= spread.min()) & (off <= spread.max()))
    ang = scan.angles[near] - heading
    # slab method, one axis at a time on its own 1-D grid, then every (along, across) pair by broadcasting;
    # a ray parallel to an axis divides by 0 and gets +-inf, which the min / max below treat correctly
    with np.errstate(divide="ignore", invalid="ignore"):
        slabs = []
        for grid, d, half in ((gu, np.cos(ang), length / 2), (gw, np.sin(ang), width / 2)):
            t1 = (grid[:, None] - half) / d[None, :]
            t2 = (grid[:, None] + half) / d[None, :]
            slabs.append((np.minimum(t1, t2), np.maximum(t1, t2)))  # (U or W, N) entry / exit ranges
    (in_u, out_u), (in_w, out_w) = slabs
    t_near = np.maximum(np.maximum(in_u[:, None], in_w[None, :]), 0.0)  # (U, W, N)
    t_far = np.minimum(out_u[:, None], out_w[None, :])
    enters = (t_far >= t_near) & (t_near < max_range)  # the ray meets the candidate at range t_near
    hit = scan.hit[near]
    r = np.where(hit, scan.ranges[near], np.inf)  # (N,)
    # [m] how deep into the candidate the ray went before it returned (or passed through, or returned nothing):
    # a ray clipping a corner by a few centimetres is no evidence against it
    depth = np.where(enters, np.maximum(np.minimum(r, t_far) - t_near, 0.0), 0.0)
    penalty = np.minimum(np.square(depth / cfg.fit_point_std) / 2,
                         np.where(hit, cfg.fit_cost_cap, cfg.fit_dropout_cost))
    cost = penalty.sum(axis=-1)  # (U, W)
    # the cluster's points on the candidate's boundary (inside or outside)
    qu = (np.abs(pu[None, :] - gu[:, None]) - length / 2)[:, None, :]  # (U, 1, P) > 0: outside along
    qw = (np.abs(pw[None, :] - gw[:, None]) - width / 2)[None, :, :]  # (1, W, P) > 0: outside across
    outside = np.hypot(np.maximum(qu, 0.0), np.maximum(qw, 0.0))  # (U, W, P)
    dist = np.where((qu <= 0) & (qw <= 0), -np.maximum(qu, qw), outside)
    cost = cost + np.minimum(np.square(dist / cfg.fit_point_std) / 2, cfg.fit_cost_cap).sum(axis=-1)
    weight = np.exp(-(cost - cost.min()))
    weight /= weight.sum()
    wu, ww = weight.sum(axis=1), weight.sum(axis=0)  # (U,), (W,) marginals
    mu, mw = float(wu @ gu), float(ww @ gw)
    var = np.array([wu @ np.square(gu - mu), ww @ np.square(gw - mw)]) + step**2 / 12
    return np.array([mu, mw]), np.sqrt(var), heading, float(cost.min())


def hidden_ends(scan: LidarScan, rays: np.ndarray, cfg: DetectorConfig) -> tuple[bool, bool]:
    """Whether the ray just before a cluster's first ray / just after its last (angular order) returned closer
    than that end by `cfg.occlusion_margin`: a nearer object cuts the car off beyond that end."""
    n = len(scan.angles)
    out = []
    for end, step in ((int(rays[0]), -1), (int(rays[-1]), 1)):
        k = (end + step) % n
        out.append(bool(scan.hit[k] and scan.ranges[k] < scan.ranges[end] - cfg.occlusion_margin))
    return out[0], out[1]


def detect(ego: EgoState, lidar: LidarScan, radar: RadarScan, sensors: SensorConfig,
           cfg: DetectorConfig = DetectorConfig(), frame: Callable[[np.ndarray], float] | None = None) -> Detections:
    """Fuse one lidar sweep and one radar scan into vehicle detections.

    `frame` (optional): how far [rad] the road at a point is turned from the road at the ego; the box fit
    and the position covariance of a cluster use the ego's heading turned by it (none: a straight road)."""
    origin = ego.position
    ego_vel = ego.speed * np.array([np.cos(ego.heading), np.sin(ego.heading)])  # (2,) [m/s]
    centres, headings, stds = [], [], []
    clusters = cluster_rays(lidar, origin, ego.heading, cfg, frame)
    while clusters:
        rays = clusters.pop(0)
        pts = origin + lidar_points(lidar, rays)
        h = ego.heading if frame is None else ego.heading + frame(pts.mean(axis=0))
        fit = fit_box(lidar, rays, origin, h, sensors.lidar_range, cfg) if cfg.box_fit == "model" else None
        if cfg.box_fit == "model" and (fit is None or fit[3] > cfg.fit_split_cost):
            parts = split_cluster(lidar, rays, h, sensors.lidar_range, cfg)
            if parts is not None:  # two cars: each fitted on its own
                clusters[:0] = list(parts)
                continue
        if fit is not None:
            centres.append(fit[0])
            stds.append(np.maximum(fit[1], cfg.fit_std_floor))
            h = fit[2]
        else:
            centres.append(box_centre(pts, origin, h))
            along = cfg.occluded_std if any(hidden_ends(lidar, rays, cfg)) else cfg.lidar_position_std[0]
            stds.append(np.array([along, cfg.lidar_position_std[1]]))
        headings.append(h)
    lid = np.array(centres).reshape(-1, 2)  # (L, 2)
    n_lid = len(lid)
    lid_rate_sum = np.zeros(n_lid)
    lid_rate_n = np.zeros(n_lid)
    r_pos, r_cov, r_rate = [], [], []
    sector = 2 * np.pi / len(lidar.angles)
    for rr, br, rate in zip(radar.range, radar.bearing, radar.range_rate):
        u = np.array([np.cos(br), np.sin(br)])
        p = origin + rr * u
        v_abs = rate + ego_vel @ u  # [m/s] ground-frame radial velocity
        if n_lid:
            d = np.hypot(*(lid - p).T)
            j = int(np.argmin(d))
            if d[j] < cfg.radar_gate:
                lid_rate_sum[j] += v_abs
                lid_rate_n[j] += 1
                continue
        if rr < sensors.lidar_range:  # the lidar should have seen it: check for clear space through it
            k = int(np.floor(((br - lidar.angles[0] + sector / 2) % (2 * np.pi)) / sector)) % len(lidar.angles)
            if lidar.hit[k] and lidar.ranges[k] > rr + cfg.free_space_margin:
                continue
        along, across = sensors.radar_range_noise, max(rr * sensors.radar_bearing_noise, 0.3)
        rot = np.array([[u[0], -u[1]], [u[1], u[0]]])
        r_pos.append(p)
        r_cov.append(rot @ np.diag([along**2 + 1.0, across**2 + 0.25]) @ rot.T)  # + car extent
        r_rate.append(v_abs)
    lid_cov = np.empty((n_lid, 2, 2))
    for k, h in enumerate(headings):  # each cluster's own road axes (the ego's heading on a straight road)
        rot = np.array([[np.cos(h), -np.sin(h)], [np.sin(h), np.cos(h)]])
        lid_cov[k] = rot @ np.diag(np.square(stds[k])) @ rot.T  # [m^2]
    with np.errstate(invalid="ignore", divide="ignore"):
        lid_rate = np.where(lid_rate_n > 0, lid_rate_sum / np.maximum(lid_rate_n, 1), np.nan)
    pos = np.concatenate([lid, np.array(r_pos).reshape(-1, 2)])  # (D, 2)
    rel = pos - origin
    los = rel / np.maximum(np.hypot(rel[:, 0], rel[:, 1]), 1e-9)[:, None]
    return Detections(
        position=pos,
        position_cov=np.concatenate([lid_cov, np.array(r_cov).reshape(-1, 2, 2)]),
        los=los,
        radial_velocity=np.concatenate([lid_rate, np.array(r_rate)]),
        source=np.concatenate([np.where(lid_rate_n > 0, 2, 0), np.ones(len(r_pos), dtype=int)]),
    )


__all__ = ["Detections", "DetectorConfig", "box_centre", "cluster_rays", "detect", "fit_box", "hidden_ends",
           "lidar_points", "split_cluster"]
