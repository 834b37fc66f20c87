"""A pinhole camera on the ego, rendering the simulator state into a small RGB image.

The camera sits `forward_offset` [m] ahead of the ego centre (negative: behind), `mount_height` [m]
above the road, looks along the ego heading turned by `yaw` [rad] (pi: a rear camera) and is tilted
down by `pitch` [rad]. Camera axes are OpenCV's: x right, y down, z along the optical axis; a point
(x, y, z) lands on pixel ``(fx x / z + cx, fy y / z + cy)`` (pixel centres at +0.5).

Rendering is ray casting, vectorised with NumPy; every pixel's ray is fixed in the camera frame,
so the rays and their ground hits are computed once per `Camera`:

- the ground: each downward ray meets the road plane at a fixed point of the camera's ground frame;
  per frame those points move to the world and are tested against every lane (straight lanes as
  they are, curved ones as chords of `CHORD` metres): asphalt, off-road, lane markings (dashed as
  highway-env draws them, anti-aliased by the pixel's footprint on the road), haze with distance;
- vehicles: oriented 3D boxes (length, width from the simulator, `vehicle_height`), ray-box slab
  intersection within each box's projected bounding box, drawn from the farthest to the nearest
  with a depth test, so near cars occlude far ones; faces are shaded by a fixed sun, the upper
  part of the sides is glass, and each car throws a dark contact shadow on the road.

The object-id buffer (which vehicle each pixel shows) and each vehicle's own silhouette (its pixels
as if alone) give the labels: 2D boxes and occlusion fractions (`drive.record`).

Nuisances (seeded, one draw per frame): brightness, contrast, per-channel colour gain, sensor noise,
a 3x3 blur, and vehicle colours from a hash of (seed, vehicle id), so a car keeps its colour.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from pilotlab.core.errors import PilotlabError

CHORD = 4.0  # [m] length of the straight pieces a curved lane is drawn with
STRIPE_SPACING = 4.33  # [m] highway-env's dashed lines: a 3 m stripe every 4.33 m (road/graphics.py)
STRIPE_LENGTH = 3.0  # [m]
MARKING_HALF_WIDTH = 0.15  # [m]
NEAR = 0.05  # [m] near plane for projections

ASPHALT = np.array([0.36, 0.36, 0.38], dtype=np.float32)
OFFROAD = np.array([0.33, 0.47, 0.26], dtype=np.float32)
MARKING = np.array([0.93, 0.93, 0.88], dtype=np.float32)
SKY_TOP = np.array([0.45, 0.62, 0.88], dtype=np.float32)
HAZE = np.array([0.78, 0.82, 0.86], dtype=np.float32)
GLASS = np.array([0.12, 0.16, 0.22], dtype=np.float32)
SUN = np.array([0.4, -0.3, 0.87])  # world (x, y, z up) direction towards the sun, normalised below
SUN = SUN / np.linalg.norm(SUN)


@dataclass(frozen=True)
class CameraConfig:
    """Intrinsics, mount and nuisances of one camera (defaults: a forward camera of about 67 x 37 degrees)."""

    width: int = 128  # [px]
    height: int = 64  # [px]
    fx: float = 96.0  # [px] focal length along x
    fy: float = 96.0  # [px] focal length along y
    cx: float = 64.0  # [px] principal point x
    cy: float = 32.0  # [px] principal point y
    mount_height: float = 1.6  # [m] above the road
    pitch: float = 0.04  # [rad] downward tilt of the optical axis
    forward_offset: float = 1.0  # [m] ahead of the ego centre along its heading (negative: behind)
    yaw: float = 0.0  # [rad] optical axis relative to the ego heading (pi: rear camera)
    max_range: float = 150.0  # [m] road and vehicles beyond this fade into haze / are not drawn
    vehicle_height: float = 1.5  # [m] height of every vehicle box
    nuisance: bool = True  # draw brightness/contrast/colour/noise/blur nuisances (else a clean image)
    brightness: float = 0.25  # [] gain drawn from 1 +- this
    contrast: float = 0.25  # [] contrast factor drawn from 1 +- this
    colour_shift: float = 0.06  # [] std of the per-channel gain
    noise_std: float = 0.03  # [] max std of the Gaussian pixel noise (intensity in [0, 1]); drawn from [0, this]
    blur_prob: float = 0.3  # [] probability of a 3x3 Gaussian blur

    def __post_init__(self) -> None:
        if self.width < 8 or self.height < 8:
            raise PilotlabError(f"camera image must be at least 8x8 px, got {self.width}x{self.height}")
        if self.fx <= 0 or self.fy <= 0:
            raise PilotlabError(f"focal lengths must be > 0 px, got fx={self.fx}, fy={self.fy}")
        if self.mount_height <= 0 or self.vehicle_height <= 0 or self.max_range <= 0:
            raise PilotlabError("mount-height, vehicle-height and max-range must be > 0 m")
        if not -1.2 < self.pitch < 1.2:
            raise PilotlabError(f"pitch must lie in (-1.2, 1.2) rad, got {self.pitch}")


def rear_camera(cfg: CameraConfig = CameraConfig()) -> CameraConfig:
    """The same camera looking backwards from the rear of the car."""
    from dataclasses import replace

    return replace(cfg, yaw=float(np.pi), forward_offset=-2.5)


SIDE_FOCAL = 24.0  # [px] focal length of the side cameras: 2 atan(64 / 24) = 138 degrees across 128 px
SIDE_OFFSET = -0.75  # [m] side cameras' mount along the heading: midway between the front (+1) and rear (-2.5)


def side_camera(cfg: CameraConfig = CameraConfig(), side: str = "left") -> CameraConfig:
    """The same camera turned to one side (yaw -pi/2: left, +pi/2: right) with a wide lens.

    The front and rear cameras see 67 degrees each, so the sides must fill the remaining 226 degrees with
    some overlap: fx = fy = `SIDE_FOCAL` gives 138 x 106 degrees each (133 degrees less the coverage margin
    of 8 px a side), the four together 410 degrees. The tall view also keeps a car alongside (2-3 m from the
    lens) whole from roof to wheels. The mount sits between the front and rear cameras' mounts, so the gaps
    near the corners (where the views of two cameras at different mounts meet) are the same front and back.
    The pitch stays the forward camera's (the horizon is level across the image; no roll)."""
    from dataclasses import replace

    if side not in ("left", "right"):
        raise PilotlabError(f"side must be 'left' or 'right', got {side!r}")
    # the camera's heading is the ego's plus yaw; +pi/2 turns towards highway-env's +y, the ego's right
    yaw = np.pi / 2 if side == "right" else -np.pi / 2
    scale = SIDE_FOCAL / cfg.fx
    return replace(cfg, yaw=float(yaw), forward_offset=SIDE_OFFSET, fx=cfg.fx * scale, fy=cfg.fy * scale)


