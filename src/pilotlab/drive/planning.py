"""Behaviour planning: IDM longitudinal planning with MOBIL-style lane choice and safety checks.

Longitudinal: the Intelligent Driver Model (Treiber, Hennecke & Helbing, "Congested traffic states in
empirical observations and microscopic simulations", Phys. Rev. E 62, 2000) gives the ego's
acceleration behind the leader of a lane; integrating it over the next policy period gives the speed
set-point. Lateral: MOBIL (Kesting, Treiber & Helbing, "General lane-changing model MOBIL for
car-following models", TRB 2007): change lane when the gain beats a threshold and the new follower
need not brake harder than `b_safe`.
The gain here is the value (`speed_value`: highway-env's reward pays speed only inside
``reward_speed_range`` = 20-30 m/s) of the speed IDM predicts after `horizon` seconds in each lane,
settled behind its leader, plus an optional right-lane bonus. On top of MOBIL, every lane change is
checked against the constant-velocity predictions of all objects in the target lane over the manoeuvre,
including cars drifting into it, and of slower cars just ahead in the lane beyond, which may pick the
same gap at the same moment.

Defaults were tuned on training seeds (0-169), never on the held-out seeds 100000+; the measurements
behind each one are in docs/drive.md ("Where the speed was lost"). IDM a, b and delta follow
highway-env's IDMVehicle; the time gap and jam distance are far shorter than its 1.5 s and 10 m, so
that the ego keeps up the speed the reward pays for. That is safe only with `braking_cap`: meta-actions
can lower the set-point just one grid step per policy period, so the speed is capped where braking at
`b_actuator`, less the braking `b_lead` the car ahead may do meanwhile (a queue compressing in a
shockwave), still stops short of every car ahead in the lane. `b_safe` is far above MOBIL's 2 m/s^2:
with a short-gap IDM a follower 11 m behind at the ego's own speed "needs" about -9 m/s^2, so MOBIL's
limit would refuse almost every gap in a queue, while highway-env's cars brake up to 6 m/s^2 and the
constant-velocity check keeps faster followers off the ego.

Lanes are valued by speed alone on highways (no right-lane bonus): highway-fast-v0's traffic settles
into queues in all lanes, so the mean speed is decided by how many cars the ego gets past. The
right-lane bonus (`right_bias`), drop-back and the queue look-ahead (`value_horizon`) are off on
highways, where they measured no better; the first two are used in the other scenarios (agents.py).

Everything works on a `Scene` (plain arrays in the road frame of `prediction.py`), so scripted
scenes test the planner without a simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from pilotlab.drive.envs import VEHICLE_LENGTH
from pilotlab.drive.prediction import LaneObjects


@dataclass(frozen=True)
class PlannerConfig:
    v0: float = 30.0  # [m/s] desired speed (the drivers set it to `v0_ratio` x the reward's top speed)
    v0_ratio: float = 1.5  # [] v0 / top of the reward speed range: IDM's free-road term fades as v -> v0, so
    # aiming above the top keeps it asking for the top set-point instead of the one below it (docs/drive.md)
    time_gap: float = 0.2  # [s] IDM desired time headway (safe only with `braking_cap`, see the module docstring)
    s0: float = 1.5  # [m] IDM jam distance, bumper to bumper; also the gap `braking_cap` keeps
    a_max: float = 3.0  # [m/s^2] IDM maximum acceleration
    b_comf: float = 5.0  # [m/s^2] IDM comfortable deceleration
    delta: float = 4.0  # [] IDM acceleration exponent
    b_safe: float = 15.0  # [m/s^2] MOBIL: the most IDM braking a lane change may impose on the new follower
    gain_threshold: float = 1.0  # [m/s] lane-change hysteresis on the predicted-speed gain
    right_bias: float = 0.0  # [m/s] bonus of the rightmost lane over the leftmost (0: speed first, see the docstring)
    horizon: float = 3.0  # [s] look-ahead of the lane gain and of the lane-change collision check
    change_time: float = 3.0  # [s] duration of a lane change in the collision check
    front_margin: float = 4.0  # [m] bumper gap kept to cars ahead in the target lane during a change
    rear_margin: float = 2.0  # [m] bumper gap kept to cars behind in the target lane (short: a slower car just
    # behind is outrun before the ego is across; a wider gap refused most passes, docs/drive.md)
    rear_headway: float = 0.0  # [s] extra gap per m/s of a car behind in the target lane
    occupancy: float = 2.8  # [m] a car occupies every lane whose centre is within this lateral distance
    cut_in_range: float = 40.0  # [m] slower cars this close ahead in the lane beyond the target count too
    lateral_lookahead: float = 1.0  # [s] ... now or after this long at its lateral speed (cars changing lanes)
    speed_range: tuple[float, float] = (20.0, 30.0)  # [m/s] highway-env's reward_speed_range: only speed in it pays
    below_range_weight: float = 0.2  # [] weight of speed below `speed_range` in the lane utility
    drop_back_dv: float = 1.5  # [m/s] below a blocking car's speed, to let it pass and take the gap behind it
    drop_back_min_gain: float = float("inf")  # [m/s] drop back only for a lane this much better (inf: never)
    value_horizon: float = 0.0  # [s] > 0: value lanes by `lane_progress_speed` over this horizon (the whole queue)
    far_lane_check: bool = True  # [] a lane two over draws the ego only if its gap beside the ego is open now
    b_actuator: float = 2.0  # [m/s^2] braking the ego can count on: meta-actions lower the set-point one grid
    # step (2.5 m/s) per policy period and highway-env's speed loop reaches ~80 % of it in 1 s
    adjacent_slow_dv: float = 0.0  # [m/s] > 0: cars ahead in a neighbouring lane this much slower than the ego
    # cap its speed as if they were in its lane (they may cut in; off on highways, used for merge-v0's ramp)
    escape_time: float = 0.0  # [s] > 0: change lane away from a slow leader without braking first when the
    # leader stays this far off (off on highways, where it was not tuned; 1 s elsewhere, see agents.py)
    b_lead: float = 0.5  # [m/s^2] braking of the car ahead `braking_cap` allows for (a queue may brake faster
    # than a constant-speed leader; docs/drive.md, "Safety", has the crash that set it)
    cruise: float = float("inf")  # [m/s] the most the speed set-point asks for (a scenario's desired speed, set by
    # the drivers per env: `agents.PlannerAgent.cruise_speeds`); inf: as fast as IDM and the caps allow


class Scene(NamedTuple):
    """The ego and the objects in the road frame; the ego is at lateral `ego_lane * lane_width + d`."""

    ego_s: float  # [m]
    ego_v: float  # [m/s]
    ego_lane: int  # [] current lane
    n_lanes: int  # [] lanes of the ego's road, 0 the leftmost
    lane_width: float  # [m]
    objects: LaneObjects
    lane_change_allowed: bool = True  # False while a change is under way
    also_lane: int = -1  # [] the lane the ego still straddles during a change (-1: none)


class Plan(NamedTuple):
    lane: int  # [] lane to drive in
    speed: float  # [m/s] speed set-point for the next policy period
    reason: str  # a short human-readable note for logs and GIFs
    cap: float = float("inf")  # [m/s] hard limit (`braking_cap`): no set-point above it, grid rounding included
    change_cap: float = float("nan")  # [m/s] escape (`PlannerConfig.escape_time`): the set-point may stay up to
    # this during the lane change, as the cars ahead in the lane being left are not reached before the ego is out


def idm_acceleration(v: float, v0: float, gap: float, dv: float, cfg: PlannerConfig) -> float:
    """IDM acceleration [m/s^2]; `gap` [m] bumper to bumper (inf: free road), `dv` = v - v_leader [m/s]."""
    free = 1.0 - (max(v, 0.0) / v0) ** cfg.delta
    if not np.isfinite(gap):
        return cfg.a_max * free
    s_star = cfg.s0 + max(0.0, v * cfg.time_gap + v * dv / (2.0 * np.sqrt(cfg.a_max * cfg.b_comf)))
    return cfg.a_max * (free - (s_star / max(gap, 0.1)) ** 2)


def speed_value(v: float, cfg: PlannerConfig) -> float:
    """The lane utility's worth [m/s] of a predicted speed `v` [m/s]: highway-env pays speed linearly inside
    `cfg.speed_range` and nothing outside it, so speed above the range is worth nothing and speed below it
    only `cfg.below_range_weight` (enough to still prefer the faster of two slow lanes)."""
    lo, hi = cfg.speed_range
    return min(v, hi) if v >= lo else lo - cfg.below_range_weight * (lo - v)


def lane_members(scene: Scene, lane: int, cfg: PlannerConfig) -> np.ndarray:
    """Indices of objects occupying `lane` (within `cfg.occupancy` of its centre) now or, moving sideways
    at their current lateral speed, `cfg.lateral_lookahead` seconds from now (a car cutting in)."""
    centre = lane * scene.lane_width
    later = scene.objects.lat + scene.objects.v_lat * cfg.lateral_lookahead
    now_in = np.abs(scene.objects.lat - centre) < cfg.occupancy
    return np.flatnonzero(now_in | (np.abs(later - centre) < cfg.occupancy))


def neighbours(scene: Scene, lane: int, cfg: PlannerConfig) -> tuple[int | None, int | None]:
    """(leader, follower) object indices of the ego's longitudinal position in `lane`."""
    idx = lane_members(scene, lane, cfg)
    ds = scene.objects.s[idx] - scene.ego_s
    ahead, behind = idx[ds >= 0], idx[ds < 0]
    lead = int(ahead[np.argmin(scene.objects.s[ahead])]) if len(ahead) else None
    follow = int(behind[np.argmax(scene.objects.s[behind])]) if len(behind) else None
    return lead, follow


