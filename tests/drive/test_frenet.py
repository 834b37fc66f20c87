"""Frenet (lane) coordinates against closed forms on straight, circular and sine lanes."""

from __future__ import annotations

import numpy as np
import pytest

from pilotlab.drive import envs, frenet

envs._import_highway_env()
from highway_env.road.lane import CircularLane, SineLane, StraightLane  # noqa: E402
from highway_env.road.road import RoadNetwork  # noqa: E402

R2 = np.sqrt(0.5)


def test_straight_lane_hand_computed_point() -> None:
    lane = StraightLane([1.0, 2.0], [4.0, 6.0])  # length 5, direction (0.6, 0.8), left normal (-0.8, 0.6)
    s, d = frenet.to_frenet(lane, np.array([1.7, 4.6]))  # 2.5 along, 1 to the left
    assert (s, d) == pytest.approx((2.5, 1.0), abs=1e-12)
    np.testing.assert_allclose(frenet.from_frenet(lane, 2.5, 1.0), [1.7, 4.6], atol=1e-12)
    assert frenet.velocity_to_frenet(lane, 0.0, np.array([6.0, 8.0])) == pytest.approx((10.0, 0.0))


@pytest.mark.parametrize("clockwise", [True, False])
def test_circular_lane_hand_computed_point(clockwise: bool) -> None:
    # radius 10 around the origin; the point (5, 5) lies at 45 degrees, 10 - 5 sqrt(2) inside the circle
    lane = (CircularLane([0.0, 0.0], 10.0, 0.0, np.pi / 2, clockwise=True) if clockwise
            else CircularLane([0.0, 0.0], 10.0, np.pi / 2, 0.0, clockwise=False))
    inside = 10.0 - 5.0 * np.sqrt(2.0)
    s, d = frenet.to_frenet(lane, np.array([5.0, 5.0]))
    assert s == pytest.approx(10.0 * np.pi / 4, abs=1e-9)
    # clockwise in highway-env's y-down screen frame (phase increasing) turns left: the centre is on +d
    assert d == pytest.approx(inside if clockwise else -inside, abs=1e-9)
    np.testing.assert_allclose(frenet.from_frenet(lane, s, d), [5.0, 5.0], atol=1e-9)
    # a velocity along the circle's tangent is all v_s
    tangent = np.array([-R2, R2]) if clockwise else np.array([R2, -R2])
    assert frenet.velocity_to_frenet(lane, s, 7.0 * tangent) == pytest.approx((7.0, 0.0), abs=1e-9)


def test_sine_lane_hand_computed_points() -> None:
    amp, w = 2.0, 2 * np.pi / 50
    lane = SineLane([0.0, 0.0], [100.0, 0.0], amp, w, 0.0)  # centre line (s, 2 sin(w s))
    # at the crest (s = 12.5) the tangent is +x: the point 1.5 m above the crest is (12.5, 1.5)
    assert frenet.to_frenet(lane, np.array([12.5, 3.5])) == pytest.approx((12.5, 1.5), abs=1e-9)
    # at s = 30 the slope is amp w cos(w 30): the normal tilts; 1 m along it must come back as d = 1, s = 30
    h = np.arctan(amp * w * np.cos(w * 30.0))
    p = np.array([30.0, amp * np.sin(w * 30.0)]) + 1.0 * np.array([-np.sin(h), np.cos(h)])
    assert frenet.to_frenet(lane, p) == pytest.approx((30.0, 1.0), abs=1e-6)
    # highway-env's own local_coordinates measures d along the base line's normal instead: not this point
    assert abs(lane.local_coordinates(p)[0] - 30.0) > 0.1


