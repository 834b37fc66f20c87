"""Scenarios: one point of the space `pilotlab drive stress` searches, saved as a JSON file that `pilotlab drive
eval --scenario FILE` replays bit for bit.

A scenario fixes an env id and env seed (highway-env's own randomness: road, initial traffic) and moves
six knobs away from the env's defaults (`SPACE`, each with its range):

- ``density``: traffic density. highway-fast-v0 / highway-v0 / exit-v0: ``vehicles_density`` x density;
  intersection-v0: ``initial_vehicle_count`` and ``spawn_probability`` x density; racetrack-v0:
  ``other_vehicles`` = round(3 x density); merge-v0 and roundabout-v0 (fixed traffic layouts): each NPC of
  the reset is kept with probability density (range up to 1 there).
- ``politeness``: every NPC's MOBIL politeness (highway-env's ``IDMVehicle.POLITENESS``, 0 by default).
- ``aggressiveness`` a in [0, 1]: every NPC's IDM / MOBIL parameters move from highway-env's defaults
  towards an aggressive driver: time gap 1.5 -> 0.5 s, jam distance 10 -> 4 m, comfortable acceleration
  3 -> 6 m/s^2, braking it may impose on others in a lane change 2 -> 6 m/s^2, lane-change delay 1 -> 0.5 s.
- ``speed_factor``: every NPC's target speed x factor.
- ``spacing``: the ego's initial gap (``ego_spacing`` x factor), on the highway-like envs only.
- ``sensor_noise``: the modular driver's lidar and radar noise std x factor; ``dropout``: lidar ray dropout
  probability, and radar misses at the same rate on top of the default 10 %.

NPCs spawned during the episode (intersection-v0) get the same behaviour when they appear. Everything
random in the changes (which NPCs a lower density removes) is drawn from a generator seeded with the env
seed, so the same file gives the same episode.

A scenario of the RL adversary (`drive/adversary.py`) also holds ``adversary``: the meta-action (an index
into `ACTIONS`) of one NPC per policy step. `AdversaryHooks` takes that NPC over after the reset (the
nearest vehicle ahead of or beside the ego) and replays the actions, so the file alone gives the episode.

Fault (`crash_fault`), judged from the two cars' positions, headings and speeds at the policy step before
the crash (after it, highway-env has pushed them apart and let them slide on) and the lane changes over the
previous `FAULT_WINDOW` seconds. The crash partner is the other vehicle highway-env flagged as crashed nearest the
ego. The NPC is at fault if

- it hit the ego from behind: headings within 30 degrees, the ego ahead of the NPC along the NPC's heading
  by more than the lateral offset, and the ego did not change lane into the NPC's lane within the window
  (a cut-in by the ego makes a rear-end the ego's fault); or
- it cut in: it changed lane within the window (or is changing) into the ego's lane while the ego kept
  its lane; or
- it hit the ego standing still (ego speed under 0.5 m/s).

Every other crash is the ego's ("avoidable"): it rear-ended a car, side-swiped while changing lanes, or
met a crossing or circulating car at a junction (the ego could have waited). A crash with no partner
(an obstacle, or leaving the road into something) is the ego's too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pilotlab.core.errors import PilotlabError
from pilotlab.drive import envs

FORMAT = "pilotlab.drive.scenario/1"
FAULT_WINDOW = 2.0  # [s] a lane change this recent counts as a cut-in
ALIGNED = math.radians(30.0)  # [rad] headings closer than this: the same direction of travel
STANDSTILL = 0.5  # [m/s]

# knob -> (low, high, default). Densities that only remove traffic top out at 1 (merge, roundabout).
SPACE: dict[str, tuple[float, float, float]] = {
    "density": (0.5, 2.0, 1.0),
    "politeness": (0.0, 1.0, 0.0),
    "aggressiveness": (0.0, 1.0, 0.0),
    "speed_factor": (0.7, 1.3, 1.0),
    "spacing": (0.5, 2.0, 1.0),
    "sensor_noise": (0.5, 5.0, 1.0),
    "dropout": (0.0, 0.5, 0.05),
}
REMOVE_ONLY = ("merge-v0", "roundabout-v0")
HIGHWAY_LIKE = ("highway-fast-v0", "highway-v0", "exit-v0")


def knob_range(env_id: str, knob: str) -> tuple[float, float]:
    """The searched range of `knob` in `env_id` (a knob that does nothing there has low == high)."""
    low, high, default = SPACE[knob]
    if knob == "density" and env_id in REMOVE_ONLY:
        return 0.3, 1.0
    if knob == "spacing" and env_id not in HIGHWAY_LIKE:
        return default, default
    return low, high


@dataclass(frozen=True)
class Scenario:
    """One episode's scenario. `expect` is what the search observed (replays are checked against it)."""

    env: str
    seed: int  # env seed
    density: float = 1.0
    politeness: float = 0.0
    aggressiveness: float = 0.0
    speed_factor: float = 1.0
    spacing: float = 1.0
    sensor_noise: float = 1.0
    dropout: float = 0.05
    duration: float | None = None  # [s] None: the env's own
    agent: str = "modular"
    agent_seed: int = 0  # seeds the driver's sensor noise (with the env seed)
    adversary: tuple[int, ...] | None = None  # the RL adversary's meta-action per policy step (drive/adversary.py)
    expect: dict[str, Any] = field(default_factory=dict)  # crashed, at_fault, kind, step, trajectory_sha256

    def knobs(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in SPACE}

    def env_config(self) -> dict[str, Any]:
        """The env config changes of this scenario (applied before the reset)."""
        cfg: dict[str, Any] = {}
        if self.duration is not None:
            cfg["duration"] = float(self.duration)
        defaults = envs_defaults(self.env)
        if self.env in HIGHWAY_LIKE:
            cfg["vehicles_density"] = float(defaults["vehicles_density"]) * self.density
            cfg["ego_spacing"] = float(defaults["ego_spacing"]) * self.spacing
        elif self.env == "intersection-v0":
            cfg["initial_vehicle_count"] = round(float(defaults["initial_vehicle_count"]) * self.density)
            cfg["spawn_probability"] = float(min(1.0, float(defaults["spawn_probability"]) * self.density))
        elif self.env == "racetrack-v0":
            cfg["other_vehicles"] = int(max(1, round(3 * self.density)))
        return cfg

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **dataclasses.asdict(self)}


