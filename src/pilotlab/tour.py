"""``pilotlab tour``: the four pillars end to end on embedded data, then one report.

Each stage runs the same CLI commands a user would (`pilotlab ssl train ...`), in-process, into a
sub-folder of ``runs/tour-<time>/``; its headline numbers are read back from the stage's
summary.json and set beside their baseline and goal. A stage that fails is recorded with its error
and the others still run. ``--quick`` keeps every stage and figure with smaller budgets.

Budgets are steps, not seconds, so a busy machine gives the same report later rather than a worse
one sooner. tour.json records each stage's wall and CPU time; on one thread the CPU time is what an
idle machine's wall time would be. Measured times of both modes: docs/gan.md, "Speed of the GAN stage
of the tour".
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pilotlab.core import runfiles
from pilotlab.core.checkpoint import atomic_write_text
from pilotlab.core.command import Command
from pilotlab.core.errors import PilotlabError

LN10 = math.log(10)


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


@dataclass
class StageResult:
    """What a stage hands to the report."""

    headlines: list[dict[str, Any]] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: list[dict[str, str]] = field(default_factory=list)
    command: list[str] = field(default_factory=list)


class _Tee(io.TextIOBase):
    """Pass text through to the real stream and keep the last lines (for error messages)."""

    def __init__(self, stream: Any):
        self.stream, self.lines = stream, [""]

    def write(self, s: str) -> int:
        self.stream.write(s)
        parts = s.split("\n")
        self.lines[-1] += parts[0]
        self.lines.extend(parts[1:])
        del self.lines[:-20]
        return len(s)

    def flush(self) -> None:
        self.stream.flush()


class Ctx:
    """A running stage: its folder, budget switch and command log."""

    def __init__(self, tour_dir: Path, cfg: TourConfig, result: StageResult):
        self.dir, self.cfg, self.result = tour_dir, cfg, result

    def q(self, quick: Any, full: Any) -> Any:
        return quick if self.cfg.quick else full

    def cli(self, *args: Any) -> None:
        """Run ``pilotlab ARGS`` in-process; raise with its error line if it fails."""
        from pilotlab.cli import main

        argv = [str(a) for a in args] + ["--threads", str(self.cfg.threads)]
        self.result.command.append("pilotlab " + " ".join(argv))
        tee = _Tee(sys.stderr)
        with contextlib.redirect_stderr(tee):  # type: ignore[type-var]
            code = main(argv)
        if code != 0:
            last = next((ln for ln in reversed(tee.lines) if ln.strip()), "")
            raise RuntimeError(f"`pilotlab {' '.join(argv[:3])} ...` exited with code {code}: {last.strip()}")

    def summary(self, sub: str) -> dict[str, Any]:
        f = self.dir / sub / "summary.json"
        if not f.is_file():
            raise RuntimeError(f"{f} was not written")
        return runfiles.read_json(f, runfiles.SUMMARY_JSON)

    def run(self, sub: str, title: str) -> None:
        self.result.runs.append({"dir": sub, "title": title})


def headline(label: str, value: Any, baseline: Any = "", goal: str = "", met: bool | None = None) -> dict[str, Any]:
    return {"label": label, "value": value, "baseline": baseline, "goal": goal, "met": met}


def _pct(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{100 * float(v):.1f}%"


# -- stages -------------------------------------------------------------------------------------------


def stage_ssl(c: Ctx) -> None:
    """SimCLR on the 5,000 embedded digits, probed on the official test set, against raw pixels."""
    c.cli(
        "ssl",
        "train",
        "--method",
        "simclr",
        "--dataset",
        "mnist-5k",
        "--epochs",
        c.q(2, 8),
        "--seed",
        c.cfg.seed,
        "--run-dir",
        c.dir / "ssl-simclr",
    )
    s = c.summary("ssl-simclr")
    c.result.headlines += [
        headline(
            "linear probe, all labels",
            _pct(s["eval/linear_acc_all"]),
            f"pixels {_pct(s['baseline/pixels_linear_acc_all'])}",
            ">= 98.0% (benchmark, 10 min)",
            s["eval/linear_acc_all"] >= 0.98,
        ),
        headline(
            "linear probe, 10 labels/class",
            _pct(s["eval/linear_acc_10pc"]),
            f"pixels {_pct(s['baseline/pixels_linear_acc_10pc'])}",
            ">= 93.0% (benchmark)",
            s["eval/linear_acc_10pc"] >= 0.93,
        ),
    ]
    rows = [
        [
            "SimCLR",
            _pct(s.get("eval/linear_acc_all")),
            _pct(s.get("eval/linear_acc_10pc")),
            _pct(s.get("eval/linear_acc_100pc")),
            _pct(s.get("eval/knn_acc")),
        ],
        [
            "raw pixels",
            _pct(s.get("baseline/pixels_linear_acc_all")),
            _pct(s.get("baseline/pixels_linear_acc_10pc")),
            _pct(s.get("baseline/pixels_linear_acc_100pc")),
            _pct(s.get("baseline/pixels_knn_acc")),
        ],
        [
            "random-init encoder",
            _pct(s.get("baseline/random_linear_acc_all")),
            _pct(s.get("baseline/random_linear_acc_10pc")),
            _pct(s.get("baseline/random_linear_acc_100pc")),
            _pct(s.get("baseline/random_knn_acc")),
        ],
    ]
    c.result.tables.append(
        {
            "title": "Probes on the 10,000 MNIST test digits",
            "rows": rows,
            "header": ["features", "linear, all", "linear, 10/class", "linear, 100/class", "kNN"],
        }
    )
    c.run("ssl-simclr", "SimCLR run")
    c.cli(
        "ssl",
        "train",
        "--method",
        "conv-ae",
        "--dataset",
        "mnist-5k",
        "--epochs",
        c.q(1, 3),
        *(["--max-steps", 20] if c.cfg.quick else []),  # 20 of the epoch's 40 steps show the reconstructions
        "--no-evaluate",
        "--seed",
        c.cfg.seed,
        "--run-dir",
        c.dir / "ssl-conv-ae",
    )
    c.run("ssl-conv-ae", "Convolutional autoencoder (reconstructions)")


def stage_gan(c: Ctx) -> None:
    """Conditional GAN: Frechet distance on our classifier's features, GAN-test, augmentation at 10/class."""
    c.cli(
        "gan",
        "train",
        "--model",
        "cgan",
        "--dataset",
        "mnist-5k",
        "--width",
        16,  # the CPU-friendly generator/discriminator width
        "--max-steps",
        c.q(160, 1200),  # steps, not seconds: the same samples on a busy machine
        "--eval-every",
        c.q(80, 300),  # a few points on the FD curve
        "--lr-g",
        c.q(1e-3, 5e-4),  # short budgets: above DCGAN's 2e-4, which learns too slowly in them (docs/gan.md)
        "--lr-d",
        c.q(1e-3, 5e-4),
        "--seed",
        c.cfg.seed,
        "--run-dir",
        c.dir / "gan-cgan",
    )
    s = c.summary("gan-cgan")
    fd, floor = s.get("eval/fd"), s.get("eval/fd_floor")
    c.result.headlines += [
        headline(
            "Frechet distance",
            fd,
            f"real-vs-real floor {floor:.3g}" if floor else "",
            "<= 3x floor (benchmark, 15 min)",
            bool(fd is not None and floor and fd <= 3 * floor),
        ),
        headline(
            "GAN-test accuracy",
            _pct(s.get("eval/gan_test_acc")),
            "",
            ">= 95%",
            (s.get("eval/gan_test_acc") or 0) >= 0.95,
        ),
        headline(
            "class-coverage entropy",
            s.get("eval/coverage_entropy"),
            f"max ln 10 = {LN10:.3f}",
            f">= {0.98 * LN10:.3f}",
            (s.get("eval/coverage_entropy") or 0) >= 0.98 * LN10,
        ),
    ]
    c.run("gan-cgan", "Conditional GAN run")
    c.cli(
        "gan",
        "augment",
        "--per-class",
        10,
        "--seeds",
        c.q(2, 3),
        "--gan-steps",
        c.q(100, 300),
        "--gan-width",
        16,
        "--gan-lr",
        c.q(1e-3, 5e-4),
        "--synthetic-per-class",
        c.q(100, 200),
        "--classifier-steps",
        c.q(50, 150),
        "--classifier-width",
        16,  # the same classifier in every arm; half the scoring classifier's width, much cheaper (docs/gan.md)
        "--seed",
        c.cfg.seed,
        "--run-dir",
        c.dir / "gan-augment",
    )
    a = c.summary("gan-augment")
    gain, ci = a.get("augment/n10/gain_real+synthetic"), a.get("augment/n10/gain_real+synthetic_ci95")
    if gain is None:  # key names follow the arms of pilotlab.gan.augment
        gain_key = next((k for k in a if k.startswith("augment/n10/gain_") and not k.endswith("ci95")), None)
        gain, ci = (a.get(gain_key), a.get(gain_key + "_ci95")) if gain_key else (None, None)
    ci_text = f"95% CI [{_pct(ci[0])}, {_pct(ci[1])}]" if isinstance(ci, list) and None not in ci else "CI n/a"
    gain_text = "n/a" if gain is None else f"{100 * gain:+.1f} points"
    c.result.headlines.append(headline("augmentation gain at 10 labels/class", gain_text, "real only", ci_text))
    c.result.tables.append(_augment_table(a))
    c.result.notes.append(
        "Augmentation: the conditional GAN is trained on the 100 labelled digits only, then the same classifier "
        "is trained on the real digits, on real + synthetic and on synthetic only (equal optimizer steps); "
        "gains are paired over seeds with a 95% t-interval (wide with few seeds)."
    )
    c.run("gan-augment", "GAN data augmentation")


