"""Sensors: ray casting against the closed form, determinism for a seed; detection box fits."""

from __future__ import annotations

import numpy as np
import pytest

from pilotlab.drive.detection import box_centre, detect
from pilotlab.drive.envs import EgoState, Objects
from pilotlab.drive.sensors import SensorConfig, lidar_scan, radar_scan, ray_box_distances, visible

EGO = EgoState(np.zeros(2), 0.0, 25.0, ("0", "1", 1), 25.0)


def _objects(pos: list[tuple[float, float]], speed: float = 20.0) -> Objects:
    p = np.array(pos, dtype=float)
    return Objects(np.arange(len(p)), p, np.tile([speed, 0.0], (len(p), 1)), np.zeros(len(p)))


def test_ray_box_distance_closed_form() -> None:
    # a car centred 20 m ahead: the ray along +x meets its rear face at 20 - 2.5 m
    d = ray_box_distances(np.zeros(2), np.array([0.0, np.pi / 2, np.pi]), np.array([[20.0, 0.0]]), np.zeros(1))
    assert d[0, 0] == pytest.approx(17.5)
    assert np.isinf(d[0, 1]) and np.isinf(d[0, 2])
    # a car 10 m to the side (y), rotated 90 degrees: the ray along +y meets its long side at 10 - 2.5 m
    d = ray_box_distances(np.zeros(2), np.array([np.pi / 2]), np.array([[0.0, 10.0]]), np.array([np.pi / 2]))
    assert d[0, 0] == pytest.approx(7.5)
    # a diagonal ray into a face: hits x = 17.5 at distance 17.5 / cos(angle)
    a = np.arctan2(0.5, 17.5)
    d = ray_box_distances(np.zeros(2), np.array([a]), np.array([[20.0, 0.0]]), np.zeros(1))
    assert d[0, 0] == pytest.approx(17.5 / np.cos(a))


def test_noise_free_lidar_is_exact_and_occlusion_holds() -> None:
    cfg = SensorConfig(lidar_noise=0.0, lidar_dropout=0.0)
    objs = _objects([(20.0, 0.0), (40.0, 0.0)])  # the second car hides behind the first
    scan = lidar_scan(EGO, objs, cfg, np.random.default_rng(0))
    ahead = np.argmin(np.abs(np.angle(np.exp(1j * scan.angles))))
    assert scan.hit[ahead] and scan.ranges[ahead] == pytest.approx(17.5 / np.cos(scan.angles[ahead]))
    assert 1 not in set(scan.hit_index[scan.hit_index >= 0])
    np.testing.assert_array_equal(visible(EGO, objs, 100.0), [True, False])


@pytest.mark.parametrize("sensor", [lidar_scan, radar_scan])
def test_sensors_deterministic_for_a_seed(sensor: object) -> None:
    objs = _objects([(20.0, 0.0), (30.0, 4.0), (-25.0, -4.0), (60.0, 0.0)])
    cfg = SensorConfig()
    a = sensor(EGO, objs, cfg, np.random.default_rng(7))  # type: ignore[operator]
    b = sensor(EGO, objs, cfg, np.random.default_rng(7))  # type: ignore[operator]
    c = sensor(EGO, objs, cfg, np.random.default_rng(8))  # type: ignore[operator]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c))


def test_radar_measures_range_bearing_and_range_rate() -> None:
    cfg = SensorConfig(radar_range_noise=0.0, radar_bearing_noise=0.0, radar_rate_noise=0.0,
                       radar_detect_prob=1.0, radar_false_alarms=0.0)
    scan = radar_scan(EGO, _objects([(100.0, 4.0)], speed=20.0), cfg, np.random.default_rng(0))
    assert len(scan.range) == 1
    assert scan.range[0] == pytest.approx(np.hypot(100.0, 4.0))
    assert scan.bearing[0] == pytest.approx(np.arctan2(4.0, 100.0))
    u = np.array([100.0, 4.0]) / np.hypot(100.0, 4.0)
    assert scan.range_rate[0] == pytest.approx((20.0 - 25.0) * u[0])  # closing at 5 m/s along the road
    out_of_view = radar_scan(EGO, _objects([(5.0, 30.0)]), cfg, np.random.default_rng(0))
    assert len(out_of_view.range) == 0