_DEFAULTS: dict[str, dict[str, Any]] = {}


def envs_defaults(env_id: str) -> dict[str, Any]:
    """highway-env's default config of `env_id` (cached)."""
    if env_id not in _DEFAULTS:
        env = envs.make_env(env_id)
        _DEFAULTS[env_id] = dict(env.unwrapped.config)
        env.close()
    return _DEFAULTS[env_id]


def validate(data: Any, where: str = "scenario") -> Scenario:
    """A `Scenario` from parsed JSON, or a one-line `PilotlabError` naming the bad field."""
    if not isinstance(data, dict):
        raise PilotlabError(f"{where}: a scenario file holds a JSON object, not {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise PilotlabError(f"{where}: format must be {FORMAT!r}, got {data.get('format')!r}")
    names = {f.name for f in dataclasses.fields(Scenario)}
    unknown = sorted(set(data) - names - {"format"})
    if unknown:
        raise PilotlabError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
    env_id = data.get("env")
    if env_id not in envs.SCENARIOS:
        raise PilotlabError(f"{where}: env {env_id!r} is not one of {', '.join(envs.SCENARIOS)}")
    seed = data.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
        raise PilotlabError(f"{where}: seed must be an integer in [0, 2^31), got {seed!r}")
    values: dict[str, Any] = {"env": env_id, "seed": seed}
    for knob in SPACE:
        v = data.get(knob, SPACE[knob][2])
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(float(v)):
            raise PilotlabError(f"{where}: {knob} must be a finite number, got {v!r}")
        low, high = knob_range(env_id, knob)
        if not low - 1e-12 <= float(v) <= high + 1e-12:
            raise PilotlabError(f"{where}: {knob} = {v} is outside [{low}, {high}] for {env_id}")
        values[knob] = float(v)
    duration = data.get("duration")
    if duration is not None and (not isinstance(duration, (int, float)) or isinstance(duration, bool)
                                 or not math.isfinite(float(duration)) or not 0 < float(duration) <= 3600):
        raise PilotlabError(f"{where}: duration must be null or a number of seconds in (0, 3600], got {duration!r}")
    values["duration"] = None if duration is None else float(duration)
    agent = data.get("agent", "modular")
    if agent not in ("modular", "oracle", "idm"):
        raise PilotlabError(f"{where}: agent must be modular, oracle or idm, got {agent!r}")
    agent_seed = data.get("agent_seed", 0)
    if not isinstance(agent_seed, int) or isinstance(agent_seed, bool) or not 0 <= agent_seed < 2**31:
        raise PilotlabError(f"{where}: agent_seed must be an integer in [0, 2^31), got {agent_seed!r}")
    expect = data.get("expect", {})
    if not isinstance(expect, dict):
        raise PilotlabError(f"{where}: expect must be a JSON object, got {type(expect).__name__}")
    adversary = data.get("adversary")
    if adversary is not None:
        if (not isinstance(adversary, list) or len(adversary) > 100_000
                or any(not isinstance(a, int) or isinstance(a, bool) or not 0 <= a < len(ACTIONS) for a in adversary)):
            raise PilotlabError(f"{where}: adversary must be null or a list of meta-actions, integers in "
                                f"[0, {len(ACTIONS) - 1}]")
        adversary = tuple(adversary)
    return Scenario(agent=agent, agent_seed=agent_seed, adversary=adversary, expect=expect, **values)


def load(path: str | Path, env_id: str | None = None) -> Scenario:
    """Read and validate a scenario file; with `env_id`, refuse a scenario of another env."""
    p = Path(path)
    if not p.is_file():
        raise PilotlabError(f"scenario file {str(p)!r} does not exist")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PilotlabError(f"scenario file {str(p)!r} is not readable JSON: {str(e).splitlines()[0]}") from None
    sc = validate(data, f"scenario file {str(p)!r}")
    if env_id is not None and sc.env != env_id:
        raise PilotlabError(f"scenario file {str(p)!r} is for {sc.env}, not {env_id}; pass --env {sc.env}")
    return sc


def save(scenario: Scenario, path: Path) -> None:
    from pilotlab.core.checkpoint import atomic_write_text

    atomic_write_text(path, json.dumps(scenario.to_json(), indent=2, sort_keys=True) + "\n")


# -- applying a scenario -----------------------------------------------------------------------------------
def npc_behaviour(aggressiveness: float, politeness: float) -> dict[str, float]:
    """IDM / MOBIL parameters of an NPC (instance attributes of highway-env's IDMVehicle)."""
    a = float(aggressiveness)
    return {"TIME_WANTED": 1.5 - 1.0 * a, "DISTANCE_WANTED": 10.0 - 6.0 * a, "COMFORT_ACC_MAX": 3.0 + 3.0 * a,
            "LANE_CHANGE_MAX_BRAKING_IMPOSED": 2.0 + 4.0 * a, "LANE_CHANGE_DELAY": 1.0 - 0.5 * a,
            "POLITENESS": float(politeness)}


class ScenarioHooks:
    """`episode.EpisodeHooks` of a scenario: changes the NPCs after the reset and when they spawn, records
    the ego's trajectory and the recent history every vehicle needs for `crash_fault`."""

    def __init__(self, scenario: Scenario, period: float = 1.0):
        self.scenario = scenario
        self.window = max(1, round(FAULT_WINDOW / period))
        self._serial: dict[int, int] = {}  # id(vehicle) -> creation order (the ego is 0)
        self._alive: list[Any] = []  # keeps every vehicle seen alive, so Python ids are never reused
        self.history: list[dict[int, dict[str, Any]]] = []
        self.trajectory: list[tuple[float, float, float]] = []
        self.crash: dict[str, Any] | None = None
        self.min_gap = math.inf  # [m] closest centre distance to any NPC, less a car length

    def after_reset(self, env: Any) -> None:
        self.window = max(1, round(FAULT_WINDOW * float(env.unwrapped.config["policy_frequency"])))
        road = env.unwrapped.road
        ego = env.unwrapped.vehicle
        if self.scenario.env in REMOVE_ONLY and self.scenario.density < 1.0:
            rng = np.random.default_rng([self.scenario.seed, 17])
            keep = [v for v in road.vehicles if v is ego or rng.random() < self.scenario.density]
            road.vehicles[:] = keep
        self._serial[id(ego)] = 0
        self._alive.append(ego)
        self._adapt(env)
        self._record(env)

    def after_step(self, env: Any, step: int) -> None:
        self._adapt(env)
        self._record(env)
        ego = env.unwrapped.vehicle
        if ego.crashed and self.crash is None:
            self.crash = crash_fault(env, self.history, self.window)
            self.crash["partner"] = self._serial.get(self.crash.pop("partner_id"), -1)
            self.crash["step"] = int(step)

    def _adapt(self, env: Any) -> None:
        ego = env.unwrapped.vehicle
        params = npc_behaviour(self.scenario.aggressiveness, self.scenario.politeness)
        for v in env.unwrapped.road.vehicles:
            if v is ego or id(v) in self._serial:
                continue
            self._serial[id(v)] = len(self._serial)
            self._alive.append(v)
            if hasattr(v, "TIME_WANTED"):  # an IDM vehicle (not the ego, not a parked obstacle)
                for k, value in params.items():
                    setattr(v, k, value)
                v.target_speed = float(v.target_speed) * self.scenario.speed_factor

    def _record(self, env: Any) -> None:
        ego = env.unwrapped.vehicle
        self.trajectory.append((float(ego.position[0]), float(ego.position[1]), float(ego.speed)))
        snap: dict[int, dict[str, Any]] = {}
        for v in env.unwrapped.road.vehicles:
            target = getattr(v, "target_lane_index", None) or v.lane_index
            snap[id(v)] = {"position": np.array(v.position, dtype=float), "heading": float(v.heading),
                           "speed": float(v.speed), "lane": tuple(v.lane_index) if v.lane_index else None,
                           "target": tuple(target) if target else None}
            if v is not ego:
                d = float(np.hypot(*(np.asarray(v.position) - ego.position))) - envs.VEHICLE_LENGTH
                self.min_gap = min(self.min_gap, d)
        self.history.append(snap)
        if len(self.history) > self.window + 1:
            self.history.pop(0)

    def trajectory_digest(self) -> str:
        """sha256 of the ego's (x, y, speed) per policy step as float64 bytes: equal digests, equal runs."""
        return hashlib.sha256(np.asarray(self.trajectory, dtype=np.float64).tobytes()).hexdigest()


def _changed_lane(history: list[dict[int, dict[str, Any]]], vid: int) -> bool:
    """Whether vehicle `vid` changed lane (same road section, other lane id) in the history, or is changing."""
    rows = [h[vid] for h in history if vid in h and h[vid]["lane"] is not None]
    if not rows:
        return False
    last = rows[-1]
    if last["target"] is not None and last["target"][:2] == last["lane"][:2] and last["target"][2] != last["lane"][2]:
        return True
    return any(r["lane"][:2] == last["lane"][:2] and r["lane"][2] != last["lane"][2] for r in rows[:-1])


def classify(ego: dict[str, Any], npc: dict[str, Any], ego_changed: bool, npc_changed: bool,
             npc_into_ego_lane: bool) -> tuple[bool, str]:
    """(ego at fault, kind) of a crash between the ego and one NPC (the rules of the module docstring).

    `ego`/`npc`: position (2,) [m], heading [rad], speed [m/s]; `ego_changed`: the ego changed lane within
    the window (into the NPC's lane); `npc_changed` likewise for the NPC; `npc_into_ego_lane`: the NPC's
    lane (or target lane) is now the ego's."""
    dh = (float(ego["heading"]) - float(npc["heading"]) + math.pi) % (2 * math.pi) - math.pi
    aligned = abs(dh) < ALIGNED
    h = np.array([math.cos(npc["heading"]), math.sin(npc["heading"])])
    rel = np.asarray(ego["position"], dtype=float) - np.asarray(npc["position"], dtype=float)
    along, across = float(rel @ h), float(rel @ np.array([-h[1], h[0]]))
    if float(ego["speed"]) < STANDSTILL and float(npc["speed"]) >= STANDSTILL:
        return False, "hit while standing"
    if aligned and along > abs(across):
        if ego_changed:
            return True, "ego cut in"
        return False, "rear-ended by npc"
    if aligned and npc_changed and npc_into_ego_lane and not ego_changed:
        return False, "npc cut in"
    if aligned and along < -abs(across):
        return True, "rear-ended npc"
    if aligned:
        return True, "side-swipe"
    return True, "crossing"


def crash_fault(env: Any, history: list[dict[int, dict[str, Any]]], window: int) -> dict[str, Any]:
    """{at_fault, kind, partner} of the ego's crash at the last recorded step."""
    ego_v = env.unwrapped.vehicle
    now = history[-1]
    partners = [v for v in env.unwrapped.road.vehicles if v is not ego_v and v.crashed and id(v) in now]
    if not partners:
        return {"at_fault": True, "kind": "no partner", "partner_id": -1}
    npc_v = min(partners, key=lambda v: float(np.hypot(*(np.asarray(v.position) - ego_v.position))))
    # geometry from the policy step before the crash: after the collision highway-env pushes the two cars
    # apart (along the shortest separation, often sideways) and lets them slide on for the rest of the step
    before = history[-2] if len(history) > 1 and id(npc_v) in history[-2] else now
    ego, npc = before[id(ego_v)], before[id(npc_v)]
    ego_changed = _changed_lane(history, id(ego_v))
    npc_changed = _changed_lane(history, id(npc_v))
    ego_lane = now[id(ego_v)]["lane"]
    into = ego_lane is not None and any(x is not None and x[:2] == ego_lane[:2] and x[2] == ego_lane[2]
                                        for x in (now[id(npc_v)]["lane"], now[id(npc_v)]["target"]))
    at_fault, kind = classify(ego, npc, ego_changed, npc_changed, into)
    return {"at_fault": bool(at_fault), "kind": kind, "partner_id": id(npc_v)}


# -- the RL adversary's NPC (drive/adversary.py trains it; a scenario file replays its actions) --------------
ACTIONS = ("LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER")  # highway-env's DiscreteMetaAction order


def speed_grid(env: Any) -> np.ndarray:
    """[m/s] the adversary's cruise set-points: 5, 10, ... up to the env's reference speed + 5."""
    return np.arange(5.0, envs.reference_speed(env) + 5.0 + 1e-9, 5.0)


def choose_npc(env: Any) -> Any | None:
    """The NPC the adversary takes over (module docstring), or None when there is no IDM vehicle."""
    base = env.unwrapped
    ego = base.vehicle
    cands = [v for v in base.road.vehicles if v is not ego and hasattr(v, "TIME_WANTED")]
    if not cands:
        return None
    h = np.array([math.cos(ego.heading), math.sin(ego.heading)])

    def dist(v: Any) -> float:
        return float(np.hypot(*(np.asarray(v.position) - ego.position)))

    ahead = [v for v in cands if float((np.asarray(v.position) - ego.position) @ h) >= -envs.VEHICLE_LENGTH]
    return min(ahead or cands, key=dist)


class AdversaryHooks(ScenarioHooks):
    """`scenarios.ScenarioHooks` plus the adversary: takes over the chosen NPC after the reset and applies
    its meta-actions, from `scenario.adversary` (a replay) or through `command` (`drive.adversary`'s env).
    The NPC: the nearest vehicle ahead of or beside the ego at the reset (`choose_npc`), turned from an IDM /
    MOBIL vehicle into a controlled one (`MDPVehicle`) at the same position, heading, speed and lane."""

    def __init__(self, scenario: Scenario, period: float = 1.0):
        super().__init__(scenario, period)
        self.npc: Any = None
        self.npc_serial = -1
        self._replay = list(scenario.adversary or ())

    def after_reset(self, env: Any) -> None:
        from highway_env.vehicle.controller import MDPVehicle

        super().after_reset(env)  # traffic knobs, creation order, the first recorded step
        old = choose_npc(env)
        if old is None:
            return
        road = env.unwrapped.road
        new = MDPVehicle(road, np.array(old.position, dtype=float), heading=float(old.heading),
                         speed=float(old.speed), target_lane_index=old.target_lane_index,
                         target_speed=float(old.speed), target_speeds=speed_grid(env), route=old.route)
        road.vehicles[road.vehicles.index(old)] = new
        self._serial[id(new)] = self.npc_serial = self._serial[id(old)]
        self._alive.append(new)
        self.history[-1][id(new)] = self.history[-1].pop(id(old))
        self.npc = new
        if self._replay:
            self.command(self._replay[0])

    def after_step(self, env: Any, step: int) -> None:
        super().after_step(env, step)
        if step + 1 < len(self._replay):
            self.command(self._replay[step + 1])

    def command(self, action: int) -> None:
        """The adversary's meta-action for the next policy step (no-op without an NPC or once it crashed)."""
        if self.npc is not None and not self.npc.crashed:
            self.npc.act(ACTIONS[int(action)])


# -- running a scenario --------------------------------------------------------------------------------------
def configure_agent(agent: Any, scenario: Scenario) -> Any:
    """The scenario's sensor noise and dropout on a planner driver's sensors (other drivers: unchanged)."""
    from pilotlab.drive.sensors import SensorConfig

    if hasattr(agent, "sensor_cfg"):
        base = SensorConfig()
        k, p = scenario.sensor_noise, scenario.dropout
        agent.sensor_cfg = dataclasses.replace(
            base, lidar_noise=base.lidar_noise * k, lidar_dropout=p, radar_range_noise=base.radar_range_noise * k,
            radar_bearing_noise=base.radar_bearing_noise * k, radar_rate_noise=base.radar_rate_noise * k,
            radar_detect_prob=base.radar_detect_prob * (1.0 - p))
    return agent


def outcome(stats: Any, hooks: ScenarioHooks) -> dict[str, Any]:
    """What a run of a scenario came to (stored as the file's `expect`, compared on replay)."""
    crash = hooks.crash or {}
    return {"crashed": bool(stats.crashed), "at_fault": bool(crash.get("at_fault", False)),
            "kind": str(crash.get("kind", "")), "step": int(crash.get("step", -1)),
            "partner": int(crash.get("partner", -1)), "steps": len(hooks.trajectory) - 1,
            "min_gap": float(round(hooks.min_gap, 6)) if math.isfinite(hooks.min_gap) else 1e9,
            "return": float(stats.ret), "trajectory_sha256": hooks.trajectory_digest()}


def run_scenario(scenario: Scenario, agent_spec: str | None = None, frames: list[np.ndarray] | None = None,
                 scorer: Any = None) -> tuple[Any, dict[str, Any]]:
    """Drive one episode of `scenario` (its own driver unless `agent_spec`); (EpisodeStats, `outcome`)."""
    from pilotlab.drive.agents import make_agent
    from pilotlab.drive.episode import run_episode

    agent = configure_agent(make_agent(agent_spec or scenario.agent, scenario.agent_seed), scenario)
    env = envs.make_env(scenario.env, scenario.env_config(), render=frames is not None)
    try:
        if scenario.adversary is None:
            hooks = ScenarioHooks(scenario)
        else:  # one NPC replays the RL adversary's meta-actions
            hooks = AdversaryHooks(scenario)
        stats = run_episode(agent, env, scenario.seed, scorer, frames, hooks=hooks)
    finally:
        env.close()
    return stats, outcome(stats, hooks)


__all__ = ["ACTIONS", "FAULT_WINDOW", "FORMAT", "SPACE", "AdversaryHooks", "Scenario", "ScenarioHooks", "choose_npc",
           "classify", "configure_agent", "crash_fault", "knob_range", "load", "npc_behaviour", "outcome",
           "run_scenario", "save", "speed_grid", "validate"]
