"""Lane (Frenet) coordinates on highway-env's road network: world (x, y) <-> (s, d) along any lane.

``s`` [m] is the lane's own longitudinal coordinate (`lane.local_coordinates`: the arc length on straight
and circular lanes; on a `SineLane` the abscissa along its base line, which is what the lane's `length`
and `position` use) and ``d`` [m] the signed offset along the lane's left-hand normal
``n(s) = (-sin h(s), cos h(s))`` at that s (h = `lane.heading_at`), so that ``p = c(s) + d n(s)`` with
``c(s) = lane.position(s, 0)`` the centre line. For straight and circular lanes highway-env's own
`local_coordinates` is this projection exactly and is used as is (so results on straight roads do not
change by a bit); a sine lane's `local_coordinates` measures d along the base line's normal instead, so
s is refined there by Newton's method on ``(p - c(s)) . t(s) = 0``.

A `LanePath` chains lanes (a route, or a lane and its successors) into one coordinate: s runs on from
one lane into the next. A `RoadMap` answers the questions the driving stack asks of the map: which lane
a point (and heading) lies on, the lane heading there, which lanes follow a lane (the turn hypotheses at
a junction), and where an object moving at constant speed along its lane will be.

Everything here is pure geometry on lane objects (`position`, `heading_at`, `local_coordinates`,
`length`): the tests check it against closed forms without a simulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

NEWTON_STEPS = 8  # [] at most this many refinements of s where local_coordinates is not a normal projection


def wrap_angle(a: float) -> float:
    """Angle wrapped to [-pi, pi)."""
    return float((a + np.pi) % (2.0 * np.pi) - np.pi)


def _exact_projection(lane: Any) -> bool:
    """Whether `lane.local_coordinates` is already the normal projection (straight and circular lanes)."""
    name = type(lane).__name__
    return name in ("StraightLane", "CircularLane")


def is_straight(lane: Any) -> bool:
    """Whether the lane is a straight segment (constant heading)."""
    return type(lane).__name__ == "StraightLane"


def tangent(lane: Any, s: float) -> np.ndarray:
    """Unit tangent (2,) at `s`."""
    h = float(lane.heading_at(s))
    return np.array([np.cos(h), np.sin(h)])


def normal(lane: Any, s: float) -> np.ndarray:
    """Unit left-hand normal (2,) at `s` (highway-env's y points right on screen, so "left" is +d)."""
    h = float(lane.heading_at(s))
    return np.array([-np.sin(h), np.cos(h)])


def to_frenet(lane: Any, position: np.ndarray) -> tuple[float, float]:
    """(s, d) of a world point (2,) on `lane`."""
    p = np.asarray(position, dtype=float)
    s, d = lane.local_coordinates(p)
    if _exact_projection(lane):
        return float(s), float(d)
    s = float(s)
    eps = 1e-3  # [m] finite-difference step for the centre line's speed |c'(s)| and turn rate h'(s)
    for _ in range(NEWTON_STEPS):  # Newton on g(s) = (p - c(s)) . t(s); g'(s) = -|c'| + d h'(s)
        c = np.asarray(lane.position(s, 0.0), dtype=float)
        g, d = float((p - c) @ tangent(lane, s)), float((p - c) @ normal(lane, s))
        chord = np.asarray(lane.position(s + eps, 0.0)) - np.asarray(lane.position(s - eps, 0.0))
        speed = float(np.hypot(*chord)) / (2 * eps)
        turn = wrap_angle(float(lane.heading_at(s + eps)) - float(lane.heading_at(s - eps))) / (2 * eps)
        step = g / max(speed - d * turn, 1e-3)
        s += step
        if abs(step) < 1e-10:
            break
    c = np.asarray(lane.position(s, 0.0), dtype=float)
    return s, float((p - c) @ normal(lane, s))


def from_frenet(lane: Any, s: float, d: float) -> np.ndarray:
    """World point (2,) at (s, d) on `lane`."""
    if _exact_projection(lane):
        return np.asarray(lane.position(s, d), dtype=float)
    return np.asarray(lane.position(s, 0.0), dtype=float) + d * normal(lane, s)


def velocity_to_frenet(lane: Any, s: float, velocity: np.ndarray) -> tuple[float, float]:
    """(v_s, v_d) [m/s]: a world velocity (2,) along the tangent and the normal at `s`."""
    h = float(lane.heading_at(s))
    v = np.asarray(velocity, dtype=float)
    return float(v[0] * np.cos(h) + v[1] * np.sin(h)), float(-v[0] * np.sin(h) + v[1] * np.cos(h))


def velocity_from_frenet(lane: Any, s: float, v_s: float, v_d: float) -> np.ndarray:
    """World velocity (2,) of (v_s, v_d) at `s`."""
    h = float(lane.heading_at(s))
    c, n = np.cos(h), np.sin(h)
    return np.array([v_s * c - v_d * n, v_s * n + v_d * c])


class LanePath:
    """Lanes chained end to start into one Frenet coordinate (s runs on from one lane into the next).

    Where a lane does not start at the end of the one before (highway-env's roundabout: the exit lanes start
    7 m beyond the end of the ring's section, the entries end off the ring), the path enters it at the
    projection of that end (`entries`; negative: the gap is driven on the lane's backward extension).
    A point is placed on the lane whose span holds its s with the smallest |d| (beyond the ends: the nearest
    lane in highway-env's L1 sense); before the first lane s is negative, after the last it runs past the
    total length (straight lanes extrapolate their line, circular ones their circle).
    """

    def __init__(self, lanes: Sequence[Any], indices: Sequence[tuple] | None = None):
        if not lanes:
            raise ValueError("a LanePath needs at least one lane")
        self.lanes = list(lanes)
        self.indices = [tuple(i) for i in indices] if indices is not None else []
        self.entries = [0.0]  # [m] each lane's own s where the path enters it
        for prev, lane in zip(self.lanes, self.lanes[1:]):
            end = np.asarray(prev.position(float(prev.length), 0.0), dtype=float)
            if float(np.hypot(*(np.asarray(lane.position(0.0, 0.0), dtype=float) - end))) < 1e-6:
                self.entries.append(0.0)
            else:
                self.entries.append(min(to_frenet(lane, end)[0], float(lane.length)))
        self.spans = [float(lane.length) - e for lane, e in zip(self.lanes, self.entries)]  # [m] path length on each
        self.offsets = np.concatenate([[0.0], np.cumsum(self.spans)])  # (L+1,) path s where each lane is entered
        self.length = float(self.offsets[-1])

    def locate(self, s: float) -> tuple[int, float]:
        """(lane number, s on that lane) of path coordinate `s`; s outside the path extrapolates the end lane."""
        i = 0
        x = float(s)
        while i < len(self.lanes) - 1 and x > self.spans[i]:  # the same walk as the lane lengths
            x -= self.spans[i]
            i += 1
        return i, x + self.entries[i]

    def position(self, s: float, d: float = 0.0) -> np.ndarray:
        i, x = self.locate(s)
        return from_frenet(self.lanes[i], x, d)

    def heading_at(self, s: float) -> float:
        i, x = self.locate(s)
        return float(self.lanes[i].heading_at(x))

    def to_frenet(self, position: np.ndarray) -> tuple[float, float]:
        """(s, d) of a world point on the path."""
        if len(self.lanes) == 1:
            return to_frenet(self.lanes[0], position)
        best: tuple[float, float, float] | None = None  # (score, s, d)
        for i, (lane, entry) in enumerate(zip(self.lanes, self.entries)):
            s, d = to_frenet(lane, position)
            length = float(lane.length)
            outside = max(s - length, 0.0) + max(entry - s, 0.0)
            if (i == 0 and s < entry) or (i == len(self.lanes) - 1 and s > length):
                outside = 0.0  # the path's own ends extrapolate
            score = abs(d) + outside
            if best is None or score < best[0]:
                best = (score, float(self.offsets[i]) + s - entry, d)
        assert best is not None
        return best[1], best[2]

    def velocity_to_frenet(self, s: float, velocity: np.ndarray) -> tuple[float, float]:
        i, x = self.locate(s)
        return velocity_to_frenet(self.lanes[i], x, velocity)

    def velocity_from_frenet(self, s: float, v_s: float, v_d: float) -> np.ndarray:
        i, x = self.locate(s)
        return velocity_from_frenet(self.lanes[i], x, v_s, v_d)

    def straight(self) -> bool:
        """All lanes straight and with the same heading (the path is one line)."""
        return all(is_straight(lane) for lane in self.lanes) and len({float(lane.heading) for lane in self.lanes}) == 1


class RoadMap:
    """The map queries of the driving stack on a highway-env `RoadNetwork` (`road.network`)."""

    def __init__(self, network: Any):
        self.net = network
        self._lanes = [((a, b, k), lane) for a, nxt in network.graph.items() for b, lanes in nxt.items()
                       for k, lane in enumerate(lanes)]

        headings = {float(lane.heading) if is_straight(lane) else None for _, lane in self._lanes}
        self.uniform = len(headings) == 1 and None not in headings  # every lane straight and parallel

    def lane(self, index: tuple) -> Any:
        return self.net.get_lane(tuple(index))

    def closest(self, position: np.ndarray, heading: float | None = None) -> tuple:
        """Index of the lane nearest a point (highway-env's L1 distance plus, with `heading`, the angle to it)."""
        return tuple(self.net.get_closest_lane_index(np.asarray(position, dtype=float), heading))

    def heading_at_point(self, position: np.ndarray, heading: float | None = None) -> float:
        """Heading [rad] of the closest lane at the point's s."""
        lane = self.lane(self.closest(position, heading))
        s, _ = to_frenet(lane, position)
        return float(lane.heading_at(s))

    def frame_rotation(self, position: np.ndarray, reference: float) -> float:
        """How far [rad] the road at `position` is turned from `reference` (a lane heading, e.g. at the ego):
        the ego's road-aligned frame carried along the lanes to that point. 0.0 on straight parallel lanes."""
        if self.uniform:
            return 0.0
        return wrap_angle(self.heading_at_point(position) - reference)

    def motion_model(self, x: np.ndarray, dt: float, max_offset: float = 6.0,
                     sibling_range: float = 15.0) -> list[Any] | None:
        """The tracker's along-lane constant-velocity transitions for a state ``x = [px, py, vx, vy]``: one
        function of the state per lane sequence it may follow over the distance it covers in `dt` (its closest
        lane matched with its heading, then each branch at a junction: the turn hypotheses, the straightest
        first; within `sibling_range` [m] of its lane's start also the lanes leaving the same junction node,
        as the closest lane is ambiguous where lanes fork), or None where the plain linear model is exact (a
        straight path) or does as well (further than `max_offset` [m] off any lane)."""
        if self.uniform:
            return None
        p, v = np.asarray(x[:2], dtype=float), np.asarray(x[2:], dtype=float)
        speed = float(np.hypot(*v))
        index = self.closest(p, float(np.arctan2(v[1], v[0])) if speed > 1.0 else None)
        lane = self.lane(index)
        s, d = to_frenet(lane, p)
        if abs(d) > max_offset:
            return None
        reach = s + speed * dt + 1.0
        branches = [[index]] if reach <= float(lane.length) else self.branches(index, reach, closest=True)
        own = len(branches)
        if s < sibling_range:  # near the junction it left, the car may be on a sibling lane (an exit, a turn)
            for sib in self.siblings(index):
                branches += self.branches(sib, to_frenet(self.lane(sib), p)[0] + speed * dt + 1.0, limit=2,
                                          closest=True)
        paths = [self.path(b) for b in branches]
        if len(paths) == 1 and paths[0].straight():
            return None

        def mover(path: LanePath, along: bool) -> Any:
            def move(z: np.ndarray) -> np.ndarray:
                if along:  # the velocity, estimated on the other lane, turned onto this one
                    sz, dz = path.to_frenet(z[:2])
                    v = float(np.hypot(*z[2:]))
                    s2 = sz + v * dt
                    return np.concatenate([path.position(s2, dz), path.velocity_from_frenet(s2, v, 0.0)])
                pos, vel = advance_on_path(path, z[:2], z[2:], dt)
                return np.concatenate([pos, vel])

            return move

        return [mover(path, k >= own) for k, path in enumerate(paths)]

    def reachable(self, x: np.ndarray, elapsed: float, speeds: np.ndarray, max_offset: float = 3.0,
                  max_turn: float = np.pi / 2) -> np.ndarray:
        """States (N, 4) ``[px, py, vx, vy]`` a car at ``x[:2]`` may be in after `elapsed` [s] at each of `speeds`
        [m/s], on the centre of every lane sequence from every lane within `max_offset` [m] of it whose heading
        is within `max_turn` [rad] of the car's (``x[2:]``). The lanes are found by position alone, not by the
        car's velocity: the velocity of a car entering or leaving a ring is often the ring's, and the lane
        matched with it the wrong one (the tracker's re-acquisition, `tracking.Tracker._reachable`)."""
        p, v = np.asarray(x[:2], dtype=float), np.asarray(x[2:], dtype=float)
        heading = float(np.arctan2(v[1], v[0]))
        reach = float(np.max(speeds)) * elapsed + 1.0
        out = []
        for index, lane in self._lanes:
            s, d = to_frenet(lane, p)
            if abs(d) > max_offset or not -1.0 <= s <= float(lane.length) + 1.0:
                continue
            if abs(wrap_angle(float(lane.heading_at(s)) - heading)) > max_turn:
                continue
            for seq in self.branches(index, s + reach):
                path = self.path(seq)
                for speed in speeds:
                    s2 = s + float(speed) * elapsed
                    velocity = path.velocity_from_frenet(s2, float(speed), 0.0)
                    out.append(np.concatenate([path.position(s2, 0.0), velocity]))
        return np.array(out).reshape(-1, 4)

    def branches(self, index: tuple, length: float, limit: int = 4, closest: bool = False) -> list[list[tuple]]:
        """Lane sequences from `index` at least `length` [m] long (or ending where the road does), one per
        branch at each junction, the straightest first; at most `limit`; `closest`: see `successors`."""
        out: list[list[tuple]] = []

        def grow(seq: list[tuple], total: float) -> None:
            if len(out) >= limit:
                return
            nexts = [n for n in self.successors(seq[-1], closest) if n not in seq]
            if total >= length or not nexts:
                out.append(seq)
                return
            end = float(self.lane(seq[-1]).heading_at(float(self.lane(seq[-1]).length)))
            for n in sorted(nexts, key=lambda n: self._turn(n, end)):
                grow([*seq, n], total + float(self.lane(n).length))

        grow([tuple(index)], float(self.lane(index).length))
        return out

    def _turn(self, index: tuple, heading: float) -> float:
        """How much lane `index` turns away from `heading` [rad] over its start and its end."""
        lane = self.lane(index)
        return abs(wrap_angle(float(lane.heading_at(0.0)) - heading)) + abs(
            wrap_angle(float(lane.heading_at(float(lane.length))) - heading))

    def siblings(self, index: tuple) -> list[tuple]:
        """The other roads' lanes leaving the start node of `index` (the same lane id where they have it)."""
        a, b, lane_id = index
        return [(a, c, min(int(lane_id), len(lanes) - 1)) for c, lanes in self.net.graph.get(a, {}).items() if c != b]

    def successors(self, index: tuple, closest: bool = False) -> list[tuple]:
        """Lanes following `index`: every road leaving its end node, the same lane id where it exists; with
        `closest`, as highway-env's own vehicles choose (`RoadNetwork.next_lane_given_next_road`): the same
        lane id where the next road has as many lanes, else its lane nearest the end of this one (a
        roundabout's one-lane entry joins the ring on its outer lane, not on lane 0)."""
        frm, to, lane_id = index
        out = []
        for nxt, lanes in self.net.graph.get(to, {}).items():
            if closest and len(lanes) != len(self.net.graph[frm][to]):
                lane = self.lane(index)
                end = lane.position(float(lane.length), 0.0)
                out.append((to, nxt, min(range(len(lanes)), key=lambda k: float(lanes[k].distance(end)))))
            else:
                out.append((to, nxt, min(int(lane_id), len(lanes) - 1)))
        return out

    def hypotheses(self, index: tuple, depth: int = 2, closest: bool = False) -> list[list[tuple]]:
        """Lane sequences from `index`, every successor `depth` junctions deep (the turn hypotheses);
        `closest`: see `successors`."""
        routes = [[tuple(index)]]
        for _ in range(depth):
            grown = []
            for r in routes:
                nexts = self.successors(r[-1], closest)
                if not nexts:
                    grown.append(r)
                grown.extend([*r, n] for n in nexts)
            routes = grown
        return routes

    def straightest(self, index: tuple, length: float) -> list[tuple]:
        """`index` and the successors that turn least, until the sequence is `length` [m] long."""
        seq = [tuple(index)]
        total = float(self.lane(index).length)
        while total < length:
            nexts = self.successors(seq[-1])
            if not nexts:
                break
            end_heading = float(self.lane(seq[-1]).heading_at(float(self.lane(seq[-1]).length)))
            nxt = min(nexts, key=lambda n: self._turn(n, end_heading))
            if nxt in seq:
                break
            seq.append(nxt)
            total += float(self.lane(nxt).length)
        return seq

    def path(self, indices: Sequence[tuple]) -> LanePath:
        return LanePath([self.lane(i) for i in indices], indices)

    def advance(self, position: np.ndarray, velocity: np.ndarray, dt: float,
                index: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Constant velocity along the lane: (position, velocity) after `dt` [s] of a point keeping its
        Frenet velocity (v_s, v_d) on its lane (`index`, default the closest lane matched with its heading)
        and the straightest successors. On a straight path this is exactly p + v dt, v."""
        p = np.asarray(position, dtype=float)
        v = np.asarray(velocity, dtype=float)
        if index is None:
            speed = float(np.hypot(*v))
            index = self.closest(p, float(np.arctan2(v[1], v[0])) if speed > 1.0 else None)
        lane = self.lane(index)
        s, _ = to_frenet(lane, p)
        reach = s + float(np.hypot(*v)) * dt + 1.0
        indices = [tuple(index)] if reach <= float(lane.length) else self.straightest(index, reach)
        path = self.path(indices)
        if path.straight():
            return p + v * dt, v
        return advance_on_path(path, p, v, dt)


def advance_on_path(path: LanePath, position: np.ndarray, velocity: np.ndarray, dt: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(position, velocity) after `dt` [s] at constant Frenet velocity on `path`."""
    s, d = path.to_frenet(position)
    v_s, v_d = path.velocity_to_frenet(s, velocity)
    s2, d2 = s + v_s * dt, d + v_d * dt
    return path.position(s2, d2), path.velocity_from_frenet(s2, v_s, v_d)


__all__ = ["LanePath", "RoadMap", "advance_on_path", "from_frenet", "is_straight", "normal", "tangent",
           "to_frenet", "velocity_from_frenet", "velocity_to_frenet", "wrap_angle"]
