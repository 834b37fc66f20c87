"""``pilotlab drive stress``: search the scenario space for the driver's failures (stress testing).

Up to three searches get the same budget of simulated episodes (`budget` each); the first two search the
space of `scenarios.SPACE` (env seed plus six knobs, each mapped to [0, 1]):

- ``random``: every episode a fresh env seed and knobs drawn uniformly: the baseline.
- ``cem``: the cross-entropy method (Rubinstein 1999; for falsification of driving stacks e.g. O'Kelly et
  al. 2018). A diagonal Gaussian over the knobs, clipped to [0, 1], starts at the centre with std 0.3
  (close to uniform); each generation of `population` scenarios is scored, the best `elite_frac` refit the
  Gaussian (smoothed with the old one by `smoothing`, std floored at `min_std`). Env seeds are not
  ordered, so they are not fitted: a sample reuses the seed of one of the best scenarios so far with
  probability `seed_reuse`, else draws a fresh one.
- ``rl``: an adversary (`drive.adversary`): one NPC's meta-actions, learnt with `pilotlab.rl`'s DQN trainer on
  ``drive-adversary-v0`` against the driver at the default knobs (the env's own traffic, default sensors).
  Trained inside the budget: the first round trains for `adversary_steps` env steps (its run directory is
  ``adversary/``) and every episode the env simulated there (training, the trainer's probe and final
  evaluation) is an episode of the method, read from ``adversary_episodes.jsonl``, its failures included;
  the trained greedy policy then drives fresh env seeds until the method's episodes reach the budget.

Score of an episode (higher is closer to a failure): 2 for a crash the ego is at fault for
(`scenarios.crash_fault`), exp(-gap / 5 m) for the closest approach to any NPC otherwise (gap = centre
distance less a car length), and 0.5 for a crash the NPC is at fault for, so the search is neither
drawn to NPC-caused crashes nor blind near them. NPC-at-fault crashes are counted apart and never saved
as failures.

A failure is an at-fault crash; two failures are the same when they share the env seed, the crash partner
(the NPC's creation order) and the kind of crash, so a seed reused with slightly changed knobs does not
count again for the same collision. Each distinct failure is saved as ``scenarios/<method>-NNN.json``
(`scenarios.Scenario`, ``expect`` = what was observed); afterwards every saved failure is replayed and
must give the same trajectory digest (summary ``stress/replays_matched``), the first `max_videos` with a
GIF in ``figures/``. Env seeds come from [1_000_000, 2_000_000), apart from evaluation (100_000 + i) and
training (0 + i) seeds.

The searches alternate, a generation (`population` episodes) of each per round; the state (the
searches' random generators, the CEM Gaussian, the failures found, whether the adversary is trained) is
saved to ``stress_state.json`` after every round, so ``--resume`` continues an interrupted run where its last
round ended (an adversary training that was cut off starts again from its beginning).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pilotlab.core import summary as S
from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.core.seed import seed_everything
from pilotlab.drive import envs, scenarios

METHODS = ("cem", "random", "rl")
SEED_LOW, SEED_HIGH = 1_000_000, 2_000_000  # env seeds of the search
STATE_FILE = "stress_state.json"
GAP_SCALE = 5.0  # [m] near-miss score exp(-gap / GAP_SCALE)


@dataclass(frozen=True, kw_only=True)
class DriveStressConfig(RunConfig):
    agent: str = "modular"
    """Driver under test: modular, oracle or idm."""
    env: str = "highway-fast-v0"
    """highway-env scenario (any of `drive eval --env`)."""
    budget: int = 100
    """Simulated episodes per search method."""
    methods: str = "cem,random"
    """Searches to run, comma-separated: cem (cross-entropy method), random (uniform sampling, the baseline), rl
    (an RL adversary NPC trained inside the budget; see adversary-steps)."""
    population: int = 20
    """Episodes per CEM generation (and per round of the random search)."""
    elite_frac: float = 0.2
    """Fraction of a generation that refits the CEM Gaussian (at least one scenario)."""
    smoothing: float = 0.7
    """Weight of the elites' fit in the new CEM Gaussian (1 - smoothing stays with the old one)."""
    min_std: float = 0.05
    """Floor of the CEM Gaussian's std on the [0, 1] knob scale."""
    seed_reuse: float = 0.5
    """Probability that a CEM sample reuses the env seed of one of the best scenarios so far."""
    duration: float | None = None
    """Episode length [s]; default: the scenario's own."""
    max_videos: int = 10
    """Failures replayed with a GIF in figures/ (every failure is replayed and checked either way)."""
    adversary_steps: int = 2000
    """rl method: env steps of DQN training of the adversary NPC before it searches; the training's episodes
    count against the method's budget, which must hold them (at least steps / steps per episode)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.agent not in ("modular", "oracle", "idm"):
            raise PilotlabError(f"agent {self.agent!r} cannot be stress-tested; choose modular, oracle or idm")
        if self.env not in envs.SCENARIOS:
            raise PilotlabError(f"unknown env {self.env!r}; choose one of {', '.join(envs.SCENARIOS)}")
        if self.budget < 1:
            raise PilotlabError(f"budget must be >= 1 episode, got {self.budget}")
        if self.budget > 1_000_000:
            raise PilotlabError(f"budget must be <= 1000000 episodes, got {self.budget}")
        names = [m.strip() for m in self.methods.split(",")]
        if not names or any(m not in METHODS for m in names) or len(set(names)) != len(names):
            raise PilotlabError(f"methods {self.methods!r} must list distinct entries of {', '.join(METHODS)}")
        if not 2 <= self.population <= 10_000:
            raise PilotlabError(f"population must be in [2, 10000], got {self.population}")
        for name, value in (("elite-frac", self.elite_frac), ("smoothing", self.smoothing),
                            ("seed-reuse", self.seed_reuse)):
            if not 0.0 <= value <= 1.0:
                raise PilotlabError(f"{name} must be in [0, 1], got {value}")
        if not 0.0 < self.min_std <= 1.0:
            raise PilotlabError(f"min-std must be in (0, 1], got {self.min_std}")
        if self.duration is not None and not 0 < self.duration <= 3600:
            raise PilotlabError(f"duration must be in (0, 3600] seconds, got {self.duration}")
        if not 1 <= self.adversary_steps <= 10_000_000:
            raise PilotlabError(f"adversary-steps must be in [1, 10000000], got {self.adversary_steps}")

    @property
    def method_list(self) -> list[str]:
        return [m.strip() for m in self.methods.split(",")]


def active_knobs(env_id: str) -> list[str]:
    """The knobs that change something in `env_id`."""
    return [k for k in scenarios.SPACE if scenarios.knob_range(env_id, k)[0] < scenarios.knob_range(env_id, k)[1]]


def to_scenario(cfg: DriveStressConfig, seed: int, z: np.ndarray) -> scenarios.Scenario:
    """Knobs from their [0, 1] coordinates `z` (one per active knob)."""
    values = {}
    for k, u in zip(active_knobs(cfg.env), np.clip(z, 0.0, 1.0)):
        low, high = scenarios.knob_range(cfg.env, k)
        values[k] = float(low + float(u) * (high - low))
    return scenarios.Scenario(env=cfg.env, seed=int(seed), duration=cfg.duration, agent=cfg.agent,
                              agent_seed=int(cfg.seed), **values)


def score(out: dict[str, Any]) -> float:
    """Closeness to a failure (module docstring)."""
    if out["crashed"]:
        return 2.0 if out["at_fault"] else 0.5
    return float(math.exp(-max(float(out["min_gap"]), 0.0) / GAP_SCALE))


def failure_key(sc: scenarios.Scenario, out: dict[str, Any]) -> str:
    return f"{sc.seed}:{out['partner']}:{out['kind']}"


class Search:
    """One search method's state; `propose(n)` scenarios' coordinates, `observe` their scores."""

    def __init__(self, method: str, cfg: DriveStressConfig, index: int):
        self.method = method
        self.cfg = cfg
        self.dim = len(active_knobs(cfg.env))
        self.rng = np.random.default_rng([cfg.seed, 1 + index])
        self.mean = np.full(self.dim, 0.5)
        self.std = np.full(self.dim, 0.3)
        self.best: list[tuple[float, int]] = []  # (score, env seed) of the best scenarios so far
        self.episodes = 0
        self.at_fault = 0
        self.npc_fault = 0
        self.failures: dict[str, str] = {}  # failure key -> scenario file name
        self.trained = False  # rl: the adversary's training round is done
        self.train_episodes = 0  # rl: episodes simulated by the training (counted in `episodes`)
        self.policy: Any = None  # rl: the trained adversary's greedy policy (loaded on use)

    def _fresh_seed(self) -> int:
        return int(self.rng.integers(SEED_LOW, SEED_HIGH))

    def propose(self, n: int) -> list[tuple[int, np.ndarray]]:
        out = []
        for _ in range(n):
            if self.method == "random":
                out.append((self._fresh_seed(), self.rng.random(self.dim)))
                continue
            z = np.clip(self.mean + self.std * self.rng.standard_normal(self.dim), 0.0, 1.0)
            reuse = self.best and self.rng.random() < self.cfg.seed_reuse
            seed = self.best[int(self.rng.integers(len(self.best)))][1] if reuse else self._fresh_seed()
            out.append((seed, z))
        return out

    def observe(self, samples: list[tuple[int, np.ndarray]], scores: list[float]) -> None:
        if self.method != "cem":
            return
        n_elite = max(1, math.floor(self.cfg.elite_frac * len(samples)))
        order = np.argsort(-np.asarray(scores), kind="stable")[:n_elite]
        elite = np.array([samples[i][1] for i in order])
        a = self.cfg.smoothing
        self.mean = a * elite.mean(0) + (1 - a) * self.mean
        self.std = np.maximum(a * elite.std(0) + (1 - a) * self.std, self.cfg.min_std)
        pool = self.best + [(float(scores[i]), int(samples[i][0])) for i in order]
        seen: set[int] = set()
        self.best = []
        for sc, seed in sorted(pool, key=lambda t: -t[0]):
            if seed not in seen:
                seen.add(seed)
                self.best.append((sc, seed))
        self.best = self.best[:n_elite]

    def state(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "mean": self.mean.tolist(), "std": self.std.tolist(),
                "best": [[s, d] for s, d in self.best], "episodes": self.episodes, "at_fault": self.at_fault,
                "npc_fault": self.npc_fault, "failures": self.failures, "trained": self.trained,
                "train_episodes": self.train_episodes}

    def load(self, st: dict[str, Any]) -> None:
        self.rng.bit_generator.state = st["rng"]
        self.mean = np.asarray(st["mean"], dtype=float).reshape(self.dim)
        self.std = np.asarray(st["std"], dtype=float).reshape(self.dim)
        self.best = [(float(s), int(d)) for s, d in st["best"]]
        self.episodes, self.at_fault, self.npc_fault = int(st["episodes"]), int(st["at_fault"]), int(st["npc_fault"])
        self.failures = {str(k): str(v) for k, v in st["failures"].items()}
        self.trained = bool(st.get("trained", False))
        self.train_episodes = int(st.get("train_episodes", 0))


def _read_state(path: Path, searches: dict[str, Search]) -> int:
    """Load the saved state into `searches`; returns the episodes logged so far (a one-line error if damaged)."""
    f = path / STATE_FILE
    if not f.is_file():
        return 0
    try:
        st = json.loads(f.read_text(encoding="utf-8"))
        for name, search in searches.items():
            search.load(st["searches"][name])
        return int(st["logged"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PilotlabError(f"{str(f)!r} is damaged ({type(e).__name__}); start a new run in another --run-dir"
                            ) from None


def _write_state(path: Path, searches: dict[str, Search], logged: int) -> None:
    from pilotlab.core.checkpoint import atomic_write_text

    doc = {"logged": logged, "searches": {n: s.state() for n, s in searches.items()}}
    atomic_write_text(path / STATE_FILE, json.dumps(doc) + "\n")


def run_stress(cfg: DriveStressConfig) -> dict[str, float]:
    """The CLI command: the searches, failures saved and replayed, summary.json with ``stress/...`` keys."""
    from pilotlab.drive.evaluate import check_drivers

    seed_everything(cfg.seed, cfg.threads)
    env_config = {"duration": cfg.duration} if cfg.duration is not None else {}
    check_drivers([cfg.agent], cfg.env, env_config, SEED_LOW)
    if "rl" in cfg.method_list:
        _check_adversary_budget(cfg)
    run = RunDir.create("drive", f"stress-{cfg.agent}", cfg, cfg.run_dir, cfg.resume)
    searches = {m: Search(m, cfg, i) for i, m in enumerate(METHODS) if m in cfg.method_list}
    logged = _read_state(run.path, searches) if cfg.resume else 0
    if cfg.resume:
        run.resume_at(logged - 1)
    with run:
        run.start()
        folder = run.path / "scenarios"
        folder.mkdir(exist_ok=True)
        if "rl" in searches:
            _reset_adversary(run.path, searches["rl"])
        while any(s.episodes < cfg.budget for s in searches.values()):
            for name, search in searches.items():
                n = min(cfg.population, cfg.budget - search.episodes)
                if n <= 0:
                    continue
                samples = [] if name == "rl" else search.propose(n)
                if name == "rl":
                    episodes = _adversary_round(cfg, run.path, search, n)
                else:
                    episodes = [(sc, scenarios.run_scenario(sc)[1]) for sc in
                                (to_scenario(cfg, seed, z) for seed, z in samples)]
                scores = []
                for sc, out in episodes:
                    scores.append(score(out))
                    search.episodes += 1
                    search.at_fault += int(out["crashed"] and out["at_fault"])
                    search.npc_fault += int(out["crashed"] and not out["at_fault"])
                    if out["crashed"] and out["at_fault"]:
                        key = failure_key(sc, out)
                        if key not in search.failures:
                            file = f"{name}-{len(search.failures):03d}.json"
                            scenarios.save(dataclasses.replace(sc, expect=out), folder / file)
                            search.failures[key] = file
                    run.log(logged, {f"stress/{name}/score": scores[-1],
                                     f"stress/{name}/crashed": float(out["crashed"]),
                                     f"stress/{name}/at_fault": float(out["crashed"] and out["at_fault"])})
                    logged += 1
                if samples:
                    search.observe(samples, scores)
            _write_state(run.path, searches, logged)
            print(" ".join(f"{n}: {s.episodes} episodes, {s.at_fault} at-fault crashes ({len(s.failures)} distinct), "
                           f"{s.npc_fault} npc-fault" for n, s in searches.items()), flush=True)
        summary = _summarize(cfg, searches)
        if "rl" in searches:
            summary[S.stress_key("rl", S.STRESS_TRAIN_EPISODES)] = float(searches["rl"].train_episodes)
        summary.update(_replay(run, folder, searches, cfg.max_videos))
        run.update_summary(summary)
    for name, s in searches.items():
        print(f"{name:>6}: {s.at_fault} at-fault crashes in {s.episodes} episodes, {len(s.failures)} distinct "
              f"({summary[S.stress_key(name, S.STRESS_DISTINCT_PER_1000)]:.1f} per 1,000 episodes), "
              f"{s.npc_fault} NPC-at-fault crashes flagged"
              + (f" ({s.train_episodes} episodes in training)" if name == "rl" else ""))
    print(f"replays matched: {int(summary[S.STRESS_REPLAYS_MATCHED])}/{int(summary[S.STRESS_REPLAYS])}")
    print(f"run directory: {run.path}")
    return summary


# -- the rl method ---------------------------------------------------------------------------------------
ADVERSARY_DIR = "adversary"  # the DQN run directory of the adversary, inside the stress run
ADVERSARY_LOG = "adversary_episodes.jsonl"  # every episode the adversary's env simulated, in order


def _adversary_template(cfg: DriveStressConfig) -> scenarios.Scenario:
    """The rl method's scenario: the default knobs (env's own traffic, default sensors), the run's driver."""
    return scenarios.Scenario(env=cfg.env, seed=0, duration=cfg.duration, agent=cfg.agent, agent_seed=int(cfg.seed))


