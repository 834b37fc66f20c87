"""Camera perception label efficiency: self-supervised pretraining vs from scratch (issue 14).

    .venv/bin/python benchmarks/drive_perception.py --data runs/cam-data --labels 100,1000,10000 --seeds 0,1,2 \
        --methods scratch,masked --pretrain-steps 300 --steps 250 --write

For each seed and pretraining method, the backbone is pretrained once on the dataset's unlabelled split
(``pilotlab drive pretrain-perception``, `--pretrain-steps` optimizer steps); then for each label count the
detector is fine-tuned on the first N labelled training frames (``drive train-perception --labels N
--pretrained RUN``; ``scratch``: no pretraining) for the same `--steps` optimizer steps whatever N (so a
small label count gets many epochs over few frames, not a smaller compute budget) and evaluated on the test
split. Reported per arm: bird's-eye AP at 2 m (the target metric),
COCO AP50, mean and a 95 % t-interval over seeds, and the CPU time of pretraining + fine-tuning. The label-
efficiency ratio: AP@2m of each pretrained method with 1,000 labels over scratch's with 10,000 (where both
were run). A run directory that already holds a summary.json is reused, not retrained.

``--finished-only`` runs nothing and reports the finished runs under --out, naming the arms still missing
(for runs split over several processes, e.g. one per seed). ``--smoke`` shrinks everything to a check that
the pipeline runs (a handful of steps; numbers meaningless). Writes results.json and label_efficiency.png
under --out, and with --write the `drive_perception` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_section
from pilotlab.cli import main as cli


def _run(argv: list[str], train: bool = True) -> dict | None:
    """The run's summary, running it first unless it has one (None: not finished and `train` is off)."""
    run_dir = Path(argv[argv.index("--run-dir") + 1])
    if not (run_dir / "summary.json").is_file():
        if not train:
            return None
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = cli(argv)
        if code != 0:
            raise SystemExit(f"pilotlab {' '.join(argv)} failed: {err.getvalue()[-800:]}")
    return json.loads((run_dir / "summary.json").read_text())


