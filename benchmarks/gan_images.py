"""GANs beyond MNIST (issue 16): is the SSL-encoder metric sound, and the Fashion-MNIST target.

    .venv/bin/python benchmarks/gan_images.py --validate     # degradations on Fashion-MNIST + ranking on MNIST
    .venv/bin/python benchmarks/gan_images.py --target       # unconditional cgan recipe, 20 min of training CPU

--validate: (1) on Fashion-MNIST, FD and KID on the VICReg features between the real test images and
5,000 real training images degraded by increasing Gaussian blur, additive noise, or drawn from fewer
classes ("modes") must rise monotonically with the degradation; (2) on MNIST-5k, a few generators (the
cgan recipe after different numbers of steps, and a DCGAN) must be ranked alike by the SSL-FD and by
the classifier-FD that the digit benchmark uses. --target: the cgan recipe with --conditional off on
Fashion-MNIST for 20 minutes of training CPU (one thread); target: SSL-FD <= 3x the real-vs-real floor.
Writes sections `gan_images_validate` / `gan_images_target` of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

from _common import machine, write_section
from pilotlab.core import summary as S
from pilotlab.core.config import build_config
from pilotlab.gan.cgan import CGANConfig
from pilotlab.gan.images import gan_dataset
from pilotlab.gan.pipeline import load_generator, train_and_eval
from pilotlab.gan.ssl_metric import FLOOR_SEED, EncoderConfig, SSLEvaluator, _subset

N = 5000


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def monotone(values: list[float]) -> bool:
    return all(b > a for a, b in itertools.pairwise(values))


def degradations(ev: SSLEvaluator) -> tuple[str, bool]:
    """Markdown table of FD/KID under blur, noise and fewer modes; whether every series rises monotonically."""
    import kornia

    ds = ev.ds
    idx = _subset(len(ds.train_x), N, FLOOR_SEED)  # the floor's sample: level 0 reproduces the floor
    base = ds.train_x[idx]
    gen = torch.Generator().manual_seed(0)
    series: dict[str, list[tuple[str, torch.Tensor]]] = {
        "blur (Gaussian sigma, px)": [(str(s), base if s == 0 else kornia.filters.gaussian_blur2d(
            base, (2 * round(3 * s) + 1,) * 2, (s, s))) for s in (0, 0.5, 1.0, 2.0)],
        "noise (std, pixels in [0, 1])": [(str(s), base if s == 0 else
                                           (base + s * torch.randn(base.shape, generator=gen)).clamp(0, 1))
                                          for s in (0, 0.05, 0.1, 0.3)],
    }
    modes = []
    for k in (10, 6, 3, 1):
        pool = torch.nonzero(ds.train_y < k).squeeze(1)
        modes.append((str(k), base if k == 10 else ds.train_x[pool[_subset(len(pool), N, FLOOR_SEED)]]))
    series["modes (classes kept of 10)"] = modes
    rows = ["| degradation | level | SSL-FD | FD / floor | KID | precision | recall |", "|---|---|---|---|---|---|---|"]
    ok = True
    for name, levels in series.items():
        fds, kids = [], []
        for level, images in levels:
            # level 0 is the floor's own sample: its scores are the floors, already computed
            floor = {k.removesuffix("_floor"): v for k, v in ev.floors.items()}
            s = {**floor, **ev.floors} if images is base else ev.score_images(images)
            fds.append(s[S.GAN_FD])
            kids.append(s[S.GAN_KID])
            rows.append(f"| {name} | {level} | {s[S.GAN_FD]:.3f} | {s[S.GAN_FD] / s[S.GAN_FD_FLOOR]:.2f} | "
                        f"{s[S.GAN_KID]:.4f} | {s[S.GAN_PRECISION]:.3f} | {s[S.GAN_RECALL]:.3f} |")
            print(rows[-1], flush=True)
        ok &= monotone(fds)
        rows.append(f"| {name} | rises monotonically? | {'yes' if monotone(fds) else '**no**'} | | "
                    f"{'yes' if monotone(kids) else '**no**'} | | |")
    return "\n".join(rows), ok


def ranking(run_root: Path, enc: EncoderConfig, kid_subsets: int) -> tuple[str, bool]:
    """Train a few MNIST-5k generators; rank them by classifier-FD and by SSL-FD (encoder `enc`)."""
    runs = [("cgan", 100), ("cgan", 300), ("cgan", 1000), ("dcgan", 300)]
    scored = []
    for model, steps in runs:
        run_dir = run_root / f"{model}-{steps}"
        extra = {"width": 32} if model == "dcgan" else {}
        summary = train_and_eval(model, epochs=1000, run_dir=str(run_dir), max_steps=steps, eval_every=steps,
                                 final_figures=False, **extra)
        generator, cfg, _ = load_generator(run_dir)
        ev = SSLEvaluator(gan_dataset(cfg), enc, N, kid_subsets)
        ssl = ev.score(generator, cfg.z_dim, bool(getattr(generator, "conditional", False)), N, 1234)
        scored.append((f"{model}, {steps} steps", summary[S.GAN_FD], summary[S.GAN_FD_FLOOR], ssl[S.GAN_FD],
                       ssl[S.GAN_FD_FLOOR], ssl[S.GAN_KID], ssl[S.GAN_PRECISION], ssl[S.GAN_RECALL]))
        print(scored[-1], flush=True)
    by_clf = [r[0] for r in sorted(scored, key=lambda r: r[1])]
    by_ssl = [r[0] for r in sorted(scored, key=lambda r: r[3])]
    rows = ["| generator (mnist-5k) | classifier-FD (x floor) | SSL-FD (x floor) | KID | precision | recall |",
            "|---|---|---|---|---|---|"]
    rows += [f"| {r[0]} | {r[1]:.2f} ({r[1] / r[2]:.2f}x) | {r[3]:.3f} ({r[3] / r[4]:.2f}x) | {r[5]:.4f} | "
             f"{r[6]:.3f} | {r[7]:.3f} |" for r in scored]
    agree = by_clf == by_ssl
    rows.append(f"\nRanking, best first: classifier-FD {' < '.join(by_clf)}; SSL-FD {' < '.join(by_ssl)}: "
                f"{'the same order' if agree else '**different orders**'}.")
    return "\n".join(rows), agree


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--validate", action="store_true", help="the metric's degradation and ranking checks")
    p.add_argument("--target", action="store_true", help="the Fashion-MNIST unconditional GAN target run")
    p.add_argument("--budget-s", type=float, default=1200.0, help="training CPU budget of --target [s]")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID's random subsets of 1,000 in --validate")
    p.add_argument("--no-ranking", action="store_true", help="--validate without the MNIST generators")
    p.add_argument("--only-ranking", action="store_true", help="--validate: only the MNIST generators")
    p.add_argument("--ranking-ssl-steps", type=int, default=EncoderConfig().steps,
                   help="VICReg steps of the MNIST-5k encoder of the ranking check")
    p.add_argument("--run-root", default="runs/bench-gan-images")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = p.parse_args()
    torch.set_num_threads(1)
    command = "python benchmarks/gan_images.py " + shlex.join(sys.argv[1:])
    if args.validate:
        t0, c0, l0 = time.perf_counter(), time.process_time(), load()
        parts, ok = [], True
        if not args.only_ranking:
            ds = gan_dataset(build_config(CGANConfig, {"dataset": "fashion-mnist"}))
            ev = SSLEvaluator(ds, EncoderConfig(), N, kid_subsets=args.kid_subsets)
            enc_s = time.process_time() - c0
            table, ok = degradations(ev)
            parts += [f"### SSL-encoder metric: degradations of real Fashion-MNIST images\n\nCommand: `{command}`; "
                      f"{machine()}; load average {l0} at the start; KID over {args.kid_subsets} subsets. "
                      f"Encoder: VICReg, {EncoderConfig().steps} "
                      f"steps (trained and cached in {enc_s:.0f} s of CPU, or loaded). Real-vs-real floor (5,000 "
                      f"training vs the 10,000 test images): FD {ev.floors[S.GAN_FD_FLOOR]:.3f}, KID "
                      f"{ev.floors[S.GAN_KID_FLOOR]:.4f}, precision {ev.floors[S.GAN_PRECISION_FLOOR]:.3f}, recall "
                      f"{ev.floors[S.GAN_RECALL_FLOOR]:.3f}.\n", table,
                      f"\nEvery series rises monotonically in SSL-FD: {'yes' if ok else '**no**'}."]
        if not args.no_ranking:
            enc = EncoderConfig(steps=args.ranking_ssl_steps)
            rank, agree = ranking(Path(args.run_root), enc, args.kid_subsets)
            parts += ["\n### Ranking of MNIST-5k generators: SSL-FD against the classifier-FD\n",
                      f"Command: `{command}`; load average {l0} at the start; encoder: VICReg on mnist-5k, "
                      f"{enc.steps} steps.\n", rank]
            ok &= agree
        parts.append(f"\nTotal: {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU; "
                     f"load average {load()} at the end.")
        md = "\n".join(parts)
        print(md)
        if not args.no_write:
            write_section("gan_images_ranking" if args.only_ranking else "gan_images_validate", md)
    if args.target:
        l0 = load()
        run_dir = Path(args.run_root) / "fashion-uncond"
        s = train_and_eval("cgan", epochs=1000, run_dir=str(run_dir), dataset="fashion-mnist", conditional="off",
                           time_budget_s=args.budget_s, budget_clock="cpu", eval_every=1000)
        ratio, best = s[S.GAN_FD] / s[S.GAN_FD_FLOOR], s[S.GAN_BEST_FD] / s[S.GAN_FD_FLOOR]
        md = (f"### Fashion-MNIST, unconditional GAN (issue 16 target: SSL-FD <= 3x floor in 20 min of CPU)\n\n"
              f"Command: `{command}` (= `pilotlab gan train --dataset fashion-mnist --conditional off "
              f"--time-budget-s {args.budget_s:g} --budget-clock cpu --eval-every 1000`, the cgan recipe without "
              f"labels); {machine()}; load average {l0} at the start, {load()} at the end.\n\n"
              f"| steps | training CPU [s] | wall [s] | SSL-FD (final) | floor | ratio | best ratio (biased low) | "
              "KID (floor) | precision (floor) | recall (floor) | target met |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|\n"
              f"| {int(s[S.TRAIN_STEPS])} | {s[S.TRAIN_CPU_S]:.0f} | {s[S.TRAIN_WALL_S]:.0f} | {s[S.GAN_FD]:.3f} | "
              f"{s[S.GAN_FD_FLOOR]:.3f} | {ratio:.2f}x | {best:.2f}x | {s[S.GAN_KID]:.4f} ({s[S.GAN_KID_FLOOR]:.4f}) | "
              f"{s[S.GAN_PRECISION]:.3f} ({s[S.GAN_PRECISION_FLOOR]:.3f}) | {s[S.GAN_RECALL]:.3f} "
              f"({s[S.GAN_RECALL_FLOOR]:.3f}) | {'yes' if ratio <= 3 else 'no'} |")
        print(md)
        if not args.no_write:
            write_section("gan_images_target", md)


if __name__ == "__main__":
    main()