def _check_adversary_budget(cfg: DriveStressConfig) -> None:
    """A one-line error where the adversary's training cannot fit the budget (episodes of at most
    duration x policy frequency steps, plus the trainer's probe and final evaluation)."""
    from pilotlab.drive import adversary

    defaults = scenarios.envs_defaults(cfg.env)
    duration = cfg.duration if cfg.duration is not None else float(defaults.get("duration", 40))
    per_episode = max(1, math.ceil(duration * float(defaults["policy_frequency"])))
    need = math.ceil(cfg.adversary_steps / per_episode) + adversary.EVAL_EPISODES + 1
    if need > cfg.budget:
        raise PilotlabError(f"rl: adversary-steps {cfg.adversary_steps} take at least {need} episodes of "
                            f"{per_episode} steps (with the trainer's probe and evaluation), more than the budget of "
                            f"{cfg.budget}; lower --adversary-steps or raise --budget")


def _reset_adversary(path: Path, search: Search) -> None:
    """Where a resumed run left the adversary: retrain from scratch if its training was cut off, else keep
    the episode log's first `search.episodes` records (those the saved state counted)."""
    import shutil

    log = path / ADVERSARY_LOG
    if not search.trained:
        shutil.rmtree(path / ADVERSARY_DIR, ignore_errors=True)
        log.unlink(missing_ok=True)
        return
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True) if log.is_file() else []
    log.write_text("".join(lines[:search.episodes]), encoding="utf-8")