CAMERA_SETS = ("front", "front+rear", "front+rear+sides")


def camera_set(name: str, cfg: CameraConfig = CameraConfig()) -> dict[str, CameraConfig]:
    """The named cameras of a set, by name ("front", "rear", "left", "right"), from the forward camera `cfg`."""
    if name not in CAMERA_SETS:
        raise PilotlabError(f"unknown cameras {name!r}; choose one of {', '.join(CAMERA_SETS)}")
    cams = {"front": cfg}
    if name != "front":
        cams["rear"] = rear_camera(cfg)
    if name == "front+rear+sides":
        cams["left"] = side_camera(cfg, "left")
        cams["right"] = side_camera(cfg, "right")
    return cams


class Vehicles(NamedTuple):
    """The vehicles a camera may see (the ego excluded), one row each, world frame."""

    ids: np.ndarray  # (N,) int64 stable identities
    position: np.ndarray  # (N, 2) [m] centres
    heading: np.ndarray  # (N,) [rad]
    length: np.ndarray  # (N,) [m]
    width: np.ndarray  # (N,) [m]


class RoadSegments(NamedTuple):
    """Lanes as straight pieces: a start, a unit direction, a length, a width, dash phase, line types."""

    start: np.ndarray  # (K, 2) [m]
    direction: np.ndarray  # (K, 2) unit
    length: np.ndarray  # (K,) [m]
    width: np.ndarray  # (K,) [m]
    s0: np.ndarray  # (K,) [m] lane coordinate of the segment start (phase of the dashes)
    left: np.ndarray  # (K,) highway-env LineType of the side at lateral -width/2 (0 none, 1 striped, 2-3 solid)
    right: np.ndarray  # (K,) LineType of the side at +width/2


