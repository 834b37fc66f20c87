"""Sensors: ray casting against the closed form, determinism for a seed; detection box fits."""

from __future__ import annotations

import numpy as np
import pytest

from pilotlab.drive.detection import box_centre, detect
from pilotlab.drive.envs import EgoState, Objects
from pilotlab.drive.sensors import LidarScan, SensorConfig, lidar_scan, radar_scan, ray_box_distances, visible

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
    cfg = DetectorConfig(occluded_std=3.0, box_fit="faces")  # the face fit's fixed stds
    assert hidden_ends(scan, np.arange(7, 10), cfg) == (True, False)
    assert hidden_ends(scan, np.arange(4, 7), cfg) == (False, False)
    no_radar = RadarScan(*(np.zeros(0),) * 3, np.zeros(0, dtype=int))
    det = detect(EGO, scan, no_radar, SensorConfig(), cfg)
    assert len(det.position) == 2
    along = np.sqrt(det.position_cov[:, 0, 0])  # the ego heads along x: x is along the road
    far = int(np.argmax(np.hypot(*det.position.T)))
    assert along[far] == pytest.approx(3.0)
    assert along[1 - far] == pytest.approx(cfg.lidar_position_std[0])


def _scan(rays: dict[float, float | None]) -> LidarScan:
    """A hand-built sweep: the listed bearings [deg], each mapped to a range [m] (None: the ray returned nothing),
    and rays every 2 degrees outside their span (from 1 degree beyond), which return nothing."""
    listed = sorted(rays)
    rest = [a for a in np.arange(-179.0, 180.0, 2.0) if not listed[0] - 1.0 < a < listed[-1] + 1.0]
    deg = np.array(sorted(rest + listed))
    ranges = np.array([rays.get(a) or 50.0 for a in deg])
    hit = np.array([a in rays and rays[a] is not None for a in deg])
    return LidarScan(np.radians(deg), ranges, hit, np.where(hit, 0, -1))


# A car centred at (21, 3.5) along x: its near side is y = 2.5, x in [18.5, 23.5]. One ray meets that side at
# (20, 2.5); the free ray before it crosses y = 2.5 at x = 26 (so the car ends before 26 m), the free ray after it
# passes the height 4.5 (the far side) at x = 17 (so the car starts after 17 m): centres 19.5-22.5 m explain the
# scan, a 3 m interval (std 3 / sqrt(12) = 0.87 m), mean 21.0.
SIDE_RAY = float(np.degrees(np.arctan2(2.5, 20.0)))
BEFORE, AFTER = float(np.degrees(np.arctan2(2.5, 26.0))), float(np.degrees(np.arctan2(4.5, 17.0)))


def test_model_fit_of_a_side_seen_by_one_grazing_ray_bounded_by_free_rays() -> None:
    from pilotlab.drive.detection import fit_box

    scan = _scan({BEFORE: None, SIDE_RAY: float(np.hypot(20.0, 2.5)), AFTER: None})
    rays = np.flatnonzero(scan.hit)
    centre, std, heading, _ = fit_box(scan, rays, np.zeros(2), 0.0, 50.0)
    assert heading == 0.0
    # the corner's end (the point on the rear face too) holds a little more weight than the rest of the interval
    assert centre == pytest.approx([21.0, 3.5], abs=0.5)
    assert 0.6 < std[0] < 1.2 and std[1] < 0.3
    # the face fit takes the one point for the rear face: half a car beyond it, and across on the point
    old = box_centre(scan.ranges[rays, None] * np.stack([np.cos(scan.angles[rays]), np.sin(scan.angles[rays])], -1),
                     np.zeros(2), 0.0)
    assert np.hypot(*(old - [21.0, 3.5])) > 1.0


def test_model_fit_of_a_car_with_hidden_ends_keeps_a_wide_std() -> None:
    """The same ray on the side, but the rays beside it return from a nearer car: nothing bounds the car along
    the road but its point (centres 17.5-22.5 m), and the detection's along-road std says so."""
    from pilotlab.drive.detection import fit_box
    from pilotlab.drive.sensors import RadarScan

    scan = _scan({BEFORE: 8.0, SIDE_RAY: float(np.hypot(20.0, 2.5)), AFTER: 8.0})
    rays = np.flatnonzero(scan.ranges > 10.0)[np.flatnonzero(scan.hit[scan.ranges > 10.0])]
    centre, std, _, _ = fit_box(scan, rays, np.zeros(2), 0.0, 50.0)
    assert 17.5 - 0.3 < centre[0] < 22.5 + 0.3 and std[0] > 1.2
    bounded = fit_box(_scan({BEFORE: None, SIDE_RAY: float(np.hypot(20.0, 2.5)), AFTER: None}), rays, np.zeros(2),
                      0.0, 50.0)
    assert bounded is not None and bounded[1][0] < std[0]
    no_radar = RadarScan(*(np.zeros(0),) * 3, np.zeros(0, dtype=int))
    det = detect(EGO, scan, no_radar, SensorConfig())
    far = int(np.argmax(np.hypot(*det.position.T)))
    assert np.sqrt(det.position_cov[far, 0, 0]) == pytest.approx(std[0])  # x is along the road