def lane_acceleration(scene: Scene, lane: int, cfg: PlannerConfig, v: float | None = None) -> float:
    """IDM acceleration of the ego behind the leader of `lane`."""
    v = scene.ego_v if v is None else v
    lead, _ = neighbours(scene, lane, cfg)
    if lead is None:
        return idm_acceleration(v, cfg.v0, np.inf, 0.0, cfg)
    gap = scene.objects.s[lead] - scene.ego_s - VEHICLE_LENGTH
    return idm_acceleration(v, cfg.v0, gap, v - scene.objects.v_s[lead], cfg)


def rollout_speed(scene: Scene, lane: int, duration: float, cfg: PlannerConfig, dt: float = 0.25,
                  settled: bool = False) -> float:
    """Ego speed [m/s] after following IDM for `duration` [s] in `lane`, the leader moving at constant speed.

    `settled`: start no closer to the leader than IDM's equilibrium gap at its speed, i.e. value the lane
    as if the ego had already slotted in behind its leader (the lane's flow, not the braking to get there).
    """
    lead, _ = neighbours(scene, lane, cfg)
    s, v = scene.ego_s, scene.ego_v
    ls = scene.objects.s[lead] if lead is not None else np.inf
    lv = scene.objects.v_s[lead] if lead is not None else 0.0
    if settled and lead is not None:
        ls = max(ls, s + VEHICLE_LENGTH + cfg.s0 + max(lv, 0.0) * cfg.time_gap)
    for _ in range(round(duration / dt)):
        gap = ls - s - VEHICLE_LENGTH
        a = idm_acceleration(v, cfg.v0, gap, v - lv, cfg)
        v = max(0.0, v + a * dt)
        s += v * dt
        ls += lv * dt
    return v


