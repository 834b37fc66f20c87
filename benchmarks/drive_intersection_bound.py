"""How much return a crash-free driver can get at all in intersection-v0: a clairvoyant search over the simulator.

    .venv/bin/python benchmarks/drive_intersection_bound.py --seed 0 --episodes 10 --beam 16      # training seeds
    .venv/bin/python benchmarks/drive_intersection_bound.py --seed 100000 --episodes 50 --beam 16  # held out
    .venv/bin/python benchmarks/drive_intersection_bound.py --seed 0 --episodes 10 --modular      # + the driver

Issue 15 asks intersection-v0 for a crash rate <= min(half of IDM+MOBIL's, 4 %) *and* a return >= IDM+MOBIL's.
This script bounds the second half for any driver that never crashes. For each env seed it resets highway-env
exactly as `pilotlab drive eval` does (the modular driver's `prepare`: highway-env's 3 cruise set-points
0 / 4.5 / 9 m/s, no observation; then ``reset(seed)``), and searches the ego's meta-action sequences (SLOWER /
IDLE / FASTER; the env has no lateral actions) on copies of the simulator: each node of the search is a
``copy.deepcopy`` of the env after a prefix of actions, and a child is the copy stepped once more, so the
other cars react to the ego as they would in a real episode (nothing is replayed). The search is a beam
search over depth (policy steps):

- every node of the beam is expanded with each action that gives a distinct cruise set-point (FASTER at the
  top set-point is IDLE, SLOWER at 0 too: the same state);
- a child that crashed is dropped; one whose episode ended (arrival, or the 13 s limit) is a candidate;
- children in the exact same state (every vehicle's position, heading, speed, lane and the env's random
  generator, bit for bit) are merged, keeping the better return so far;
- the `--beam` best children by return so far + an optimistic bound of the rest (`rest_bound`) stay.

The best candidate's return is achieved by a real action sequence, so no crash-free driver is known to do
worse than it can; it is the maximum over crash-free drivers up to the search's completeness (a wider beam
can only find more). The search also gives a certified upper bound: every crash-free sequence either ended
as a candidate or passes through a child the beam dropped, whose optimistic bound it cannot exceed, so the
maximum of the best candidate and the bounds of the dropped children bounds every crash-free driver.

The optimistic rest: a step pays at most 1 (highway-env's intersection reward: the speed term
``clip((v - 7) / 2, 0, 1)``, or exactly 1 on the step the ego arrives, after which the episode ends), and
the ego's speed can never exceed the envelope of always choosing the higher of FASTER and IDLE's set-point
(the set-point rule and the speed loop's Euler step are both monotone); a step pays 1 if the envelope's
distance could have reached the arrival point by then, else the envelope speed's term.

Checks: `check_copies` steps one env and a chain of deep copies with the same actions and compares every
vehicle's state bit for bit; the best sequence of every seed is replayed through `drive.episode.run_episode`
(the loop of `drive eval`) on a freshly reset env and must give the same return without a crash. Each
seed's result (the bound, the best sequence, its speeds, when it enters the junction, how long it stands,
IDM+MOBIL's return on the same seed) is appended to `--results` as one JSON line as soon as it is done.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_section
from pilotlab.drive import envs, junction

ENV_ID = "intersection-v0"
ACTIONS = ("SLOWER", "IDLE", "FASTER")  # intersection-v0's DiscreteMetaAction without lateral actions
STANDING = 1.0  # [m/s] slower than this counts as waiting
UNPAID = 7.0  # [m/s] the bottom of intersection-v0's reward_speed_range: a step this slow pays nothing
RESULTS = Path(__file__).resolve().parent / "results" / "drive_intersection_bound.jsonl"


def make_env(config: dict[str, Any] | None = None) -> Any:
    """intersection-v0 configured as `drive eval` configures it for the modular driver (its `prepare`); `config`
    (tests only: a shorter ``duration``) is applied first, as `drive eval --duration` does."""
    from pilotlab.drive.agents import make_agent

    env = envs.make_env(ENV_ID, config)
    make_agent("modular").prepare(env)
    return env


def static_memo(base: Any) -> dict[int, Any]:
    """A deepcopy memo that shares the road network and its lanes (fixed geometry no step changes) between copies."""
    net = base.road.network
    memo: dict[int, Any] = {id(net): net, id(net.graph): net.graph}
    for ends in net.graph.values():
        memo[id(ends)] = ends
        for lanes in ends.values():
            memo[id(lanes)] = lanes
            for lane in lanes:
                memo[id(lane)] = lane
    return memo


def clone(base: Any, memo: dict[int, Any]) -> Any:
    return copy.deepcopy(base, dict(memo))


def vehicle_states(base: Any) -> np.ndarray:
    """(N, 6) position, heading, speed, target speed and crashed flag of every vehicle, in road order."""
    return np.array([[*v.position, v.heading, v.speed, float(getattr(v, "target_speed", np.nan)), float(v.crashed)]
                     for v in base.road.vehicles], dtype=np.float64)


def state_key(base: Any) -> bytes:
    """Bit-exact digest of the simulation state (every vehicle, its lane, and the env's random generator)."""
    h = hashlib.sha1(vehicle_states(base).tobytes())
    h.update(repr([(v.lane_index, getattr(v, "route", None) and len(v.route)) for v in base.road.vehicles]).encode())
    h.update(repr(base.np_random.bit_generator.state).encode())
    return h.digest()


def set_point_after(vehicle: Any, action: str) -> float:
    """The ego's cruise set-point after `action` (highway-env's MDPVehicle.act, as `junction.set_point_after`)."""
    return junction.set_point_after(action, float(vehicle.speed), float(vehicle.target_speed),
                                    np.asarray(vehicle.target_speeds, dtype=float))


def route_left(base: Any) -> float:
    """[m] along the ego's route until highway-env counts it as arrived (25 m into its exit lane). highway-env
    drops route entries as the ego's target lane moves on, so the chain is: the lane the ego is on (or, if that
    closest lane is not on its way, the target lane), the target lane, then what is left of the route."""
    ego = base.vehicle
    net = base.road.network
    route = [tuple(r[:2]) for r in (ego.route or [])]
    here, target = tuple(ego.lane_index[:2]), tuple(ego.target_lane_index[:2])
    first = here if (here in route or here == target) else target
    chain = [first] + ([target] if target != first else [])
    chain += route[route.index(chain[-1]) + 1:] if chain[-1] in route else []
    lane = net.get_lane((*first, 0))
    s = float(lane.local_coordinates(ego.position)[0])
    left = -s
    for a, b in chain:
        if "il" in a and "o" in b:  # the exit lane: arrived 25 m into it
            return max(0.0, left + 25.0)
        left += float(net.get_lane((a, b, 0)).length)
    return max(0.0, left)


def speed_envelope(vehicle: Any, steps: int, period: float, sim_dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(speed at the end of each of the next `steps` policy steps, distance covered by then) [m/s, m] when the
    ego always takes the higher set-point of FASTER and IDLE: no meta-action sequence is faster."""
    kp = float(vehicle.KP_A)
    v, sp, dist = float(vehicle.speed), float(vehicle.target_speed), 0.0
    speeds, dists = np.zeros(steps), np.zeros(steps)
    n = round(period / sim_dt)
    for k in range(steps):
        sp = max(sp, junction.set_point_after("FASTER", v, sp, np.asarray(vehicle.target_speeds, dtype=float)))
        for _ in range(n):
            dist += v * sim_dt
            v += kp * (sp - v) * sim_dt
        speeds[k], dists[k] = v, dist
    return speeds, dists


def rest_bound(base: Any) -> float:
    """An upper bound on the return the rest of the episode can still pay: the smaller of the speed envelope's
    and the distance bound (module docstring)."""
    cfg = base.config
    period = 1.0 / float(cfg["policy_frequency"])
    sim_dt = 1.0 / float(cfg["simulation_frequency"])
    steps = max(0, math.ceil((float(cfg["duration"]) - float(base.time)) / period - 1e-9))
    if steps == 0:
        return 0.0
    ego = base.vehicle
    speeds, dists = speed_envelope(ego, steps, period, sim_dt)
    lo, hi = cfg["reward_speed_range"]
    pay = np.clip((speeds - lo) / (hi - lo), 0.0, 1.0) * float(cfg["high_speed_reward"])
    left = route_left(base)
    pay[dists >= max(0.0, left - route_slack(left))] = max(1.0, float(cfg["arrived_reward"]))
    envelope = float(pay.sum()) * period
    # the distance bound: before the arrival a step pays at most v / hi (v the speed at its end), the arrival
    # step at most 1; summed, the end-of-step speeds times the period are the distance covered plus, for the
    # first-order speed loop, a fixed share of the net speed change (it telescopes)
    v = float(ego.speed)
    v_top = max(v, float(np.max(ego.target_speeds)))
    ratio = euler_ratio(float(ego.KP_A), period, sim_dt)
    distance = period * float(cfg["arrived_reward"]) + (left + route_slack(left) + ratio * (v_top - v)) / float(hi) \
        * float(cfg["high_speed_reward"])
    return min(envelope, distance)


def route_slack(left: float) -> float:
    """[m] how much further (or less far) the ego's path may run than its progress along the lanes (turns)."""
    return 0.05 * left + 2.0


def euler_ratio(kp: float, period: float, sim_dt: float) -> float:
    """c [s] with ``period * v_end - distance = c * (v_end - v_start)`` over one policy step of the speed loop
    ``v += kp * (set-point - v) * sim_dt`` (explicit Euler, distance from the speed before each update)."""
    n = round(period / sim_dt)
    q = 1.0 - kp * sim_dt
    num = sim_dt * sum(q ** n - q ** j for j in range(n))
    return num / (q ** n - 1.0)


@dataclass
class Node:
    env: Any  # the unwrapped env after `actions`
    ret: float  # return so far
    actions: tuple[int, ...] = ()
    speeds: tuple[float, ...] = ()  # the ego's speed after each step [m/s]
    lanes: tuple[str, ...] = ()  # the ego's lane after each step ("o0-ir0", ...)
    bound: float = field(default=math.inf)  # certified: no continuation returns more


@dataclass
class SearchResult:
    best: Node | None  # the best crash-free sequence (None: every sequence the beam kept crashed)
    upper: float  # certified upper bound on any crash-free driver's return
    expanded: int  # env steps simulated
    merged: int  # children merged with an identical state
    wall_s: float


def search(env: Any, seed: int, beam: int) -> SearchResult:
    """Beam search from ``env.reset(seed=seed)`` (module docstring)."""
    t0 = time.perf_counter()
    env.reset(seed=seed)
    root = env.unwrapped
    memo = static_memo(root)
    period = 1.0 / float(root.config["policy_frequency"])
    frontier = [Node(clone(root, memo), 0.0)]
    best: Node | None = None
    dropped = -math.inf
    expanded = merged = 0
    while frontier:
        children: dict[bytes, Node] = {}
        for node in frontier:
            if best is not None and node.bound <= best.ret:
                continue  # cannot beat the incumbent
            ego = node.env.vehicle
            seen: set[float] = set()
            for a, name in enumerate(ACTIONS):
                sp = set_point_after(ego, name)
                if sp in seen:
                    continue  # the same set-point as an action already tried: the same child
                seen.add(sp)
                child = clone(node.env, memo)
                _, reward, terminated, truncated, _ = child.step(a)
                expanded += 1
                if child.vehicle.crashed:
                    continue
                c = child.vehicle
                new = Node(child, node.ret + float(reward) * period, (*node.actions, a),
                           (*node.speeds, float(c.speed)), (*node.lanes, f"{c.lane_index[0]}-{c.lane_index[1]}"))
                if terminated or truncated:
                    if best is None or new.ret > best.ret:
                        best = new
                    continue
                key = state_key(child)
                old = children.get(key)
                if old is not None:
                    merged += 1
                    if old.ret >= new.ret:
                        continue
                new.bound = new.ret + rest_bound(child)
                children[key] = new
        kept, lost = select(list(children.values()), beam, best.ret if best is not None else -math.inf)
        for n in lost:
            dropped = max(dropped, n.bound)
        frontier = kept
    upper = max(best.ret if best is not None else -math.inf, dropped)
    return SearchResult(best, upper, expanded, merged, time.perf_counter() - t0)


def select(children: list[Node], beam: int, incumbent: float) -> tuple[list[Node], list[Node]]:
    """(kept, dropped): children that cannot beat the incumbent go; of the rest, `beam` are kept, taken in turn
    from each cruise set-point's children ranked by their bound, so waiting, slow and fast plans all survive
    (ranking fast plans first alone fills the beam with cars that are too far in to stop)."""
    live = [n for n in children if n.bound > incumbent]
    groups: dict[float, list[Node]] = {}
    for n in sorted(live, key=lambda n: (-n.bound, -n.ret, n.actions)):
        groups.setdefault(float(n.env.vehicle.target_speed), []).append(n)
    queues = [groups[k] for k in sorted(groups)]
    kept: list[Node] = []
    while len(kept) < beam and any(queues):
        for q in queues:
            if q and len(kept) < beam:
                kept.append(q.pop(0))
    return kept, [n for q in queues for n in q]


def check_copies(env: Any, seed: int, actions: list[int]) -> bool:
    """Step `env` and, side by side, a chain of deep copies (each step on a fresh copy of the last) with the
    same actions; True if every vehicle's state and every reward agree bit for bit at every step."""
    env.reset(seed=seed)
    real = env.unwrapped
    memo = static_memo(real)
    twin = clone(real, memo)
    for a in actions:
        twin = clone(twin, memo)
        r1 = real.step(a)
        r2 = twin.step(a)
        if r1[1] != r2[1] or r1[2:4] != r2[2:4]:
            return False
        s1, s2 = vehicle_states(real), vehicle_states(twin)
        if s1.shape != s2.shape or s1.tobytes() != s2.tobytes():
            return False
        if r1[2] or r1[3]:
            break
    return True


class ReplayAgent:
    """Takes a fixed action sequence, in the modular driver's env configuration (for `run_episode`)."""

    name = "replay"
    perception = None

    def __init__(self, actions: tuple[int, ...]):
        self.actions = list(actions)

    def prepare(self, env: Any) -> None:
        from pilotlab.drive.agents import make_agent

        make_agent("modular").prepare(env)

    def reset(self, env: Any, seed: int) -> None:
        self._k = 0

    def act(self, env: Any, obs: Any) -> int:
        a = self.actions[self._k] if self._k < len(self.actions) else ACTIONS.index("IDLE")
        self._k += 1
        return a


class LaneLog:
    """`episode.EpisodeHooks` recording the ego's speed and lane after each step."""

    def __init__(self) -> None:
        self.speeds: list[float] = []
        self.lanes: list[str] = []

    def after_reset(self, env: Any) -> None:
        pass

    def after_step(self, env: Any, step: int) -> None:
        ego = env.unwrapped.vehicle
        self.speeds.append(float(ego.speed))
        self.lanes.append(f"{ego.lane_index[0]}-{ego.lane_index[1]}")


def timing(speeds: tuple[float, ...] | list[float], lanes: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """When the ego passes the stop line (the first step it is off its entry lane), how many steps it stood
    (speed under `STANDING`) before that, the slowest speed on the way there, and the steps slower than
    `UNPAID` (they earn no speed reward)."""
    entry = next((k + 1 for k, lane in enumerate(lanes) if not lane.startswith("o")), None)
    before = speeds[:entry] if entry is not None else speeds
    return {"entry_step": entry, "standing_steps": int(sum(v < STANDING for v in before)),
            "min_speed_before_entry": float(min(before)) if len(before) else float("nan"),
            "steps": len(speeds), "unpaid_steps": int(sum(v < UNPAID for v in speeds))}


def drive(agent: Any, seed: int, config: dict[str, Any] | None = None) -> tuple[Any, LaneLog]:
    """One episode through `drive eval`'s loop (`run_episode`), with the ego's speed and lane per step."""
    from pilotlab.drive.episode import run_episode

    env = envs.make_env(ENV_ID, config)
    log = LaneLog()
    try:
        stats = run_episode(agent, env, seed, hooks=log)
    finally:
        env.close()
    return stats, log


def episode_row(seed: int, beam: int, modular: bool, first: int = 0) -> dict[str, Any]:
    from pilotlab.drive.agents import make_agent

    env = make_env()
    try:
        res = search(env, seed, beam)
    finally:
        env.close()
    row: dict[str, Any] = {"seed": seed, "beam": beam, "expanded": res.expanded, "merged": res.merged,
                           "wall_s": round(res.wall_s, 2), "load": round(os.getloadavg()[0], 2),
                           "upper": res.upper}
    if res.best is None:
        row.update({"bound": None, "actions": None})
    else:
        b = res.best
        stats, log = drive(ReplayAgent(b.actions), seed)
        row.update({"bound": b.ret, "actions": "".join("SIF"[a] for a in b.actions),
                    "speeds": [round(v, 2) for v in b.speeds], "lanes": list(b.lanes),
                    "replay_return": stats.ret, "replay_crashed": bool(stats.crashed),
                    "replay_ok": bool(abs(stats.ret - b.ret) < 1e-9 and not stats.crashed),
                    **timing(b.speeds, b.lanes)})
    stats, log = drive(make_agent("idm"), seed)
    row.update({"idm_return": stats.ret, "idm_crashed": bool(stats.crashed)})
    if modular:
        stats, log = drive(make_agent("modular", first), seed)
        row.update({"modular_return": stats.ret, "modular_crashed": bool(stats.crashed),
                    "modular_speeds": [round(v, 2) for v in log.speeds],
                    "modular_timing": timing(log.speeds, log.lanes)})
    return row


def _load(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean bound, IDM+MOBIL's mean return on the same seeds, and how often the bound is at or below it."""
    bounds = np.array([r["bound"] if r["bound"] is not None else np.nan for r in rows], dtype=float)
    idm = np.array([r["idm_return"] for r in rows], dtype=float)
    idm_mean = float(idm.mean())
    entry = [r["entry_step"] for r in rows if r.get("entry_step") is not None]
    return {"episodes": len(rows), "bound_mean": float(np.nanmean(bounds)),
            "upper_mean": float(np.mean([r["upper"] for r in rows])),
            "idm_mean": idm_mean, "idm_crash_rate": float(np.mean([r["idm_crashed"] for r in rows])),
            "at_or_below_idm_mean": int(np.sum(bounds <= idm_mean)), "no_solution": int(np.isnan(bounds).sum()),
            "entry_step_mean": float(np.mean(entry)) if entry else float("nan"),
            "standing_mean": float(np.mean([r.get("standing_steps", 0) for r in rows])),
            "replays_ok": int(sum(bool(r.get("replay_ok")) for r in rows)),
            "reused": int(sum("reused_from" in r for r in rows)),
            "wall_s": float(sum(r["wall_s"] for r in rows if "reused_from" not in r))}


def _section(groups: dict[tuple[int, int, int], dict[str, Any]], commands: list[str]) -> str:
    lines = ["## Intersection: the clairvoyant bound (`benchmarks/drive_intersection_bound.py`)", "",
             "Command(s): " + "; ".join(f"`{c}`" for c in commands) + ".", "", f"Machine: {machine()}.", "",
             "Beam search over the ego's meta-actions on deep copies of highway-env (docs/drive.md, \"The clairvoyant "
             "bound\"): the best crash-free return found per seed (achieved by a real action sequence, replayed "
             "through `drive eval`'s loop), and the certified upper bound (best found or the optimistic bound of "
             "anything the beam dropped).", "",
             "| seeds | beam | episodes | best crash-free return (mean) | certified upper bound (mean) | "
             "IDM+MOBIL return / crashes | bound <= IDM+MOBIL's mean | junction entry step (mean) | "
             "steps standing (mean) | replays ok | certified seeds reused | wall [s] |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (first, n, beam), s in sorted(groups.items()):
        lines.append(f"| {first}-{first + n - 1} | {beam} | {s['episodes']} | {s['bound_mean']:.2f} | "
                     f"{s['upper_mean']:.2f} | {s['idm_mean']:.2f} / {s['idm_crash_rate']:.0%} | "
                     f"{s['at_or_below_idm_mean']} / {s['episodes']} | {s['entry_step_mean']:.1f} | "
                     f"{s['standing_mean']:.1f} | {s['replays_ok']} / {s['episodes']} | {s['reused']} | "
                     f"{s['wall_s']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=100_000, help="first env seed")
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--beam", type=int, default=16, help="children kept per depth")
    ap.add_argument("--modular", action="store_true", help="also drive the modular driver on each seed")
    ap.add_argument("--check", type=int, default=2, help="seeds whose deep copies are checked against the env")
    ap.add_argument("--results", default=str(RESULTS), help="JSON lines, one per (seed, beam)")
    ap.add_argument("--no-doc", action="store_true", help="do not write the docs/benchmarks.md section")
    ap.add_argument("--reuse-certified", action="store_true",
                    help="a seed whose result at a narrower beam is certified optimal (upper bound - best found "
                         "<= 1e-6) is not searched again: no beam can find more there; its row is copied (reused_from)")
    args = ap.parse_args()
    if args.episodes < 1 or args.beam < 1 or args.seed < 0 or args.check < 0:
        print("error: --episodes and --beam must be >= 1, --seed and --check >= 0", file=sys.stderr)
        raise SystemExit(2)
    import torch

    torch.set_num_threads(1)
    command = "python benchmarks/drive_intersection_bound.py " + " ".join(sys.argv[1:])
    seeds = list(range(args.seed, args.seed + args.episodes))
    rng = np.random.default_rng(0)
    for seed in seeds[:args.check]:
        env = make_env()
        ok = check_copies(env, seed, [int(a) for a in rng.integers(0, len(ACTIONS), 13)])
        env.close()
        print(f"seed {seed}: deep copies reproduce the env bit for bit: {ok}", flush=True)
        if not ok:
            print(f"error: a deep copy of {ENV_ID} diverged from the env on seed {seed}", file=sys.stderr)
            raise SystemExit(1)
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["seed"], r["beam"]): r for r in _load(results)}
    for seed in seeds:
        if (seed, args.beam) in done and (not args.modular or "modular_return" in done[(seed, args.beam)]):
            continue
        certified = [r for (s, k), r in done.items() if s == seed and k < args.beam and r["bound"] is not None
                     and r["upper"] - r["bound"] <= 1e-6 and (not args.modular or "modular_return" in r)]
        if args.reuse_certified and certified:
            row = {**certified[0], "beam": args.beam, "reused_from": certified[0]["beam"]}
        else:
            row = episode_row(seed, args.beam, args.modular, args.seed)
        row["command"] = command
        done[(seed, args.beam)] = row
        results.write_text("".join(json.dumps(r) + "\n" for r in done.values()))
        reused = " (reused)" if "reused_from" in row else ""
        print(f"seed {seed}{reused}: bound {row['bound']} (upper {row['upper']:.2f}) actions {row['actions']} "
              f"entry {row.get('entry_step')} standing {row.get('standing_steps')} | IDM {row['idm_return']:.2f}"
              f"{' crash' if row['idm_crashed'] else ''}"
              + (f" | modular {row['modular_return']:.2f} entry {row['modular_timing']['entry_step']}"
                 if args.modular else "")
              + f" | replay {'ok' if row.get('replay_ok') else 'MISMATCH'} | {row['wall_s']:.0f} s", flush=True)
    rows = [done[(s, args.beam)] for s in seeds]
    s = summarize(rows)
    print(json.dumps(s), flush=True)
    if not args.no_doc:
        all_rows = list(done.values())
        groups: dict[tuple[int, int, int], dict[str, Any]] = {}
        commands: list[str] = []
        for first, n in sorted({(0, 10), (100_000, 50), (args.seed, args.episodes)}):
            for beam in sorted({r["beam"] for r in all_rows}):
                sel = [r for r in all_rows if r["beam"] == beam and first <= r["seed"] < first + n]
                if len(sel) == n:
                    groups[(first, n, beam)] = summarize(sel)
                    commands += [r["command"] for r in sel if r.get("command")]
        write_section("drive_intersection_bound", _section(groups, list(dict.fromkeys(commands))))


if __name__ == "__main__":
    main()