@pytest.mark.parametrize("centre", [(20.0, 0.0), (15.0, 6.0), (-18.0, -4.0), (40.0, -4.0), (1.0, 4.0)])
def test_model_fit_recovers_rear_face_corner_and_side_views(centre: tuple[float, float]) -> None:
    """Noise-free sweeps of a car straight ahead (rear face), ahead and to the side (corner: rear face and side),
    behind (front face and side), far (two or three rays) and alongside (its side)."""
    from pilotlab.drive.detection import fit_box

    cfg = SensorConfig(lidar_noise=0.0, lidar_dropout=0.0)
    scan = lidar_scan(EGO, _objects([centre]), cfg, np.random.default_rng(0))
    est, std, _, _ = fit_box(scan, np.flatnonzero(scan.hit), np.zeros(2), 0.0, cfg.lidar_range)
    assert np.hypot(*(est - np.array(centre))) < 0.25
    assert std.max() < 0.5


def test_model_fit_turns_the_box_for_a_car_off_its_lane_heading() -> None:
    """A car yawed 0.6 rad off the lane's heading (leaving a roundabout): the lane-aligned rectangle cannot hold its
    points well, the rectangle turned by `fit_yaw_offsets` can."""
    from pilotlab.drive.detection import DetectorConfig, fit_box
    from pilotlab.drive.envs import Objects

    cfg = SensorConfig(lidar_noise=0.0, lidar_dropout=0.0)
    car = Objects(np.arange(1), np.array([[14.0, 6.0]]), np.array([[10.0, 0.0]]), np.array([0.6]))
    scan = lidar_scan(EGO, car, cfg, np.random.default_rng(0))
    rays = np.flatnonzero(scan.hit)
    turned = fit_box(scan, rays, np.zeros(2), 0.0, cfg.lidar_range)
    lane = fit_box(scan, rays, np.zeros(2), 0.0, cfg.lidar_range, DetectorConfig(fit_yaw_offsets=()))
    assert turned is not None and abs(turned[2] - 0.6) < 0.2  # 0.7, the nearest offset
    assert np.hypot(*(turned[0] - [14.0, 6.0])) < 0.4
    assert lane is None or np.hypot(*(lane[0] - [14.0, 6.0])) > 0.4


def test_detector_config_rejects_an_unknown_box_fit() -> None:
    from pilotlab.drive.detection import DetectorConfig

    with pytest.raises(ValueError, match="box_fit"):
        DetectorConfig(box_fit="ransac")


def test_two_cars_nose_to_tail_in_one_cluster_are_cut_in_two() -> None:
    """Two cars a lane over, 1 m apart nose to tail: their points make one cluster, which no one car holds. The face
    fit reports one car; the model fit cuts the cluster and fits each, the second (its rear hidden by the first)
    with a wide along-road std."""
    from pilotlab.drive.detection import DetectorConfig, cluster_rays
    from pilotlab.drive.sensors import RadarScan

    cfg = SensorConfig(lidar_noise=0.0, lidar_dropout=0.0)
    scan = lidar_scan(EGO, _objects([(12.0, 4.0), (18.0, 4.0)]), cfg, np.random.default_rng(0))
    assert len(cluster_rays(scan, np.zeros(2), 0.0, DetectorConfig())) == 1
    no_radar = RadarScan(*(np.zeros(0),) * 3, np.zeros(0, dtype=int))
    assert len(detect(EGO, scan, no_radar, cfg, DetectorConfig(box_fit="faces")).position) == 1
    det = detect(EGO, scan, no_radar, cfg)
    assert len(det.position) == 2
    order = np.argsort(det.position[:, 0])
    assert np.hypot(*(det.position[order[0]] - [12.0, 4.0])) < 0.3
    assert np.hypot(*(det.position[order[1]] - [18.0, 4.0])) < 1.0
    along = np.sqrt(det.position_cov[order, 0, 0])
    assert along[1] > 1.5 * along[0]