def lane_progress_speed(scene: Scene, lane: int, horizon: float, cfg: PlannerConfig) -> float:
    """Mean speed [m/s] the ego can hold over `horizon` [s] in `lane`, looking at its whole queue ahead.

    No car can be passed inside a lane, so after `horizon` the ego is at most where every car ahead will
    be (constant velocity) less IDM's equilibrium gap behind it, ``s_i + v_i H - L - s0 - v_i T``, and
    at most where free driving takes it (accelerate at `a_max` to the top of `speed_range`, then cruise).
    The tightest bound over the queue, divided by H, is the lane's speed: a lane whose nearest car is fast
    but which holds a slow car further ahead is worth the slow car's speed, a lone slow leader with free
    road beyond is worth its own speed, and a far car is worth more than a near one of the same speed.
    """
    v, v_top = max(scene.ego_v, 0.0), cfg.speed_range[1]
    t_acc = min(max(v_top - v, 0.0) / cfg.a_max, horizon)  # [s] accelerating towards the top speed
    reach = v * t_acc + 0.5 * cfg.a_max * t_acc**2 + min(v + cfg.a_max * t_acc, v_top) * (horizon - t_acc)  # [m]
    idx = lane_members(scene, lane, cfg)
    ahead = idx[scene.objects.s[idx] >= scene.ego_s]
    if len(ahead):
        vs = np.maximum(scene.objects.v_s[ahead], 0.0)  # (K,) [m/s]
        bound = scene.objects.s[ahead] - scene.ego_s + vs * horizon - VEHICLE_LENGTH - cfg.s0 - vs * cfg.time_gap
        reach = min(reach, float(bound.min()))
    return max(reach, 0.0) / horizon


