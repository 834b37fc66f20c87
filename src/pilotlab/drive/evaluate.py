"""``pilotlab drive eval``: drive N held-out episodes per agent, write metrics, summary.json and a GIF.

`evaluate_agents(["modular", "idm"], "highway-fast-v0", episodes=10, seed=100_000, run_dir=...)`
is the entry point for scripts (the tour, the benchmark). Episode i of every agent uses env seed
``seed + i``, so agents meet identical traffic. The default first seed, 100_000, lies far above any
training seed of `pilotlab rl train` (which seeds from 0), so evaluation traffic is never trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.core.seed import seed_everything
from pilotlab.core.summary import (
    DRIVE_CRASH_RATE,
    DRIVE_CRASH_RATE_HI,
    DRIVE_CRASH_RATE_LO,
    DRIVE_ID_SWITCHES,
    DRIVE_IDF1,
    DRIVE_MOTA,
    DRIVE_MOTP,
    DRIVE_MS_PER_STEP,
    DRIVE_RETURN_MEAN,
    DRIVE_ROUTE_COMPLETION,
    DRIVE_SCORE,
    DRIVE_SPEED_MEAN,
    drive_first,
    drive_key,
)
from pilotlab.drive import envs, metrics
from pilotlab.drive.agents import make_agent
from pilotlab.drive.episode import EpisodeHooks, run_episode  # noqa: F401  (re-exported: scripts import them here)

EVAL_SEED = 100_000  # first held-out env seed
DEFAULT_ENV = "highway-fast-v0"


@dataclass(frozen=True, kw_only=True)
class DriveEvalConfig(RunConfig):
    agent: str = "modular"
    """Driver(s), comma-separated: modular, oracle, idm, rl:RUN_DIR."""
    env: str | None = None
    """highway-env scenario: highway-fast-v0 (default), highway-v0, merge-v0, roundabout-v0, intersection-v0, exit-v0,
    racetrack-v0; with --scenario, the file's (a different --env is refused)."""
    episodes: int = 10
    """Episodes per agent, on env seeds seed, seed+1, ..."""
    seed: int = EVAL_SEED
    """First env seed; held out from training (rl trainers seed from 0)."""
    duration: float | None = None
    """Episode length [s] (policy steps at 1 Hz); default: the scenario's own (30 s on highway-fast-v0)."""
    gif: bool = True
    """Render episode 0 of each agent as figures/<agent>.gif with detections and tracks drawn on it."""
    control: Literal["meta", "continuous"] = "meta"
    """Planner drivers' control: meta-actions, or PID + pure pursuit on ContinuousAction at the simulation rate."""
    perception: Literal["lidar+radar", "camera", "camera+radar", "camera+lidar+radar"] = "lidar+radar"
    """The modular driver's detections: lidar + radar, the cameras' detector (--cameras) alone, or fused with
    radar, or added to lidar + radar (drive/camera_perception.py)."""
    perception_run: str | None = None
    """Run directory of `pilotlab drive train-perception` whose detector the camera modes use."""
    cameras: Literal["front+rear", "front+rear+sides"] = "front+rear"
    """The camera modes' cameras: the front and rear pair (67 deg each), or with two wide side cameras (138 deg
    each: together the full circle, so the cars alongside are seen); the detector should have been trained on
    frames of the same cameras (`drive record --cameras`)."""
    radars: Literal["front+rear", "front+rear+corners"] = "front+rear"
    """The modular driver's radars: a long-range front (150 m, +-30 deg) and rear (80 m) pair, or with four
    short-range corner radars (70 m, +-60 deg at +-45 and +-135 deg) that see the cars alongside (drive/sensors.py)."""
    scenario: str | None = None
    """Replay a scenario file saved by `drive stress` (scenarios/*.json): one episode per driver, bit for bit the
    search's for the file's own driver; --episodes and --seed are not used."""
    fast_sim: bool = False
    """Step highway-env through `FastHighway` (drive/fast_sim.py): the same episodes bit for bit, faster (most on
    highway-v0 / highway-fast-v0, whose neighbour search it memoizes); not with --scenario."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.episodes < 1:
            raise PilotlabError(f"episodes must be >= 1, got {self.episodes}")
        if self.duration is not None and self.duration <= 0:
            raise PilotlabError(f"duration must be > 0 seconds, got {self.duration}")
        if self.env is not None and self.env not in envs.SCENARIOS:
            raise PilotlabError(f"unknown env {self.env!r}; choose one of {', '.join(envs.SCENARIOS)}")
        if not self.agent.strip():
            raise PilotlabError("agent must name at least one driver")
        if self.resume:
            raise PilotlabError("drive eval has nothing to resume; run it again with a new --run-dir")


def agent_names(agents: list[str]) -> list[str]:
    """Short, unique names for metric keys and figures: ``rl:RUN_DIR`` -> ``rl``, ``rl:RUN_DIR+shield`` ->
    ``rl+shield``; a name that repeats gets its position appended (``rl``, ``rl2``), so evaluating two
    RL drivers in one call never overwrites one's results with the other's."""
    base = [("rl+shield" if a.endswith("+shield") else "rl") if a.startswith("rl:") else a for a in agents]
    return [n if base.count(n) == 1 or base.index(n) == i else f"{n}{i + 1}" for i, n in enumerate(base)]


def check_drivers(agents: list[str], env_id: str, env_config: dict[str, Any] | None = None, seed: int = EVAL_SEED,
                  control_mode: str = "meta", perception: str = "lidar+radar", perception_run: str | None = None,
                  fast_sim: bool = False, radars: str = "front+rear", cameras: str = "front+rear") -> None:
    """Build each driver and its env and reset them once, so that a bad driver spec, run directory or env
    config is refused (one-line `PilotlabError`) before the evaluation writes anything."""
    from pilotlab.core.errors import one_line

    for spec in agents:
        agent = make_agent(spec, seed, control_mode, perception, perception_run, radars, cameras)
        env = envs.make_env(env_id, dict(env_config or {}), fast=fast_sim)
        try:
            agent.prepare(env)
            env.reset(seed=seed)
            agent.reset(env, seed)
        except PilotlabError:
            raise
        except Exception as e:
            config = envs.config_text({**(env_config or {}), **getattr(agent, "env_config", {})})
            raise PilotlabError(f"{env_id} with config {config} fails at its first reset for driver {spec!r}: "
                                f"{one_line(e)}; fix the config (--duration, or the env-config of an rl: run)"
                                ) from None
        finally:
            env.close()


def evaluate_agents(agents: list[str], env_id: str = "highway-fast-v0", episodes: int = 10, seed: int = EVAL_SEED,
                    run_dir: RunDir | None = None, env_config: dict[str, Any] | None = None,
                    gif: bool = True, control_mode: str = "meta", perception: str = "lidar+radar",
                    perception_run: str | None = None, scenario: Any = None, fast_sim: bool = False,
                    radars: str = "front+rear", cameras: str = "front+rear") -> dict[str, dict[str, float]]:
    """Evaluate each agent spec on the same `episodes` env seeds; returns {agent: {metric: value}}.

    With `run_dir`, logs each episode to metrics.jsonl (``eval/<agent>/...``), writes
    summary.json (``eval/...`` keys of the first agent, ``eval/<agent>/...`` for all) and, with
    `gif`, figures/<agent>.gif of episode 0. With `scenario` (a `scenarios.Scenario`) each agent drives
    that one episode instead (`env_id`, `episodes`, `seed` and `env_config` are the scenario's); the
    results add the at-fault crash rate and, for the scenario's own driver, whether the replay matched.
    With `fast_sim` the env steps through `fast_sim.FastHighway` (the same episodes, faster). `radars`: the
    modular driver's radar suite (`sensors.RADAR_SUITES`), `cameras` its camera set in the camera modes
    (`camera.CAMERA_SETS`).
    """
    from pilotlab.core.summary import DRIVE_AT_FAULT_RATE, DRIVE_REPLAY_MATCH
    from pilotlab.drive import scenarios as scn
    from pilotlab.report.figures import save_gif

    results: dict[str, dict[str, float]] = {}
    names = agent_names(agents)
    for spec, name in zip(agents, names):
        scorer = metrics.MotScorer() if spec == "modular" else None
        episode_stats = []
        frames: list[np.ndarray] = []
        extra: dict[str, float] = {}
        if scenario is not None:
            st, out = scn.run_scenario(scenario, spec, frames if gif else None, scorer)
            episode_stats.append(st)
            expected = scenario.expect.get("trajectory_sha256")
            extra[DRIVE_AT_FAULT_RATE] = float(out["crashed"] and out["at_fault"])
            extra[DRIVE_REPLAY_MATCH] = (float(out["trajectory_sha256"] == expected)
                                         if expected and spec == scenario.agent else float("nan"))
            if run_dir is not None:
                run_dir.log(0, {f"eval/{name}/return": st.ret, f"eval/{name}/crashed": float(st.crashed),
                                f"eval/{name}/at_fault": extra[DRIVE_AT_FAULT_RATE]})
        else:
            agent = make_agent(spec, seed, control_mode, perception, perception_run, radars, cameras)
            env = envs.make_env(env_id, dict(env_config or {}), render=gif, fast=fast_sim)
            for i in range(episodes):
                st = run_episode(agent, env, seed + i, scorer, frames if (gif and i == 0) else None)
                episode_stats.append(st)
                if run_dir is not None:
                    run_dir.log(i, {f"eval/{name}/return": st.ret, f"eval/{name}/crashed": float(st.crashed),
                                    f"eval/{name}/speed": float(np.mean(st.speeds)),
                                    f"eval/{name}/driving_score": st.driving_score})
            env.close()
        res = metrics.summarize(episode_stats)
        res.update(extra)
        mot = scorer.compute() if scorer is not None else {}
        res[DRIVE_MOTA] = mot.get("mota", float("nan"))
        res[DRIVE_IDF1] = mot.get("idf1", float("nan"))
        res[DRIVE_MOTP] = mot.get("motp", float("nan"))
        res[DRIVE_ID_SWITCHES] = mot.get("num_switches", float("nan"))
        results[spec] = res
        if run_dir is not None and gif and frames:
            save_gif(frames, run_dir.figure(f"{name}.gif"), fps=2.0)
    if run_dir is not None:
        summary: dict[str, float] = {}
        for k, (spec, name) in enumerate(zip(agents, names)):
            for key, value in results[spec].items():
                summary[drive_key(name, key)] = value
                if k == 0:
                    summary[drive_first(key)] = value
        run_dir.update_summary(summary)
    return results


def run_eval(cfg: DriveEvalConfig) -> dict[str, dict[str, float]]:
    """The CLI command: a run directory ``runs/drive-<agent>-<time>`` with the results."""
    seed_everything(cfg.seed, cfg.threads)
    agents = [a.strip() for a in cfg.agent.split(",")]
    if not all(agents):
        raise PilotlabError(f"agent {cfg.agent!r} has an empty entry; list drivers as modular,idm,rl:RUN_DIR")
    for spec in agents:
        if spec not in ("modular", "oracle", "idm") and not (spec.startswith("rl:") and len(spec) > 3):
            raise PilotlabError(f"unknown agent {spec!r}; choose modular, oracle, idm or rl:RUN_DIR")
    env_config = {"duration": cfg.duration} if cfg.duration is not None else {}
    label = "+".join(agent_names(agents))
    if cfg.perception_run is not None:
        from pilotlab.drive.perception import load_detector

        load_detector(cfg.perception_run)  # refused here, whichever drivers use it
    if cfg.cameras != "front+rear" and not cfg.perception.startswith("camera"):
        raise PilotlabError(f"--cameras {cfg.cameras} is for the camera modes; add --perception camera, camera+radar "
                            "or camera+lidar+radar (lidar+radar uses no camera)")
    scenario = None
    if cfg.scenario is not None:
        from pilotlab.drive import scenarios

        scenario = scenarios.load(cfg.scenario, cfg.env)
        if any(a not in ("modular", "oracle", "idm") for a in agents):
            raise PilotlabError("--scenario replays with modular, oracle or idm drivers only")
        if cfg.duration is not None or cfg.control != "meta":
            raise PilotlabError("--scenario replays the file's own episode: drop --duration and --control")
        if (cfg.perception != "lidar+radar" or cfg.perception_run is not None or cfg.radars != "front+rear"
                or cfg.cameras != "front+rear"):
            raise PilotlabError("--scenario replays with the drivers' lidar+radar perception (the search's): drop "
                                "--perception, --perception-run, --radars and --cameras")
        if cfg.fast_sim:
            raise PilotlabError("--scenario replays with highway-env's own step (the search's): drop --fast-sim")
    env_id = scenario.env if scenario is not None else (cfg.env or DEFAULT_ENV)
    if scenario is None:
        check_drivers(agents, env_id, env_config, cfg.seed, cfg.control, cfg.perception, cfg.perception_run,
                      cfg.fast_sim, cfg.radars, cfg.cameras)
    run = RunDir.create("drive", label, cfg, cfg.run_dir, False)
    with run:
        results = evaluate_agents(agents, env_id, cfg.episodes, cfg.seed, run, env_config, cfg.gif, cfg.control,
                                  cfg.perception, cfg.perception_run, scenario=scenario, fast_sim=cfg.fast_sim,
                                  radars=cfg.radars, cameras=cfg.cameras)
    for spec, res in results.items():
        print(f"{spec:>10}: return {res[DRIVE_RETURN_MEAN]:.2f}  crash {res[DRIVE_CRASH_RATE]:.0%} "
              f"[{res[DRIVE_CRASH_RATE_LO]:.0%}, {res[DRIVE_CRASH_RATE_HI]:.0%}]  "
              f"speed {res[DRIVE_SPEED_MEAN]:.1f} m/s  completion {res[DRIVE_ROUTE_COMPLETION]:.2f}  "
              f"score {res[DRIVE_SCORE]:.3f}  MOTA {res[DRIVE_MOTA]:.3f}  {res[DRIVE_MS_PER_STEP]:.1f} ms/step")
        if scenario is not None and spec == scenario.agent:
            match = res.get("replay_match", float("nan"))
            verdict = ("nothing expected" if match != match
                       else "the same trajectory" if match else "a DIFFERENT trajectory")
            print(f"{'':>10}  replay of {cfg.scenario}: {verdict}")
    print(f"run directory: {run.path}")
    return results


__all__ = ["EVAL_SEED", "DriveEvalConfig", "agent_names", "check_drivers", "evaluate_agents", "run_episode", "run_eval"]
