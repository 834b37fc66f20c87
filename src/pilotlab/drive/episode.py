"""One episode of a driver in an env: the loop `drive eval`, the stress search and scenario replays share.

`run_episode(agent, env, seed)` returns the episode's `metrics.EpisodeStats` (return, crash, speeds,
route completion per scenario, off-road, laps, compute per step); optionally it scores tracking, collects
annotated frames, and runs a scenario's `EpisodeHooks` (`scenarios.ScenarioHooks`).
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import numpy as np

from pilotlab.drive import envs, metrics
from pilotlab.drive.agents import Agent
from pilotlab.drive.sensors import camera_frame


def _lane_number(vehicle: Any) -> tuple[Any, Any, int]:
    return tuple(vehicle.lane_index)  # type: ignore[return-value]


class EpisodeHooks(Protocol):
    """What a scenario adds to an episode (`scenarios.ScenarioHooks`): changes to the traffic right after the
    reset and after each step (e.g. new NPCs spawned by the env), and observations of each step."""

    def after_reset(self, env: Any) -> None: ...
    def after_step(self, env: Any, step: int) -> None: ...


def run_episode(agent: Agent, env: Any, seed: int, scorer: metrics.MotScorer | None = None,
                frames: list[np.ndarray] | None = None, hooks: EpisodeHooks | None = None) -> metrics.EpisodeStats:
    """Drive one episode; optionally score tracking, collect annotated frames and run a scenario's hooks."""
    from pilotlab.drive.render import overlay
    from pilotlab.drive.routes import RouteMeter

    agent.prepare(env)
    obs, _ = env.reset(seed=seed)
    if hooks is not None:
        hooks.after_reset(env)
    agent.reset(env, seed)
    period, _ = envs.env_timing(env)
    stats = metrics.EpisodeStats(route_length=envs.route_length(env))
    route = RouteMeter(env)
    if scorer is not None:
        scorer.new_episode()
    prev_pos = np.array(envs.ego_vehicle(env).position, dtype=float)
    prev_lane = _lane_number(envs.ego_vehicle(env))
    done = False
    start = time.perf_counter()
    render_s = 0.0
    while not done:
        t0 = time.perf_counter()
        action = agent.act(env, obs)
        stats.step_ms.append(1000.0 * (time.perf_counter() - t0))
        perception = agent.perception
        if scorer is not None and perception is not None:
            t_score = time.perf_counter()
            _score_tracking(scorer, env, perception)
            render_s += time.perf_counter() - t_score  # evaluation overhead, not the driving loop
        if frames is not None:
            t_render = time.perf_counter()
            note = f"{getattr(agent, 'name', '')} t={len(stats.step_ms) - 1}s"
            frames.append(overlay(env, camera_frame(env), perception, note))
            render_s += time.perf_counter() - t_render
        obs, reward, terminated, truncated, info = env.step(action)
        ego = envs.ego_vehicle(env)
        if hooks is not None:
            hooks.after_step(env, len(stats.step_ms) - 1)
        stats.ret += float(reward) * period  # reward x time [s]: Gymnasium's return at the usual 1 Hz
        stats.speeds.append(float(ego.speed))
        pos = np.array(ego.position, dtype=float)
        stats.distance += float(np.hypot(*(pos - prev_pos)))
        prev_pos = pos
        lane = _lane_number(ego)
        if lane[:2] == prev_lane[:2] and lane[2] != prev_lane[2]:
            stats.lane_changes += 1
        prev_lane = lane
        stats.crashed = stats.crashed or bool(info.get("crashed", ego.crashed))
        stats.off_road = stats.off_road or not bool(getattr(ego, "on_road", True))
        route.update(env)
        done = bool(terminated or truncated)
    stats.completion = route.completion
    stats.laps = route.laps
    stats.loop_s = time.perf_counter() - start - render_s
    return stats


def _score_tracking(scorer: metrics.MotScorer, env: Any, perception: Any) -> None:
    truth = envs.ground_truth(env)
    ego = envs.ego_state(env)
    lidar = perception.lidar
    visible = np.unique(lidar.hit_index[(lidar.hit_index >= 0) & lidar.hit])  # a ray returned from it
    max_range = float(lidar.ranges.max()) if len(lidar.ranges) else 0.0
    near = np.hypot(*(truth.position[visible] - ego.position).T) <= max_range if len(visible) else visible
    gt = visible[near] if len(visible) else visible
    tracks = [t for t in perception.tracks if t.confirmed and t.misses == 0
              and np.hypot(*(t.x[:2] - ego.position)) <= max_range]
    scorer.update(truth.ids[gt], truth.position[gt],
                  np.array([t.id for t in tracks]), np.array([t.x[:2] for t in tracks]).reshape(-1, 2))


__all__ = ["EpisodeHooks", "run_episode"]