def _augment_table(a: dict[str, Any]) -> dict[str, Any]:
    """Accuracy per arm (mean ± std over seeds) and the gains with their 95% CIs, from gan augment's summary."""

    def acc(n: int, arm: str) -> str:
        mean, sd = a.get(f"augment/n{n}/{arm}_acc_mean"), a.get(f"augment/n{n}/{arm}_acc_std")
        return _pct(mean) + ("" if sd is None else f" ± {100 * sd:.1f}")

    def gain(n: int, arm: str) -> str:
        ci = a.get(f"augment/n{n}/gain_{arm}_ci95") or [None, None]
        g = a.get(f"augment/n{n}/gain_{arm}")
        g_text = "n/a" if g is None else f"{100 * g:+.1f} points"
        return g_text + (" (CI n/a)" if None in ci else f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]")

    rows = []
    for n in sorted(int(k.split("/")[1][1:]) for k in a if k.startswith("augment/n") and k.endswith("/seeds")):
        rows.append([n, int(a[f"augment/n{n}/seeds"]), acc(n, "real"), acc(n, "real+synthetic"),
                     acc(n, "synthetic"), gain(n, "real+synthetic"), gain(n, "synthetic")])
    return {
        "title": "GAN data augmentation: test accuracy on the 10,000 MNIST test digits",
        "rows": rows,
        "header": ["labels/class", "seeds", "real", "real+synthetic", "synthetic",
                   "gain real+synthetic (95% CI)", "gain synthetic (95% CI)"],
    }