@pytest.mark.parametrize("centre", [(20.0, 0.0), (25.0, 4.0), (-18.0, -4.0), (1.0, 4.0)])
def test_box_fit_recovers_the_centre(centre: tuple[float, float]) -> None:
    cfg = SensorConfig(lidar_noise=0.0, lidar_dropout=0.0)
    objs = _objects([centre])
    scan = lidar_scan(EGO, objs, cfg, np.random.default_rng(0))
    pts = scan.ranges[scan.hit, None] * np.stack([np.cos(scan.angles[scan.hit]), np.sin(scan.angles[scan.hit])], -1)
    est = box_centre(pts, np.zeros(2), 0.0)
    assert np.hypot(*(est - np.array(centre))) < 1.0


def test_detect_fuses_lidar_and_radar() -> None:
    cfg = SensorConfig(lidar_noise=0.0, lidar_dropout=0.0, radar_false_alarms=0.0, radar_detect_prob=1.0)
    objs = _objects([(20.0, 0.0), (120.0, 8.0)])  # the far car is not hidden behind the near one
    rng = np.random.default_rng(1)
    det = detect(EGO, lidar_scan(EGO, objs, cfg, rng), radar_scan(EGO, objs, cfg, rng), cfg)
    assert sorted(det.source.tolist()) == [1, 2]  # near car: lidar + radar; far car: radar only
    near = int(np.argmax(det.source))
    assert np.hypot(*(det.position[near] - [20.0, 0.0])) < 1.0
    assert det.radial_velocity[near] == pytest.approx(20.0, abs=1.0)  # ground-frame speed along the road


def test_lidar_points_of_one_car_make_one_cluster() -> None:
    """A car's rear face and a lone point grazing its side 4.6 m further along: two clusters without the
    one-car join (the second fitted as a phantom car half a length beyond its point), one with it."""
    from pilotlab.drive.detection import DetectorConfig, cluster_rays
    from pilotlab.drive.sensors import LidarScan

    n = 180
    angles = (np.arange(n) + 0.5) * (2 * np.pi / n) - np.pi
    points = {90: (34.6, 3.0), 91: (30.0, 3.3), 92: (30.0, 4.3)}  # rays near 5 deg: the side, then the rear face
    ranges = np.full(n, 50.0)
    hit = np.zeros(n, dtype=bool)
    for k, (x, y) in points.items():
        angles[k] = np.arctan2(y, x)
        ranges[k] = np.hypot(x, y)
        hit[k] = True
    scan = LidarScan(angles, ranges, hit, np.where(hit, 0, -1))
    joined = cluster_rays(scan, np.zeros(2), 0.0, DetectorConfig())
    split = cluster_rays(scan, np.zeros(2), 0.0, DetectorConfig(one_car_extent=None))
    assert [list(c) for c in joined] == [[90, 91, 92]]
    assert [list(c) for c in split] == [[90], [91, 92]]
    # a point on a car a lane over (4 m across) is never joined
    other = angles.copy()
    other[90] = np.arctan2(-1.0, 34.6)
    scan2 = scan._replace(angles=other, ranges=np.where(np.arange(n) == 90, np.hypot(34.6, -1.0), ranges))
    assert [list(c) for c in cluster_rays(scan2, np.zeros(2), 0.0, DetectorConfig())] == [[90], [91, 92]]


def test_a_cluster_cut_off_by_a_nearer_car_gets_a_wider_along_road_std() -> None:
    """Rays 4-6 hit a car at 10 m, rays 7-9 the car behind it at 20 m: that one's first end is cut off (the ray
    beside it returned 10 m closer), so the face its box fit starts from may be hidden; the near car is not."""
    from pilotlab.drive.detection import DetectorConfig, hidden_ends
    from pilotlab.drive.sensors import LidarScan, RadarScan

    angles = np.radians(np.arange(0.0, 360.0, 2.0))
    ranges = np.full(len(angles), 50.0)
    hit = np.zeros(len(angles), dtype=bool)
    ranges[4:7], hit[4:7] = 10.0, True
    ranges[7:10], hit[7:10] = 20.0, True
    scan = LidarScan(angles, ranges, hit, np.full(len(angles), -1))
    cfg = DetectorConfig(occluded_std=3.0)
    assert hidden_ends(scan, np.arange(7, 10), cfg) == (True, False)
    assert hidden_ends(scan, np.arange(4, 7), cfg) == (False, False)
    no_radar = RadarScan(*(np.zeros(0),) * 3, np.zeros(0, dtype=int))
    det = detect(EGO, scan, no_radar, SensorConfig(), cfg)
    assert len(det.position) == 2
    along = np.sqrt(det.position_cov[:, 0, 0])  # the ego heads along x: x is along the road
    far = int(np.argmax(np.hypot(*det.position.T)))
    assert along[far] == pytest.approx(3.0)
    assert along[1 - far] == pytest.approx(cfg.lidar_position_std[0])
