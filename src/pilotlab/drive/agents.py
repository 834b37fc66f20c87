"""Drivers: `modular` (sensors -> detection -> tracking -> planning -> control), `oracle` (the same
planner fed ground-truth objects), `idm` (highway-env's own IDM + MOBIL vehicle as the ego, the
baseline), and `rl:RUN_DIR` (a policy trained with `pilotlab rl train`).

An agent is built by `make_agent(spec, seed)`, adapts the env once with `prepare(env)` before each
reset (e.g. a finer cruise-speed grid), is told about each new episode with `reset(env, seed)` and
returns one action per policy step from `act(env, obs)`. The modular and oracle drivers read from
the simulator only the ego's own pose (localization), the road map, and, for the oracle alone, the
other vehicles; the modular driver sees the others only through `sensors.py`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from pilotlab.core.errors import PilotlabError
from pilotlab.drive import control, envs, frenet, planning, sensors
from pilotlab.drive.detection import Detections, DetectorConfig, detect
from pilotlab.drive.envs import VEHICLE_LENGTH
from pilotlab.drive.scene import build_scene
from pilotlab.drive.tracking import GATE_CHI2_2DOF_99, Track, Tracker, TrackerConfig

NO_OBSERVATION = {"type": "AttributesObservation", "attributes": []}  # highway-env's cheapest: an empty dict


class Perception(NamedTuple):
    """What the modular driver perceived at one step (kept for metrics and the GIF)."""

    lidar: sensors.LidarScan
    radar: sensors.RadarScan
    detections: Detections
    tracks: list[Track]


class Agent(Protocol):
    name: str
    perception: Perception | None

    def prepare(self, env: Any) -> None: ...
    def reset(self, env: Any, seed: int) -> None: ...
    def act(self, env: Any, obs: Any) -> Any: ...


def _action_index(env: Any, name: str) -> int:
    return int(env.unwrapped.action_type.actions_indexes[name])


# Off the highway scenarios the planner keeps its earlier, wider settings: the short gaps of `PlannerConfig`,
# tuned on highway-fast-v0, crashed more where traffic joins at angles the lane-frame planner does not model,
# and the later highway-only choices (2 m rear gap, no drop-back, v0 1.5x, far-lane check) are kept off too.
# Two rules for merging traffic are added: escaping (`escape_time`, `planning.escape_cap`: change lane away
# from a slow leader without braking first, since braking one grid step per second behind a car slowing
# ahead, with a free lane beside, ended in rear-end collisions) and a speed cap for much slower cars in a
# neighbouring lane (`adjacent_slow_dv`: the ramp's car merging slowly in front of the ego).
# The measurements behind these values: docs/drive.md, "Other scenarios".
OFF_HIGHWAY_GAPS = {"time_gap": 0.8, "s0": 6.0, "b_safe": 2.0, "rear_headway": 0.5, "right_bias": 2.5,
                    "rear_margin": 4.0, "drop_back_min_gain": 0.0, "v0_ratio": 1.15, "far_lane_check": False,
                    "escape_time": 1.0, "adjacent_slow_dv": 5.0}


def conservative_velocity(rel: np.ndarray, velocity: np.ndarray, cov: np.ndarray, heading: np.ndarray,
                          k: float) -> np.ndarray:
    """Velocities (N, 2) [m/s] shifted by `k` std of their along-`heading` uncertainty towards the ego:
    slower for objects ahead, faster for objects behind. A track born without a radar return starts
    with the ego's own velocity and a 6 m/s prior std (`TrackerConfig.init_speed_std`): planning with
    that guess as if it were measured can close in on a braking leader (docs/drive.md, "Uncertain tracks").
    `heading`: one unit road direction (2,) for all, or one per object (N, 2) where the road turns."""
    if heading.ndim == 2:  # per object: "ahead" along its own road direction
        std = np.sqrt(np.maximum(np.einsum("ni,nij,nj->n", heading, cov, heading), 0.0))
        sign = np.where((rel * heading).sum(axis=1) >= 0.0, -1.0, 1.0)
        return velocity + (k * sign * std)[:, None] * heading
    std = np.sqrt(np.maximum(np.einsum("i,nij,j->n", heading, cov, heading), 0.0))  # (N,) [m/s]
    sign = np.where(rel @ heading >= 0.0, -1.0, 1.0)  # (N,)
    return velocity + (k * sign * std)[:, None] * heading[None, :]


def spread_blind(x: np.ndarray, p_pos: np.ndarray, p_vel: np.ndarray, heading: np.ndarray, blind: np.ndarray,
                 k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tracks (T, 4) plus, for each `blind` one, copies along its road direction every half a car length out to
    `k` std of its along-road position (`p_pos` (T, 2, 2)); returns (states, velocity covariances, headings),
    the copies with their track's. `heading`: one unit road direction (2,) or one per track (T, 2)."""
    per = heading if heading.ndim == 2 else np.broadcast_to(heading, (len(x), 2))
    xs, pvs, hs = [x], [p_vel], [per]
    step = VEHICLE_LENGTH / 2.0
    for i in np.flatnonzero(blind):
        std = float(np.sqrt(max(per[i] @ p_pos[i] @ per[i], 0.0)))
        n = int(k * std // step)
        if n == 0:
            continue
        offsets = step * np.concatenate([-np.arange(1, n + 1), np.arange(1, n + 1)])  # (2n,)
        copies = np.repeat(x[i][None], len(offsets), axis=0)
        copies[:, :2] += offsets[:, None] * per[i][None]
        xs.append(copies)
        pvs.append(np.repeat(p_vel[i][None], len(offsets), axis=0))
        hs.append(np.repeat(per[i][None], len(offsets), axis=0))
    out_heading = np.concatenate(hs) if heading.ndim == 2 else heading
    return np.concatenate(xs), np.concatenate(pvs), out_heading


@dataclass
class PlannerAgent:
    """IDM + MOBIL planner; objects from sensors (`modular`) or the simulator (`oracle`).

    `control="meta"` drives highway-env's DiscreteMetaAction (lane changes and cruise set-points on a
    2.5 m/s grid, at the env's policy frequency). `control="continuous"` switches the env to
    ContinuousAction at the simulation frequency (5 Hz on highway-fast-v0) and closes the loop itself:
    PID on speed towards the IDM speed one second ahead, pure pursuit onto the planned lane's centre.
    """

    name: str
    use_sensors: bool
    seed: int = 0
    sensor_cfg: sensors.SensorConfig = field(default_factory=sensors.SensorConfig)
    detector_cfg: DetectorConfig = field(default_factory=DetectorConfig)
    tracker_cfg: TrackerConfig = field(default_factory=TrackerConfig)
    planner_cfg: planning.PlannerConfig = field(default_factory=planning.PlannerConfig)
    grid_steps: int = 13  # [] cruise set-points 0 .. reference speed (every 2.5 m/s on highways)
    control: str = "meta"  # "meta" or "continuous"
    velocity_margin: float = 0.5  # [std] plan tracks ahead this many std slower (along the heading), behind faster
    junction: bool = True  # roundabout-v0: lane-following gap acceptance (`junction.py`)
    stop_line: bool = True  # yield before the stop line (`junction.yield_decision`) in `stop_line_envs`
    stop_line_envs: tuple[str, ...] = ("intersection",)  # env ids (prefixes) where it is used
    cruise_speeds: tuple[tuple[str, float], ...] = (("merge", 15.0),)  # [m/s] desired speed per env id prefix
    # (`planning.PlannerConfig.cruise`): merge-v0 pays per step until the ego passes x = 370 m, so its return
    # falls with the speed at any speed (docs/drive.md, "merge-v0: the return against the cruise speed")
    tracker_settings: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = (
        ("exit", (("q_across", 0.3), ("init_speed_std", (6.0, 0.25)), ("gate", GATE_CHI2_2DOF_99))),
    )  # `TrackerConfig` fields replaced per env id prefix (the first matching prefix applies). exit-v0: the ego
    # passes slow queues in the lanes beside it, cars 8-10 m apart, and a track whose own car went unseen for a step
    # took the car of the next lane or the next one of the queue; there little sideways noise (cars keep their
    # lanes), a tight sideways prior for newborns and the 99 % gate keep it off them. Where cars turn (roundabout,
    # intersection) the same settings lost the turning cars (docs/drive.md, "Per-scenario tracker settings")
    junction_grid_steps: int = 3  # [] intersection-v0's set-points: highway-env's own 3 (0, 4.5, 9 m/s); a finer
    # grid lowers the set-point too little per policy period to stop before the line (docs/drive.md, "Junctions")
    blind_spread: float = 2.0  # [std] a track coasting outside every sensor's view (`Tracker.covered`) occupies
    # its lane this many std of its along-road position ahead and behind its estimate (copies every `VEHICLE_LENGTH`
    # / 2), so that a lane change does not go into the blind spot a car that drifted there may still be in
    perception: Perception | None = None
    last_plan: planning.Plan | None = None
    camera: Any = None  # camera_perception.CameraSensors: detections from the cameras (drive eval --perception)

    def __post_init__(self) -> None:
        known = {f.name for f in dataclasses.fields(TrackerConfig)}
        for prefix, settings in self.tracker_settings:
            unknown = sorted({name for name, _ in settings} - known)
            if unknown:
                raise PilotlabError(f"tracker_settings for {prefix!r}: unknown TrackerConfig field(s) "
                                    f"{', '.join(unknown)}")

    def tracker_config(self, env_id: str) -> TrackerConfig:
        """`tracker_cfg` with the settings of the first `tracker_settings` prefix `env_id` starts with."""
        for prefix, settings in self.tracker_settings:
            if env_id.startswith(prefix):
                return dataclasses.replace(self.tracker_cfg, **dict(settings))
        return self.tracker_cfg

    def prepare(self, env: Any) -> None:
        cfg = env.unwrapped.config
        v_ref = envs.reference_speed(env)
        action = dict(cfg["action"])
        # racetrack-v0: steering only, the speed is the env's; the lateral loop drives it (`lateral.py`)
        self._steer_only = action.get("type") == "ContinuousAction" and not action.get("longitudinal", True)
        if self._steer_only:
            pass
        elif self.control == "continuous":
            if not str(getattr(env.spec, "id", "")).startswith("highway"):
                raise PilotlabError("continuous control follows straight lanes only: use highway-v0 or highway-fast-v0")
            env.unwrapped.configure({"action": {"type": "ContinuousAction"},
                                     "policy_frequency": cfg["simulation_frequency"]})
        elif action.get("type") == "DiscreteMetaAction":
            steps = self.junction_grid_steps if self._yields_at_line(env) else self.grid_steps
            action["target_speeds"] = np.linspace(0.0, v_ref, steps).tolist()
            env.unwrapped.configure({"action": action})
        else:
            raise PilotlabError(f"the {self.name} driver needs a DiscreteMetaAction env, not {action.get('type')}")
        # IDM's free-road term fades as v -> v0; aiming above the reward's top speed (`v0_ratio`) keeps it
        # accelerating up to the top set-point of the grid
        fields = dict(self.planner_cfg.__dict__)
        if not str(getattr(env.spec, "id", "")).startswith("highway"):
            fields.update(OFF_HIGHWAY_GAPS)
        fields["v0"] = fields["v0_ratio"] * v_ref
        env_id = str(getattr(env.spec, "id", ""))
        for prefix, speed in self.cruise_speeds:
            if env_id.startswith(prefix):
                fields["cruise"] = float(speed)
        # roundabout only: at the intersection the same rule did not lower the crashes on training seeds
        # (docs/drive.md, "Junctions")
        self._at_junction = str(getattr(env.spec, "id", "")).startswith("roundabout")
        self._tracker_cfg = self.tracker_config(env_id)
        self._planner = planning.PlannerConfig(**fields)
        # this driver never reads the env's observation vector (only RL drivers do); highway-env would still
        # build it every step from a table of the nearby vehicles, so it is replaced by an empty one (no
        # randomness is involved: the episodes stay the same)
        env.unwrapped.configure({"observation": NO_OBSERVATION})

    def _yields_at_line(self, env: Any) -> bool:
        return self.stop_line and str(getattr(env.spec, "id", "")).startswith(tuple(self.stop_line_envs))

    def reset(self, env: Any, seed: int) -> None:
        self._rng = np.random.default_rng([self.seed, seed])
        self._episode_seed = seed
        self._tracker = Tracker(getattr(self, "_tracker_cfg", self.tracker_cfg))
        self._period = envs.env_timing(env)[0]
        self.perception = None
        self._lane = tuple(envs.ego_vehicle(env).lane_index)  # lane the continuous controller steers to
        self._pid = control.PIDState()
        self._track_lane: int | None = None  # racetrack-v0: the lane the lateral loop keeps
        self._map = frenet.RoadMap(env.unwrapped.road.network)  # lane geometry (Frenet frames) of this episode
        if not self._map.uniform:  # curved or crossing lanes: the tracker predicts along them
            self._tracker.motion = self._map.motion_model
            self._tracker.lane = self._lane_of
            self._tracker.reach = self._map.reachable

    def objects(self, env: Any) -> tuple[np.ndarray, np.ndarray]:
        """(positions (N, 2) [m], velocities (N, 2) [m/s]) of the other vehicles as this driver knows them."""
        truth = envs.ground_truth(env)
        if not self.use_sensors:
            return truth.position, truth.velocity
        ego = envs.ego_state(env)
        lidar = sensors.lidar_scan(ego, truth, self.sensor_cfg, self._rng)  # the truth only feeds the sensors
        radar = sensors.radar_scan(ego, truth, self.sensor_cfg, self._rng)
        frame = self._road_frame(ego)
        self._tracker.frame = frame
        if self.camera is None:
            dets = detect(ego, lidar, radar, self.sensor_cfg, self.detector_cfg, frame)
        else:  # the lidar scan is still taken: the MOT scorer's ground truth is what it could see
            dets = self.camera.detections(env, ego, lidar, radar, self.sensor_cfg, self.detector_cfg, self._rng,
                                          self._episode_seed)
            self._tracker.covered = self.camera.coverage(ego, self.sensor_cfg)
        ego_vel = ego.speed * np.array([np.cos(ego.heading), np.sin(ego.heading)])
        tracks = list(self._tracker.step(dets, self._period, ego.position, ego_vel, ego.heading))
        self.perception = Perception(lidar, radar, dets, tracks)
        x = np.array([t.x for t in tracks]).reshape(-1, 4)  # (T, 4) every live track, coasting ones too
        heading = np.array([np.cos(ego.heading), np.sin(ego.heading)])  # (2,)
        if frame is not None:  # each track's own road direction
            h = ego.heading + np.array([frame(p) for p in x[:, :2]])
            heading = np.stack([np.cos(h), np.sin(h)], axis=-1).reshape(-1, 2)
        p_v = np.array([t.p[2:, 2:] for t in tracks]).reshape(-1, 2, 2)  # (T, 2, 2) velocity covariance
        blind = np.array([t.blind > 0 for t in tracks], dtype=bool)
        if blind.any() and self.blind_spread > 0:
            x, p_v, heading = spread_blind(x, np.array([t.p[:2, :2] for t in tracks]).reshape(-1, 2, 2), p_v,
                                           heading, blind, self.blind_spread)
        return x[:, :2], conservative_velocity(x[:, :2] - ego.position, x[:, 2:], p_v, heading, self.velocity_margin)

    def _lane_of(self, position: np.ndarray, velocity: np.ndarray | None) -> tuple:
        """The lane of a tracked or detected car (matched with its heading where it moves)."""
        heading = None
        if velocity is not None and float(np.hypot(*velocity)) > 1.0:
            heading = float(np.arctan2(velocity[1], velocity[0]))
        return self._map.closest(position, heading)

    def _road_frame(self, ego: envs.EgoState) -> Any:
        """How far the road at a point is turned from the road at the ego (`frenet.RoadMap.frame_rotation`),
        or None on straight parallel lanes, where the ego's heading is every object's road frame."""
        if self._map.uniform:
            return None
        lane = self._map.lane(ego.lane_index)
        reference = float(lane.heading_at(frenet.to_frenet(lane, ego.position)[0]))
        return lambda p: self._map.frame_rotation(p, reference)

    def act(self, env: Any, obs: Any) -> Any:
        if self._steer_only:
            from pilotlab.drive.lateral import steering_action

            position, velocity = self.objects(env)
            action, self._track_lane = steering_action(env, position, velocity, self._track_lane)
            return action
        if self.control == "continuous":
            return self._act_continuous(env)
        position, velocity = self.objects(env)
        scene = build_scene(env, position, velocity, self._planner, junction=self.junction and self._at_junction,
                            road_map=self._map)
        p = planning.plan(scene, self._planner, self._period)
        self.last_plan = p
        ego = envs.ego_vehicle(env)
        grid = np.asarray(env.unwrapped.action_type.target_speeds, dtype=float)
        a = control.meta_action(scene.ego_lane, p.lane, float(ego.speed), float(ego.target_speed), p.speed, grid,
                                p.cap, p.change_cap)
        name = control.META_ACTIONS[a]
        if self._yields_at_line(env):
            name = self._yield(env, position, velocity, name, grid, p.cap)
        available = env.unwrapped.action_type.actions_indexes
        if name not in available:  # e.g. intersection-v0 has no lateral actions
            name = "IDLE"
        return _action_index(env, name)

    def _yield(self, env: Any, position: np.ndarray, velocity: np.ndarray, name: str, grid: np.ndarray,
               cap: float) -> str:
        """The meta-action of `junction.yield_decision`: an accepted plan's first action within the planner's
        braking cap (the planner's own speed choice rounds to the grid, which on a 3-point grid never asks
        for the top set-point while accelerating), or the slower of the planner's and the one that stops the
        ego where the decision says."""
        from pilotlab.drive import junction

        decision = junction.yield_decision(env, position, velocity, self._map, self._period)
        ego = envs.ego_vehicle(env)
        speed, set_point = float(ego.speed), float(ego.target_speed)
        sim_dt = 1.0 / float(env.unwrapped.config["simulation_frequency"])
        chosen = junction.yield_action(decision, speed, set_point, grid, self._period, sim_dt)
        if self.last_plan is not None:
            self.last_plan = self.last_plan._replace(reason=f"{self.last_plan.reason}; {decision.reason}")
        if chosen is None:
            return name
        after = junction.set_point_after
        if np.isinf(decision.stop_at) and after(chosen, speed, set_point, grid) <= cap + 1e-6:
            return chosen
        return chosen if after(chosen, speed, set_point, grid) < after(name, speed, set_point, grid) else name

    def _act_continuous(self, env: Any) -> np.ndarray:
        position, velocity = self.objects(env)
        scene = build_scene(env, position, velocity, self._planner, lane_index=self._lane, road_map=self._map)
        p = planning.plan(scene, self._planner, period=1.0)  # speed set-point one second ahead
        self.last_plan = p
        self._lane = (self._lane[0], self._lane[1], p.lane)
        ego = envs.ego_vehicle(env)
        accel, self._pid = control.pid_step(p.speed - float(ego.speed), self._pid, self._period,
                                            control.PIDGains(kp=1.0, ki=0.1))
        lane = env.unwrapped.road.network.get_lane(self._lane)
        s, _ = lane.local_coordinates(ego.position)
        target = lane.position(s + control.lookahead_distance(float(ego.speed)), 0.0)
        steer = control.pure_pursuit(np.asarray(ego.position, dtype=float), float(ego.heading), np.asarray(target))
        return control.continuous_action(float(np.clip(accel, *control.ACCELERATION_RANGE)),
                                         float(np.clip(steer, *control.STEERING_RANGE)))


@dataclass
class IDMAgent:
    """highway-env's IDMVehicle (IDM longitudinal, MOBIL lane changes) takes over the ego at each reset."""

    name: str = "idm"
    perception: Perception | None = None

    def prepare(self, env: Any) -> None:
        pass

    def reset(self, env: Any, seed: int) -> None:
        from highway_env.vehicle.behavior import IDMVehicle

        base = env.unwrapped
        old = base.vehicle
        if hasattr(old, "target_lane_index"):
            new = IDMVehicle.create_from(old)
        else:  # racetrack-v0's ego is a plain Vehicle (steering-only control)
            new = IDMVehicle(old.road, old.position, old.heading, old.speed, target_lane_index=old.lane_index,
                             target_speed=old.speed)
        base.road.vehicles[base.road.vehicles.index(old)] = new
        base.controlled_vehicles[0] = new
        base.action_type.controlled_vehicle = new

    def act(self, env: Any, obs: Any) -> Any:
        if not hasattr(env.unwrapped.action_type, "actions_indexes"):  # ContinuousAction (racetrack-v0)
            return np.zeros(env.action_space.shape, dtype=np.float32)  # ignored as well
        return _action_index(env, "IDLE")  # ignored: IDMVehicle.act decides on its own


@dataclass
class RLAgent:
    """The greedy policy of a `pilotlab rl train` (or `pilotlab drive train`) run on a highway-env id.

    The run's own ``env_config`` (e.g. an observation with more vehicles) is applied to the eval env
    before each reset, so the policy sees observations shaped as in training. ``rl:RUN_DIR+shield``
    (or `shield=True`) puts the planner's safety checks between the policy and the env
    (`rl_driver.Shield`): the best-scored meta-action they allow is taken.
    """

    run_dir: str
    name: str = "rl"
    perception: Perception | None = None
    shield: bool = False

    def __post_init__(self) -> None:
        from pilotlab.core import registry
        from pilotlab.core.run import RunDir
        from pilotlab.drive.rl_driver import SHIELD_SUFFIX, Shield
        from pilotlab.rl import ALGO
        from pilotlab.rl.envs import parse_kwargs

        if self.run_dir.endswith(SHIELD_SUFFIX):
            self.run_dir, self.shield = self.run_dir[: -len(SHIELD_SUFFIX)], True
        self._shield = Shield() if self.shield else None
        if self.shield and self.name == "rl":
            self.name = "rl+shield"  # its own keys in summary.json beside the unshielded policy's
        self._run = RunDir.open(self.run_dir)
        fields = self._run.config().get("config", {})
        algo = str(fields.get("algo", self._run.config().get("method")))
        module = registry.implementation(ALGO, algo)  # an unknown or unimportable algorithm is one line
        self.env_id = str(fields.get("env", ""))
        raw = fields.get("env_config") or "{}"
        if not isinstance(raw, (str, dict)):
            raise PilotlabError(f"{self.run_dir!r}: env_config in config.json must be a JSON object or its text")
        self.env_config: dict[str, Any] = parse_kwargs(raw, f"env_config of {self.run_dir!r}") if isinstance(
            raw, str) else dict(raw)
        self._policy = module.load_policy(self._run, "cpu")

    def prepare(self, env: Any) -> None:
        env_id = env.spec.id if env.spec is not None else ""
        if self.env_id and env_id and self.env_id != env_id:
            raise PilotlabError(f"{self.run_dir} was trained on {self.env_id}, not {env_id}; pass --env {self.env_id}")
        if self.env_config:
            env.unwrapped.configure(self.env_config)
        if self._shield is not None:
            self._shield.prepare(env)

    def reset(self, env: Any, seed: int) -> None:
        pass

    def act(self, env: Any, obs: Any) -> Any:
        if self._shield is not None:
            return self._shield.choose(env, self._policy.scores(np.asarray(obs)[None])[0])  # type: ignore[attr-defined]
        action = np.asarray(self._policy(np.asarray(obs)[None]))  # the policy acts on a batch of one
        return action.reshape(-1)[0] if action.size == 1 else action[0]


def make_agent(spec: str, seed: int = 0, control_mode: str = "meta", perception: str = "lidar+radar",
               perception_run: str | None = None, radars: str = "front+rear", cameras: str = "front+rear") -> Agent:
    """`spec` names a registered ``drive.agent`` (``rl:RUN_DIR`` names a run directory); `control_mode` applies to
    the planner drivers (modular, oracle): "meta" or "continuous"; `perception` and `perception_run` (a
    `drive train-perception` run), `radars` (`sensors.RADAR_SUITES`) and `cameras` (`camera.CAMERA_SETS`, the
    camera modes only) to the modular driver (`camera_perception.MODES`)."""
    if spec == "modular":
        agent = PlannerAgent("modular", use_sensors=True, seed=seed, control=control_mode,
                             sensor_cfg=sensors.SensorConfig(radars=sensors.radar_suite(radars)))
        if perception != "lidar+radar":
            from pilotlab.drive.camera_perception import CameraSensors
            from pilotlab.drive.perception import load_detector

            if not perception_run:
                raise PilotlabError(f"--perception {perception} needs --perception-run naming a "
                                    "`pilotlab drive train-perception` run")
            agent.camera = CameraSensors(load_detector(perception_run), perception, cameras=cameras)
        return agent
    if spec == "oracle":
        return PlannerAgent("oracle", use_sensors=False, seed=seed, control=control_mode)
    if spec == "idm":
        return IDMAgent()
    if spec.startswith("rl:") and len(spec) > 3:
        return RLAgent(spec[3:])
    from pilotlab.core import registry
    from pilotlab.drive import AGENT

    raise PilotlabError(f"unknown agent {spec!r}; choose one of {', '.join(registry.names(AGENT))}")


__all__ = ["Agent", "IDMAgent", "Perception", "PlannerAgent", "RLAgent",
           "conservative_velocity", "make_agent"]