def braking_cap(gap: float, v: float, v_lead: float, period: float, cfg: PlannerConfig) -> float:
    """Highest speed [m/s] to command for the next `period` [s] behind a leader at constant speed `v_lead`
    with bumper gap `gap` [m], such that braking at `cfg.b_actuator` from then on never closes the gap
    below `cfg.s0`. Speeds ramp linearly over the period; with u = v_next - v_lead >= 0 the condition
    ``gap - s0 - (v - v_lead) T/2 - u T/2 - u^2 / (2 b) >= 0`` is a quadratic in u (closed form);
    when even u = 0 fails, v_next must fall below v_lead: ``v_next <= v_lead + 2 C / T``. The leader may
    itself brake at `cfg.b_lead` meanwhile (a queue compressing in a shockwave), so the closing speed is
    taken to fall at ``b = b_actuator - b_lead`` only."""
    c = gap - cfg.s0 - (v - v_lead) * period / 2.0  # [m] slack left at v_next = v_lead
    if c < 0.0:
        return v_lead + 2.0 * c / period
    b = cfg.b_actuator - cfg.b_lead  # [m/s^2] the closing speed falls this fast while the leader brakes too
    return v_lead + b * (-period / 2.0 + np.sqrt(period**2 / 4.0 + 2.0 * c / b))