def stage_rl(c: Ctx) -> None:
    """Q-learning on FrozenLake beside the value-iteration optimum; DQN on CartPole with a GIF."""
    c.cli(
        "rl",
        "train",
        "--algo",
        "q-learning",
        "--env",
        "FrozenLake-v1",
        "--episodes",
        c.q(8000, 20000),
        "--seed",
        c.cfg.seed,
        "--run-dir",
        c.dir / "rl-frozenlake",
    )
    s = c.summary("rl-frozenlake")
    success = s.get("eval/success_rate_exact", s.get("eval/success_rate"))  # exact: scored from the env's model
    optimum = next((s[k] for k in ("eval/optimal_success_rate", "eval/optimal_return") if k in s), None)
    c.result.headlines.append(
        headline("FrozenLake 4x4 success", _pct(success), f"optimum {_pct(optimum)}", ">= 73%", (success or 0) >= 0.73)
    )
    c.run("rl-frozenlake", "Q-learning on FrozenLake-v1")
    c.cli(
        "rl",
        "train",
        "--algo",
        "dqn",
        "--env",
        "CartPole-v1",
        "--total-steps",
        c.q(12000, 50000),
        "--seed",
        c.cfg.seed,
        "--run-dir",
        c.dir / "rl-dqn",
    )
    c.cli(
        "rl",
        "eval",
        c.dir / "rl-dqn",
        "--episodes",
        c.q(3, 10),
        "--video",
        c.dir / "rl-dqn" / "figures" / "cartpole.gif",
    )
    s = c.summary("rl-dqn")
    c.result.headlines.append(
        headline(
            "DQN CartPole-v1 return",
            s.get("eval/return_mean"),
            "random policy ~22",
            ">= 475 (50k steps)",
            (s.get("eval/return_mean") or 0) >= 475,
        )
    )
    c.run("rl-dqn", "DQN on CartPole-v1")


