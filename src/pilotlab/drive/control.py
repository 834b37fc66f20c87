"""Control: meta-actions for `DiscreteMetaAction`, PID speed and pure-pursuit steering for `ContinuousAction`.

Meta-actions (highway-env's MDPVehicle): 0 LANE_LEFT, 1 IDLE, 2 LANE_RIGHT, 3 FASTER, 4 SLOWER.
FASTER / SLOWER move the cruise set-point one step of the `target_speeds` grid from the grid speed
nearest the *current* speed, so `meta_action` predicts each action's resulting set-point and picks the
highest one not above the planner's speed.

Continuous control (Coulter, "Implementation of the Pure Pursuit Path Tracking Algorithm", CMU-RI-TR-92-01,
1992): steer onto the arc through a look-ahead point on the target lane's centre line,
``delta = atan(2 L sin(alpha) / l_d)`` with wheelbase L and look-ahead distance ``l_d = l_0 + k v``;
a PID loop turns the speed error into an acceleration. Outputs are normalised to highway-env's
`ContinuousAction` ranges (acceleration +-5 m/s^2, steering +-pi/4 rad).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER = 0, 1, 2, 3, 4
META_ACTIONS = {LANE_LEFT: "LANE_LEFT", IDLE: "IDLE", LANE_RIGHT: "LANE_RIGHT", FASTER: "FASTER", SLOWER: "SLOWER"}
ACCELERATION_RANGE = (-5.0, 5.0)  # [m/s^2] highway-env ContinuousAction default
STEERING_RANGE = (-np.pi / 4, np.pi / 4)  # [rad]
WHEELBASE = 5.0  # [m] highway-env's bicycle model uses the vehicle length


def speed_index(speed: float, grid: np.ndarray) -> int:
    """Index of the grid speed nearest `speed` (MDPVehicle.speed_to_index, uniform grid)."""
    x = (speed - grid[0]) / max(grid[-1] - grid[0], 1e-9)
    return int(np.clip(np.round(x * (len(grid) - 1)), 0, len(grid) - 1))


def meta_action(ego_lane: int, target_lane: int, speed: float, set_point: float, desired: float,
                grid: np.ndarray, cap: float = float("inf"), change_cap: float = float("nan")) -> int:
    """The meta-action realising a (lane, speed) plan.

    Args: ego_lane / target_lane: lane indices (0 leftmost); speed: current speed [m/s]; set_point:
    the ego's current cruise set-point [m/s]; desired: the planner's speed [m/s]; grid: target speeds;
    cap: a hard limit [m/s] that, unlike `desired`, grid rounding may not exceed; change_cap: if not NaN,
    the limit a lane change alone must respect (`planning.escape_cap`: change lane instead of braking).
    """
    step = float(grid[1] - grid[0]) if len(grid) > 1 else 0.0
    slack = 0.5 * step + 1e-6  # [m/s] grid rounding: the set-point nearest the desired speed is acceptable
    limit = min(desired + slack, cap + 1e-6)
    change_limit = limit if np.isnan(change_cap) else change_cap + 1e-6
    if target_lane != ego_lane and set_point <= change_limit:  # a change keeps the set-point
        return LANE_LEFT if target_lane < ego_lane else LANE_RIGHT
    i = speed_index(speed, grid)
    options = {IDLE: set_point, FASTER: grid[min(i + 1, len(grid) - 1)], SLOWER: grid[max(i - 1, 0)]}
    feasible = {a: v for a, v in options.items() if v <= limit}  # nearest grid speed
    if not feasible:  # nothing slow enough: brake as hard as the grid allows
        return min(options, key=lambda a: options[a])
    best = max(feasible.values())
    for a in (IDLE, FASTER, SLOWER):  # prefer IDLE on ties (keeps the set-point steady)
        if feasible.get(a) == best:
            return a
    return IDLE  # pragma: no cover


@dataclass(frozen=True)
class PIDGains:
    kp: float = 1.5  # [1/s] acceleration per m/s of speed error
    ki: float = 0.1  # [1/s^2]
    kd: float = 0.0  # []
    i_limit: float = 5.0  # [m/s * s] anti-windup clamp on the integral


class PIDState(NamedTuple):
    integral: float = 0.0
    previous_error: float = 0.0


def pid_step(error: float, state: PIDState, dt: float, gains: PIDGains = PIDGains()) -> tuple[float, PIDState]:
    """One PID update: u = kp e + ki int(e) + kd de/dt; returns (u, new state)."""
    integral = float(np.clip(state.integral + error * dt, -gains.i_limit, gains.i_limit))
    derivative = (error - state.previous_error) / dt if dt > 0 else 0.0
    u = gains.kp * error + gains.ki * integral + gains.kd * derivative
    return u, PIDState(integral, error)


def pure_pursuit(position: np.ndarray, heading: float, target: np.ndarray, wheelbase: float = WHEELBASE) -> float:
    """Steering angle [rad] that puts the vehicle on the circular arc through `target` (pure pursuit).

    alpha is the bearing of the target relative to the heading and l_d its distance:
    curvature 2 sin(alpha) / l_d, steering atan(wheelbase x curvature). highway-env's bicycle model is
    referenced at the vehicle centre, so `target` is measured from there too.
    """
    rel = target - position
    ld = float(np.hypot(*rel))
    if ld < 1e-6:
        return 0.0
    alpha = np.arctan2(rel[1], rel[0]) - heading
    return float(np.arctan2(2.0 * wheelbase * np.sin(alpha), ld))


def lookahead_distance(speed: float, l0: float = 8.0, k: float = 0.6) -> float:
    """Look-ahead [m] growing with speed: l_0 + k v."""
    return l0 + k * max(speed, 0.0)


def continuous_action(acceleration: float, steering: float) -> np.ndarray:
    """Normalise (acceleration [m/s^2], steering [rad]) to highway-env's [-1, 1] ContinuousAction."""
    a = np.interp(acceleration, ACCELERATION_RANGE, [-1.0, 1.0])
    d = np.interp(steering, STEERING_RANGE, [-1.0, 1.0])
    return np.array([a, d], dtype=np.float32)


__all__ = [
    "FASTER",
    "IDLE",
    "LANE_LEFT",
    "LANE_RIGHT",
    "META_ACTIONS",
    "SLOWER",
    "PIDGains",
    "PIDState",
    "continuous_action",
    "lookahead_distance",
    "meta_action",
    "pid_step",
    "pure_pursuit",
    "speed_index",
]