def lane_change_safe(scene: Scene, lane: int, cfg: PlannerConfig) -> tuple[bool, str, int | None]:
    """Whether moving into `lane` keeps clear of every object predicted there (constant velocity).

    Returns (safe, reason, index of the blocking object or None).
    """
    objs = scene.objects
    idx = lane_members(scene, lane, cfg)
    times = np.linspace(0.0, cfg.change_time, 7)  # [s]
    v = scene.ego_v
    for i in idx:
        gap0 = objs.s[i] - scene.ego_s  # [m] centre to centre, > 0 ahead
        rel = gap0 + (objs.v_s[i] - v) * times  # (T,)
        if gap0 >= 0:
            need = VEHICLE_LENGTH + cfg.front_margin + max(0.0, v - objs.v_s[i]) * 1.0
            if np.any(rel < need):
                return False, f"gap ahead too small ({gap0:.0f} m)", int(i)
        else:
            need = VEHICLE_LENGTH + cfg.rear_margin + cfg.rear_headway * max(objs.v_s[i], 0.0)
            if np.any(-rel < need):
                return False, f"car behind too close ({-gap0:.0f} m)", int(i)
    far = lane + (lane - scene.ego_lane)  # the lane beyond: its slower cars ahead may move over at the same time
    if 0 <= far < scene.n_lanes:
        for i in lane_members(scene, far, cfg):
            gap0 = objs.s[i] - scene.ego_s
            if 0.0 <= gap0 < cfg.cut_in_range and objs.v_s[i] < v:
                need = VEHICLE_LENGTH + cfg.front_margin + (v - objs.v_s[i]) * 1.0
                if np.any(gap0 + (objs.v_s[i] - v) * times < need):
                    return False, f"car in lane {far} may cut in ({gap0:.0f} m)", int(i)
    _, follow = neighbours(scene, lane, cfg)
    if follow is not None:  # MOBIL safety: the new follower's IDM braking behind the ego
        gap = scene.ego_s - objs.s[follow] - VEHICLE_LENGTH
        fv = objs.v_s[follow]
        if idm_acceleration(fv, max(fv, cfg.v0), gap, fv - v, cfg) < -cfg.b_safe:
            return False, "new follower would brake too hard", follow
    if lane_acceleration(scene, lane, cfg) < -cfg.b_safe:
        return False, "too close to the new leader", None
    return True, "clear", None


def plan(scene: Scene, cfg: PlannerConfig = PlannerConfig(), period: float = 1.0) -> Plan:
    """Choose the lane (MOBIL-style gain + safety) and the speed set-point (IDM over `period` [s]).

    A neighbouring lane is worth the better of its own predicted speed and, one lane further, the
    next lane's (less `cfg.gain_threshold`): a free lane two lanes over draws the ego through the
    middle one, if its gap beside the ego is open now (`cfg.far_lane_check`). Lanes are valued by
    `speed_value` of their settled flow speed (or, with `cfg.value_horizon` > 0, `lane_progress_speed`)
    plus the right-lane bonus. When the best neighbouring lane is worth at least `cfg.drop_back_min_gain`
    but a car ahead of or beside the ego blocks the change, the ego drops back `cfg.drop_back_dv` below
    that car's speed (a hard cap) to take the gap behind it, provided the speed value it gives up is
    smaller than the gain (off by default on highways; used with the right-lane bonus elsewhere).
    """
    def utility(lane: int) -> float:
        bias = cfg.right_bias * lane / max(scene.n_lanes - 1, 1)
        if cfg.value_horizon > 0.0:
            return speed_value(lane_progress_speed(scene, lane, cfg.value_horizon, cfg), cfg) + bias
        return speed_value(rollout_speed(scene, lane, cfg.horizon, cfg, settled=True), cfg) + bias

    lane, reason = scene.ego_lane, "keep lane"
    drop_to: float | None = None  # [m/s] speed that lets a blocking car pass
    if scene.lane_change_allowed:
        keep = utility(scene.ego_lane)
        best_gain = cfg.gain_threshold
        for step in (1, -1):  # right first: it wins ties
            cand = scene.ego_lane + step
            if not 0 <= cand < scene.n_lanes:
                continue
            value = utility(cand)
            far = cand + step
            if 0 <= far < scene.n_lanes and (not cfg.far_lane_check or lane_change_safe(scene, far, cfg)[0]):
                value = max(value, utility(far) - cfg.gain_threshold)
            gain = value - keep
            if gain <= best_gain:
                continue
            ok, why, blocker = lane_change_safe(scene, cand, cfg)
            if ok:
                lane, best_gain, reason, drop_to = cand, gain, f"change to lane {cand}: +{gain:.1f} m/s", None
            elif lane == scene.ego_lane:
                reason = f"keep lane: lane {cand} {why}"
                in_lane = blocker is not None and blocker in lane_members(scene, cand, cfg)
                if in_lane and scene.objects.s[blocker] > scene.ego_s - VEHICLE_LENGTH:  # ahead or beside
                    slower = scene.objects.v_s[blocker] - cfg.drop_back_dv
                    cost = speed_value(min(scene.ego_v, cfg.speed_range[1]), cfg) - speed_value(slower, cfg)
                    worth = cost < gain - cfg.gain_threshold and gain >= cfg.drop_back_min_gain
                    if worth and (drop_to is None or slower > drop_to):
                        drop_to, reason = slower, f"drop back for lane {cand}: {why}"
    speed = rollout_speed(scene, scene.ego_lane, period, cfg)
    for other in {lane, scene.also_lane} - {scene.ego_lane, -1}:  # during a change respect both leaders
        speed = min(speed, rollout_speed(scene, other, period, cfg))
    cap = np.inf
    for other in {scene.ego_lane, lane, scene.also_lane} - {-1}:  # never outrun the ego's braking authority
        for i in lane_members(scene, other, cfg):  # every car ahead, not just the nearest (a fast ghost track
            gap = scene.objects.s[i] - scene.ego_s - VEHICLE_LENGTH  # in front would hide a slow car)
            if gap >= 0.0:
                cap = min(cap, braking_cap(gap, scene.ego_v, scene.objects.v_s[i], period, cfg))
    if cfg.adjacent_slow_dv > 0.0:  # much slower cars beside the ego's lane may cut in (a merging ramp)
        for other in (scene.ego_lane - 1, scene.ego_lane + 1):
            for i in lane_members(scene, other, cfg) if 0 <= other < scene.n_lanes else ():
                gap = scene.objects.s[i] - scene.ego_s - VEHICLE_LENGTH
                if gap >= 0.0 and scene.objects.v_s[i] < scene.ego_v - cfg.adjacent_slow_dv:
                    cap = min(cap, braking_cap(gap, scene.ego_v, scene.objects.v_s[i], period, cfg))
    if drop_to is not None:  # a hard limit: rounding to the grid's nearest set-point would undo the drop
        cap = min(cap, drop_to)
    speed = min(speed, cap, cfg.cruise)
    return Plan(lane, float(max(speed, 0.0)), reason, float(cap), escape_cap(scene, lane, period, cfg))