@pytest.mark.parametrize("lane", [
    StraightLane([3.0, -1.0], [50.0, 20.0]),
    CircularLane([10.0, 5.0], 25.0, 0.3, 2.5, clockwise=True),
    CircularLane([10.0, 5.0], 25.0, 2.5, 0.3, clockwise=False),
    SineLane([0.0, 0.0], [200.0, 10.0], 3.25, 2 * np.pi / 80, 0.4),
])
def test_round_trips(lane: object) -> None:
    rng = np.random.default_rng(0)
    for s, d in zip(rng.uniform(0.0, float(lane.length), 20), rng.uniform(-3.0, 3.0, 20)):
        p = frenet.from_frenet(lane, s, d)
        # the point is |d| from the centre line, along the normal at s
        np.testing.assert_allclose(np.hypot(*(p - lane.position(s, 0.0))), abs(d), atol=1e-9)
        assert frenet.to_frenet(lane, p) == pytest.approx((s, d), abs=1e-6)
        v = frenet.velocity_from_frenet(lane, s, 12.0, -0.5)
        assert frenet.velocity_to_frenet(lane, s, v) == pytest.approx((12.0, -0.5), abs=1e-9)


def _s_curve() -> tuple[RoadNetwork, list[tuple]]:
    """A 20 m straight along +x, then a quarter circle of radius 10 around (20, 10), then a straight along +y."""
    net = RoadNetwork()
    net.add_lane("a", "b", StraightLane([0.0, 0.0], [20.0, 0.0]))
    net.add_lane("b", "c", CircularLane([20.0, 10.0], 10.0, -np.pi / 2, 0.0, clockwise=True))
    net.add_lane("c", "d", StraightLane([30.0, 10.0], [30.0, 40.0]))
    net.add_lane("b", "e", StraightLane([20.0, 0.0], [60.0, 0.0]))  # a junction at b: straight on or turn
    return net, [("a", "b", 0), ("b", "c", 0), ("c", "d", 0)]


def test_lane_path_runs_on_across_lanes() -> None:
    net, route = _s_curve()
    path = frenet.RoadMap(net).path(route)
    assert path.length == pytest.approx(20.0 + 5.0 * np.pi + 30.0)
    s_mid = 20.0 + 10.0 * np.pi / 4  # halfway round the bend, at phase -pi/4
    np.testing.assert_allclose(path.position(s_mid), [20.0 + 10 * R2, 10.0 - 10 * R2], atol=1e-9)
    # 1 m towards the bend's centre is d = +1 (left)
    s, d = path.to_frenet(np.array([20.0 + 9 * R2, 10.0 - 9 * R2]))
    assert (s, d) == pytest.approx((s_mid, 1.0), abs=1e-9)
    assert path.to_frenet(np.array([29.0, 25.0])) == pytest.approx((20.0 + 5.0 * np.pi + 15.0, 1.0), abs=1e-9)
    assert path.heading_at(s_mid) == pytest.approx(np.pi / 4)


