"""Multi-object tracking: a constant-velocity Kalman filter per track, Hungarian assignment with gating.

State per track ``x = [px, py, vx, vy]`` ([m], [m/s], world frame). The motion model is the
discretised continuous white-noise-acceleration model (Bar-Shalom, Li & Kirubarajan, "Estimation with
Applications to Tracking and Navigation", 2001, sec. 6.2.2); measurements are a position and, where
a radar point supports the detection, the radial velocity ``z = u . v`` along the known line of sight
``u``, which is linear in the state. Association: Mahalanobis distances of the position innovations,
gated at the chi-square 99.9 % quantile (2 dof: 13.8), solved with `scipy.optimize.linear_sum_assignment`.
On a road map the motion model is constant velocity *along the lane* (`frenet.RoadMap.motion_model`: the
track keeps its lane-frame velocity (v_s, v_d) and follows its lane round a bend), predicted as an extended
Kalman filter with the transition's Jacobian by central differences; where the lane is straight that model
is the linear one above and the linear one is used. Where the lane forks within a step (a roundabout's
exit, an intersection's turns) each branch is a hypothesis: a detection is scored against the nearest
hypothesis (Mahalanobis), the matched one is reported, an unmatched track coasts on the straightest
(docs/drive.md, "Lane geometry", has the measurements behind both choices). The branch not taken is kept as an
alternative (`TrackerConfig.hypotheses`), predicted along its own lanes, while the detections stay within its
gate: a car that left the ring at an exit while its track coasted round the ring, or whose one detection just
past the fork fitted both branches, is still found by its own track a step later instead of being re-born under
a new id (docs/drive.md, "Lane hypotheses through forks").
A confirmed track left unmatched may still take, before the tracks born last step are matched and before a new
track is born there, a detection that no track explained and that lies on one of the lanes near its last detected
position, where its car could have got to since at about its speed (`reacquire_distance`, `Tracker.reach`): the
lanes are found by position, not by the track's velocity, as a car entering or leaving a ring often has the ring's
velocity and every branch of its prediction is then metres off (docs/drive.md, "Re-acquiring lost tracks along
their lanes").
A newborn track's velocity prior is the ego's own lane-frame velocity carried onto the object's lane
(`frame`), as traffic flows along the lanes.
Track management in the spirit of SORT (Bewley et al., 2016): a track is born tentative from an
unmatched detection, confirmed after `n_init` consecutive hits, deleted after `max_misses` misses; a track
born from a lidar cluster is reported at once but still deleted at its first miss until it has `n_init`
hits (`report_lidar_births`). Association runs as DeepSORT's matching cascade (Wojke et al., 2017): the
tracks updated last step first, then those coasting for one step, and so on, tentative ones last.
A newborn's velocity prior is, where a `lane` function is given, the speed of the confirmed tracks on its
lane (`_flow_velocity`), or, where there are none, the ego's with a wider std (`no_flow_speed_std`): a track
started from a wrong speed takes the next car of a slow queue at its second step (docs/drive.md, "Tracking at
the exit").
With `q_across` the acceleration noise is smaller across a moving track's heading than along it
(`oriented_process_noise`): cars keep their lanes, and an isotropic noise let a track whose car went unseen for a
step take the car in the next lane (the drivers set it per scenario: `agents.PlannerAgent.tracker_settings`).
A miss counts only where a sensor looks: given the sensors' coverage (`Tracker.covered`), a confirmed track
outside every field of view (a car alongside, between a forward and a rear camera) coasts until a sensor
looks at it again, for at most `max_blind_time`, as a car that drove into a blind spot is still there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from pilotlab.drive.detection import Detections

GATE_CHI2_2DOF = 13.8155  # [] chi-square 0.999 quantile with 2 degrees of freedom
GATE_CHI2_2DOF_99 = 9.2103  # [] ... its 0.99 quantile


def cv_transition(dt: float) -> np.ndarray:
    """F (4, 4) of the constant-velocity model over `dt` [s]."""
    f = np.eye(4)
    f[0, 2] = f[1, 3] = dt
    return f


def cv_process_noise(dt: float, q: float) -> np.ndarray:
    """Q (4, 4) of white-noise acceleration with spectral density `q` [m^2/s^3] over `dt` [s]."""
    q1 = np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]]) * q  # (2, 2) per axis: (pos, vel)
    out = np.zeros((4, 4))
    for axis in (0, 1):
        idx = np.array([axis, axis + 2])
        out[np.ix_(idx, idx)] = q1
    return out


def oriented_process_noise(dt: float, q_along: float, q_across: float, heading: np.ndarray) -> np.ndarray:
    """Q (4, 4) of white-noise acceleration with density `q_along` along the unit direction `heading` (2,) and
    `q_across` across it [m^2/s^3]: a car accelerates and brakes far harder than it moves sideways."""
    q1 = np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]])  # (2, 2): (pos, vel) per unit density
    rot = np.array([[heading[0], -heading[1]], [heading[1], heading[0]]])
    axes = rot @ np.diag([q_along, q_across]) @ rot.T  # (2, 2) spatial density
    return np.kron(q1, axes)  # state order (px, py, vx, vy)


def kf_predict(x: np.ndarray, p: np.ndarray, dt: float, q: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x' = F x, P' = F P F^T + Q; `q`: a density (isotropic) or the (4, 4) Q itself."""
    f = cv_transition(dt)
    return f @ x, f @ p @ f.T + (cv_process_noise(dt, q) if np.ndim(q) == 0 else q)