def escape_cap(scene: Scene, lane: int, period: float, cfg: PlannerConfig) -> float:
    """The set-point cap [m/s] for changing into `lane` without braking first: the target lane's
    `braking_cap` alone, provided no car ahead in the ego's lane comes closer than `cfg.s0` (bumper) within
    `cfg.escape_time` [s] at the current closing speed (highway-env's ego is across in ~0.5 s).
    NaN when escaping is off, not a change, or the current lane's leader is too close: brake first then."""
    if cfg.escape_time <= 0.0 or lane == scene.ego_lane:
        return float("nan")
    objs = scene.objects
    for i in lane_members(scene, scene.ego_lane, cfg):
        gap = objs.s[i] - scene.ego_s - VEHICLE_LENGTH  # [m] bumper to bumper
        if gap >= -VEHICLE_LENGTH and gap - max(scene.ego_v - objs.v_s[i], 0.0) * cfg.escape_time < cfg.s0:
            return float("nan")
    cap = np.inf
    for i in lane_members(scene, lane, cfg):
        gap = objs.s[i] - scene.ego_s - VEHICLE_LENGTH
        if gap >= 0.0:
            cap = min(cap, braking_cap(gap, scene.ego_v, objs.v_s[i], period, cfg))
    return float(cap)


__all__ = [
    "Plan",
    "PlannerConfig",
    "Scene",
    "braking_cap",
    "escape_cap",
    "idm_acceleration",
    "lane_acceleration",
    "lane_change_safe",
    "lane_members",
    "neighbours",
    "plan",
    "rollout_speed",
    "speed_value",
]