def test_lane_path_bridges_a_gap_between_lanes() -> None:
    """The next lane starts 5 m beyond the end of the first (a roundabout's exit): the path runs on along
    the next lane's backward extension, so s stays the distance driven."""
    path = frenet.LanePath([StraightLane([0.0, 0.0], [20.0, 0.0]), StraightLane([25.0, 0.0], [60.0, 0.0])])
    assert path.length == pytest.approx(60.0)
    np.testing.assert_allclose(path.position(22.0), [22.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(path.position(40.0, -1.0), [40.0, -1.0], atol=1e-12)
    assert path.to_frenet(np.array([23.0, 0.5])) == pytest.approx((23.0, 0.5))
    assert path.to_frenet(np.array([50.0, 0.5])) == pytest.approx((50.0, 0.5))


def test_advance_follows_the_bend_and_is_exact_on_straight_lanes() -> None:
    net, _ = _s_curve()
    road = frenet.RoadMap(net)
    p, v = np.array([5.0, 0.3]), np.array([10.0, 0.0])
    p2, v2 = road.advance(p, v, 1.0, ("b", "e", 0))  # straight road: the plain constant-velocity model, bit for bit
    assert np.array_equal(p2, p + v * 1.0) and np.array_equal(v2, v)
    # on the bend at constant speed: the arc length, not the chord; the velocity turns with the road
    start = np.array([20.0, 0.0])
    p3, v3 = road.advance(start, np.array([5.0, 0.0]), 10.0 * np.pi / 4 / 5.0, ("b", "c", 0))
    np.testing.assert_allclose(p3, [20.0 + 10 * R2, 10.0 - 10 * R2], atol=1e-9)
    np.testing.assert_allclose(v3, 5.0 * np.array([R2, R2]), atol=1e-9)
    # past the end of a lane with two successors: the straightest one (b -> e) is followed
    p4, _ = road.advance(np.array([15.0, 0.0]), np.array([10.0, 0.0]), 1.0, ("a", "b", 0))
    np.testing.assert_allclose(p4, [25.0, 0.0], atol=1e-9)
    assert road.hypotheses(("a", "b", 0), depth=2) == [[("a", "b", 0), ("b", "c", 0), ("c", "d", 0)],
                                                      [("a", "b", 0), ("b", "e", 0)]]


def test_predict_along_lanes_gives_one_hypothesis_per_turn() -> None:
    from pilotlab.drive.prediction import predict_along_lanes

    net, _ = _s_curve()
    hyps = predict_along_lanes(frenet.RoadMap(net), np.array([10.0, 0.0]), np.array([10.0, 0.0]),
                               np.array([1.0, 2.0]))
    assert [h[-1] for h, _ in hyps] == [("c", "d", 0), ("b", "e", 0)]
    bend, straight = hyps[0][1], hyps[1][1]
    np.testing.assert_allclose(bend[0], [20.0, 0.0], atol=1e-9)  # 10 m on: the end of the first lane
    phase = -np.pi / 2 + 1.0  # 10 m further: 1 rad round the bend of radius 10
    np.testing.assert_allclose(bend[1], [20.0 + 10 * np.cos(phase), 10.0 + 10 * np.sin(phase)], atol=1e-9)
    np.testing.assert_allclose(straight[1], [30.0, 0.0], atol=1e-9)


def test_lane_frame_runs_round_the_bend() -> None:
    """An object halfway round the bend, driving with it: s = its arc length along the route, no lateral speed."""
    from types import SimpleNamespace

    from pilotlab.drive.prediction import to_lane_frame

    net, route = _s_curve()
    path = frenet.RoadMap(net).path(route)
    p = np.array([[20.0 + 10 * R2, 10.0 - 10 * R2]])
    v = 8.0 * np.array([[R2, R2]])
    objs = to_lane_frame(SimpleNamespace(network=net), route[0], 4.0, p, v, path)
    assert objs.s[0] == pytest.approx(20.0 + 10.0 * np.pi / 4)
    assert (objs.lat[0], objs.v_s[0], objs.v_lat[0]) == pytest.approx((0.0, 8.0, 0.0), abs=1e-9)
    # the straight lane's own frame (the frame before) puts it 7 m off the lane, drifting sideways
    old = to_lane_frame(SimpleNamespace(network=net), route[0], 4.0, p, v)
    assert abs(old.lat[0]) > 2.0 and abs(old.v_lat[0]) > 5.0


def test_tracker_follows_a_car_round_a_bend_along_its_lane() -> None:
    """Noise-free detections of a car circling at 10 m/s on a radius of 30 m, 1 s apart: the along-lane
    motion model predicts where it will be; the straight constant-velocity one cuts the corner by ~v^2/(2R)."""
    from highway_env.road.road import RoadNetwork

    from pilotlab.drive.detection import Detections
    from pilotlab.drive.tracking import Tracker, TrackerConfig

    net = RoadNetwork()
    net.add_lane("a", "b", CircularLane([0.0, 0.0], 30.0, 0.0, 2 * np.pi, clockwise=True))
    road = frenet.RoadMap(net)
    errors = {}
    for name, motion in (("lane", road.motion_model), ("straight", None)):
        tracker = Tracker(TrackerConfig(q=0.5), motion=motion)
        errs = []
        for k in range(8):
            phi = k * 10.0 / 30.0
            truth = 30.0 * np.array([np.cos(phi), np.sin(phi)])
            if tracker.tracks:
                ahead = tracker.tracks[0].x.copy()
                fs = motion(ahead, 1.0) if motion is not None else None
                pred = ahead[:2] + ahead[2:] if fs is None else fs[0](ahead)[:2]
                errs.append(float(np.hypot(*(pred - truth))))
            det = Detections(truth[None], (0.1**2 * np.eye(2))[None], np.array([[1.0, 0.0]]), np.full(1, np.nan),
                             np.zeros(1, dtype=int))
            tracker.step(det, 1.0, np.array([0.0, 100.0]), 10.0 * np.array([-np.sin(phi), np.cos(phi)]))
        errors[name] = float(np.mean(errs[3:]))  # once the velocity has converged
    assert errors["lane"] < 0.3 < 1.0 < errors["straight"]


def test_box_fit_in_the_road_frame_of_a_crossing_car() -> None:
    """A car crossing the ego's path (turned 90 degrees) shows its long side: the ego-aligned face fit puts the
    centre half a car length beyond that side, the road frame of its own lane half a car width. The model fit is
    right in the road frame, and in the ego's too, where the ego-aligned rectangle cannot hold the side's points
    and the heading search turns it."""
    from pilotlab.drive.detection import DetectorConfig, detect
    from pilotlab.drive.sensors import SensorConfig, lidar_scan, radar_scan

    ego = envs.EgoState(np.zeros(2), 0.0, 10.0, ("a", "b", 0), 10.0)
    objs = envs.Objects(np.array([1]), np.array([[20.0, 0.0]]), np.array([[0.0, 8.0]]), np.array([np.pi / 2]))
    cfg = SensorConfig(lidar_noise=0.0, lidar_dropout=0.0, radar_false_alarms=0.0, radar_detect_prob=1.0)
    errs = {}
    for fit in ("faces", "model"):
        for name, frame in (("road", lambda p: np.pi / 2), ("ego", None)):
            rng = np.random.default_rng(0)
            det = detect(ego, lidar_scan(ego, objs, cfg, rng), radar_scan(ego, objs, cfg, rng), cfg,
                         DetectorConfig(box_fit=fit), frame=frame)
            errs[fit, name] = float(np.hypot(*(det.position[0] - [20.0, 0.0])))
    assert errs["faces", "road"] < 0.3 and errs["faces", "ego"] > 1.0
    assert errs["model", "road"] < 0.3 and errs["model", "ego"] < 0.3


def test_successor_on_a_wider_road_is_the_lane_nearest_the_end() -> None:
    """A one-lane entry ending beside a two-lane road's lane 1 (a roundabout's entry and its outer ring lane):
    highway-env's vehicles take lane 1 there; `closest=True` predicts that, the default keeps lane id 0."""
    from highway_env.road.lane import StraightLane
    from highway_env.road.road import RoadNetwork

    from pilotlab.drive.frenet import RoadMap

    net = RoadNetwork()
    net.add_lane("a", "b", StraightLane([-30.0, 0.0], [0.0, 0.0]))
    net.add_lane("b", "c", StraightLane([0.0, -4.0], [30.0, -4.0]))
    net.add_lane("b", "c", StraightLane([0.0, 0.5], [30.0, 0.5]))
    road_map = RoadMap(net)
    assert road_map.successors(("a", "b", 0)) == [("b", "c", 0)]
    assert road_map.successors(("a", "b", 0), closest=True) == [("b", "c", 1)]
    assert road_map.successors(("b", "c", 0), closest=True) == []


def test_sibling_hypothesis_runs_along_the_sibling_lane() -> None:
    """A car just past a fork, its velocity along its own lane: the hypothesis that it is on the other lane
    leaving the node (an exit) moves it along that lane at its speed, not sideways off it."""
    from highway_env.road.lane import StraightLane
    from highway_env.road.road import RoadNetwork

    from pilotlab.drive.frenet import RoadMap, to_frenet

    net = RoadNetwork()
    net.add_lane("a", "b", StraightLane([0.0, 0.0], [100.0, 0.0]))
    net.add_lane("a", "c", StraightLane([0.0, 0.0], [70.0, 70.0]))
    road_map = RoadMap(net)
    x = np.array([1.0, 0.0, 10.0, 0.0])
    own, sibling = road_map.motion_model(x, 1.0)
    np.testing.assert_allclose(own(x), [11.0, 0.0, 10.0, 0.0], atol=1e-9)
    moved = sibling(x)
    _, d = to_frenet(net.get_lane(("a", "c", 0)), moved[:2])
    assert abs(d - to_frenet(net.get_lane(("a", "c", 0)), x[:2])[1]) < 1e-6  # no sideways drift
    np.testing.assert_allclose(moved[2:], 10.0 * np.array([1.0, 1.0]) / np.sqrt(2.0), atol=1e-9)
