"""Camera: pinhole projection against closed forms, rendered boxes and occlusion on hand-built scenes."""

from __future__ import annotations

import time

import numpy as np
import pytest

from pilotlab.core.errors import PilotlabError
from pilotlab.drive.camera import (
    SIDE_FOCAL,
    SIDE_OFFSET,
    Camera,
    CameraConfig,
    RoadSegments,
    Vehicles,
    camera_set,
    rear_camera,
    side_camera,
)

CLEAN = CameraConfig(nuisance=False, pitch=0.0, forward_offset=0.0)
ROAD = RoadSegments(np.array([[-1000.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([3000.0]), np.array([4.0]),
                    np.zeros(1), np.array([2]), np.array([2]))  # one 4 m lane along x, ego on its centre line


def _vehicles(rows: list[tuple[float, float]], heading: float = 0.0) -> Vehicles:
    p = np.array(rows, dtype=float).reshape(-1, 2)
    n = len(p)
    return Vehicles(np.arange(n, dtype=np.int64) + 7, p, np.full(n, heading), np.full(n, 5.0), np.full(n, 2.0))


def test_projection_closed_form() -> None:
    cam = Camera(CLEAN)
    h, fx, fy, cx, cy = CLEAN.mount_height, CLEAN.fx, CLEAN.fy, CLEAN.cx, CLEAN.cy
    pts = np.array([[20.0, 0.0, 0.0], [20.0, 3.0, h], [10.0, -2.0, 0.5], [-5.0, 0.0, 0.0]])
    uv, z = cam.project(pts, np.zeros(2), 0.0)
    assert uv[0] == pytest.approx([cx, cy + fy * h / 20.0])  # a road point ahead: below the centre by fy h / d
    assert uv[1] == pytest.approx([cx + fx * 3.0 / 20.0, cy])  # at the camera's height: on the centre row
    assert uv[2] == pytest.approx([cx - fx * 2.0 / 10.0, cy + fy * (h - 0.5) / 10.0])
    assert z[:3] == pytest.approx([20.0, 20.0, 10.0]) and np.isnan(uv[3]).all()  # behind the camera: no pixel
    # the ego turned by 90 degrees sees the world turned with it
    uv90, _ = cam.project(np.array([[0.0, 20.0, 0.0]]), np.zeros(2), np.pi / 2)
    assert uv90[0] == pytest.approx(uv[0])


def test_pitch_and_mount_offsets() -> None:
    pitch = 0.1
    cfg = CameraConfig(nuisance=False, pitch=pitch, forward_offset=1.5)
    cam = Camera(cfg)
    d = cfg.mount_height / np.tan(pitch)  # where the optical axis meets the road, ahead of the camera
    uv, _ = cam.project(np.array([[1.5 + d, 0.0, 0.0]]), np.zeros(2), 0.0)
    assert uv[0] == pytest.approx([cfg.cx, cfg.cy])
    # the horizon (a point far ahead at the camera's height) lies fy tan(pitch) above the centre
    uv, _ = cam.project(np.array([[1e7, 0.0, cfg.mount_height]]), np.zeros(2), 0.0)
    assert uv[0, 1] == pytest.approx(cfg.cy - cfg.fy * np.tan(pitch), abs=1e-3)
    rear = Camera(rear_camera(cfg))
    uv, _ = rear.project(np.array([[-2.5 - d, 0.0, 0.0]]), np.zeros(2), 0.0)
    assert uv[0] == pytest.approx([cfg.cx, cfg.cy])


def test_side_cameras_closed_form() -> None:
    """The side cameras: yaw -+pi/2 at `SIDE_OFFSET` along the heading, focal length `SIDE_FOCAL`; a point
    beside the mount at the camera's height lands on the centre, a road point d aside fy h / d below it, and
    a point ahead of the mount lands left of centre in the right camera, right of it in the left one."""
    h = CLEAN.mount_height
    right, left = Camera(side_camera(CLEAN, "right")), Camera(side_camera(CLEAN, "left"))
    f = SIDE_FOCAL
    assert right.cfg.fx == right.cfg.fy == f and right.cfg.forward_offset == SIDE_OFFSET
    # highway-env's +y is the ego's right
    pts = np.array([[SIDE_OFFSET, 6.0, h], [SIDE_OFFSET, 5.0, 0.0], [SIDE_OFFSET + 3.0, 4.0, h]])
    uv, z = right.project(pts, np.zeros(2), 0.0)
    assert uv[0] == pytest.approx([CLEAN.cx, CLEAN.cy]) and z[0] == pytest.approx(6.0)
    assert uv[1] == pytest.approx([CLEAN.cx, CLEAN.cy + f * h / 5.0])
    assert uv[2] == pytest.approx([CLEAN.cx - f * 3.0 / 4.0, CLEAN.cy])
    mirrored = pts * np.array([1.0, -1.0, 1.0])
    uv_l, z_l = left.project(mirrored, np.zeros(2), 0.0)
    assert uv_l[2] == pytest.approx([CLEAN.cx + f * 3.0 / 4.0, CLEAN.cy]) and z_l == pytest.approx(z)
    assert np.isnan(right.project(mirrored[:1], np.zeros(2), 0.0)[0]).all()  # the left side: behind it
    with pytest.raises(PilotlabError, match="side"):
        side_camera(CLEAN, "up")


def test_four_cameras_cover_the_full_circle() -> None:
    """front + rear + sides: every car centre in the ego's lane (beyond touching) and in the two lanes each side,
    100 m ahead to 100 m behind, and every direction at 30 and 100 m, lands inside some image 8 px clear of its
    side edges (the coverage margin of the loop); front + rear leaves the cars alongside out."""
    every = [Camera(c) for c in camera_set("front+rear+sides", CameraConfig()).values()]
    assert len(every) == 4 and len(camera_set("front+rear")) == 2
    x = np.arange(-100.0, 100.0, 0.25)
    lanes = [np.column_stack([x, np.full(len(x), y)]) for y in (-8.0, -4.0, 0.0, 4.0, 8.0)]
    ang = np.linspace(-np.pi, np.pi, 721)
    rings = [r * np.column_stack([np.cos(ang), np.sin(ang)]) for r in (30.0, 100.0)]
    p = np.concatenate(lanes + rings)
    p = p[(np.abs(p[:, 0]) >= 5.0) | (np.abs(p[:, 1]) >= 2.0)]  # closer would overlap the ego (5 m x 2 m)
    p = np.column_stack([p, np.full(len(p), 0.75)])
    seen = np.zeros(len(p), dtype=bool)
    pair = np.zeros(len(p), dtype=bool)
    for k, cam in enumerate(every):
        uv, z = cam.project(p, np.zeros(2), 0.0)
        with np.errstate(invalid="ignore"):
            inside = (z > 0) & (uv[:, 0] >= 8) & (uv[:, 0] <= cam.cfg.width - 8)
        seen |= inside
        if k < 2:
            pair |= inside
    assert seen.all(), p[~seen]
    alongside = (np.abs(p[:, 0]) < 5.0) & (np.abs(p[:, 1]) == 4.0)
    assert alongside.any() and not pair[alongside].any()  # neither front nor rear sees the next lane's car


def test_car_alongside_shows_in_its_side_camera() -> None:
    """A car in the next lane to the right, level with the ego: whole (wheels to roof) in the right camera,
    absent from the left one, its box around the projection of its near side."""
    cfg = CameraConfig(nuisance=False, pitch=0.0)
    right, left = Camera(side_camera(cfg, "right")), Camera(side_camera(cfg, "left"))
    road = RoadSegments(np.array([[-1000.0, -2.0], [-1000.0, 2.0]]), np.array([[1.0, 0.0], [1.0, 0.0]]),
                        np.array([3000.0, 3000.0]), np.array([4.0, 4.0]), np.zeros(2), np.array([2, 1]),
                        np.array([1, 2]))
    veh = _vehicles([(SIDE_OFFSET, 4.0)])  # near side 3 m from the lens, 5 m long, 1.5 m high
    frame = right.render(np.zeros(2), 0.0, veh, road)
    assert frame.visible_pixels[0] == frame.own_pixels[0] > 0
    assert left.render(np.zeros(2), 0.0, veh, road).own_pixels[0] == 0
    f, h = SIDE_FOCAL, cfg.mount_height
    expect = (cfg.cx - f * 2.5 / 3.0, cfg.cy + f * (h - 1.5) / 3.0, cfg.cx + f * 2.5 / 3.0, cfg.cy + f * h / 3.0)
    assert frame.box[0] == pytest.approx(expect, abs=1.0)


def test_rendered_box_matches_the_projected_rear_face() -> None:
    cam = Camera(CLEAN)
    veh = _vehicles([(22.5, 0.0)])  # rear face at 20 m, 2 m wide, 1.5 m high
    frame = cam.render(np.zeros(2), 0.0, veh, ROAD)
    fx, fy, cx, cy, h = CLEAN.fx, CLEAN.fy, CLEAN.cx, CLEAN.cy, CLEAN.mount_height
    expect = (cx - fx * 1.0 / 20, cy + fy * (h - 1.5) / 20, cx + fx * 1.0 / 20, cy + fy * h / 20)
    assert frame.box[0] == pytest.approx(expect, abs=1.0)  # pixel-centre sampling: within one pixel
    assert frame.own_pixels[0] == frame.visible_pixels[0] > 0
    assert (frame.object_index == 0).sum() == frame.visible_pixels[0]
    # the box is where the car is drawn: inside it the car's colour, outside asphalt
    x0, y0, x1, y1 = frame.box[0].astype(int)
    inside = frame.image[y0:y1, x0:x1].reshape(-1, 3).astype(int)
    assert (frame.object_index[y0:y1, x0:x1] == 0).mean() > 0.8
    empty = cam.render(np.zeros(2), 0.0, _vehicles([]), ROAD)
    assert np.abs(inside - empty.image[y0:y1, x0:x1].reshape(-1, 3).astype(int)).sum(1).mean() > 20


def test_occlusion_nearest_wins_whatever_the_order() -> None:
    cam = Camera(CLEAN)
    near, far = (15.0, 0.0), (30.0, 0.5)
    a = cam.render(np.zeros(2), 0.0, _vehicles([far, near]), ROAD)
    b = cam.render(np.zeros(2), 0.0, _vehicles([near, far]), ROAD)
    assert a.visible_pixels[1] == a.own_pixels[1]  # the near car is whole
    assert a.visible_pixels[0] < 0.5 * a.own_pixels[0]  # the far one mostly hidden behind it
    np.testing.assert_array_equal(a.visible_pixels[::-1], b.visible_pixels)
    np.testing.assert_array_equal(a.object_index, np.where(b.object_index >= 0, 1 - b.object_index, -1))
    # a car off to the side is not hidden
    c = cam.render(np.zeros(2), 0.0, _vehicles([near, (30.0, -8.0)]), ROAD)
    assert c.visible_pixels[1] == c.own_pixels[1] > 0
    # behind the camera: not drawn, no box
    d = cam.render(np.zeros(2), 0.0, _vehicles([(-20.0, 0.0)]), ROAD)
    assert d.own_pixels[0] == 0 and np.isnan(d.box[0]).all()


def test_markings_lie_where_the_lane_edges_project() -> None:
    cam = Camera(CLEAN)
    frame = cam.render(np.zeros(2), 0.0, _vehicles([]), ROAD)
    row = int(CLEAN.cy + CLEAN.fy * CLEAN.mount_height / 10.0)  # the road 10 m ahead (at the row's centre)
    dist = CLEAN.fy * CLEAN.mount_height / (row + 0.5 - CLEAN.cy)
    bright = frame.image[row].astype(int).sum(-1)
    cols = np.flatnonzero(bright > bright.max() - 60)
    expect = [CLEAN.cx + CLEAN.fx * s * 2.0 / dist - 0.5 for s in (-1, 1)]  # edges at +-2 m
    assert min(abs(cols - expect[0])) <= 1 and min(abs(cols - expect[1])) <= 1


def test_nuisances_are_seeded() -> None:
    cam = Camera(CameraConfig())
    veh = _vehicles([(20.0, 0.0)])
    a = cam.render(np.zeros(2), 0.0, veh, ROAD, np.random.default_rng(3)).image
    b = cam.render(np.zeros(2), 0.0, veh, ROAD, np.random.default_rng(3)).image
    c = cam.render(np.zeros(2), 0.0, veh, ROAD, np.random.default_rng(4)).image
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c).mean() > 0.5
    d = cam.render(np.zeros(2), 0.0, veh, ROAD, np.random.default_rng(3), colour_seed=1).image
    assert not np.array_equal(a, d)  # other vehicle colours


def test_bad_config_is_refused() -> None:
    with pytest.raises(PilotlabError, match="focal"):
        CameraConfig(fx=0.0)
    with pytest.raises(PilotlabError, match="pitch"):
        CameraConfig(pitch=2.0)


def test_render_speed_floor() -> None:
    """A generous floor (the measured rate is in docs/drive.md); CPU time, so other processes do not count."""
    cam = Camera(CameraConfig())
    veh = _vehicles([(15.0, 0.0), (30.0, 4.0), (45.0, -4.0), (60.0, 0.0), (80.0, 4.0), (-20.0, 0.0)])
    rng = np.random.default_rng(0)
    cam.render(np.zeros(2), 0.0, veh, ROAD, rng)
    n = 40
    t = time.process_time()
    for _ in range(n):
        cam.render(np.zeros(2), 0.0, veh, ROAD, rng)
    assert n / (time.process_time() - t) > 60.0
