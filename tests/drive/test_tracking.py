"""Kalman filter against the closed form, assignment on hand-made cases, the tracker on crossing targets."""

from __future__ import annotations

import numpy as np
import pytest

from pilotlab.drive.detection import Detections
from pilotlab.drive.tracking import Tracker, TrackerConfig, assign, cv_process_noise, kf_predict, kf_update


def test_predict_matches_closed_form() -> None:
    x = np.array([1.0, 2.0, 3.0, -1.0])
    p = np.diag([0.5, 0.7, 2.0, 3.0])
    dt, q = 0.5, 2.0
    x1, p1 = kf_predict(x, p, dt, q)
    np.testing.assert_allclose(x1, [1.0 + 1.5, 2.0 - 0.5, 3.0, -1.0])
    # per axis: P_pp' = P_pp + dt^2 P_vv + q dt^3/3, P_pv' = dt P_vv + q dt^2/2, P_vv' = P_vv + q dt
    for axis, (ppp, pvv) in enumerate([(0.5, 2.0), (0.7, 3.0)]):
        assert p1[axis, axis] == pytest.approx(ppp + dt**2 * pvv + q * dt**3 / 3)
        assert p1[axis, axis + 2] == pytest.approx(dt * pvv + q * dt**2 / 2)
        assert p1[axis + 2, axis + 2] == pytest.approx(pvv + q * dt)
    assert p1[0, 1] == 0.0 and p1[0, 3] == 0.0
    np.testing.assert_allclose(cv_process_noise(dt, q), cv_process_noise(dt, q).T)


def test_update_matches_scalar_closed_form() -> None:
    """Position-only update with diagonal P: each axis is the scalar filter K = P / (P + R)."""
    x = np.array([0.0, 0.0, 10.0, 0.0])
    p = np.diag([4.0, 1.0, 9.0, 9.0])
    h = np.hstack([np.eye(2), np.zeros((2, 2))])
    r = np.diag([1.0, 3.0])
    z = np.array([2.0, -1.0])
    x1, p1 = kf_update(x, p, z, h, r)
    k = np.array([4.0 / 5.0, 1.0 / 4.0])
    np.testing.assert_allclose(x1[:2], k * z)
    np.testing.assert_allclose(np.diag(p1)[:2], (1 - k) * np.array([4.0, 1.0]))
    np.testing.assert_allclose(x1[2:], x[2:])  # uncorrelated velocity untouched
    np.testing.assert_allclose(p1, p1.T)


def test_update_radial_velocity_row() -> None:
    """A radial-velocity measurement along u = x-axis corrects vx only: K = P_vx / (P_vx + R)."""
    x = np.array([0.0, 0.0, 20.0, 0.0])
    p = np.diag([1.0, 1.0, 4.0, 4.0])
    x1, p1 = kf_update(x, p, np.array([24.0]), np.array([[0.0, 0.0, 1.0, 0.0]]), np.array([[1.0]]))
    assert x1[2] == pytest.approx(20.0 + 0.8 * 4.0)
    assert p1[2, 2] == pytest.approx(0.2 * 4.0)
    assert x1[3] == 0.0 and p1[3, 3] == 4.0


def test_assign_hand_made() -> None:
    cost = np.array([[1.0, 2.0, 9.0], [2.0, 1.5, 9.0]])
    a = assign(cost, gate=5.0)
    assert sorted(a.matches) == [(0, 0), (1, 1)]
    assert a.unmatched_rows == [] and a.unmatched_cols == [2]
    # the greedy choice (0 -> 0, cost 1) would leave row 1 with 10; the optimum is 2 + 1 = 3
    a = assign(np.array([[1.0, 2.0], [1.0, 10.0]]), gate=20.0)
    assert sorted(a.matches) == [(0, 1), (1, 0)]
    # gating: a pair above the gate is never matched, even when it is the only one
    a = assign(np.array([[7.0]]), gate=5.0)
    assert a.matches == [] and a.unmatched_rows == [0] and a.unmatched_cols == [0]
    a = assign(np.zeros((0, 3)), gate=5.0)
    assert a.unmatched_cols == [0, 1, 2]


def _detections(points: np.ndarray) -> Detections:
    n = len(points)
    return Detections(points, np.repeat((0.3**2 * np.eye(2))[None], n, axis=0), np.tile([1.0, 0.0], (n, 1)),
                      np.full(n, np.nan), np.zeros(n, dtype=int))


