"""Driving and tracking metrics.

Per episode: return (reward x policy period, summed), crash, mean speed [m/s], distance [m],
route completion, lane changes, compute per step [ms]. Route completion is defined per scenario
(`routes.RouteMeter`); without one (old callers) the route is the road a car at the reference speed
covers in the episode's duration, completion = min(1, distance / that length).
A crash ends the episode, so it also cuts completion. Driving score, as in the CARLA leaderboard:
route completion x 0.60 per collision with a vehicle x 0.65 for leaving the road (`routes.driving_score`).
Crash rates come with a 95 % Wilson score interval (`wilson_interval`).

Tracking: CLEAR MOT (MOTA, MOTP) and IDF1 via `motmetrics`, matching tracks to ground truth within
`MATCH_DISTANCE`. Ground truth at a step is every vehicle within the lidar's range from which at least
one lidar ray returned (not occluded, and not every ray on it dropped out), the visibility filter nuScenes
applies to its boxes (at least one lidar point); tracks are scored within the same range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pilotlab.core import summary as S
from pilotlab.drive.routes import COLLISION_PENALTY

MATCH_DISTANCE = 2.0  # [m] half a lane width: a track farther than this from an object is not it


@dataclass
class EpisodeStats:
    ret: float = 0.0
    crashed: bool = False
    speeds: list[float] = field(default_factory=list)  # [m/s] per policy step
    distance: float = 0.0  # [m]
    route_length: float = 1.0  # [m]
    lane_changes: int = 0
    step_ms: list[float] = field(default_factory=list)  # [ms] agent compute per step
    loop_s: float = 0.0  # [s] wall time of the whole loop (agent + simulator), rendering excluded
    completion: float | None = None  # [] the scenario's own route completion (`routes.RouteMeter`)
    off_road: bool = False  # the ego left the road at some step
    laps: int = 0  # racetrack-v0: whole laps driven

    @property
    def route_completion(self) -> float:
        if self.completion is not None:
            return float(self.completion)
        return float(min(1.0, self.distance / max(self.route_length, 1e-9)))

    @property
    def driving_score(self) -> float:
        return driving_score(self.route_completion, int(self.crashed), self.off_road)


def driving_score(route_completion: float, collisions: int, off_road: bool = False) -> float:
    """CARLA-style: completion x 0.60 ** collisions (x 0.65 if the ego left the road)."""
    from pilotlab.drive.routes import driving_score as score

    return score(route_completion, collisions, off_road)


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % Wilson score interval (Wilson 1927) of a rate from `successes` out of `n` trials.

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 of n: with 0 crashes in
    50 episodes the crash rate is below 7.1 % at 95 % confidence. n = 0 gives (nan, nan)."""
    if n <= 0:
        return float("nan"), float("nan")
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exactly 0 / 1 at the ends (no rounding residue)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return float(lo), float(hi)


def summarize(episodes: list[EpisodeStats]) -> dict[str, float]:
    """Means over episodes (speed and ms averaged per episode, then over episodes)."""
    def mean(xs: list[float]) -> float:
        return float(np.mean(xs)) if xs else float("nan")

    return {
        S.DRIVE_RETURN_MEAN: mean([e.ret for e in episodes]),
        S.DRIVE_RETURN_STD: float(np.std([e.ret for e in episodes])) if episodes else float("nan"),
        S.DRIVE_CRASH_RATE: mean([float(e.crashed) for e in episodes]),
        S.DRIVE_SPEED_MEAN: mean([mean(e.speeds) for e in episodes]),
        S.DRIVE_DISTANCE_MEAN: mean([e.distance for e in episodes]),
        S.DRIVE_ROUTE_COMPLETION: mean([e.route_completion for e in episodes]),
        S.DRIVE_SCORE: mean([e.driving_score for e in episodes]),
        S.DRIVE_LANE_CHANGES: mean([float(e.lane_changes) for e in episodes]),
        S.DRIVE_MS_PER_STEP: mean([mean(e.step_ms) for e in episodes]),
        S.DRIVE_LOOP_STEPS_PER_S: float(sum(len(e.step_ms) for e in episodes)
                                        / max(sum(e.loop_s for e in episodes), 1e-9)),
        S.DRIVE_EPISODES: float(len(episodes)),
        S.DRIVE_CRASH_RATE_LO: wilson_interval(sum(e.crashed for e in episodes), len(episodes))[0],
        S.DRIVE_CRASH_RATE_HI: wilson_interval(sum(e.crashed for e in episodes), len(episodes))[1],
        S.DRIVE_OFF_ROAD_RATE: mean([float(e.off_road) for e in episodes]),
        S.DRIVE_LAPS_MEAN: mean([float(e.laps) for e in episodes]),
        S.DRIVE_LAP_RATE: mean([float(e.laps >= 1 and not e.off_road and not e.crashed) for e in episodes]),
    }


class MotScorer:
    """Accumulates ground truth and tracks over steps and episodes; `compute()` gives MOTA, MOTP, IDF1, ..."""

    def __init__(self) -> None:
        import motmetrics as mm

        self._mm = mm
        self._acc = mm.MOTAccumulator(auto_id=True)
        self._episode = 0
        self._keys: dict[tuple[str, int, int], int] = {}

    def new_episode(self) -> None:
        """Ids restart per episode (and Python object ids get reused): prefix them with the episode."""
        self._episode += 1

    def update(self, gt_ids: np.ndarray, gt_pos: np.ndarray, hyp_ids: np.ndarray, hyp_pos: np.ndarray) -> None:
        """One frame: object ids (G,), positions (G, 2) [m]; track ids (H,), positions (H, 2) [m]."""
        d = np.sqrt(((gt_pos[:, None, :] - hyp_pos[None, :, :]) ** 2).sum(-1))  # (G, H) [m]
        d = np.where(d <= MATCH_DISTANCE, d, np.nan)
        self._acc.update([self._key("gt", g) for g in gt_ids], [self._key("hyp", h) for h in hyp_ids], d)

    def _key(self, kind: str, ident: object) -> int:
        """A small integer per (kind, episode, id): motmetrics wants numeric ids."""
        return self._keys.setdefault((kind, self._episode, int(ident)), len(self._keys) + 1)  # type: ignore[arg-type]

    def compute(self) -> dict[str, float]:
        names = ["mota", "motp", "idf1", "num_switches", "num_false_positives", "num_misses", "num_objects"]
        if self._acc.events.empty:
            return {n: float("nan") for n in names}
        row = self._mm.metrics.create().compute(self._acc, metrics=names, name="all")
        return {n: float(row[n].iloc[0]) for n in names}


__all__ = ["COLLISION_PENALTY", "MATCH_DISTANCE", "EpisodeStats", "MotScorer", "driving_score", "summarize",
           "wilson_interval"]