def ci95(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95 % t-interval (NaN half-width for one value)."""
    from scipy import stats

    a = np.asarray(values, dtype=float)
    if len(a) == 0:
        return float("nan"), float("nan")
    if len(a) < 2:
        return float(a.mean()), float("nan")
    return float(a.mean()), float(stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="dataset of `pilotlab drive record` with unlabelled frames "
                    "(default: record one into OUT/data: max(labels) train, as many unlabelled, 1000 test frames)")
    ap.add_argument("--out", default="runs/bench-drive-perception")
    ap.add_argument("--labels", default="100,1000,10000")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default="scratch,vicreg,simclr,masked")
    ap.add_argument("--pretrain-steps", type=int, default=300, help="optimizer steps of each pretraining")
    ap.add_argument("--steps", type=int, default=300,
                    help="optimizer steps of each fine-tuning, the same for every label count")
    ap.add_argument("--batch-size", type=int, default=32, help="frames per fine-tuning step")
    ap.add_argument("--pretrain-batch-size", type=int, default=64, help="frames per pretraining step")
    ap.add_argument("--smoke", action="store_true", help="a few steps per run: checks the pipeline only")
    ap.add_argument("--finished-only", action="store_true",
                    help="run nothing: report the finished runs under --out, naming the arms still missing")
    ap.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    args = ap.parse_args()
    torch.set_num_threads(1)  # as the runs themselves (--threads 1), and as machine() reports
    order = [int(x) for x in args.labels.split(",")]  # runs go in this order; the table is sorted
    labels = sorted(order)
    seeds = [int(x) for x in args.seeds.split(",")]
    methods = args.methods.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.smoke:
        args.steps, args.pretrain_steps, args.pretrain_batch_size = 3, 3, 8
    for name in ("steps", "pretrain_steps", "batch_size", "pretrain_batch_size"):
        if getattr(args, name) < 1:
            raise SystemExit(f"error: --{name.replace('_', '-')} must be >= 1")
    load = [os.getloadavg()[0]]
    if args.data is None:
        args.data = str(out / "data")
        if not (out / "data" / "meta.json").is_file():
            n = max(labels)
            argv = ["drive", "record", "--out", args.data, "--frames", str(n), "--unlabelled-frames", str(n),
                    "--test-frames", str(40 if args.smoke else 1000), "--cameras", "front+rear"]
            if cli(argv) != 0:
                raise SystemExit("recording the dataset failed")
    rows: dict[str, dict[int, list[dict]]] = {m: {n: [] for n in labels} for m in methods}
    start = time.perf_counter()
    run_cpu = run_wall = 0.0  # [s] pretraining and fine-tuning runs, summed (each run's own summary)
    missing: list[str] = []  # arms not run (--finished-only)
    for seed in seeds:
        for method in methods:
            pre: list[str] = []
            pre_cpu = 0.0
            if method != "scratch":
                pdir = out / f"pre-{method}-s{seed}"
                s = _run(["drive", "pretrain-perception", "--data-dir", args.data, "--method", method, "--seed",
                          str(seed), "--epochs", str(args.pretrain_steps), "--max-steps", str(args.pretrain_steps),
                          "--batch-size", str(args.pretrain_batch_size), "--run-dir", str(pdir)],
                         not args.finished_only)
                if s is None:
                    missing += [f"{method} n={n} seed {seed}" for n in order]
                    continue
                pre, pre_cpu = ["--pretrained", str(pdir)], float(s["train/cpu_s"])
                run_cpu, run_wall = run_cpu + pre_cpu, run_wall + float(s["train/wall_s"])
            for n in order:
                fdir = out / f"ft-{method}-n{n}-s{seed}"
                # epochs = steps: at least one batch per epoch, so --max-steps always decides the length
                s = _run(["drive", "train-perception", "--data-dir", args.data, "--labels", str(n), "--seed",
                          str(seed), "--epochs", str(args.steps), "--max-steps", str(args.steps), "--batch-size",
                          str(min(args.batch_size, n)), "--run-dir", str(fdir), *pre], not args.finished_only)
                if s is None:
                    missing.append(f"{method} n={n} seed {seed}")
                    continue
                load.append(os.getloadavg()[0])
                run_cpu, run_wall = run_cpu + float(s["train/cpu_s"]), run_wall + float(s["train/wall_s"])
                rows[method][n].append({"seed": seed, "bev_ap_2m": s["eval/bev_ap_2m"], "ap50": s["eval/ap50"],
                                        "bev_ap_1m": s["eval/bev_ap_1m"], "bev_ap_4m": s["eval/bev_ap_4m"],
                                        "ap": s["eval/ap"], "steps": s["train/steps"], "pretrain_cpu_s": pre_cpu,
                                        "finetune_cpu_s": float(s["train/cpu_s"]),
                                        "cpu_s": pre_cpu + float(s["train/cpu_s"])})
                print(f"{method:>8} n={n:<6} seed {seed}: AP@2m {s['eval/bev_ap_2m']:.3f}  AP50 {s['eval/ap50']:.3f}"
                      f"  cpu {pre_cpu + float(s['train/cpu_s']):.0f} s", flush=True)
    table = {m: {n: {"bev_ap_2m": ci95([r["bev_ap_2m"] for r in rows[m][n]]),
                     "bev_ap_1m": ci95([r["bev_ap_1m"] for r in rows[m][n]]),
                     "bev_ap_4m": ci95([r["bev_ap_4m"] for r in rows[m][n]]),
                     "ap50": ci95([r["ap50"] for r in rows[m][n]]),
                     "pretrain_cpu_s": ci95([r["pretrain_cpu_s"] for r in rows[m][n]])[0],
                     "finetune_cpu_s": ci95([r["finetune_cpu_s"] for r in rows[m][n]])[0],
                     "cpu_s": ci95([r["cpu_s"] for r in rows[m][n]])[0], "seeds": len(rows[m][n])}
                 for n in labels} for m in methods}
    # the target's ratio: AP@2m of a pretrained method with 1,000 labels over scratch's with 10,000, as a ratio
    # of the means and, with its 95 % t-interval, as the mean of the per-seed ratios (same seed in both arms)
    ratio: dict[str, dict[str, float]] = {}
    if "scratch" in methods and 1000 in labels and 10000 in labels:
        base = table["scratch"][10000]["bev_ap_2m"][0]
        for m in methods:
            if m != "scratch":
                base_of = {r["seed"]: r["bev_ap_2m"] for r in rows["scratch"][10000]}
                per_seed = [r["bev_ap_2m"] / base_of[r["seed"]] for r in rows[m][1000] if base_of.get(r["seed"], 0) > 0]
                mean, half = ci95(per_seed) if per_seed else (float("nan"), float("nan"))
                ratio[m] = {"of_means": table[m][1000]["bev_ap_2m"][0] / base if base > 0 else float("nan"),
                            "per_seed_mean": mean, "per_seed_ci95": half}
    (out / "results.json").write_text(json.dumps({"rows": rows, "table": table, "ratio": ratio,
                                                  "smoke": args.smoke, "args": vars(args)}, indent=1, default=str))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for m in methods:
        mean = [table[m][n]["bev_ap_2m"][0] for n in labels]
        half = [table[m][n]["bev_ap_2m"][1] for n in labels]
        ax.errorbar(labels, mean, yerr=np.nan_to_num(half), marker="o", capsize=3, label=m)
    ax.set_xscale("log")
    ax.set_xlabel("labelled frames")
    ax.set_ylabel("bird's-eye AP @ 2 m")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "label_efficiency.png", dpi=120)
    smoke = " (SMOKE: numbers meaningless)" if args.smoke else ""
    lines = [f"## drive_perception: label efficiency of the camera detector (issue 14){smoke}",
             "", f"`{' '.join(sys.argv)}` on {machine()}; the runs' CPU time {run_cpu:.0f} s, wall {run_wall:.0f} s "
             f"(summed over runs; this call {time.perf_counter() - start:.0f} s, reusing finished runs); load average "
             f"{min(load):.1f}-{max(load):.1f} (at the start and after each run of this call). Fine-tuning: "
             f"{args.steps} optimizer steps of {args.batch_size} frames (fewer labels: the same steps, more epochs); "
             f"pretraining: {args.pretrain_steps} steps of {args.pretrain_batch_size} frames on the unlabelled "
             f"split; seeds {args.seeds}; mean ± half-width of the 95 % t-interval over seeds.", "",
             "| method | labels | seeds | BEV AP@2m | AP@1m | AP@4m | COCO AP50 | CPU s pretrain + fine-tune |",
             "|---|---|---|---|---|---|---|---|"]
    for m in methods:
        for n in labels:
            t = table[m][n]
            cells = " | ".join(f"{t[k][0]:.3f} ± {t[k][1]:.3f}" for k in ("bev_ap_2m", "bev_ap_1m", "bev_ap_4m",
                                                                          "ap50"))
            cpu = f"{t['pretrain_cpu_s']:.0f} + {t['finetune_cpu_s']:.0f}"
            lines.append(f"| {m} | {n} | {t['seeds']} | {cells} | {cpu} |")
    if missing:
        lines += ["", f"Not run (missing from the means above): {', '.join(missing)}."]
    for m, r in ratio.items():
        lines += ["", f"AP@2m, {m} with 1,000 labels / scratch with 10,000: {r['of_means']:.2f} (ratio of the means; "
                  f"per seed {r['per_seed_mean']:.2f} ± {r['per_seed_ci95']:.2f})."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("drive_perception", text)


if __name__ == "__main__":
    main()