def test_tracker_keeps_identities_through_a_crossing() -> None:
    """Two targets cross diagonally (an X); noisy detections, one dropped frame; ids must not swap."""
    rng = np.random.default_rng(0)
    tracker = Tracker(TrackerConfig(q=0.5))
    dt = 0.5
    ids_at: dict[int, list[int]] = {0: [], 1: []}
    for k in range(24):
        t = k * dt
        truth = np.array([[t * 4.0, t * 3.0], [t * 4.0, 36.0 - t * 3.0]])  # cross at t = 6 s
        meas = truth + rng.normal(0.0, 0.3, truth.shape)
        det = _detections(meas if k != 10 else meas[:1])
        tracker.step(det, dt, np.zeros(2), np.array([4.0, 0.0]))
        if np.hypot(*(truth[0] - truth[1])) < 3.0:  # too close to tell which is which: skip
            continue
        for i in (0, 1):
            live = [tr for tr in tracker.tracks if tr.confirmed]
            if live:
                d = [np.hypot(*(tr.x[:2] - truth[i])) for tr in live]
                if min(d) < 2.0:
                    ids_at[i].append(live[int(np.argmin(d))].id)
    assert len(set(ids_at[0][2:])) == 1 and len(set(ids_at[1][2:])) == 1
    assert ids_at[0][-1] != ids_at[1][-1]
    assert len([t for t in tracker.tracks if t.confirmed]) == 2


def test_tracker_deletes_lost_tracks_and_ignores_one_off_clutter() -> None:
    tracker = Tracker(TrackerConfig(max_misses=2))
    for _ in range(3):
        tracker.step(_detections(np.array([[10.0, 0.0]])), 1.0, np.zeros(2), np.zeros(2))
    assert [t.confirmed for t in tracker.tracks] == [True]
    tracker.step(_detections(np.array([[80.0, 40.0]])), 1.0, np.zeros(2), np.zeros(2))  # clutter, and a miss
    tracker.step(_detections(np.zeros((0, 2))), 1.0, np.zeros(2), np.zeros(2))
    assert [t.confirmed for t in tracker.tracks] == [True]  # clutter (tentative, missed) is gone
    tracker.step(_detections(np.zeros((0, 2))), 1.0, np.zeros(2), np.zeros(2))
    assert tracker.tracks == []


def _track(tracker: Tracker, position: tuple[float, float], velocity: tuple[float, float], pos_var: float,
           misses: int) -> None:
    from pilotlab.drive.tracking import Track

    p = np.diag([pos_var, pos_var, 1.0, 1.0])
    tracker.tracks.append(Track(tracker.next_id, np.array([*position, *velocity]), p, hits=5, misses=misses,
                                confirmed=True))
    tracker.next_id += 1


@pytest.mark.parametrize("cascade", [True, False])
def test_cascade_keeps_a_coasting_track_off_a_fresh_tracks_detection(cascade: bool) -> None:
    """A track coasting for 3 steps has a wide gate: by Mahalanobis distance alone it takes the detection of
    the fresh track next to it (an identity switch); the cascade matches the fresh track first."""
    tracker = Tracker(TrackerConfig(q=0.1, cascade=cascade))
    _track(tracker, (10.0, 0.0), (0.0, 0.0), 0.2, misses=0)  # fresh, tight
    _track(tracker, (14.0, 0.0), (0.0, 0.0), 30.0, misses=3)  # coasting, wide
    tracker.step(_detections(np.array([[11.0, 0.0]])), 1.0, np.zeros(2), np.zeros(2))
    fresh, coasting = tracker.tracks
    assert (fresh.misses, coasting.misses) == ((0, 4) if cascade else (1, 0))