def stage_drive(c: Ctx) -> None:
    """Modular driver from noisy sensors, the IDM baseline and a short-trained RL driver on held-out seeds."""
    agents = ["modular", "idm"]
    try:
        c.cli(
            "rl",
            "train",
            "--algo",
            "dqn",
            "--env",
            "highway-fast-v0",
            "--total-steps",
            c.q(300, 2000),
            "--seed",
            c.cfg.seed,
            "--run-dir",
            c.dir / "drive-rl-train",
        )
        agents.append(f"rl:{c.dir / 'drive-rl-train'}")
        c.run("drive-rl-train", "RL driver training (DQN, short budget)")
    except Exception as e:
        c.result.notes.append(f"RL driver training failed, evaluated without it: {e}")
    c.cli(
        "drive",
        "eval",
        "--agent",
        ",".join(agents),
        "--env",
        "highway-fast-v0",
        "--episodes",
        c.q(2, 5),
        "--seed",
        100_000 + c.cfg.seed,
        "--run-dir",
        c.dir / "drive-eval",
    )
    s = c.summary("drive-eval")
    rows = []
    for name in ["modular", "idm", "rl"]:
        if f"eval/{name}/return_mean" not in s:
            continue
        g = lambda k, n=name: s.get(f"eval/{n}/{k}")  # noqa: E731
        rows.append(
            [
                name,
                g("return_mean"),
                _pct(g("crash_rate")),
                g("speed_mean"),
                g("route_completion"),
                g("driving_score"),
                g("mota"),
                g("ms_per_step"),
            ]
        )
    c.result.tables.append(
        {
            "title": "Driving on held-out seeds (highway-fast-v0)",
            "rows": rows,
            "header": [
                "agent",
                "return",
                "crash rate",
                "speed [m/s]",
                "route completion",
                "driving score",
                "MOTA",
                "ms/step",
            ],
        }
    )
    m = lambda k: s.get(f"eval/modular/{k}")  # noqa: E731
    c.result.headlines += [
        headline(
            "modular driver return",
            m("return_mean"),
            f"IDM {s.get('eval/idm/return_mean', float('nan')):.3g}",
            ">= 24",
            (m("return_mean") or 0) >= 24,
        ),
        headline(
            "modular driver crash rate",
            _pct(m("crash_rate")),
            f"IDM {_pct(s.get('eval/idm/crash_rate'))}",
            "0%",
            m("crash_rate") == 0,
        ),
        headline("tracking MOTA", m("mota"), "", ">= 0.90", (m("mota") or 0) >= 0.90),
    ]
    c.run("drive-eval", "Driving evaluation")


STAGES: dict[str, tuple[str, Callable[[Ctx], None]]] = {
    "ssl": ("1. Self-supervised learning", stage_ssl),
    "gan": ("2. Generative adversarial networks", stage_gan),
    "rl": ("3. Reinforcement learning", stage_rl),
    "drive": ("4. Autonomous driving", stage_drive),
}


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
        title, fn = STAGES[key]
        print(f"\n=== tour [{i}/{len(names)}] {title} ===", flush=True)
        result = StageResult()
        t0, cpu0 = time.perf_counter(), time.process_time()
        status, error = "ok", ""
        try:
            fn(Ctx(tour_dir, cfg, result))
        except Exception as e:
            status, error = "failed", f"{type(e).__name__}: {e}"
            traceback.print_exc()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        print(f"=== {title}: {status} in {wall:.0f} s ({cpu:.0f} s CPU)", flush=True)
        doc["stages"].append(
            {"key": key, "title": title, "status": status, "error": error, "wall_s": wall, "cpu_s": cpu,
             **result.__dict__}
        )
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
