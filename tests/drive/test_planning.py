"""Planner on scripted scenes (no simulator) and the controllers against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from pilotlab.drive import control
from pilotlab.drive.planning import (
    PlannerConfig,
    Scene,
    braking_cap,
    escape_cap,
    idm_acceleration,
    lane_change_safe,
    lane_progress_speed,
    plan,
    rollout_speed,
    speed_value,
)
from pilotlab.drive.prediction import LaneObjects, closest_approach

W = 4.0  # [m] lane width


def _scene(cars: list[tuple[float, int, float]], ego_lane: int = 1, ego_v: float = 25.0) -> Scene:
    """cars: (s [m] relative to the ego, lane, speed [m/s])."""
    s = np.array([c[0] for c in cars], dtype=float)
    lat = np.array([c[1] * W for c in cars], dtype=float)
    v = np.array([c[2] for c in cars], dtype=float)
    return Scene(0.0, ego_v, ego_lane, 3, W, LaneObjects(s, lat, v, np.zeros(len(cars))))


def test_idm_free_road_and_standstill_closed_form() -> None:
    cfg = PlannerConfig()
    assert idm_acceleration(0.0, 30.0, np.inf, 0.0, cfg) == pytest.approx(cfg.a_max)
    assert idm_acceleration(30.0, 30.0, np.inf, 0.0, cfg) == pytest.approx(0.0)
    gap = 20.0  # at rest behind a stopped car: a = a_max (1 - (s0 / gap)^2)
    assert idm_acceleration(0.0, 30.0, gap, 0.0, cfg) == pytest.approx(cfg.a_max * (1 - (cfg.s0 / gap) ** 2))


def test_slow_leader_makes_the_planner_overtake_into_a_free_lane() -> None:
    p = plan(_scene([(25.0, 1, 18.0)]))
    assert p.lane in (0, 2)
    assert p.lane == 2  # right lane wins ties (reward bonus)


@pytest.mark.parametrize("blocker", [(0.0, 2, 25.0), (-8.0, 2, 28.0), (9.0, 2, 20.0), (-20.0, 2, 33.0)])
def test_refuses_a_lane_change_into_an_occupied_gap(blocker: tuple[float, int, float]) -> None:
    """Slow leader ahead, left lane blocked by a slow queue, right lane has a car in the gap."""
    cars = [(25.0, 1, 18.0), (20.0, 0, 17.0), (-2.0, 0, 17.0), blocker]
    scene = _scene(cars)
    assert not lane_change_safe(scene, 2, PlannerConfig())[0]
    assert plan(scene).lane == 1


def test_accepts_the_same_change_once_the_gap_is_clear() -> None:
    scene = _scene([(25.0, 1, 18.0), (20.0, 0, 17.0), (-2.0, 0, 17.0), (-60.0, 2, 25.0)])
    assert lane_change_safe(scene, 2, PlannerConfig())[0]
    assert plan(scene).lane == 2


def test_speed_set_point_brakes_behind_a_close_slow_leader() -> None:
    p = plan(_scene([(15.0, 1, 10.0), (15.0, 0, 10.0), (15.0, 2, 10.0)]))
    assert p.lane == 1 and p.speed < 25.0 - 2.0


def test_speed_value_pays_only_inside_the_reward_range() -> None:
    cfg = PlannerConfig(speed_range=(20.0, 30.0), below_range_weight=0.2)
    assert speed_value(25.0, cfg) == 25.0
    assert speed_value(34.0, cfg) == 30.0  # above the range: no extra reward
    assert speed_value(15.0, cfg) == pytest.approx(20.0 - 0.2 * 5.0)


def test_settled_rollout_values_a_lane_by_its_leader_speed() -> None:
    """A leader 3 m ahead at 20 m/s: the raw rollout brakes hard, the settled one keeps about 20 m/s."""
    scene = _scene([(8.0, 2, 20.0)], ego_v=20.0)
    cfg = PlannerConfig(time_gap=1.5, s0=10.0)  # highway-env's IDMVehicle gaps
    assert rollout_speed(scene, 2, 3.0, cfg) < 15.0
    assert rollout_speed(scene, 2, 3.0, cfg, settled=True) == pytest.approx(20.0, abs=1.0)


def test_drops_back_behind_a_car_beside_it_to_reach_the_right_lane() -> None:
    """Queue at 20 m/s in every lane, a car beside the ego in the right lane, a right-lane bonus: let the car
    pass, then follow it. The drop-back speed is a hard cap, so grid rounding cannot undo it."""
    cfg = PlannerConfig(right_bias=6.0, drop_back_min_gain=0.0)
    cars = [(15.0, 1, 20.0), (3.0, 2, 20.0), (20.0, 0, 20.0)]
    p = plan(_scene(cars, ego_lane=1, ego_v=20.0), cfg)
    assert p.lane == 1 and p.reason.startswith("drop back") and p.speed <= 20.0 - cfg.drop_back_dv
    assert p.cap <= 20.0 - cfg.drop_back_dv
    grid = np.arange(0.0, 30.1, 2.5)
    assert control.meta_action(1, p.lane, 20.0, 20.0, p.speed, grid, p.cap) == control.SLOWER
    clear = plan(_scene([(15.0, 1, 20.0), (-40.0, 2, 20.0), (20.0, 0, 20.0)], ego_lane=1, ego_v=20.0), cfg)
    assert clear.lane == 2  # once the gap is behind the ego, it changes lane


def test_no_drop_back_when_it_costs_more_speed_than_it_gains() -> None:
    """Free own lane at 28 m/s: slowing to 18.5 m/s for the right-lane bonus is not worth it."""
    p = plan(_scene([(3.0, 2, 20.0), (200.0, 1, 30.0)], ego_lane=1, ego_v=28.0))
    assert not p.reason.startswith("drop back") and p.speed > 25.0


def test_braking_cap_closed_form_and_limits_the_set_point() -> None:
    cfg = PlannerConfig(s0=2.0, b_actuator=2.5, b_lead=0.5)  # closing speed falls at 2 m/s^2
    # gap 25 m, 27 m/s behind 21 m/s, T = 1 s: slack c = 25 - 2 - 6 / 2 = 20 m; u^2 / 4 + u / 2 = 20 -> u = 8
    assert braking_cap(25.0, 27.0, 21.0, 1.0, cfg) == pytest.approx(29.0)
    # no slack left: the speed must drop below the leader's, v_lead + 2 c / T with c = 5 - 2 - 5 = -2
    assert braking_cap(5.0, 31.0, 21.0, 1.0, cfg) == pytest.approx(17.0)
    # a leader that may brake too leaves less: b = 1 m/s^2 -> u^2 / 2 + u / 2 = 20 -> u = (-1 + sqrt(161)) / 2
    slow = PlannerConfig(s0=2.0, b_actuator=1.5, b_lead=0.5)
    assert braking_cap(25.0, 27.0, 21.0, 1.0, slow) == pytest.approx(21.0 + (-1.0 + np.sqrt(161.0)) / 2.0)
    # the plan never exceeds the cap of any car ahead, even one hidden behind a fast (ghost) track
    p = plan(_scene([(10.0, 1, 30.0), (25.0, 1, 15.0)], ego_v=25.0))
    assert p.speed <= p.cap <= braking_cap(20.0, 25.0, 15.0, 1.0, PlannerConfig()) + 1e-9
    assert control.meta_action(1, 1, 27.2, 27.5, 40.0, np.linspace(0.0, 30.0, 13), cap=28.8) == control.IDLE


def test_closest_approach_closed_form() -> None:
    t, d = closest_approach(np.array([[10.0, 0.0]]), np.array([[-5.0, 5.0]]), horizon=10.0)
    # relative motion (10 - 5t, 5t): nearest at t = 1 s, distance sqrt(50)
    assert t[0] == pytest.approx(1.0) and d[0] == pytest.approx(np.sqrt(50.0))


def test_meta_action_choices() -> None:
    grid = np.linspace(0.0, 30.0, 13)
    assert control.meta_action(1, 0, 25.0, 25.0, 25.0, grid) == control.LANE_LEFT
    assert control.meta_action(1, 2, 25.0, 25.0, 25.0, grid) == control.LANE_RIGHT
    assert control.meta_action(1, 1, 25.0, 25.0, 29.0, grid) == control.FASTER
    assert control.meta_action(1, 1, 25.0, 25.0, 20.0, grid) == control.SLOWER
    assert control.meta_action(1, 1, 25.0, 25.0, 25.3, grid) == control.IDLE
    # no lane change while the set-point is above what the planner allows: brake first
    assert control.meta_action(1, 2, 25.0, 25.0, 20.0, grid) == control.SLOWER


def test_pure_pursuit_closed_form_and_pid_converges() -> None:
    ld, alpha = 20.0, 0.1
    target = ld * np.array([np.cos(alpha), np.sin(alpha)])
    delta = control.pure_pursuit(np.zeros(2), 0.0, target, wheelbase=5.0)
    assert delta == pytest.approx(np.arctan(2 * 5.0 * np.sin(alpha) / ld))
    assert control.pure_pursuit(np.zeros(2), 0.0, np.array([20.0, 0.0])) == 0.0
    v, state, dt = 20.0, control.PIDState(), 0.1
    for _ in range(600):  # first-order plant dv/dt = u
        u, state = control.pid_step(25.0 - v, state, dt)
        v += float(np.clip(u, -5.0, 5.0)) * dt
    assert v == pytest.approx(25.0, abs=0.05)
    np.testing.assert_allclose(control.continuous_action(5.0, -np.pi / 4), [1.0, -1.0])


def test_refuses_a_change_when_a_slower_car_beyond_may_take_the_same_gap() -> None:
    """Ego in lane 2 wants the free middle lane; a slower car 20 m ahead in lane 0 may move over too."""
    cars = [(30.0, 2, 18.0), (20.0, 0, 17.0)]
    assert not lane_change_safe(_scene(cars, ego_lane=2, ego_v=27.0), 1, PlannerConfig())[0]
    cars_far = [(30.0, 2, 18.0), (80.0, 0, 17.0)]  # far enough ahead: fine
    assert lane_change_safe(_scene(cars_far, ego_lane=2, ego_v=27.0), 1, PlannerConfig())[0]


def test_a_car_drifting_into_the_target_lane_occupies_it() -> None:
    scene = _scene([(8.0, 0, 25.0)], ego_lane=2)
    drifting = scene._replace(objects=scene.objects._replace(lat=np.array([0.8]), v_lat=np.array([2.0])))
    still = scene._replace(objects=scene.objects._replace(lat=np.array([0.8])))  # same place, not moving sideways
    assert lane_change_safe(still, 1, PlannerConfig(cut_in_range=0.0))[0]
    assert not lane_change_safe(drifting, 1, PlannerConfig(cut_in_range=0.0))[0]


def test_conservative_velocity_shifts_uncertain_tracks_towards_the_ego() -> None:
    from pilotlab.drive.agents import conservative_velocity

    rel = np.array([[20.0, 0.0], [-15.0, 4.0]])  # one ahead, one behind [m]
    vel = np.array([[25.0, 0.0], [25.0, 0.0]])  # [m/s]
    cov = np.array([np.diag([36.0, 2.25]), np.diag([0.04, 2.25])])  # along-heading std 6 and 0.2 m/s
    out = conservative_velocity(rel, vel, cov, np.array([1.0, 0.0]), 1.0)
    np.testing.assert_allclose(out, [[19.0, 0.0], [25.2, 0.0]])


def test_lane_progress_speed_closed_form() -> None:
    """Free lane: accelerate at a_max to the top speed, then cruise; queue: the tightest car bounds the lane."""
    cfg = PlannerConfig()
    h, L = 10.0, 5.0  # [s], [m] (VEHICLE_LENGTH)
    free = _scene([], ego_v=24.0)
    t_acc = 6.0 / cfg.a_max  # [s] 24 -> 30 m/s
    reach = 24.0 * t_acc + 0.5 * cfg.a_max * t_acc**2 + 30.0 * (h - t_acc)
    assert lane_progress_speed(free, 1, h, cfg) == pytest.approx(reach / h)
    lone = _scene([(40.0, 1, 20.0)], ego_v=24.0)  # bound 40 + 200 - L - s0 - 20 T
    assert lane_progress_speed(lone, 1, h, cfg) == pytest.approx((240.0 - L - cfg.s0 - 20.0 * cfg.time_gap) / h)
    # a fast near car does not hide a slow car further ahead: the slow one bounds the lane
    queue = _scene([(20.0, 1, 28.0), (60.0, 1, 18.0)], ego_v=24.0)
    assert lane_progress_speed(queue, 1, h, cfg) == pytest.approx((240.0 - L - cfg.s0 - 18.0 * cfg.time_gap) / h)
    # the same slow car further away is worth more; cars in other lanes and behind do not count
    far = _scene([(20.0, 1, 28.0), (120.0, 1, 18.0), (-10.0, 1, 30.0), (5.0, 0, 10.0)], ego_v=24.0)
    assert lane_progress_speed(far, 1, h, cfg) > lane_progress_speed(queue, 1, h, cfg)


def test_rear_gap_accepts_two_metres_behind_refuses_overlap() -> None:
    """Target lane: a car at the ego's speed 9 m behind (4 m bumper gap) is fine, 6 m (1 m, under the 2 m
    margin) is not, nor 7.5 m (2.5 m: its IDM would brake at ~20 m/s^2 > b_safe), nor a faster car at 9 m."""
    cfg = PlannerConfig()
    assert lane_change_safe(_scene([(-9.0, 2, 25.0)]), 2, cfg)[0]
    assert lane_change_safe(_scene([(-6.0, 2, 25.0)]), 2, cfg)[1].startswith("car behind too close")
    assert lane_change_safe(_scene([(-7.5, 2, 25.0)]), 2, cfg)[1] == "new follower would brake too hard"
    assert not lane_change_safe(_scene([(-9.0, 2, 27.0)]), 2, cfg)[0]  # closes 6 m in 3 s


def test_far_lane_draws_the_ego_only_when_its_gap_is_open() -> None:
    """Ego in lane 2 behind a slow car; lane 1 no better; lane 0 free ahead but a car sits beside the ego in it."""
    cars = [(30.0, 2, 20.0), (35.0, 1, 20.5), (-1.0, 0, 20.0)]
    scene = _scene(cars, ego_lane=2, ego_v=20.0)
    assert plan(scene, PlannerConfig(far_lane_check=False)).lane == 1  # heads for lane 0 through lane 1
    assert plan(scene).lane == 2  # lane 0's gap beside the ego is taken: stay
    open_far = _scene([(30.0, 2, 20.0), (35.0, 1, 20.5), (-40.0, 0, 20.0)], ego_lane=2, ego_v=20.0)
    assert plan(open_far).lane == 1


def test_no_drop_back_by_default() -> None:
    """Without a right-lane bonus, slowing down to take a gap behind a car beside cost more speed than it
    gained on training seeds (see planning.py): by default the ego keeps following its own leader."""
    p = plan(_scene([(15.0, 1, 20.0), (3.0, 2, 22.0), (20.0, 0, 20.0)], ego_lane=1, ego_v=20.0))
    assert not p.reason.startswith("drop back") and p.cap > 20.0


def test_escape_cap_and_meta_action_change_lane_instead_of_braking() -> None:
    """A slow car 40 m ahead (35 m bumper gap, closing at 18 m/s: 17 m left after 1 s) and a free left lane:
    with `escape_time` the change may keep the set-point; with the car 15 m ahead the ego must brake first."""
    cfg = PlannerConfig(escape_time=1.0)
    far = _scene([(40.0, 1, 10.0)], ego_v=28.0)
    assert escape_cap(far, 0, 1.0, cfg) == np.inf
    assert np.isnan(escape_cap(far, 0, 1.0, PlannerConfig()))  # off by default (highways)
    assert np.isnan(escape_cap(far, 1, 1.0, cfg))  # not a change
    assert np.isnan(escape_cap(_scene([(15.0, 1, 10.0)], ego_v=28.0), 0, 1.0, cfg))
    slow_left = _scene([(40.0, 1, 10.0), (60.0, 0, 20.0)], ego_v=28.0)  # the target lane's own cap applies
    assert escape_cap(slow_left, 0, 1.0, cfg) == pytest.approx(braking_cap(55.0, 28.0, 20.0, 1.0, cfg))
    p = plan(far, cfg)
    assert p.lane != 1 and p.change_cap == np.inf and p.cap < 27.5
    grid = np.linspace(0.0, 30.0, 13)
    assert control.meta_action(1, p.lane, 28.0, 27.5, p.speed, grid, p.cap) == control.SLOWER  # brake first
    assert control.meta_action(1, 0, 28.0, 27.5, p.speed, grid, p.cap, p.change_cap) == control.LANE_LEFT


def test_much_slower_car_beside_the_lane_caps_the_speed_when_enabled() -> None:
    """A car merging from a ramp at 8 m/s, 20 m ahead in the next lane, with the ego at 28 m/s."""
    scene = _scene([(20.0, 2, 8.0)], ego_v=28.0)
    assert plan(scene).cap == np.inf  # highways: a car in another lane does not cap the speed
    cfg = PlannerConfig(adjacent_slow_dv=5.0)
    assert plan(scene, cfg).cap == pytest.approx(braking_cap(15.0, 28.0, 8.0, 1.0, cfg))
    assert plan(_scene([(20.0, 2, 25.0)], ego_v=28.0), cfg).cap == np.inf  # only 3 m/s slower: no cap


def test_spread_blind_occupies_the_lane_around_an_uncertain_blind_track() -> None:
    from pilotlab.drive.agents import spread_blind
    from pilotlab.drive.envs import VEHICLE_LENGTH

    x = np.array([[0.0, 4.0, 25.0, 0.0], [30.0, 0.0, 25.0, 0.0]])  # one alongside (blind), one ahead
    p_pos = np.array([np.diag([25.0, 0.25]), np.diag([25.0, 0.25])])  # along-road std 5 m
    p_vel = np.array([np.eye(2), 2.0 * np.eye(2)])
    out, pv, h = spread_blind(x, p_pos, p_vel, np.array([1.0, 0.0]), np.array([True, False]), 2.0)
    step = VEHICLE_LENGTH / 2.0
    n = int(2.0 * 5.0 // step)  # copies each side, out to 2 std = 10 m
    assert len(out) == 2 + 2 * n and len(pv) == len(out) and h.shape == (2,)
    np.testing.assert_array_equal(out[:2], x)  # the tracks themselves first, unchanged
    copies = out[2:]
    np.testing.assert_allclose(np.sort(copies[:, 0]), np.sort(step * np.r_[-np.arange(1, n + 1), np.arange(1, n + 1)]))
    assert (copies[:, 1] == 4.0).all() and (copies[:, 2:] == [25.0, 0.0]).all()
    np.testing.assert_array_equal(pv[2:], np.repeat(p_vel[:1], 2 * n, axis=0))
    # per-track headings (a turning road) follow the copies; a certain track spreads nowhere
    out2, _, h2 = spread_blind(x, p_pos, p_vel, np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([True, False]), 2.0)
    assert h2.shape == (len(out2), 2) and (h2[2:] == [0.0, 1.0]).all() and (out2[2:, 0] == 0.0).all()
    tight = np.array([np.diag([0.25, 0.25])] * 2)
    assert len(spread_blind(x, tight, p_vel, np.array([1.0, 0.0]), np.array([True, True]), 2.0)[0]) == 2


def test_cruise_limits_the_free_road_set_point_but_not_the_braking() -> None:
    """A scenario's desired speed (`PlannerConfig.cruise`): on a free road the set-point asks for no more than
    it; behind a slow leader IDM's braking still decides."""
    free = _scene([], ego_v=25.0)
    assert plan(free).speed > 25.0
    assert plan(free, PlannerConfig(cruise=15.0)).speed == pytest.approx(15.0)
    queue = _scene([(15.0, 1, 5.0), (15.0, 0, 5.0), (15.0, 2, 5.0)], ego_v=25.0)
    assert plan(queue, PlannerConfig(cruise=15.0)).speed == pytest.approx(plan(queue).speed)
    assert plan(queue).speed < 15.0


