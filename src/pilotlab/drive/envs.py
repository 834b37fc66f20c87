"""highway-env scenarios and the simulator state the driving stack reads.

`make_env` builds one of `SCENARIOS` headless (``render_mode="rgb_array"``, ``SDL_VIDEODRIVER=dummy``).
`ego_state` and `ground_truth` read the simulator: the ego's own pose (what localization would give)
and the other vehicles (what only the oracle and the metrics may see). Everything physical is in SI
units in the world frame of highway-env: x along the road [m], y to the right [m], heading [rad].
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from pilotlab.core.errors import PilotlabError

SCENARIOS: dict[str, str] = {
    "highway-fast-v0": "straight 3-lane highway, 20 vehicles, 30 s at 1 Hz (the default)",
    "highway-v0": "straight 4-lane highway, 50 vehicles, 40 s",
    "merge-v0": "highway with a merging on-ramp",
    "roundabout-v0": "a roundabout with incoming traffic",
    "intersection-v0": "an unsignalized 4-way intersection",
    "exit-v0": "a 6-lane highway whose exit (x = 400-500 m, rightmost lane) the ego must take within 18 s",
    "racetrack-v0": "a closed two-lane circuit; steering only (ContinuousAction, lateral), the speed is fixed",
}

VEHICLE_LENGTH = 5.0  # [m] highway-env's Vehicle.LENGTH
VEHICLE_WIDTH = 2.0  # [m] highway-env's Vehicle.WIDTH


class EgoState(NamedTuple):
    """The ego's own pose and speed (localization + odometry)."""

    position: np.ndarray  # (2,) [m]
    heading: float  # [rad]
    speed: float  # [m/s]
    lane_index: tuple[Any, Any, int]  # highway-env (from, to, id)
    target_speed: float  # [m/s] current cruise set-point of a controlled vehicle


class Objects(NamedTuple):
    """Other vehicles, one row each; `ids` are stable identities (Python ids of the simulator objects)."""

    ids: np.ndarray  # (N,) int64
    position: np.ndarray  # (N, 2) [m]
    velocity: np.ndarray  # (N, 2) [m/s]
    heading: np.ndarray  # (N,) [rad]


def _import_highway_env() -> None:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pygame's pkg_resources deprecation notice on import
        import highway_env  # noqa: F401  (registers the ids)


def make_env(env_id: str, config: Mapping[str, Any] | None = None, render: bool = False, fast: bool = False) -> Any:
    """A highway-env Gymnasium env; `config` updates its default config (e.g. ``{"duration": 5}``); with `fast`,
    wrapped in `fast_sim.FastHighway` (the same steps bit for bit, faster).

    Whatever highway-env raises for a config it rejects (ValueError, KeyError, ...) becomes a one-line
    `PilotlabError` naming the env and the config."""
    if env_id not in SCENARIOS:
        raise PilotlabError(f"unknown env {env_id!r}; choose one of {', '.join(SCENARIOS)}")
    _import_highway_env()
    import gymnasium as gym

    from pilotlab.core.errors import one_line

    with warnings.catch_warnings():
        # merge-v0, roundabout-v0 and intersection-v0 have newer versions; the issue pins these ids
        warnings.filterwarnings("ignore", message=".*is out of date.*", category=DeprecationWarning)
        try:
            env = gym.make(env_id, config=dict(config or {}), render_mode="rgb_array" if render else None)
        except Exception as e:
            raise PilotlabError(f"cannot make {env_id} with config {config_text(config)}: {one_line(e)}; "
                                "fix or drop the rejected key") from None
    if fast:
        from pilotlab.drive.fast_sim import FastHighway

        env = FastHighway(env)
    return env


def config_text(config: Mapping[str, Any] | None) -> str:
    """An env config as one line of JSON, for error messages."""
    import json

    return json.dumps(dict(config or {}), default=repr, sort_keys=True)


def ego_vehicle(env: Any) -> Any:
    return env.unwrapped.vehicle


def ego_state(env: Any) -> EgoState:
    v = ego_vehicle(env)
    return EgoState(np.array(v.position, dtype=float), float(v.heading), float(v.speed), v.lane_index,
                    float(getattr(v, "target_speed", v.speed)))


def ground_truth(env: Any) -> Objects:
    """All vehicles but the ego, straight from the simulator."""
    ego = ego_vehicle(env)
    others = [v for v in env.unwrapped.road.vehicles if v is not ego]
    if not others:
        z = np.zeros((0, 2))
        return Objects(np.zeros(0, dtype=np.int64), z, z.copy(), np.zeros(0))
    return Objects(
        np.array([id(v) for v in others], dtype=np.int64),
        np.array([v.position for v in others], dtype=float),
        np.array([v.velocity for v in others], dtype=float),
        np.array([v.heading for v in others], dtype=float),
    )


MERGE_END_X = 370.0  # [m] merge-v0 has no time limit: it ends once the ego passes x = 370 m


def env_timing(env: Any) -> tuple[float, float]:
    """(policy period [s], episode duration [s]; NaN where the scenario has no time limit) of an env."""
    cfg = env.unwrapped.config
    return 1.0 / float(cfg["policy_frequency"]), float(cfg.get("duration", float("nan")))


def route_length(env: Any) -> float:
    """Length [m] of the "route" route completion is measured on (see `metrics`): the road a car at
    the reference speed covers in the episode's duration, or, in merge-v0, the road to its end."""
    _, duration = env_timing(env)
    if duration == duration:  # not NaN
        return reference_speed(env) * duration
    return max(MERGE_END_X - float(ego_vehicle(env).position[0]), 1.0)


def reference_speed(env: Any) -> float:
    """Speed [m/s] that earns the full speed reward: the top of ``reward_speed_range`` (30 on highways),
    else the top cruise set-point of the env's meta-actions (16 in roundabout-v0), else 30."""
    cfg = env.unwrapped.config
    if "reward_speed_range" in cfg:
        return float(max(cfg["reward_speed_range"]))
    speeds = cfg.get("action", {}).get("target_speeds")
    return float(max(speeds)) if speeds is not None else 30.0


__all__ = [
    "SCENARIOS",
    "VEHICLE_LENGTH",
    "VEHICLE_WIDTH",
    "EgoState",
    "Objects",
    "ego_state",
    "ego_vehicle",
    "env_timing",
    "ground_truth",
    "make_env",
    "reference_speed",
    "route_length",
]