def _adversary_round(cfg: DriveStressConfig, path: Path, search: Search, n: int,
                     ) -> list[tuple[scenarios.Scenario, dict[str, Any]]]:
    """The rl method's next episodes: all of the training's (first round), else `n` of the trained policy."""
    from pilotlab.drive import adversary

    template = _adversary_template(cfg)
    log = path / ADVERSARY_LOG
    if not search.trained:
        from pilotlab.rl.dqn import train

        train(adversary.dqn_config(template, cfg.adversary_steps, cfg.seed, cfg.threads, path / ADVERSARY_DIR, log))
        search.trained = True
        records = adversary.read_log(log)
        search.train_episodes = len(records)
        return [(adversary.scenario_of(template, r), r["outcome"]) for r in records]
    kwargs = json.loads(adversary.dqn_config(template, 1, cfg.seed, cfg.threads, path, log).env_kwargs)
    env = adversary.AdversaryEnv(**kwargs)
    if search.policy is None:
        search.policy = adversary.load_policy(path / ADVERSARY_DIR, env)
    out = []
    try:
        for _ in range(n):
            obs, _ = env.reset(seed=search._fresh_seed())
            done = False
            while not done:
                obs, _, terminated, truncated, _ = env.step(int(search.policy(obs[None])[0]))
                done = terminated or truncated
            rec = env.last_record
            assert rec is not None
            out.append((adversary.scenario_of(template, rec), rec["outcome"]))
    finally:
        env.close()
    return out