def test_the_drivers_set_the_cruise_speed_per_scenario() -> None:
    from pilotlab.drive.agents import make_agent
    from pilotlab.drive.envs import make_env

    agent = make_agent("oracle", 0)
    speeds = {}
    for env_id in ("merge-v0", "highway-fast-v0"):
        env = make_env(env_id)
        agent.prepare(env)
        speeds[env_id] = agent._planner.cruise
        env.close()
    assert speeds == {"merge-v0": dict(agent.cruise_speeds)["merge"], "highway-fast-v0": np.inf}


def test_tracker_settings_apply_per_env_prefix() -> None:
    from pilotlab.core.errors import PilotlabError
    from pilotlab.drive.agents import PlannerAgent
    from pilotlab.drive.tracking import TrackerConfig

    agent = PlannerAgent("modular", use_sensors=True, tracker_cfg=TrackerConfig(gate=13.0),
                         tracker_settings=(("exit", (("gate", 9.0), ("init_speed_std", (12.0, 0.2)))),
                                           ("ex", (("gate", 5.0),))))
    assert agent.tracker_config("exit-v0") == TrackerConfig(gate=9.0, init_speed_std=(12.0, 0.2))  # the first
    assert agent.tracker_config("highway-fast-v0") == TrackerConfig(gate=13.0)
    with pytest.raises(PilotlabError, match="unknown TrackerConfig field"):
        PlannerAgent("modular", use_sensors=True, tracker_settings=(("exit", (("gait", 9.0),)),))


def test_the_modular_driver_tracks_with_its_envs_settings() -> None:
    """The tracker of an episode runs the settings of its env (`tracker_settings`), others the defaults."""
    from pilotlab.drive.agents import make_agent
    from pilotlab.drive.envs import make_env

    agent = make_agent("modular", 0)
    agent.tracker_settings = (("merge", (("gate", 7.0), ("q_across", 0.5))),)
    used = {}
    for env_id in ("merge-v0", "highway-fast-v0"):
        env = make_env(env_id)
        agent.prepare(env)
        env.reset(seed=0)
        agent.reset(env, 0)
        used[env_id] = (agent._tracker.cfg.gate, agent._tracker.cfg.q_across)
        env.close()
    assert used == {"merge-v0": (7.0, 0.5), "highway-fast-v0": (agent.tracker_cfg.gate, agent.tracker_cfg.q_across)}