def test_newborn_takes_the_speed_of_its_lane() -> None:
    """The ego at 25 m/s passes a queue at 3 m/s in the lane beside: a newborn in that lane gets the queue's
    speed as its prior, one in a lane without tracks the ego's velocity."""
    tracker = Tracker(TrackerConfig(n_init=1), lane=lambda p, v: int(p[1] > 2.0))
    _track(tracker, (30.0, 4.0), (3.0, 0.0), 0.2, misses=0)
    ego_v = np.array([25.0, 0.0])
    tracker.step(_detections(np.array([[33.0, 4.0], [20.0, 4.0], [40.0, 0.0]])), 1.0, np.zeros(2), ego_v)
    born = {tuple(np.round(t.x[:2])): t.x[2:] for t in tracker.tracks if t.id > 1}
    np.testing.assert_allclose(born[(20.0, 4.0)], [3.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(born[(40.0, 0.0)], ego_v, atol=1e-9)
    far = Tracker(TrackerConfig(n_init=1, flow_range=5.0), lane=lambda p, v: int(p[1] > 2.0))
    _track(far, (30.0, 4.0), (3.0, 0.0), 0.2, misses=0)
    far.step(_detections(np.array([[33.0, 4.0], [20.0, 4.0]])), 1.0, np.zeros(2), ego_v)
    np.testing.assert_allclose(far.tracks[-1].x[2:], ego_v, atol=1e-9)  # the queue's car is 10 m away


def test_newborn_prior_std_along_its_lane_depends_on_the_flow() -> None:
    """On a lane map a newborn with the flow's speed gets `flow_speed_std` along its lane, one without (the ego's
    velocity, a weak guess for another lane) `no_flow_speed_std`; without a lane map `init_speed_std`."""
    cfg = TrackerConfig(n_init=1, flow_speed_std=4.0, no_flow_speed_std=15.0, init_speed_std=(7.0, 1.5))
    tracker = Tracker(cfg, lane=lambda p, v: int(p[1] > 2.0))
    _track(tracker, (30.0, 4.0), (3.0, 0.0), 0.2, misses=0)
    ego_v = np.array([25.0, 0.0])
    tracker.step(_detections(np.array([[33.0, 4.0], [20.0, 4.0], [40.0, 0.0]])), 1.0, np.zeros(2), ego_v)
    std = {tuple(np.round(t.x[:2])): np.sqrt(np.diag(t.p)[2:]) for t in tracker.tracks if t.id > 1}
    np.testing.assert_allclose(std[(20.0, 4.0)], [4.0, 1.5], atol=1e-9)
    np.testing.assert_allclose(std[(40.0, 0.0)], [15.0, 1.5], atol=1e-9)
    plain = Tracker(cfg)
    plain.step(_detections(np.array([[40.0, 0.0]])), 1.0, np.zeros(2), ego_v)
    np.testing.assert_allclose(np.sqrt(np.diag(plain.tracks[0].p)[2:]), [7.0, 1.5], atol=1e-9)


def test_lidar_births_are_reported_at_once_on_probation() -> None:
    lidar = _detections(np.array([[10.0, 0.0]]))
    radar = lidar._replace(source=np.ones(1, dtype=int))
    for report in (True, False):
        tracker = Tracker(TrackerConfig(report_lidar_births=report))
        tracker.step(lidar, 1.0, np.zeros(2), np.zeros(2))
        assert [t.confirmed for t in tracker.tracks] == [report]
        tracker.step(_detections(np.zeros((0, 2))), 1.0, np.zeros(2), np.zeros(2))
        assert tracker.tracks == []  # one miss before n_init hits: gone either way
    tracker = Tracker(TrackerConfig())
    tracker.step(radar, 1.0, np.zeros(2), np.zeros(2))
    assert [t.confirmed for t in tracker.tracks] == [False]  # radar-only (false alarms): waits for n_init
    tracker = Tracker(TrackerConfig(max_misses=2))
    for _ in range(2):
        tracker.step(lidar, 1.0, np.zeros(2), np.zeros(2))
    tracker.step(_detections(np.zeros((0, 2))), 1.0, np.zeros(2), np.zeros(2))
    assert [(t.confirmed, t.probation, t.misses) for t in tracker.tracks] == [(True, False, 1)]  # off probation


def _blind_after(cfg: TrackerConfig, coasts: int) -> Tracker:
    """A track confirmed at (10, 0) m where no sensor looks (only x > 20 m is covered), then `coasts` misses."""
    tracker = Tracker(cfg, covered=lambda p: p[:, 0] > 20.0)
    for _ in range(3):
        tracker.step(_detections(np.array([[10.0, 0.0]])), 1.0, np.zeros(2), np.zeros(2))
    for _ in range(coasts):
        tracker.step(_detections(np.zeros((0, 2))), 1.0, np.zeros(2), np.zeros(2))
    return tracker


def test_a_track_outside_every_sensors_view_coasts_up_to_max_blind_time() -> None:
    cfg = TrackerConfig(max_misses=2, max_blind_time=6.0)
    tracker = _blind_after(cfg, 6)
    assert len(tracker.tracks) == 1 and tracker.tracks[0].blind == 6 and tracker.tracks[0].confirmed
    assert tracker.reported() == []  # a coasting track is not reported
    tracker.step(_detections(np.zeros((0, 2))), 1.0, np.zeros(2), np.zeros(2))
    assert tracker.tracks == []  # 7 s unseen > max_blind_time
    looked = Tracker(cfg, covered=lambda p: np.ones(len(p), dtype=bool))  # where a sensor looks: misses count
    for _ in range(3):
        looked.step(_detections(np.array([[10.0, 0.0]])), 1.0, np.zeros(2), np.zeros(2))
    for _ in range(3):
        looked.step(_detections(np.zeros((0, 2))), 1.0, np.zeros(2), np.zeros(2))
    assert looked.tracks == []


def test_a_blind_track_matches_only_detections_within_blind_gate() -> None:
    """Its covariance has grown so wide that the Mahalanobis gate would take a car 6 m away; `blind_gate` not."""
    det = _detections(np.array([[16.0, 0.0]]))
    wide = _blind_after(TrackerConfig(max_misses=2, blind_gate=np.inf), 6)
    wide.step(det, 1.0, np.zeros(2), np.zeros(2))
    assert len(wide.tracks) == 1 and wide.tracks[0].blind == 0  # taken: the old track jumped to the new car
    gated = _blind_after(TrackerConfig(max_misses=2, blind_gate=3.0), 6)
    gated.step(det, 1.0, np.zeros(2), np.zeros(2))
    assert len(gated.tracks) == 2 and gated.tracks[0].blind == 7 and gated.tracks[1].hits == 1  # a new track
    near = _blind_after(TrackerConfig(max_misses=2, blind_gate=3.0), 6)
    near.step(_detections(np.array([[11.0, 0.0]])), 1.0, np.zeros(2), np.zeros(2))
    assert len(near.tracks) == 1 and near.tracks[0].blind == 0  # the same car, seen again


def _fork(x: np.ndarray, dt: float) -> list | None:
    """A scripted lane fork at x >= 15 m: straight on, or a left turn (the velocity turned by 90 degrees)."""
    if x[0] < 15.0:
        return None
    return [lambda z: np.array([z[0] + z[2] * dt, z[1] + z[3] * dt, z[2], z[3]]),
            lambda z: np.array([z[0] - z[3] * dt, z[1] + z[2] * dt, -z[3], z[2]])]


@pytest.mark.parametrize("hypotheses", [1, 2])
def test_a_track_coasting_through_a_fork_keeps_the_branch_it_did_not_coast_on(hypotheses: int) -> None:
    """A car at 10 m/s reaches the fork at (20, 0), turns left and is missed for one step: the track coasts on
    the straight branch (30, 0); with the turn kept as a hypothesis the car's next detection, at (20, 20), is
    still its track's, without it a new track is born there (an identity switch)."""
    tracker = Tracker(TrackerConfig(q=0.5, hypotheses=hypotheses), motion=_fork)
    for point in ([0.0, 0.0], [10.0, 0.0], [20.0, 0.0], None, [20.0, 20.0]):
        det = _detections(np.array([point]) if point is not None else np.zeros((0, 2)))
        tracker.step(det, 1.0, np.zeros(2), np.array([10.0, 0.0]))
    live = [t for t in tracker.tracks if t.misses == 0]
    assert len(live) == 1
    assert (live[0].id == 1) == (hypotheses > 1)
    if hypotheses > 1:
        np.testing.assert_allclose(live[0].x, [20.0, 20.0, 0.0, 10.0], atol=0.5)


def _close_fork(x: np.ndarray, dt: float) -> list | None:
    """A fork at x >= 15 m whose branches stay within 3 m for a step: straight on, or a turn onto a road heading
    north (the velocity turned by 90 degrees, the position moved 3 m left of straight on)."""
    if x[0] < 15.0:
        return None
    return [lambda z: np.array([z[0] + z[2] * dt, z[1] + z[3] * dt, z[2], z[3]]),
            lambda z: np.array([z[0] + (z[2] - 2.0) * dt, z[1] + (z[3] + 3.0) * dt, -z[3], z[2]])]


@pytest.mark.parametrize("hypotheses", [1, 2])
def test_an_ambiguous_match_keeps_both_branches_until_a_detection_tells_them_apart(hypotheses: int) -> None:
    """Just past the fork both branches' predictions are within the gate of the detection (29, 1.5): it updates
    both, the straight one reported; the next detection, 10 m north, fits the turn only, which then is reported
    under the same id. Keeping only the best-matched branch, the track runs on east and the car gets a new id."""
    tracker = Tracker(TrackerConfig(q=0.5, hypotheses=hypotheses), motion=_close_fork)
    for point in ([0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [29.0, 1.0]):
        tracker.step(_detections(np.array([point])), 1.0, np.zeros(2), np.array([10.0, 0.0]))
    assert len(tracker.tracks) == 1 and len(tracker.tracks[0].alternatives) == min(hypotheses - 1, 1)
    assert tracker.tracks[0].x[2] > abs(tracker.tracks[0].x[3])  # reported: still heading east
    tracker.step(_detections(np.array([[29.0, 11.0]])), 1.0, np.zeros(2), np.array([10.0, 0.0]))
    live = [t for t in tracker.tracks if t.misses == 0]
    assert len(live) == 1 and (live[0].id == 1) == (hypotheses > 1)
    if hypotheses > 1:
        assert live[0].x[3] > abs(live[0].x[2])  # now heading north


def test_lane_aligned_process_noise_matches_closed_form() -> None:
    """Equal densities give the isotropic Q; otherwise the position variance along the heading is q_along dt^3 / 3
    and across it q_across dt^3 / 3, with no along-across correlation."""
    from pilotlab.drive.tracking import oriented_process_noise

    dt, h = 0.7, np.array([np.cos(0.5), np.sin(0.5)])
    np.testing.assert_allclose(oriented_process_noise(dt, 3.0, 3.0, h), cv_process_noise(dt, 3.0), atol=1e-12)
    q = oriented_process_noise(dt, 3.0, 0.2, h)
    n = np.array([-h[1], h[0]])
    pos, vel = q[:2, :2], q[2:, 2:]
    assert h @ pos @ h == pytest.approx(3.0 * dt**3 / 3) and n @ pos @ n == pytest.approx(0.2 * dt**3 / 3)
    assert h @ vel @ h == pytest.approx(3.0 * dt) and n @ vel @ n == pytest.approx(0.2 * dt)
    assert h @ pos @ n == pytest.approx(0.0, abs=1e-12) and n @ q[:2, 2:] @ n == pytest.approx(0.2 * dt**2 / 2)


@pytest.mark.parametrize("q_across", [None, 0.3])
def test_little_sideways_noise_keeps_a_track_off_the_next_lanes_car(q_across: float | None) -> None:
    """A car at 10 m/s is missed for a step while a car one lane (3.5 m) to its side is detected where it would
    be: with isotropic acceleration noise the track's gate reaches across the lane and it takes that car; with
    little noise across its heading (`q_across`) it does not."""
    from pilotlab.drive.tracking import Track

    tracker = Tracker(TrackerConfig(q=3.0, q_across=q_across))
    tracker.tracks.append(Track(1, np.array([10.0, 0.0, 10.0, 0.0]), np.diag([0.2, 0.2, 1.0, 0.25]), hits=5,
                                confirmed=True))
    tracker.next_id = 2
    tracker.step(_detections(np.array([[20.0, 3.5]])), 1.0, np.zeros(2), np.zeros(2))
    own = tracker.tracks[0]
    assert own.id == 1 and own.misses == (0 if q_across is None else 1)


def _fork_map():  # type: ignore[no-untyped-def]
    """A road east (a -> b), an exit leaving the same node north-east (a -> c) and a road west 2 m beside the first
    (d -> e)."""
    from highway_env.road.lane import StraightLane
    from highway_env.road.road import RoadNetwork

    from pilotlab.drive.frenet import RoadMap

    net = RoadNetwork()
    net.add_lane("a", "b", StraightLane([0.0, 0.0], [100.0, 0.0]))
    net.add_lane("a", "c", StraightLane([0.0, 0.0], [70.0, 70.0]))
    net.add_lane("d", "e", StraightLane([100.0, 2.0], [0.0, 2.0]))
    return RoadMap(net)


def test_reachable_states_run_along_every_nearby_lane_the_car_heads_along() -> None:
    """From (1, 0.5) heading east at 10 m/s for 1 s: 11 m along the east road and ~11 m along the exit (both within
    3 m, both within 90 degrees of its heading), on their centres and with their headings; not on the road west."""
    road_map = _fork_map()
    states = road_map.reachable(np.array([1.0, 0.5, 10.0, 0.0]), 1.0, np.array([10.0]))
    assert states.shape == (2, 4)
    diag = np.array([1.0, 1.0]) / np.sqrt(2.0)
    s_exit = 1.5 / np.sqrt(2.0) + 10.0  # its abscissa on the exit, plus 10 m
    expected = {(11.0, 0.0, 10.0, 0.0), tuple(np.round([*(s_exit * diag), *(10.0 * diag)], 6))}
    assert {tuple(np.round(s, 6)) for s in states} == expected
    # speeds sample the way along each lane; a car standing on no lane reaches nothing
    assert road_map.reachable(np.array([1.0, 0.5, 10.0, 0.0]), 2.0, np.array([5.0, 10.0, 15.0])).shape == (6, 4)
    assert road_map.reachable(np.array([50.0, 30.0, 10.0, 0.0]), 1.0, np.array([10.0])).shape == (0, 4)


@pytest.mark.parametrize("reacquire", [0.0, 2.0])
def test_a_lost_track_whose_velocity_was_the_wrong_lanes_is_reacquired_along_its_own_lane(reacquire: float) -> None:
    """A car on the exit at (10, 10) whose track has the east road's velocity (10, 0): missed for a step, its
    next detection 20 m up the exit is 20 m off the track's prediction. Without re-acquisition it is born as a new
    track (a new id); with it, the lost track takes it (no other track explains it) and heads up the exit."""
    from pilotlab.drive.tracking import Track

    road_map = _fork_map()
    tracker = Tracker(TrackerConfig(reacquire_distance=reacquire), motion=road_map.motion_model,
                      reach=road_map.reachable)
    x = np.array([10.0, 10.0, 10.0, 0.0])
    tracker.tracks.append(Track(1, x.copy(), np.diag([0.3, 0.3, 1.0, 1.0]), hits=5, confirmed=True, anchor=x.copy()))
    tracker.next_id = 2
    tracker.step(_detections(np.zeros((0, 2))), 1.0, np.zeros(2), np.zeros(2))
    seen = (10.0 + 20.0 / np.sqrt(2.0)) * np.ones(2)
    tracker.step(_detections(seen[None]), 1.0, np.zeros(2), np.zeros(2))
    live = [t for t in tracker.tracks if t.misses == 0]
    assert len(live) == 1 and (live[0].id == 1) == (reacquire > 0)
    if reacquire > 0:
        np.testing.assert_allclose(live[0].x[:2], seen, atol=1e-6)
        np.testing.assert_allclose(live[0].x[2:], 10.0 * np.ones(2) / np.sqrt(2.0), atol=0.5)


def test_reacquisition_leaves_a_detection_another_track_explains() -> None:
    """A lost track may take only what the assignment left over: a detection in its reach that a live track
    matched stays that track's, and the lost one keeps coasting."""
    from pilotlab.drive.tracking import Track

    tracker = Tracker(TrackerConfig())
    lost = np.array([0.0, 0.0, 10.0, 0.0])
    tracker.tracks.append(Track(1, lost.copy(), np.diag([0.3, 0.3, 1.0, 1.0]), hits=5, misses=1, confirmed=True,
                                anchor=lost - np.array([10.0, 0.0, 0.0, 0.0])))
    live = np.array([8.0, 0.0, 10.0, 0.0])
    tracker.tracks.append(Track(2, live.copy(), np.diag([0.3, 0.3, 1.0, 1.0]), hits=5, confirmed=True,
                                anchor=live.copy()))
    tracker.next_id = 3
    tracker.step(_detections(np.array([[18.0, 0.0]])), 1.0, np.zeros(2), np.zeros(2))
    assert [(t.id, t.misses) for t in tracker.tracks] == [(1, 2), (2, 0)]


def test_a_lost_track_is_reacquired_before_a_newborn_takes_its_cars_detection() -> None:
    """A track born last step beside a lost track's car (standing still, on probation) would take the car's
    detection at (18, 0) in the cascade's last level; the re-acquisition runs before it, so the car keeps its id
    and the newborn, missed, is deleted."""
    from pilotlab.drive.tracking import Track

    tracker = Tracker(TrackerConfig())
    lost = np.array([0.0, 0.0, 10.0, 0.0])
    tracker.tracks.append(Track(1, lost.copy(), np.diag([0.3, 0.3, 1.0, 1.0]), hits=5, misses=1, confirmed=True,
                                anchor=lost - np.array([10.0, 0.0, 0.0, 0.0])))
    born = np.array([17.0, 0.0, 0.0, 0.0])
    tracker.tracks.append(Track(2, born.copy(), np.diag([0.3, 0.3, 1.0, 1.0]), confirmed=True, probation=True,
                                anchor=born.copy()))
    tracker.next_id = 3
    tracker.step(_detections(np.array([[18.0, 0.0]])), 1.0, np.zeros(2), np.zeros(2))
    assert [(t.id, t.misses) for t in tracker.tracks] == [(1, 0)]