class Frame(NamedTuple):
    """One rendered image and what it shows."""

    image: np.ndarray  # (H, W, 3) uint8
    object_index: np.ndarray  # (H, W) int32: row of `Vehicles` each pixel shows, -1 for road/sky
    box: np.ndarray  # (N, 4) [px] x0, y0, x1, y1 of each vehicle's full silhouette (NaN if not in view)
    own_pixels: np.ndarray  # (N,) pixels of each vehicle's silhouette as if alone
    visible_pixels: np.ndarray  # (N,) pixels where the vehicle is the nearest thing


def road_segments(road: Any) -> RoadSegments:
    """The road network of a highway-env `Road` as straight segments (cached on the road's network)."""
    network = road.network
    cached = getattr(network, "_pilotlab_segments", None)
    if cached is not None:
        return cached
    from highway_env.road.lane import StraightLane

    rows: list[tuple[float, ...]] = []
    for lane in network.lanes_list():
        left, right = (int(t) for t in lane.line_types)
        if isinstance(lane, StraightLane):
            d = np.asarray(lane.direction, dtype=float)
            rows.append((*lane.start, *d, float(lane.length), float(lane.width_at(0.0)), 0.0, left, right))
            continue
        n = max(1, int(np.ceil(lane.length / CHORD)))
        s = np.linspace(0.0, float(lane.length), n + 1)
        pts = np.array([lane.position(si, 0.0) for si in s])
        for k in range(n):
            d = pts[k + 1] - pts[k]
            seg = float(np.hypot(*d))
            if seg < 1e-6:
                continue
            rows.append((*pts[k], *(d / seg), seg, float(lane.width_at(s[k])), float(s[k]), left, right))
    arr = np.array(rows, dtype=float).reshape(-1, 9)
    out = RoadSegments(arr[:, 0:2], arr[:, 2:4], arr[:, 4], arr[:, 5], arr[:, 6], arr[:, 7].astype(int),
                       arr[:, 8].astype(int))
    with contextlib.suppress(AttributeError):  # a network that refuses attributes is converted each time
        network._pilotlab_segments = out
    return out


def scene_vehicles(env: Any) -> Vehicles:
    """Every vehicle but the ego, with its own length and width."""
    base = env.unwrapped
    others = [v for v in base.road.vehicles if v is not base.vehicle]
    if not others:
        return Vehicles(np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0), np.zeros(0), np.zeros(0))
    return Vehicles(np.array([id(v) for v in others], dtype=np.int64),
                    np.array([v.position for v in others], dtype=float),
                    np.array([v.heading for v in others], dtype=float),
                    np.array([getattr(v, "LENGTH", 5.0) for v in others], dtype=float),
                    np.array([getattr(v, "WIDTH", 2.0) for v in others], dtype=float))


def _rotation(pitch: float) -> np.ndarray:
    """(3, 3) camera (x right, y down, z optical) -> mount frame (forward, right, up), tilted down by `pitch`."""
    c, s = np.cos(pitch), np.sin(pitch)
    # forward = c z - s y ; right = x ; up = -s z - c y
    return np.array([[0.0, -s, c], [1.0, 0.0, 0.0], [0.0, -c, -s]])


def _face_sun(face: np.ndarray, ex: np.ndarray, ey: np.ndarray, sun: np.ndarray) -> np.ndarray:
    """cos(normal, sun) per hit: faces 0/1 are the box's -x/+x ends, 2/3 its -y/+y sides, 5 its roof."""
    along = (ex * sun[:2]).sum(-1)
    across = (ey * sun[:2]).sum(-1)
    out = np.where(face < 2, along, across) * np.where(face % 2 == 0, -1.0, 1.0)
    return np.where(face >= 4, sun[2], out)