def _summarize(cfg: DriveStressConfig, searches: dict[str, Search]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, s in searches.items():
        per = 1000.0 / max(s.episodes, 1)
        out[S.stress_key(name, S.STRESS_EPISODES)] = float(s.episodes)
        out[S.stress_key(name, S.STRESS_AT_FAULT)] = float(s.at_fault)
        out[S.stress_key(name, S.STRESS_NPC_FAULT)] = float(s.npc_fault)
        out[S.stress_key(name, S.STRESS_DISTINCT)] = float(len(s.failures))
        out[S.stress_key(name, S.STRESS_FAILURES_PER_1000)] = s.at_fault * per
        out[S.stress_key(name, S.STRESS_DISTINCT_PER_1000)] = len(s.failures) * per
    for method, key in (("cem", S.STRESS_CEM_OVER_RANDOM), ("rl", S.STRESS_RL_OVER_RANDOM)):
        if method in searches and "random" in searches:
            r = out[S.stress_key("random", S.STRESS_DISTINCT_PER_1000)]
            c = out[S.stress_key(method, S.STRESS_DISTINCT_PER_1000)]
            out[key] = c / r if r > 0 else (math.inf if c > 0 else float("nan"))
    return out


def _replay(run: RunDir, folder: Path, searches: dict[str, Search], max_videos: int) -> dict[str, float]:
    """Replay every saved failure; a GIF for the first `max_videos`. Returns the replay counts."""
    from pilotlab.report.figures import save_gif

    files = [f for s in searches.values() for f in s.failures.values()]
    matched = 0
    for i, file in enumerate(files):
        sc = scenarios.load(folder / file)
        frames: list[np.ndarray] | None = [] if i < max_videos else None
        _, out = scenarios.run_scenario(sc, frames=frames)
        same = out["trajectory_sha256"] == sc.expect.get("trajectory_sha256") and out["crashed"]
        matched += int(same)
        if frames:
            save_gif(frames, run.figure(file.replace(".json", ".gif")), fps=2.0)
    return {S.STRESS_REPLAYS: float(len(files)), S.STRESS_REPLAYS_MATCHED: float(matched)}


__all__ = ["METHODS", "DriveStressConfig", "Search", "active_knobs", "failure_key", "run_stress", "score",
           "to_scenario"]
