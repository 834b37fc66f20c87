"""``pilotlab tour``: the four pillars end to end on embedded data, then one report.

The tour is a table, `STAGES`. A stage lists the runs it makes, each a pillar's own typed config and the
function its CLI command calls (`Run`), and its headline numbers (`Headline`): a summary key of one of
those runs, the baselines measured in the same run beside it, the target for the tour's own budget where
there is one, and the benchmark command that gives the full-budget number. The report prints, for every
run, the equivalent command line (`pilotlab.core.config.command_line`). A stage that fails is recorded
with its error and the others still run.

Budgets live in `BUDGETS`, one entry per stage with its quick and full values. They are steps, not
seconds, so a busy machine gives the same report later rather than a worse one sooner; tour.json records
each stage's wall and CPU time (on one thread the CPU time is what an idle machine's wall time would be).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pilotlab.core import runfiles
from pilotlab.core import summary as S
from pilotlab.core.checkpoint import atomic_write_text
from pilotlab.core.command import Command
from pilotlab.core.config import command_line
from pilotlab.core.errors import PilotlabError

LN10 = math.log(10)
"""Entropy [nats] of labels spread evenly over the ten digit classes."""
TOUR = "tour"
"""`Headline.run` / `Compare.run` of the numbers the tour measures itself (`Stage.measure`)."""
DRIVE_EVAL_SEED = 100_000
"""First held-out env seed of the driving evaluation (plus the tour's seed); rl trainers seed from 0."""


@dataclass(frozen=True, kw_only=True)
class TourConfig:
    quick: bool = False
    """Smaller budgets (about 3 minutes in all instead of about 10); same stages, same report."""
    seed: int = 0
    """Seed of every stage (driving evaluation uses held-out seeds derived from it)."""
    run_dir: str | None = None
    """Tour directory; default runs/tour-<YYYYmmdd-HHMMSS>."""
    stages: str = "ssl,gan,rl,drive"
    """Comma-separated stages to run, in order (ssl, gan, rl, drive)."""
    threads: int = 1
    """torch intra-op threads for every stage."""

    def __post_init__(self) -> None:
        unknown = [s for s in self.stage_list() if s not in STAGES]
        if unknown:
            raise PilotlabError(f"unknown tour stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
        if self.threads < 1:
            raise PilotlabError(f"threads must be >= 1, got {self.threads}")

    def stage_list(self) -> list[str]:
        return [s.strip() for s in self.stages.split(",") if s.strip()]


# -- budgets: one place per stage, quick and full -------------------------------------------------------


@dataclass(frozen=True)
class SSLBudget:
    vicreg_epochs: int
    ae_epochs: int
    ae_max_steps: int | None
    """The quick tour stops the conv-ae half-way through its epoch: enough to show the reconstructions."""


@dataclass(frozen=True)
class GANBudget:
    steps: int
    """Steps, not seconds: the same samples on a busy machine."""
    eval_every: int
    """A few points on the FD curve."""
    lr: float
    """Short budgets learn faster at 1e-3 than at the recipe's 5e-4 (docs/benchmarks.md, "Tour budgets")."""
    width: int
    augment_seeds: int
    augment_gan_steps: int
    augment_synthetic_per_class: int
    augment_classifier_steps: int


@dataclass(frozen=True)
class RLBudget:
    frozenlake_episodes: int
    dqn_steps: int
    eval_episodes: int


@dataclass(frozen=True)
class DriveBudget:
    rl_steps: int
    episodes: int


BUDGETS: dict[str, dict[str, Any]] = {
    "ssl": {"quick": SSLBudget(vicreg_epochs=3, ae_epochs=1, ae_max_steps=20),
            "full": SSLBudget(vicreg_epochs=16, ae_epochs=3, ae_max_steps=None)},
    "gan": {"quick": GANBudget(steps=300, eval_every=150, lr=1e-3, width=32, augment_seeds=2, augment_gan_steps=100,
                               augment_synthetic_per_class=100, augment_classifier_steps=50),
            "full": GANBudget(steps=1000, eval_every=500, lr=1e-3, width=32, augment_seeds=2, augment_gan_steps=100,
                              augment_synthetic_per_class=100, augment_classifier_steps=50)},
    "rl": {"quick": RLBudget(frozenlake_episodes=8000, dqn_steps=12000, eval_episodes=3),
           "full": RLBudget(frozenlake_episodes=20000, dqn_steps=25000, eval_episodes=10)},
    "drive": {"quick": DriveBudget(rl_steps=2000, episodes=2),
              "full": DriveBudget(rl_steps=4000, episodes=10)},
}
"""Stage -> {"quick": budget, "full": budget}."""


# -- the table's types ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What a stage's runs are built from: where, which seed and threads, which budget."""

    dir: Path
    seed: int
    threads: int
    quick: bool
    budget: Any

    def path(self, name: str) -> str:
        return str(self.dir / name)


@dataclass(frozen=True)
class Run:
    """One command of a stage: a pillar's frozen config and the function its CLI runner calls with it."""

    name: str
    """Sub-folder of the tour directory it writes (an eval writes into the run it scores)."""
    title: str
    command: str
    """The CLI command, e.g. "ssl train": the report prints ``pilotlab <command> <flags>``."""
    config: Any
    """A frozen config instance, or a function that builds it when the run's turn comes (for a config whose
    checks need the runs before it, such as an eval's output folder)."""
    call: Callable[[Any], Any]
    optional: bool = False
    """If it fails, the stage notes the error and goes on (with `fallback` configs after it)."""
    fallback: Any = None
    """The config to run instead when an optional run before this one failed."""
    own_section: bool = True
    """Whether the report shows its run directory (False for an eval of a run shown already)."""


Format = Literal["pct", "num", "points"]


@dataclass(frozen=True)
class Compare:
    """A baseline beside a headline: a summary key of a run of the same tour, or a fixed reference value."""

    label: str
    key: str | None = None
    run: str | None = None
    """Run (folder name) holding `key`; default: the headline's run."""
    value: float | None = None
    fmt: Format | None = None
    """How to show it; default: as the headline."""


@dataclass(frozen=True)
class Target:
    """What a headline must reach at the tour's budget: ``value <op> number`` or ``value <op> factor x baseline``."""

    op: Literal[">=", ">", "<=", "<"]
    number: float | None = None
    baseline: Compare | None = None
    factor: float = 1.0


@dataclass(frozen=True)
class Headline:
    label: str
    run: str
    """Run (folder name) whose summary.json holds `key`; `TOUR` for a number the tour measures itself."""
    key: str
    fmt: Format = "num"
    compare: tuple[Compare, ...] = ()
    targets: Mapping[str, Target] = field(default_factory=dict)
    """Budget ("quick", "full") -> the target at that budget; no target: no met / not met."""
    benchmark: str = ""
    """The command that measures the full-budget number (docs/benchmarks.md)."""
    optional: bool = False
    """Skipped when the key is absent (its run was optional and failed)."""


@dataclass(frozen=True)
class Figure:
    run: str
    path: str
    """Inside the run directory, e.g. figures/embedding.png."""
    caption: str


@dataclass(frozen=True)
class Stage:
    key: str
    title: str
    runs: Callable[[Plan], list[Run]]
    headlines: tuple[Headline, ...]
    tables: Callable[[Plan, dict[str, dict[str, Any]]], list[dict[str, Any]]] = lambda plan, s: []
    notes: tuple[str, ...] = ()
    figures: tuple[Figure, ...] = ()
    """Key figures, shown at the top of the report."""
    measure: Callable[[Plan], dict[str, float]] | None = None
    """Baselines the tour measures itself (e.g. a random policy), read by headlines as run `TOUR`."""


# -- formatting -----------------------------------------------------------------------------------------


def _missing(v: Any) -> bool:
    return v is None or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)


def show(v: Any, fmt: Format) -> str:
    if isinstance(v, list):
        if fmt == "points" and not any(_missing(u) for u in v):
            return "[" + ", ".join(f"{100 * u:+.1f}" for u in v) + "] points"
        return "[" + ", ".join(show(u, fmt) for u in v) + "]"
    if _missing(v):
        return "n/a"
    if fmt == "pct":
        return f"{100 * v:.1f}%"
    if fmt == "points":
        return f"{100 * v:+.1f} points"
    return f"{v:.4g}"


# -- stage 1: self-supervised learning ------------------------------------------------------------------


SSL_RUN = "ssl-vicreg"


def ssl_runs(p: Plan) -> list[Run]:
    from pilotlab.ssl.autoencoder import AEConfig
    from pilotlab.ssl.pipeline import train_and_evaluate
    from pilotlab.ssl.vicreg import VICRegConfig

    b: SSLBudget = p.budget
    return [
        Run(SSL_RUN, "VICReg run", "ssl train",
            VICRegConfig(dataset="mnist-5k", epochs=b.vicreg_epochs, probe_every=0, seed=p.seed, threads=p.threads,
                         run_dir=p.path(SSL_RUN)), train_and_evaluate),
        Run("ssl-conv-ae", "Convolutional autoencoder (reconstructions)", "ssl train",
            AEConfig(method="conv-ae", dataset="mnist-5k", epochs=b.ae_epochs, max_steps=b.ae_max_steps,
                     evaluate=False, seed=p.seed, threads=p.threads, run_dir=p.path("ssl-conv-ae")),
            train_and_evaluate),
    ]


def _test_set(s: Mapping[str, Any]) -> str:
    return str(s.get(S.DATA_TEST_SET) or "the test set (not recorded by this run)")


def ssl_tables(p: Plan, s: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    r = s.get(SSL_RUN, {})
    rows = [[name, *(show(r.get(S.ssl_probe(prefix, probe)), "pct") for probe in S.PROBES)]
            for name, prefix in (("VICReg", S.SSL_EVAL), ("raw pixels", S.SSL_PIXELS),
                                 ("random-init encoder", S.SSL_RANDOM))]
    return [{"title": f"Probes on {_test_set(r)}", "rows": rows,
             "header": ["features", "linear, all", "linear, 10/class", "linear, 100/class", "kNN"]}]


SSL_BENCHMARK = ".venv/bin/python benchmarks/ssl_mnist.py"


def _ssl_headline(label: str, probe: str) -> Headline:
    pixels = Compare("raw pixels", S.ssl_probe(S.SSL_PIXELS, probe))
    beats_pixels = Target(">", baseline=pixels)
    return Headline(label, SSL_RUN, S.ssl_probe(S.SSL_EVAL, probe), "pct",
                    (pixels, Compare("random-init encoder", S.ssl_probe(S.SSL_RANDOM, probe))),
                    {"quick": beats_pixels, "full": beats_pixels}, SSL_BENCHMARK)


# -- stage 2: GANs --------------------------------------------------------------------------------------


def gan_runs(p: Plan) -> list[Run]:
    from pilotlab.gan.augment import AugmentConfig, run_augment
    from pilotlab.gan.cgan import CGANConfig
    from pilotlab.gan.train import train

    b: GANBudget = p.budget
    return [
        Run("gan-cgan", "Conditional GAN run", "gan train",
            CGANConfig(dataset="mnist-5k", width=b.width, max_steps=b.steps, eval_every=b.eval_every, lr_g=b.lr,
                       lr_d=b.lr, seed=p.seed, threads=p.threads, run_dir=p.path("gan-cgan")), train),
        Run("gan-augment", "GAN data augmentation", "gan augment",
            AugmentConfig(per_class=(10,), seeds=b.augment_seeds, gan_steps=b.augment_gan_steps, gan_width=16,
                          gan_lr=b.lr, synthetic_per_class=b.augment_synthetic_per_class,
                          classifier_steps=b.augment_classifier_steps,
                          classifier_width=16,  # every arm's classifier; half the scorer's width, ~3x cheaper
                          seed=p.seed, threads=p.threads, run_dir=p.path("gan-augment")), run_augment),
    ]


def gan_tables(p: Plan, s: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Accuracy per arm (mean ± std over seeds) and the gains with their 95% CIs, from gan augment's summary."""
    a = s.get("gan-augment", {})

    def acc(n: int, arm: str) -> str:
        sd = a.get(S.augment_key(n, f"{arm}_acc_std"))
        return show(a.get(S.augment_key(n, f"{arm}_acc_mean")), "pct") + ("" if _missing(sd) else f" ± {100 * sd:.1f}")

    def gain(n: int, arm: str) -> str:
        ci = a.get(S.augment_key(n, f"gain_{arm}_ci95")) or [None, None]
        text = show(a.get(S.augment_key(n, f"gain_{arm}")), "points")
        return text + (" (CI n/a)" if any(_missing(c) for c in ci) else f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]")

    rows = [[n, a.get(S.augment_key(n, "seeds")), acc(n, "real"), acc(n, "real+synthetic"), acc(n, "synthetic"),
             gain(n, "real+synthetic"), gain(n, "synthetic")] for n in S.augment_per_class(a)]
    if not rows:
        return []
    return [{"title": f"GAN data augmentation: test accuracy on {_test_set(a)}", "rows": rows,
             "header": ["labels/class", "seeds", "real", "real+synthetic", "synthetic",
                        "gain real+synthetic (95% CI)", "gain synthetic (95% CI)"]}]


GAN_BENCHMARK = ".venv/bin/python benchmarks/gan_mnist.py"
FD_FLOOR = Compare("real-vs-real floor", S.GAN_FD_FLOOR)

# -- stage 3: reinforcement learning --------------------------------------------------------------------



def rl_runs(p: Plan) -> list[Run]:
    from pilotlab.rl import dqn, tabular
    from pilotlab.rl.cli import EvalConfig
    from pilotlab.rl.evaluate import evaluate_run

    b: RLBudget = p.budget
    return [
        Run("rl-frozenlake", "Q-learning on FrozenLake-v1", "rl train",
            tabular.QLearningConfig(env="FrozenLake-v1", episodes=b.frozenlake_episodes, seed=p.seed,
                                    threads=p.threads, run_dir=p.path("rl-frozenlake")), tabular.train),
        Run("rl-dqn", "DQN on CartPole-v1", "rl train",
            dqn.DQNConfig(env="CartPole-v1", total_steps=b.dqn_steps, seed=p.seed, threads=p.threads,
                          run_dir=p.path("rl-dqn")), dqn.train),
        Run("rl-dqn", "DQN on CartPole-v1, evaluated with a GIF", "rl eval",
            lambda: EvalConfig(run_dir=p.path("rl-dqn"), episodes=b.eval_episodes, threads=p.threads,
                               video=str(p.dir / "rl-dqn" / "figures" / "cartpole.gif")),
            evaluate_run, own_section=False),
    ]


def rl_measure(p: Plan) -> dict[str, float]:
    """A uniformly random policy on the seeds `rl eval` scores the DQN on."""
    import numpy as np

    from pilotlab.rl.cli import EvalConfig
    from pilotlab.rl.evaluate import evaluate_policy

    rng = np.random.default_rng(p.seed)
    result = evaluate_policy(lambda obs: rng.integers(0, 2, size=len(obs)), "CartPole-v1",
                             episodes=p.budget.eval_episodes, seed=EvalConfig(run_dir=p.path("rl-dqn")).seed)
    return {S.RL_RANDOM_POLICY_RETURN: float(result.returns.mean())}


# -- stage 4: driving -----------------------------------------------------------------------------------


def drive_runs(p: Plan) -> list[Run]:
    from pilotlab.drive.evaluate import DriveEvalConfig, run_eval
    from pilotlab.drive.recipes import DriverDQNConfig
    from pilotlab.rl import dqn

    b: DriveBudget = p.budget
    evaluation = DriveEvalConfig(agent=f"modular,idm,rl:{p.path('drive-rl-train')}", env="highway-fast-v0",
                                 episodes=b.episodes, seed=DRIVE_EVAL_SEED + p.seed, threads=p.threads,
                                 run_dir=p.path("drive-eval"))
    return [
        Run("drive-rl-train", "RL driver training (DQN, the shield-teacher recipe, short budget)", "drive train",
            DriverDQNConfig(total_steps=b.rl_steps, eval_episodes=1, seed=p.seed, threads=p.threads,
                            run_dir=p.path("drive-rl-train")), dqn.train, optional=True),
        Run("drive-eval", "Driving evaluation", "drive eval", evaluation, run_eval,
            fallback=dataclasses.replace(evaluation, agent="modular,idm")),
    ]


DRIVERS = {"modular": "modular (noisy sensors, tracking, planning)", "idm": "IDM+MOBIL", "rl": "RL driver (DQN)"}


def drive_tables(p: Plan, s: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    d = s.get("drive-eval", {})
    columns = [(S.DRIVE_RETURN_MEAN, "return", "num"), (S.DRIVE_CRASH_RATE, "crash rate", "pct"),
               (S.DRIVE_SPEED_MEAN, "speed [m/s]", "num"), (S.DRIVE_ROUTE_COMPLETION, "route completion", "num"),
               (S.DRIVE_SCORE, "driving score", "num"), (S.DRIVE_MOTA, "MOTA", "num"),
               (S.DRIVE_MS_PER_STEP, "ms/step", "num")]
    rows = [[label, *(show(d.get(S.drive_key(name, k)), f) for k, _, f in columns)]  # type: ignore[arg-type]
            for name, label in DRIVERS.items() if S.drive_key(name, S.DRIVE_RETURN_MEAN) in d]
    b: DriveBudget = p.budget
    first = DRIVE_EVAL_SEED + p.seed
    return [{"title": f"Driving on held-out env seeds {first}-{first + b.episodes - 1} (highway-fast-v0)",
             "rows": rows, "header": ["driver", *(c[1] for c in columns)]}]


DRIVE_RUN = "drive-eval"
DRIVE_BENCHMARK = ".venv/bin/python benchmarks/drive_highway.py --episodes 50"


def _idm(metric: str) -> Compare:
    return Compare("IDM+MOBIL", S.drive_key("idm", metric))


# -- the table ------------------------------------------------------------------------------------------

STAGES: dict[str, Stage] = {
    "ssl": Stage(
        "ssl", "1. Self-supervised learning", ssl_runs,
        (_ssl_headline("VICReg linear probe, all labels", S.PROBE_LINEAR_ALL),
         _ssl_headline("VICReg linear probe, 10 labels/class", S.PROBE_LINEAR_10PC)),
        ssl_tables,
        ("VICReg pretrains on the mnist-5k digits without labels; the probes then train on its frozen features "
         "with all, 100 or 10 labels per class, and the same probes on raw pixels and on a randomly initialised "
         "encoder of the same architecture are the baselines.",),
        (Figure(SSL_RUN, "figures/embedding.png", "VICReg features of the test digits (PCA)"),
         Figure("ssl-conv-ae", "figures/reconstructions.png", "conv-ae: test digits (top), reconstructions")),
    ),
    "gan": Stage(
        "gan", "2. Generative adversarial networks", gan_runs,
        (Headline("cGAN Frechet distance", "gan-cgan", S.GAN_FD, "num", (FD_FLOOR,),
                  {"full": Target("<=", baseline=FD_FLOOR, factor=3)}, GAN_BENCHMARK),
         Headline("cGAN GAN-test accuracy", "gan-cgan", S.GAN_TEST_ACC, "pct", (),
                  {"full": Target(">=", 0.95)}, GAN_BENCHMARK),
         Headline("cGAN class-coverage entropy [nats]", "gan-cgan", S.GAN_COVERAGE, "num",
                  (Compare("all ten classes alike (ln 10)", value=LN10),),
                  {"full": Target(">=", 0.98 * LN10)}, GAN_BENCHMARK),
         Headline("augmentation gain at 10 labels/class", "gan-augment", S.augment_key(10, "gain_real+synthetic"),
                  "points", (Compare("accuracy on the real digits only", S.augment_key(10, "real_acc_mean"), fmt="pct"),
                             Compare("95% CI of the gain", S.augment_key(10, "gain_real+synthetic_ci95"))),
                  {}, GAN_BENCHMARK + " --augment")),
        gan_tables,
        ("FD is the Frechet distance of the generated digits to the real test digits on our own classifier's "
         "features (not comparable with InceptionV3 FIDs); the floor is the FD of the real training digits to "
         "the same test digits. GAN-test: how often that classifier gives a sample the class it was drawn for.",
         "Augmentation: the conditional GAN is trained on the 100 labelled digits only, then the same classifier "
         "is trained on the real digits, on real + synthetic and on synthetic only (equal optimizer steps); "
         "gains are paired over seeds with a 95% t-interval (wide with few seeds)."),
        (Figure("gan-cgan", "figures/samples.png", "cGAN samples, one column per class"),
         Figure("gan-cgan", "figures/fd.png", "FD over training and the real-vs-real floor")),
    ),
    "rl": Stage(
        "rl", "3. Reinforcement learning", rl_runs,
        (Headline("Q-learning FrozenLake 4x4 success (exact)", "rl-frozenlake", S.RL_SUCCESS_EXACT, "pct",
                  (Compare("optimum (value iteration)", S.RL_OPTIMAL_SUCCESS),
                   Compare("measured over episodes", S.RL_SUCCESS_RATE)),
                  {"full": Target(">=", 0.73)}, ".venv/bin/python benchmarks/rl_tabular_mcts.py"),
         Headline("DQN CartPole-v1 return", "rl-dqn", S.RL_RETURN_MEAN, "num",
                  (Compare("random policy", S.RL_RANDOM_POLICY_RETURN, run=TOUR),),
                  {"full": Target(">=", 475)}, ".venv/bin/python benchmarks/rl_vs_sb3.py")),
        notes=("FrozenLake's success rate is computed exactly from the env's transition model (within its time "
               "limit), beside the optimum that value iteration reaches. CartPole: mean return of the "
               "evaluation episodes, beside a uniformly random policy on the same seeds.",),
        figures=(Figure("rl-dqn", "figures/cartpole.gif", "DQN on CartPole-v1"),
                 Figure("rl-frozenlake", "figures/policy.png", "Q-learning's greedy policy on FrozenLake")),
        measure=rl_measure,
    ),
    "drive": Stage(
        "drive", "4. Autonomous driving", drive_runs,
        (Headline("modular driver return", DRIVE_RUN, S.drive_key("modular", S.DRIVE_RETURN_MEAN), "num",
                  (_idm(S.DRIVE_RETURN_MEAN),), {"full": Target(">", baseline=_idm(S.DRIVE_RETURN_MEAN))},
                  DRIVE_BENCHMARK),
         Headline("modular driver crash rate", DRIVE_RUN, S.drive_key("modular", S.DRIVE_CRASH_RATE), "pct",
                  (_idm(S.DRIVE_CRASH_RATE),), {"quick": Target("<=", 0.0), "full": Target("<=", 0.0)},
                  DRIVE_BENCHMARK),
         Headline("tracking MOTA", DRIVE_RUN, S.drive_key("modular", S.DRIVE_MOTA), "num", (),
                  {"quick": Target(">=", 0.90), "full": Target(">=", 0.90)}, DRIVE_BENCHMARK),
         Headline("RL driver crash rate", DRIVE_RUN, S.drive_key("rl", S.DRIVE_CRASH_RATE), "pct",
                  (_idm(S.DRIVE_CRASH_RATE),), {"full": Target("<=", baseline=_idm(S.DRIVE_CRASH_RATE))},
                  ".venv/bin/python benchmarks/drive_rl.py --steps 20000 --seeds 3 --episodes 50", optional=True)),
        drive_tables,
        ("All drivers drive the same held-out env seeds. The modular driver sees the road through noisy "
         "sensors, tracks the other cars and plans; IDM+MOBIL is highway-env's rule-based driver; the RL "
         "driver is a DQN trained with the shield as its teacher (the recipe of `pilotlab drive train`) for the "
         "tour's short budget.",),
        (Figure("drive-eval", "figures/modular.gif", "modular driver: detections and tracks"),),
    ),
}


# -- scoring --------------------------------------------------------------------------------------------


def _lookup(c: Compare, run: str, summaries: Mapping[str, Mapping[str, Any]]) -> Any:
    return c.value if c.key is None else summaries.get(c.run or run, {}).get(c.key)


def score(h: Headline, budget: str, summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The headline as tour.json records it (None: an optional headline whose run did not happen)."""
    value = summaries.get(h.run, {}).get(h.key)
    if value is None and h.optional:
        return None
    compared = [f"{c.label} {show(_lookup(c, h.run, summaries), c.fmt or h.fmt)}" for c in h.compare]
    target, met = h.targets.get(budget), None
    target_text = ""
    if target is not None:
        bound = target.number
        if target.baseline is not None:
            base = _lookup(target.baseline, h.run, summaries)
            bound = None if _missing(base) else target.factor * base
            scale = f"{target.factor:g}x " if target.factor != 1 else ""
            target_text = f"{target.op} {scale}{target.baseline.label}"
        else:
            target_text = f"{target.op} {show(bound, h.fmt)}"
        if not _missing(value) and bound is not None:
            met = {">=": value >= bound, ">": value > bound, "<=": value <= bound, "<": value < bound}[target.op]
        elif _missing(value):
            met = False
    return {"label": h.label, "value": show(value, h.fmt), "raw": None if _missing(value) else value,
            "compared": "; ".join(compared), "target": target_text, "met": met, "benchmark": h.benchmark}


def config_of(config: Any) -> Any:
    """`Run.config` as an instance (built now if it is a function)."""
    return config if dataclasses.is_dataclass(config) else config()


def _summaries(tour_dir: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in dict.fromkeys(names):
        f = tour_dir / name / "summary.json"
        if f.is_file():
            out[name] = runfiles.read_json(f, runfiles.SUMMARY_JSON)
    return out


def run_stage(stage: Stage, plan: Plan, record: dict[str, Any]) -> None:
    """Run `stage` into `record` (its tour.json entry); raises when a run that is not optional fails."""
    optional_failed = False
    names = []
    for run in stage.runs(plan):
        cfg = config_of(run.fallback if optional_failed and run.fallback is not None else run.config)
        record["command"].append(command_line(run.command, cfg))
        print(f"--- {record['command'][-1]}", flush=True)
        try:
            run.call(cfg)
        except Exception as e:
            if not run.optional:
                raise RuntimeError(f"`pilotlab {run.command}` ({run.title}) failed: {type(e).__name__}: {e}") from e
            traceback.print_exc()
            optional_failed = True
            record["notes"].append(f"{run.title} failed, so the stage went on without it: {type(e).__name__}: {e}")
            continue
        names.append(run.name)
        if run.own_section:
            record["runs"].append({"dir": run.name, "title": run.title})
    summaries: dict[str, Mapping[str, Any]] = dict(_summaries(plan.dir, names))
    if stage.measure is not None:
        summaries[TOUR] = record["measured"] = stage.measure(plan)
    budget = "quick" if plan.quick else "full"
    record["headlines"] = [h for h in (score(h, budget, summaries) for h in stage.headlines) if h is not None]
    record["tables"] = stage.tables(plan, dict(summaries))  # type: ignore[arg-type]
    record["notes"] = list(stage.notes) + record["notes"]
    record["figures"] = [{"path": f"{f.run}/{f.path}", "caption": f.caption} for f in stage.figures
                         if (plan.dir / f.run / f.path).is_file()]
    test_sets = sorted({str(s[S.DATA_TEST_SET]) for s in summaries.values() if s.get(S.DATA_TEST_SET)})
    if test_sets:
        record["test_sets"] = test_sets


def run_tour(cfg: TourConfig) -> Path:
    """Run the stages, write tour.json, report.html and report.md; return the report path."""
    from pilotlab.core.run import check_writable_target, versions
    from pilotlab.report.html import build_tour_report

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    tour_dir = Path(cfg.run_dir) if cfg.run_dir else Path("runs") / f"tour-{stamp}"
    check_writable_target(tour_dir)
    if tour_dir.exists() and any(tour_dir.iterdir()):
        raise PilotlabError(f"{runfiles.quote(tour_dir)} already exists and is not empty; choose another --run-dir")
    tour_dir.mkdir(parents=True, exist_ok=True)
    budget = "quick" if cfg.quick else "full"
    doc: dict[str, Any] = {
        "seed": cfg.seed,
        "quick": cfg.quick,
        "versions": versions(),
        "stages": [],
        "config": {"quick": cfg.quick, "seed": cfg.seed, "stages": cfg.stages},
    }
    t_all, cpu_all = time.perf_counter(), time.process_time()  # CPU time: the idle-machine wall time
    names = cfg.stage_list()
    for i, key in enumerate(names, 1):
        stage = STAGES[key]
        print(f"\n=== tour [{i}/{len(names)}] {stage.title} ===", flush=True)
        record: dict[str, Any] = {"key": key, "title": stage.title, "status": "ok", "error": "", "headlines": [],
                                  "tables": [], "notes": [], "runs": [], "command": []}
        t0, cpu0 = time.perf_counter(), time.process_time()
        plan = Plan(tour_dir, cfg.seed, cfg.threads, cfg.quick, BUDGETS[key][budget])
        try:
            run_stage(stage, plan, record)
        except Exception as e:
            record["status"], record["error"] = "failed", f"{type(e).__name__}: {e}"
            traceback.print_exc()
        record["wall_s"], record["cpu_s"] = time.perf_counter() - t0, time.process_time() - cpu0
        print(f"=== {stage.title}: {record['status']} in {record['wall_s']:.0f} s ({record['cpu_s']:.0f} s CPU)",
              flush=True)
        doc["stages"].append(record)
        doc["wall_s"], doc["cpu_s"] = time.perf_counter() - t_all, time.process_time() - cpu_all
        doc["finished"] = datetime.now().isoformat(timespec="seconds")
        atomic_write_text(tour_dir / "tour.json", json.dumps(doc, indent=2, default=str) + "\n")
    report = build_tour_report(tour_dir)
    print(f"\ntour finished in {doc['wall_s']:.0f} s ({doc['cpu_s']:.0f} s CPU); report: {report}")
    return report


def _run(cfg: TourConfig) -> int:
    run_tour(cfg)
    return 0


COMMANDS = {"": Command(TourConfig, _run, "run all four pillars end to end and write a report")}