def ekf_predict(x: np.ndarray, p: np.ndarray, f: Callable[[np.ndarray], np.ndarray], dt: float,
                q: float | np.ndarray, eps: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """x' = f(x), P' = J P J^T + Q with J the Jacobian of `f` at x by central differences (step `eps`); `q` as in
    `kf_predict`."""
    jac = np.empty((len(x), len(x)))
    for k in range(len(x)):
        e = np.zeros(len(x))
        e[k] = eps
        jac[:, k] = (f(x + e) - f(x - e)) / (2.0 * eps)
    return f(x), jac @ p @ jac.T + (cv_process_noise(dt, q) if np.ndim(q) == 0 else q)


def kf_update(x: np.ndarray, p: np.ndarray, z: np.ndarray, h: np.ndarray, r: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Kalman update with innovation y = z - H x, S = H P H^T + R, K = P H^T S^-1 (Joseph form for P)."""
    y = z - h @ x
    s = h @ p @ h.T + r
    k = np.linalg.solve(s, h @ p).T  # (4, m): P H^T S^-1, as S and P are symmetric
    ikh = np.eye(len(x)) - k @ h
    return x + k @ y, ikh @ p @ ikh.T + k @ r @ k.T


def measurement(det: Detections, i: int, rate_std: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, H, R) of detection i: its position, plus its radial velocity where radar gave one."""
    h_pos = np.hstack([np.eye(2), np.zeros((2, 2))])  # (2, 4)
    if np.isnan(det.radial_velocity[i]):
        return det.position[i], h_pos, det.position_cov[i]
    u = det.los[i]
    h = np.vstack([h_pos, [0.0, 0.0, u[0], u[1]]])  # (3, 4)
    r = np.zeros((3, 3))
    r[:2, :2] = det.position_cov[i]
    r[2, 2] = rate_std**2
    return np.append(det.position[i], det.radial_velocity[i]), h, r


def position_distances(means: np.ndarray, covs: np.ndarray, det: Detections) -> np.ndarray:
    """Squared Mahalanobis distances (T, D) between predicted track positions and detections."""
    out = np.empty((len(means), len(det.position)))
    for t in range(len(means)):
        s = covs[t][:2, :2][None] + det.position_cov  # (D, 2, 2)
        y = det.position - means[t][:2]  # (D, 2)
        out[t] = np.einsum("di,di->d", y, np.linalg.solve(s, y[..., None])[..., 0])
    return out


class Assignment(NamedTuple):
    matches: list[tuple[int, int]]  # (row, col) pairs
    unmatched_rows: list[int]
    unmatched_cols: list[int]


def assign(cost: np.ndarray, gate: float) -> Assignment:
    """Minimum-cost one-to-one assignment; pairs whose cost exceeds `gate` are not allowed."""
    n_rows, n_cols = cost.shape
    if n_rows == 0 or n_cols == 0:
        return Assignment([], list(range(n_rows)), list(range(n_cols)))
    big = gate * 10.0 + 1.0 + float(np.nanmax(np.where(np.isfinite(cost), cost, 0.0)))
    padded = np.where(cost <= gate, cost, big)
    rows, cols = linear_sum_assignment(padded)
    matches = [(int(r), int(c)) for r, c in zip(rows, cols) if cost[r, c] <= gate]
    mr = {r for r, _ in matches}
    mc = {c for _, c in matches}
    return Assignment(matches, [r for r in range(n_rows) if r not in mr], [c for c in range(n_cols) if c not in mc])


@dataclass(frozen=True)
class TrackerConfig:
    q: float = 3.0  # [m^2/s^3] acceleration noise density: ~1.7 m/s^2 std over 1 s
    q_across: float | None = None  # [m^2/s^3] ... across the track's heading where it moves (None: `q`, isotropic)
    n_init: int = 2  # [] consecutive hits to confirm a track (lidar and radar agreeing confirm at once)
    max_misses: int = 5  # [] consecutive misses (occlusion) before a confirmed track is deleted
    gate: float = GATE_CHI2_2DOF  # [] squared Mahalanobis gate on positions
    rate_std: float = 0.3  # [m/s] radial velocity noise given to the filter (radar + aspect)
    init_speed_std: tuple[float, float] = (6.0, 1.5)  # [m/s] prior std along / across the ego heading
    max_range: float = 160.0  # [m] tracks farther than this from the ego are dropped
    cascade: bool = True  # [] match tracks in order of their misses, the freshest first (DeepSORT's cascade)
    flow_range: float = 60.0  # [m] a newborn takes the speed of confirmed tracks on its lane within this range
    flow_speed_std: float = 6.0  # [m/s] ... with this prior std along its lane
    no_flow_speed_std: float = 12.0  # [m/s] prior std along its lane of a newborn on a lane map with no such tracks:
    # its velocity prior is then the ego's carried onto its lane, a weak guess where lanes move at different speeds
    # (a slow queue beside the ego); `init_speed_std` along applies without a lane map
    report_lidar_births: bool = True  # [] a track born from a lidar cluster is reported at once (on probation:
    # deleted at its first miss until `n_init` hits); radar-only births, where false alarms are, wait `n_init`
    max_blind_time: float = 15.0  # [s] a confirmed track outside every sensor's view coasts this long at most
    blind_gate: float = 6.0  # [m] ... and then matches only detections this close to its estimate: its position
    # covariance grows while it coasts, and the Mahalanobis gate alone let it take another car coming into view
    hypotheses: int = 2  # [] lane hypotheses a track keeps where its lane forks (a ring's exit, a turn): the one
    # matched (or, coasting, the straightest) and up to this many - 1 others, each predicted along its own lanes,
    # until a detection outside an alternative's gate drops it; 1: only the matched / straightest is kept
    same_hypothesis: tuple[float, float] = (0.5, 0.5)  # [m, m/s] hypotheses closer than this in position and
    # velocity are one
    reacquire_distance: float = 2.0  # [m] a confirmed track left unmatched takes, before a new track is born,
    # a detection no track explained that lies within this distance of where its car could be along any of its
    # lanes since its last update (`_reachable`); 0: off
    reacquire_speed: float = 5.0  # [m/s] ... the speeds it could have had since: its last speed +- this


@dataclass
class Track:
    id: int
    x: np.ndarray  # (4,) [m, m, m/s, m/s]
    p: np.ndarray  # (4, 4)
    hits: int = 1
    misses: int = 0  # consecutive steps without a detection
    blind: int = 0  # ... of which outside every sensor's view (`Tracker.covered`)
    confirmed: bool = False
    probation: bool = False  # reported, but deleted at its first miss until it has `n_init` hits
    alternatives: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # other lane hypotheses
    # (x, P) where the lane forked (`TrackerConfig.hypotheses`); `x`, `p` is the one reported
    anchor: np.ndarray | None = None  # (4,) the state after its last detection (`misses` steps ago)


@dataclass
class Tracker:
    """Tracks updated once per policy step: `step(detections, dt, ego_position, ego_velocity)`.

    `motion` (optional, e.g. `frenet.RoadMap.motion_model`): given a state and dt, the along-lane transition
    functions (one per branch of the lane ahead), or None where the linear constant-velocity model applies.
    `frame` (optional, e.g. `frenet.RoadMap.frame_rotation` at the ego's lane heading): how far [rad] the road
    at a point is turned from the road at the ego. Without them the world is one straight road.
    `lane` (optional): the lane (any hashable) of a position with an optional velocity (its heading); with it a
    newborn track's velocity prior is the traffic's on its lane (`_flow_velocity`).
    `ego_heading` [rad] gives the axes of a newborn's prior where the ego stands still.
    `covered` (optional): given track positions (T, 2) [m], whether any sensor looks there now ((T,) bool); a
    miss outside every sensor's view does not count towards `max_misses`. Without it every miss counts.
    `reach` (optional, e.g. `frenet.RoadMap.reachable`): given a state, a time [s] and speeds (K,) [m/s], the
    states (N, 4) its car may be in along its lanes (`reacquire_distance`); without it, straight ahead.
    """

    cfg: TrackerConfig = field(default_factory=TrackerConfig)
    tracks: list[Track] = field(default_factory=list)
    next_id: int = 1
    motion: Callable[[np.ndarray, float], Any] | None = None
    frame: Callable[[np.ndarray], float] | None = None
    lane: Callable[[np.ndarray, np.ndarray | None], Any] | None = None
    covered: Callable[[np.ndarray], np.ndarray] | None = None
    reach: Callable[[np.ndarray, float, np.ndarray], np.ndarray] | None = None

    def step(self, det: Detections, dt: float, ego_position: np.ndarray, ego_velocity: np.ndarray,
             ego_heading: float | None = None) -> list[Track]:
        cfg = self.cfg
        hyps: list[list[tuple[np.ndarray, np.ndarray]]] = []  # per track, its predictions (x, P), straightest first
        for t in self.tracks:  # the reported hypothesis's branches, then its alternatives'
            h = self._predict(t.x, t.p, dt)
            for ax, ap in t.alternatives:
                h += self._predict(ax, ap, dt)
            hyps.append(self._distinct(h))
        dists = [position_distances(np.array([x for x, _ in h]), np.array([p for _, p in h]), det) for h in hyps]
        cost = np.array([d.min(axis=0) for d in dists]).reshape(len(self.tracks), len(det.position))
        for i, t in enumerate(self.tracks):  # a blind track's grown covariance must not take another car in view
            if t.blind > 0:
                far = np.hypot(*(det.position - hyps[i][0][0][:2]).T) > cfg.blind_gate
                cost[i, far] = np.inf
        for t, h in zip(self.tracks, hyps):  # unmatched: coast on the straightest branch, keep the others
            t.x, t.p = h[0]
            t.alternatives = h[1:cfg.hypotheses]
        result = self._match(cost, lambda rows, cols: self._reacquire(det, dt, Assignment([], rows, cols)))
        for ti, di in result.matches:
            t = self.tracks[ti]
            z = measurement(det, di, cfg.rate_std)
            order = np.argsort(dists[ti][:, di], kind="stable")  # the best hypothesis first
            kept = [kf_update(*hyps[ti][k], *z) for k in order[:cfg.hypotheses] if dists[ti][k, di] <= cfg.gate]
            kept = self._distinct(kept) if kept else [kf_update(*hyps[ti][order[0]], *z)]
            (t.x, t.p), t.alternatives = kept[0], kept[1:]
            t.hits += 1
            t.misses = t.blind = 0
            t.confirmed = t.confirmed or t.hits >= cfg.n_init
            t.probation = t.probation and t.hits < cfg.n_init
            t.anchor = t.x.copy()
        missed = [self.tracks[ti] for ti in result.unmatched_rows]
        looked = (self.covered(np.array([t.x[:2] for t in missed]).reshape(-1, 2)) if self.covered is not None
                  else np.ones(len(missed), dtype=bool))
        for t, seen in zip(missed, looked):
            t.misses += 1
            t.blind += 0 if seen else 1
        self.tracks = [t for t in self.tracks if self._alive(t, ego_position, dt)]
        speed = float(np.hypot(*ego_velocity))
        heading = (ego_velocity / max(speed, 1e-6) if speed > 1e-6 or ego_heading is None
                   else np.array([np.cos(ego_heading), np.sin(ego_heading)]))
        flow = self._flow() if self.lane is not None and result.unmatched_cols else []
        for di in result.unmatched_cols:
            turn = self.frame(det.position[di]) if self.frame is not None else 0.0
            if turn == 0.0:
                velocity, axis = ego_velocity, heading
            else:  # the ego's velocity and axes carried onto the object's lane
                c, s = np.cos(turn), np.sin(turn)
                rot = np.array([[c, -s], [s, c]])
                velocity, axis = rot @ ego_velocity, rot @ heading
            along = self.cfg.init_speed_std[0]
            if self.lane is not None:
                velocity, from_flow = self._flow_velocity(flow, det.position[di], axis, velocity)
                along = self.cfg.flow_speed_std if from_flow else self.cfg.no_flow_speed_std
            self.tracks.append(self._birth(det, di, velocity, axis, along))
        return self.tracks

    def _reacquire(self, det: Detections, dt: float, result: Assignment) -> Assignment:
        """Unmatched tracks re-acquired on detections that no track explained: a car whose lane velocity was
        wrong (it entered or left the ring) is metres off every prediction after a step or two, and its next
        detection would start a new track (a new id). Each lost track is paired (Hungarian, by distance) with
        the unmatched detections within `reacquire_distance` of the places its car could have reached along its
        lanes since its last detection (`_reachable`); a re-acquired track restarts from the detection, with
        the velocity of the place reached. Returns `result` less the pairs taken."""
        cfg = self.cfg
        if cfg.reacquire_distance <= 0.0 or not result.unmatched_cols:
            return result
        rows = [i for i in result.unmatched_rows if self._lost(self.tracks[i])]
        if not rows:
            return result
        cols = result.unmatched_cols
        cost = np.full((len(rows), len(cols)), np.inf)
        reached: dict[tuple[int, int], np.ndarray] = {}
        for a, ti in enumerate(rows):
            t = self.tracks[ti]
            assert t.anchor is not None
            places = self._reachable(t.anchor, (t.misses + 1) * dt)
            if len(places) == 0:
                continue
            for b, di in enumerate(cols):
                d = np.hypot(*(places[:, :2] - det.position[di]).T)
                k = int(np.argmin(d))
                if d[k] <= cfg.reacquire_distance:
                    cost[a, b], reached[a, b] = d[k], places[k]
        sub = assign(cost, cfg.reacquire_distance)
        for a, b in sub.matches:
            t, di, x = self.tracks[rows[a]], cols[b], reached[a, b]
            speed = float(np.hypot(*x[2:]))
            axis = x[2:] / speed if speed > 1e-6 else np.array([1.0, 0.0])
            t.x, t.p = self._prior(det, di, x[2:], axis, cfg.reacquire_speed)
            t.alternatives = []
            t.hits += 1
            t.misses = t.blind = 0
            t.confirmed = t.confirmed or t.hits >= cfg.n_init
            t.probation = t.probation and t.hits < cfg.n_init
            t.anchor = t.x.copy()
        taken_rows = {rows[a] for a, _ in sub.matches}
        taken_cols = {cols[b] for _, b in sub.matches}
        return Assignment(result.matches, [r for r in result.unmatched_rows if r not in taken_rows],
                          [c for c in cols if c not in taken_cols])

    def _lost(self, t: Track) -> bool:
        """Whether an unmatched track may be re-acquired: a confirmed one in a sensor's view (a blind one has its
        own gate)."""
        return t.anchor is not None and t.blind == 0 and t.confirmed and not t.probation

    def _reachable(self, anchor: np.ndarray, elapsed: float) -> np.ndarray:
        """States (N, 4) a car last at `anchor` may be in after `elapsed` [s] at constant speed along each branch
        of the lanes near it (`reach`), for speeds within `reacquire_speed` of its own, sampled every ~0.5 m
        along the way; empty for a car standing still."""
        speed = float(np.hypot(*anchor[2:]))
        if speed < 1.0:
            return np.zeros((0, 4))
        lo = max(speed - self.cfg.reacquire_speed, 0.0)
        hi = speed + self.cfg.reacquire_speed
        speeds = np.linspace(lo, hi, max(int(np.ceil((hi - lo) * elapsed / 0.5)), 1) + 1)
        if self.reach is not None:
            return self.reach(anchor, elapsed, speeds)
        heading = anchor[2:] / speed
        return np.array([np.concatenate([anchor[:2] + heading * v * elapsed, heading * v]) for v in speeds])

    def _predict(self, x: np.ndarray, p: np.ndarray, dt: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """(x, P) after `dt` along each branch of the motion model, the straightest first (one: linear)."""
        fs = self.motion(x, dt) if self.motion is not None else None
        q: float | np.ndarray = self.cfg.q
        speed = float(np.hypot(*x[2:]))
        if self.cfg.q_across is not None and speed > 1.0:
            q = oriented_process_noise(dt, self.cfg.q, self.cfg.q_across, x[2:] / speed)
        return ([kf_predict(x, p, dt, q)] if fs is None else [ekf_predict(x, p, f, dt, q) for f in fs])

    def _distinct(self, hyps: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """`hyps` without those within `same_hypothesis` of an earlier one (in position and velocity)."""
        dp, dv = self.cfg.same_hypothesis
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for x, p in hyps:
            if all(np.hypot(*(x[:2] - y[:2])) > dp or np.hypot(*(x[2:] - y[2:])) > dv for y, _ in out):
                out.append((x, p))
        return out

    def _flow(self) -> list[tuple[Any, np.ndarray, np.ndarray]]:
        """(lane, position, velocity) of the confirmed tracks updated this step: the traffic on each lane."""
        assert self.lane is not None
        return [(self.lane(t.x[:2], t.x[2:]), t.x[:2], t.x[2:]) for t in self.tracks
                if t.confirmed and t.misses == 0]

    def _flow_velocity(self, flow: list[tuple[Any, np.ndarray, np.ndarray]], position: np.ndarray,
                       axis: np.ndarray, fallback: np.ndarray) -> tuple[np.ndarray, bool]:
        """A newborn's velocity prior: the median speed, along its lane direction `axis`, of the confirmed
        tracks on its lane within `flow_range`; `fallback` (the ego's velocity carried onto the lane) where
        there are none. Where the ego drives past slow traffic, the ego's velocity would put the first
        prediction ahead of the car, on the next car of the queue (docs/drive.md, "Tracking on every scenario").
        Returns (velocity, whether it is the flow's)."""
        assert self.lane is not None
        lane = self.lane(position, None)
        speeds = [float(v @ axis) for ln, p, v in flow
                  if ln == lane and float(np.hypot(*(p - position))) <= self.cfg.flow_range]
        return (float(np.median(speeds)) * axis, True) if speeds else (fallback, False)

    def _match(self, cost: np.ndarray, lost: Callable[[list[int], list[int]], Assignment] | None = None
               ) -> Assignment:
        """One assignment over all tracks, or, with `cascade`, one per number of consecutive misses (the
        freshest tracks first, tentative ones last), each on the detections left by the ones before: a
        track coasting for seconds has a wide gate, and without the cascade its Mahalanobis distance to
        another car's detection can undercut the right track's (an identity switch). `lost` (the re-acquisition,
        `_reacquire`), given the confirmed tracks left unmatched and the detections left, runs before the
        tentative tracks take theirs (a newborn on a lost track's car would otherwise take its detection) and
        returns those it did not take."""
        if not self.cfg.cascade:
            result = assign(cost, self.cfg.gate)
            if lost is None:
                return result
            left = lost(result.unmatched_rows, result.unmatched_cols)
            return Assignment(result.matches, left.unmatched_rows, left.unmatched_cols)
        levels: dict[tuple[bool, int], list[int]] = {}
        for i, t in enumerate(self.tracks):
            levels.setdefault((not t.confirmed or t.probation, t.misses), []).append(i)
        matches: list[tuple[int, int]] = []
        cols = list(range(cost.shape[1]))
        taken: list[int] = []  # tracks re-acquired

        def reacquire() -> list[int]:
            assert lost is not None
            matched = {r for r, _ in matches}
            rows = [i for i, t in enumerate(self.tracks) if i not in matched and t.confirmed and not t.probation]
            left = lost(rows, cols)
            taken.extend(set(rows) - set(left.unmatched_rows))
            return left.unmatched_cols

        for key in sorted(levels):
            if key[0] and lost is not None:  # the first tentative level
                cols, lost = reacquire(), None
            rows = levels[key]
            sub = assign(cost[np.ix_(rows, cols)], self.cfg.gate)
            matches += [(rows[r], cols[c]) for r, c in sub.matches]
            cols = [cols[c] for c in sub.unmatched_cols]
        if lost is not None:
            cols = reacquire()
        matched = {r for r, _ in matches} | set(taken)
        return Assignment(matches, [r for r in range(cost.shape[0]) if r not in matched], cols)

    def _alive(self, t: Track, ego_position: np.ndarray, dt: float) -> bool:
        if np.hypot(*(t.x[:2] - ego_position)) > self.cfg.max_range:
            return False
        if not t.confirmed or t.probation:
            return t.misses == 0
        return t.misses - t.blind <= self.cfg.max_misses and t.blind * dt <= self.cfg.max_blind_time

    def _birth(self, det: Detections, i: int, ego_velocity: np.ndarray, heading: np.ndarray,
               along: float | None = None) -> Track:
        """New tentative track: detected position, velocity prior = the ego's (traffic flows with it) or its
        lane's flow, with std `along` (default: `init_speed_std`'s) along `heading`."""
        x, p = self._prior(det, i, ego_velocity, heading, along)
        source = int(det.source[i])
        at_once = self.cfg.n_init <= 1 or source == 2
        probation = not at_once and self.cfg.report_lidar_births and source == 0
        track = Track(self.next_id, x, p, confirmed=at_once or probation, probation=probation, anchor=x.copy())
        self.next_id += 1
        return track

    def _prior(self, det: Detections, i: int, velocity: np.ndarray, heading: np.ndarray,
               along: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(x, P) from detection i alone and a velocity prior with std `along` (default: `init_speed_std`'s)
        along the unit `heading` and `init_speed_std`'s across it; radar's radial velocity folded in."""
        along = self.cfg.init_speed_std[0] if along is None else along
        across = self.cfg.init_speed_std[1]
        rot = np.array([[heading[0], -heading[1]], [heading[1], heading[0]]])
        p = np.zeros((4, 4))
        p[:2, :2] = det.position_cov[i]
        p[2:, 2:] = rot @ np.diag([along**2, across**2]) @ rot.T
        x = np.concatenate([det.position[i], velocity])
        if not np.isnan(det.radial_velocity[i]):  # fold in the radial velocity only
            z, h, r = measurement(det, i, self.cfg.rate_std)
            x, p = kf_update(x, p, z[2:], h[2:], r[2:, 2:])
        return x, p

    def reported(self) -> list[Track]:
        """Tracks a downstream consumer or the MOT metrics should see: confirmed and updated this step."""
        return [t for t in self.tracks if t.confirmed and t.misses == 0]


__all__ = [
    "GATE_CHI2_2DOF",
    "GATE_CHI2_2DOF_99",
    "Assignment",
    "Track",
    "Tracker",
    "TrackerConfig",
    "assign",
    "cv_process_noise",
    "cv_transition",
    "ekf_predict",
    "kf_predict",
    "kf_update",
    "measurement",
    "oriented_process_noise",
    "position_distances",
]