def vehicle_colours(ids: np.ndarray, seed: int) -> np.ndarray:
    """(N, 3) float32 colours in [0.08, 0.95] from a hash of (seed, id): a car keeps its colour all episode."""
    with np.errstate(over="ignore"):
        x = ids.astype(np.uint64) ^ np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
        out = []
        for _ in range(3):  # splitmix64 steps
            x = x + np.uint64(0x9E3779B97F4A7C15)
            z = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
            out.append((z >> np.uint64(40)).astype(np.float64) / float(1 << 24))
    return (0.08 + 0.87 * np.stack(out, axis=-1)).astype(np.float32)


class Camera:
    """Renders frames for one `CameraConfig`; the per-pixel rays and ground footprints are computed here once."""

    def __init__(self, cfg: CameraConfig = CameraConfig()):
        self.cfg = cfg
        h, w = cfg.height, cfg.width
        u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)  # (H, W) pixel centres
        cam = np.stack([(u - cfg.cx) / cfg.fx, (v - cfg.cy) / cfg.fy, np.ones_like(u)], axis=-1)  # (H, W, 3)
        self.rot = _rotation(cfg.pitch)
        self.rays = (cam @ self.rot.T).reshape(-1, 3)  # (P, 3) mount frame (forward, right, up), z_c = 1
        up = self.rays[:, 2]  # the same along a row (no roll): a row is all road or all sky
        t = np.where(up < -1e-9, cfg.mount_height / np.maximum(-up, 1e-9), np.inf)
        ground = self.rays[:, :2] * np.where(np.isfinite(t), t, 0.0)[:, None]  # (P, 2) in the camera ground frame
        rows = np.flatnonzero(np.isfinite(t.reshape(h, w)[:, 0]))
        self.ground_start = int(rows[0]) * w if len(rows) else h * w  # ground pixels: ground_start .. P - 1
        self.ground = ground[self.ground_start:]  # (G, 2) [m] (forward, right) from the camera foot
        self.ground_dist = np.hypot(self.ground[:, 0], self.ground[:, 1])
        grid = np.where(np.isfinite(t), 1.0, np.nan)[:, None] * ground
        grid = grid.reshape(h, w, 2)
        with np.errstate(invalid="ignore"):
            du = np.hypot(*np.moveaxis(np.diff(grid, axis=1, append=grid[:, -1:] * 2 - grid[:, -2:-1]), -1, 0))
            dv = np.hypot(*np.moveaxis(np.diff(grid, axis=0, prepend=grid[:1] * 2 - grid[1:2]), -1, 0))
        self.footprint_lat = np.nan_to_num(du.reshape(-1)[self.ground_start:], nan=1e3) + 1e-3  # [m] per px
        self.footprint_long = np.nan_to_num(dv.reshape(-1)[self.ground_start:], nan=1e3) + 1e-3
        # sky: a vertical gradient by the ray's elevation; haze towards the horizon and far ground
        elev = np.clip(up / np.maximum(np.hypot(self.rays[:, 0], self.rays[:, 1]), 1e-9), 0.0, 0.5) / 0.5
        self.background = ((1 - elev)[:, None] * HAZE + elev[:, None] * SKY_TOP).astype(np.float32)  # (P, 3)
        # sensor noise: a fixed bank of standard normal draws, read at a random offset per frame
        self.noise_bank = np.random.default_rng(12345).standard_normal(h * w * 3 * 4, dtype=np.float32)
        fp = self.footprint_lat[:, None].astype(np.float32)
        self._inv_fp = 1.0 / fp  # (G, 1)
        self._mark_hi = MARKING_HALF_WIDTH + fp / 2
        self._mark_cap = np.minimum(1.0, 2 * MARKING_HALF_WIDTH / fp)
        self._long_fine = (self.footprint_long <= STRIPE_SPACING)[:, None]
        fog = np.clip((self.ground_dist - 0.5 * cfg.max_range) / (0.5 * cfg.max_range), 0.0, 1.0)[:, None]
        self.offroad = (OFFROAD * (1 - fog) + HAZE * fog).astype(np.float32)  # (G, 3) colours with the haze
        self.asphalt = (ASPHALT * (1 - fog) + HAZE * fog).astype(np.float32)
        self.marking = (MARKING * (1 - fog) + HAZE * fog).astype(np.float32)

    # -- geometry --------------------------------------------------------------------------------
    def pose(self, ego_position: np.ndarray, ego_heading: float) -> tuple[np.ndarray, float]:
        """(camera foot point (2,) [m] in the world, optical-axis heading [rad]) for an ego pose."""
        cfg = self.cfg
        f = np.array([np.cos(ego_heading), np.sin(ego_heading)])
        return np.asarray(ego_position, dtype=float) + cfg.forward_offset * f, float(ego_heading + cfg.yaw)

    def project(self, points: np.ndarray, ego_position: np.ndarray, ego_heading: float
                ) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) [m] (x, y, height) -> (pixels (N, 2), depth z_c (N,) [m]); NaN pixels behind."""
        pos, heading = self.pose(ego_position, ego_heading)
        p = np.asarray(points, dtype=float).reshape(-1, 3)
        rel = p[:, :2] - pos
        f = np.array([np.cos(heading), np.sin(heading)])
        r = np.array([-np.sin(heading), np.cos(heading)])
        mount = np.stack([rel @ f, rel @ r, p[:, 2] - self.cfg.mount_height], axis=-1)  # (N, 3)
        cam = mount @ self.rot  # inverse of an orthonormal rotation is its transpose
        z = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = np.stack([self.cfg.fx * cam[:, 0] / z + self.cfg.cx, self.cfg.fy * cam[:, 1] / z + self.cfg.cy], -1)
        uv[z <= NEAR] = np.nan
        return uv, z

    def ground_to_pixel_distance(self, distance: float) -> float:
        """Image row [px] (pixel-centre coordinates) where the road `distance` [m] straight ahead appears."""
        uv, _ = self.project(np.array([[distance, 0.0, 0.0]]), np.array([-self.cfg.forward_offset, 0.0]), 0.0)
        return float(uv[0, 1])

    # -- rendering -------------------------------------------------------------------------------
    def render(self, ego_position: np.ndarray, ego_heading: float, vehicles: Vehicles, road: RoadSegments,
               rng: np.random.Generator | None = None, colour_seed: int = 0) -> Frame:
        """One frame of the scene; `rng` draws the nuisances (None, or `nuisance=False`: a clean image)."""
        cfg = self.cfg
        h, w = cfg.height, cfg.width
        pos, heading = self.pose(ego_position, ego_heading)
        f = np.array([np.cos(heading), np.sin(heading)])
        r = np.array([-np.sin(heading), np.cos(heading)])
        self._road = road
        img = self.background.copy()  # (P, 3)
        world = pos + self.ground[:, :1] * f + self.ground[:, 1:] * r  # (G, 2)
        img[self.ground_start:] = self._ground(world)
        n = len(vehicles.ids)
        index = np.full(h * w, -1, dtype=np.int32)
        box = np.full((n, 4), np.nan)
        own = np.zeros(n, dtype=np.int64)
        if n:
            self._vehicles(img, index, box, own, pos, heading, f, r, vehicles, colour_seed)
        visible = np.bincount(index[index >= 0], minlength=n)[:n] if n else np.zeros(0, dtype=np.int64)
        image = img.reshape(h, w, 3)
        if cfg.nuisance and rng is not None:
            image = self._nuisances(image, rng)
        out = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        return Frame(out, index.reshape(h, w), box, own, visible.astype(np.int64))

    def _ground(self, world: np.ndarray) -> np.ndarray:
        """(G, 3) colours of the ground pixels at world points (G, 2)."""
        seg = self._segments_near(world)
        if seg is None:
            return self.offroad
        d = seg.direction.astype(np.float32)  # (K, 2)
        n = np.stack([-d[:, 1], d[:, 0]], axis=-1)  # lateral axis, highway-env's sign
        p = world.astype(np.float32)
        s = p @ d.T - (seg.start * seg.direction).sum(-1).astype(np.float32)  # (G, K) along each segment
        lat = p @ n.T - (seg.start.astype(np.float32) * n).sum(-1)  # (G, K) across it
        half = (seg.width / 2).astype(np.float32)
        along = (s >= -0.05) & (s <= seg.length.astype(np.float32) + 0.05)
        on_road = (along & (np.abs(lat) <= half)).any(axis=1)
        base = np.where(on_road[:, None], self.asphalt, self.offroad)
        marking = np.zeros(len(world), dtype=np.float32)
        for side, types in ((-1.0, seg.left), (1.0, seg.right)):
            drawn = types > 0
            if not drawn.any():
                continue
            dist = np.abs(lat[:, drawn] - side * half[drawn])  # (G, K') [m] to the line
            # fraction of the pixel's lateral footprint covered by the 2 * MARKING_HALF_WIDTH line
            cov = np.clip((self._mark_hi - dist) * self._inv_fp, 0.0, self._mark_cap)
            dashed = types[drawn] == 1
            if dashed.any():
                x = s[:, drawn] + seg.s0[drawn].astype(np.float32)
                phase = x - np.floor(x * np.float32(1 / STRIPE_SPACING)) * np.float32(STRIPE_SPACING)  # np.mod is slow
                stripe = np.where(self._long_fine, (phase < STRIPE_LENGTH).astype(np.float32),
                                  np.float32(STRIPE_LENGTH / STRIPE_SPACING))
                cov = np.where(dashed, cov * stripe, cov)
            marking = np.maximum(marking, (cov * along[:, drawn]).max(axis=1))
        return base + marking[:, None] * (self.marking - base)

    def _segments_near(self, world: np.ndarray) -> RoadSegments | None:
        """The road segments that can reach the drawn ground (a cheap bounding-circle test)."""
        seg = self._road
        if seg is None or len(seg.length) == 0:
            return None
        if len(seg.length) <= 8:
            return seg
        centre = world.mean(axis=0)
        radius = float(np.max(np.hypot(*(world - centre).T))) if len(world) else 0.0
        mid = seg.start + seg.direction * (seg.length / 2)[:, None]
        keep = np.hypot(*(mid - centre).T) <= radius + seg.length / 2 + seg.width
        if not keep.any():
            return None
        return RoadSegments(*(a[keep] for a in seg))

    _road: RoadSegments | None = None  # the road of the frame being rendered

    def _vehicles(self, img: np.ndarray, index: np.ndarray, box: np.ndarray, own: np.ndarray, pos: np.ndarray,
                  heading: float, f: np.ndarray, r: np.ndarray, veh: Vehicles, colour_seed: int) -> None:
        """Ray-cast every vehicle box within its screen-space bounding box, all (pixel, vehicle) pairs at once;
        each pixel shows the nearest box it meets (the farthest drawn first, the nearest last)."""
        cfg = self.cfg
        h, w = cfg.height, cfg.width
        hv, shadow = cfg.vehicle_height, 0.4  # [m] box height, shadow margin around the footprint
        rel = veh.position - pos  # (N, 2)
        a, b = rel @ f, rel @ r  # (N,) forward, right of the camera foot
        cand = np.flatnonzero((np.hypot(a, b) <= cfg.max_range) & (a > -(veh.length + veh.width)))
        if len(cand) == 0:
            return
        phi = veh.heading[cand] - heading
        c, s = np.cos(phi), np.sin(phi)
        ex, ey = np.stack([c, s], -1), np.stack([-s, c], -1)  # (V, 2) box axes in the camera ground frame
        hl, hw = veh.length[cand] / 2, veh.width[cand] / 2
        sx = np.array([-1, 1, 1, -1] * 2, dtype=float)
        sy = np.array([-1, -1, 1, 1] * 2, dtype=float)
        lx, ly = sx * (hl + shadow)[:, None], sy * (hw + shadow)[:, None]  # (V, 8)
        corners = np.stack([a[cand, None] + lx * ex[:, :1] + ly * ey[:, :1],
                            b[cand, None] + lx * ex[:, 1:] + ly * ey[:, 1:],
                            np.broadcast_to(np.repeat([0.0, hv], 4) - cfg.mount_height, lx.shape)], -1)  # (V, 8, 3)
        cam = corners @ self.rot  # (V, 8, 3)
        z = cam[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uu = cfg.fx * cam[..., 0] / z + cfg.cx
            vv = cfg.fy * cam[..., 1] / z + cfg.cy
        crossing = (z <= NEAR).any(axis=1)  # straddles the camera plane: test every pixel
        x0 = np.where(crossing, 0, np.clip(np.floor(uu.min(1)), 0, w)).astype(int)
        x1 = np.where(crossing, w, np.clip(np.ceil(uu.max(1)), 0, w)).astype(int)
        y0 = np.where(crossing, 0, np.clip(np.floor(vv.min(1)), 0, h)).astype(int)
        y1 = np.where(crossing, h, np.clip(np.ceil(vv.max(1)), 0, h)).astype(int)
        keep = ~(z <= NEAR).all(axis=1) & (x1 > x0) & (y1 > y0)
        pix_l, vid_l = [], []
        for k in np.flatnonzero(keep):
            p = (np.arange(y0[k], y1[k])[:, None] * w + np.arange(x0[k], x1[k])[None, :]).reshape(-1)
            pix_l.append(p)
            vid_l.append(np.full(len(p), k))
        if not pix_l:
            return
        pix, vid = np.concatenate(pix_l), np.concatenate(vid_l)  # (Q,) pairs
        d = self.rays[pix]  # (Q, 3)
        exq, eyq = ex[vid], ey[vid]
        ox = -(a[cand] * ex[:, 0] + b[cand] * ex[:, 1])[vid]  # camera foot in each box frame
        oy = -(a[cand] * ey[:, 0] + b[cand] * ey[:, 1])[vid]
        dx = d[:, 0] * exq[:, 0] + d[:, 1] * exq[:, 1]
        dy = d[:, 0] * eyq[:, 0] + d[:, 1] * eyq[:, 1]
        hlq, hwq = hl[vid], hw[vid]
        t_near = np.full(len(pix), -np.inf)
        t_far = np.full(len(pix), np.inf)
        face = np.zeros(len(pix), dtype=np.int8)
        with np.errstate(divide="ignore", invalid="ignore"):
            slabs = ((ox, dx, hlq), (oy, dy, hwq), (cfg.mount_height - hv / 2, d[:, 2], hv / 2))
            for k, (oo, dd, half) in enumerate(slabs):
                t1, t2 = (-half - oo) / dd, (half - oo) / dd
                inside = np.abs(oo) <= half
                lo = np.where(dd == 0, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
                hi = np.where(dd == 0, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
                # face 2 k is the one at -half, 2 k + 1 at +half: the ray enters through +half when moving down the axis
                face = np.where(lo > t_near, 2 * k + (dd < 0), face).astype(np.int8)
                t_near = np.maximum(t_near, lo)
                t_far = np.minimum(t_far, hi)
        hit = (t_near <= t_far) & (t_near > 0)
        # silhouettes as if alone: own pixel counts and full 2D boxes
        hv_idx = vid[hit]
        counts = np.bincount(hv_idx, minlength=len(cand))
        own[cand] = counts
        ys, xs = np.divmod(pix[hit], w)
        seen = counts > 0
        for arr, fn, col, extra in ((xs, np.minimum, 0, 0), (ys, np.minimum, 1, 0), (xs, np.maximum, 2, 1),
                                    (ys, np.maximum, 3, 1)):
            init = np.full(len(cand), np.iinfo(np.int64).max if fn is np.minimum else -1, dtype=np.int64)
            fn.at(init, hv_idx, arr)
            box[cand[seen], col] = init[seen] + extra
        # contact shadows on road pixels under and around each car (before any car is painted)
        g_t = np.where(d[:, 2] < 0, cfg.mount_height / np.maximum(-d[:, 2], 1e-9), np.inf)
        with np.errstate(invalid="ignore"):
            gx, gy = ox + g_t * dx, oy + g_t * dy
            dark = np.clip(np.minimum(hlq + shadow - np.abs(gx), hwq + shadow - np.abs(gy)) / shadow, 0.0, 1.0)
        under = np.isfinite(g_t) & (dark > 0)
        if under.any():
            factor = np.ones(h * w, dtype=np.float32)
            np.minimum.at(factor, pix[under], (1.0 - 0.55 * dark[under]).astype(np.float32))
            img *= factor[:, None]
        if not hit.any():
            return
        # painter's order with a depth test: per pixel, the nearest hit wins
        q, t, fc, v = pix[hit], t_near[hit], face[hit], vid[hit]
        order = np.lexsort((t, q))
        q, t, fc, v = q[order], t[order], fc[order], v[order]
        first = np.ones(len(q), dtype=bool)
        first[1:] = q[1:] != q[:-1]
        q, t, fc, v = q[first], t[first], fc[first], v[first]
        index[q] = cand[v]
        # shading by a fixed sun (world frame) on the face normals, expressed in the camera ground frame
        sun = np.array([SUN[0] * np.cos(heading) + SUN[1] * np.sin(heading),
                        -SUN[0] * np.sin(heading) + SUN[1] * np.cos(heading), SUN[2]])
        light = (0.45 + 0.55 * np.clip(_face_sun(fc, ex[v], ey[v], sun), 0.0, 1.0)).astype(np.float32)
        col = vehicle_colours(veh.ids[cand], colour_seed)[v] * light[:, None]
        z_hit = cfg.mount_height + t * self.rays[q, 2]
        glass = (fc < 4) & (z_hit > 0.55 * hv) & (z_hit < 0.92 * hv)
        col[glass] = GLASS * light[glass, None]
        img[q] = col

    def _nuisances(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        cfg = self.cfg
        gain = 1.0 + rng.uniform(-cfg.brightness, cfg.brightness)
        contrast = 1.0 + rng.uniform(-cfg.contrast, cfg.contrast)
        channel = 1.0 + rng.normal(0.0, cfg.colour_shift, 3)
        noise_std = rng.uniform(0.0, cfg.noise_std)
        blur = rng.random() < cfg.blur_prob
        offset = int(rng.integers(0, len(self.noise_bank) - image.size))
        noise = self.noise_bank[offset:offset + image.size].reshape(image.shape)
        mean = float(image.mean())
        out = ((image - mean) * contrast + mean) * (gain * channel).astype(np.float32)
        if blur:  # separable [1, 2, 1] / 4 kernel, edges replicated
            p = np.pad(out, ((1, 1), (1, 1), (0, 0)), mode="edge")
            out = (p[:-2] + 2 * p[1:-1] + p[2:]) * 0.25
            out = (out[:, :-2] + 2 * out[:, 1:-1] + out[:, 2:]) * 0.25
        return out + noise * np.float32(noise_std)


def camera_view(env: Any, camera: Camera, rng: np.random.Generator | None = None, colour_seed: int = 0
                ) -> tuple[Frame, Vehicles]:
    """Render `camera` on the ego of a highway-env `env`; returns the frame and the vehicles its rows index."""
    base = env.unwrapped
    veh = scene_vehicles(env)
    ego = base.vehicle
    return camera.render(np.asarray(ego.position, dtype=float), float(ego.heading), veh, road_segments(base.road),
                         rng, colour_seed), veh


__all__ = ["CAMERA_SETS", "SIDE_FOCAL", "SIDE_OFFSET", "Camera", "CameraConfig", "Frame", "RoadSegments", "Vehicles",
           "camera_set", "camera_view", "rear_camera", "road_segments", "scene_vehicles", "side_camera",
           "vehicle_colours"]
