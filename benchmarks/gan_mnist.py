"""GAN benchmark: conditional GAN on MNIST-5k against the issue's targets, under a training-time budget.

    .venv/bin/python benchmarks/gan_mnist.py                      # cGAN, 15 min of training
    .venv/bin/python benchmarks/gan_mnist.py --budget-s 120       # a quick look
    .venv/bin/python benchmarks/gan_mnist.py --augment            # the augmentation experiment instead

Targets (issue 4): FD <= 3x the real-vs-real floor, GAN-test >= 95%, coverage entropy >= 0.98 ln 10,
within 15 minutes of training on this CPU. Also reported: training throughput (real images/s) and
the training time at which FD first reached the target. Evaluation time is not training time.
No peer GAN library runs here (PyTorch-GAN and StudioGAN need torchvision, which does not work in
this environment); the reference point is the real-vs-real floor computed with the same classifier.
The script writes section `gan` of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_section
from pilotlab.gan.classifier import ClassifierConfig, cached_accuracy
from pilotlab.gan.metrics import EVAL_SEED
from pilotlab.gan.pipeline import train_and_eval

LN10 = math.log(10)
AUGMENT_NOTES = """
### Notes (hand-written, carried over between runs)

**The run above** (the benchmark's current cGAN recipe: betas (0, 0.9), no batch norm in D; 797 s of CPU,
load average ~1.9): the 100-image cGANs no longer collapse (FD 215-269 on 1,000 samples, GAN-test 91-95%,
vs 764-1,092 / 65-80% with the previous recipe below) and a classifier trained on their samples alone
reaches 87.1% (previously 62.5%). Mixing them with the real digits still costs accuracy: -4.96 points
[-9.37, -0.56] at N = 10 (previously -8.57) and -1.98 [-2.85, -1.11] at N = 100 (previously -2.02);
the confidence filter narrows the loss to -3.96 [-8.23, 0.30] / -1.38. Better samples shrink the harm
at N = 10; on this evidence they do not help.

**The previous cGAN recipe** (the same command before the benchmark's recipe gained Adam betas (0, 0.9) and
no batch norm in D, i.e. betas (0.5, 0.999) and batch norm in D; run dir runs/bench-gan-augment, 921 s of
CPU): real+synthetic vs real -8.57 [-13.34, -3.80] points at N = 10 and -2.02 [-2.60, -1.43] at N = 100;
synthetic only -31.55 / -6.04; real+filtered -7.04 / -1.15. The cGANs' FD on 1,000 samples: 764-1,092 at
N = 10 (collapsed), 84-103 at N = 100.

**DiffAugment for the 100-image cGANs** (`pilotlab gan augment --per-class 10 --seeds 3 --gan-steps 800
--gan-width 32 --gan-lr 5e-4 --gan-loss hinge --gan-spectral-norm --gan-diffaugment translation,cutout
--synthetic-per-class 500 --classifier-steps 300 --classifier-width 16 --synthetic-filter 0.9 --run-dir
runs/gan-augment-n10-da`, 455 s of CPU in 458 s of wall time, load average ~2; same subsets, seeds and
classifiers as the N = 10 row above, so the real arm is identical):

| arm (N = 10, 3 seeds) | test accuracy [%] | gain vs real [points] (95% CI) |
|---|---|---|
| real | 94.09 ± 1.53 | |
| real+synthetic | 84.76 ± 3.77 | -9.33 [-15.40, -3.27] |
| synthetic | 81.58 ± 4.55 | -12.51 [-21.14, -3.88] |
| real+filtered | 88.40 ± 3.25 | -5.69 [-10.99, -0.39] |

On 100 training images DiffAugment does what Zhao et al. (2020) report: the cGANs no longer collapse
(FD 216 / 209 / 219 on 1,000 samples instead of 835 / 1,092 / 764; GAN-test 87% / 89% / 86%), and
training on their samples alone gives 81.6% instead of 62.5%. Mixed with the 100 real digits they
still cost 9.3 points (filtered: 5.7); the 95% intervals exclude zero. Both augmentation runs together
took 1,376 s of CPU.
"""
NOTES = """
### Notes from earlier runs and short comparisons (hand-written, carried over between runs)

**The run above** (the new default, seed 0; load average 2.0-2.7): checkpoints/best is the step-5,000
generator, 17.62 on the selection seed 1234 (the lowest of 32 evaluations); on the disjoint seeds 1-5
it scores 18.88 ± 0.67 = 1.87x the floor, GAN-test 99.26%, coverage 2.3026: all three targets met, the
FD target with a margin of 11. The selection bias is now small (17.62 vs 18.88). FD first reached 3x at
step 1,750 (190 s of training CPU) and stayed below 2.3x from step 2,250 on; the curve no longer turns
around after its best step as the previous default's did (28.4 -> 39.2) but flattens at 17.6-22.4 (final
generator 19.92 = 1.98x, GAN-test 99.46%). Throughput: 7,921 steps x 64 = 507k real images in 900 s of
training CPU, 563 images per CPU second (558 per wall second; the machine was less loaded than before).
**A second training seed** (`python benchmarks/gan_mnist.py --seed 1 --no-write --run-dir
runs/bench-gan-sn-nobn-seed1`, same defaults, 900 s of training CPU in 912 s of wall time, 8,000 steps,
load average 0.4-2.7): checkpoints/best is the step-3,500 generator (19.51 on seed 1234); on seeds 1-5
it scores **17.95 ± 0.94 = 1.78x** (per seed 18.49, 16.57, 17.66, 17.97, 19.09), GAN-test 99.01%,
coverage 2.3025; FD first reached 3x at step 1,750 (191 s CPU); the final generator 22.18 = 2.20x
(GAN-test 99.42%). Its curve drifts up a little more after the best step (19.5 at step 3,500, 20-24
from step 5,500 on) but stays below 2.4x throughout. So the margin is not one seed's luck: over the two
training seeds the honest FD is 18.88 and 17.95 (1.87x and 1.78x) against the target 3x.

**Why the default changed: Adam betas (0, 0.9) and no batch norm in D.** The previous default (hinge
loss, spectral norm, Adam 5e-4 with betas (0.5, 0.999), D with batch norm after its second conv;
`--run-dir runs/bench-gan-sn-hinge`, its notes below) met the FD target only on the line once
checkpoints/best was re-scored on fresh noise (30.53 ± 0.87 = 3.03x). Short runs, all seed 0, 3,500
G steps, 900 s CPU cap, FD on noise seed 1234 at equal steps; the last two rows re-score each run's
checkpoints/best on the fresh noise seeds 1-5 (`pilotlab gan eval RUN --checkpoint best --noise-seed 1 --repeats 5`);
load average 1.3-3.6:

| step | previous default | betas (0, 0.9) | betas (0, 0.9) + `--lecam 0.3` | no BN in D | betas (0, 0.9), no BN in D |
|---|---|---|---|---|---|
| 500 | 169.95 | 177.93 | 496.72 | 327.26 | 234.50 |
| 1000 | 57.80 | 40.53 | 55.55 | 72.80 | 45.63 |
| 1500 | 37.36 | 32.85 | 34.78 | 49.43 | 35.43 |
| 1750 | 31.77 | 30.78 | 34.91 | 42.17 | 28.19 |
| 2000 | 35.90 | **27.63** | 32.24 | 37.01 | 25.24 |
| 2250 | 33.63 | 27.77 | 31.95 | 36.46 | 22.57 |
| 2500 | 31.97 | 29.64 | 31.39 | 35.89 | 21.26 |
| 2750 | 30.71 | 28.33 | 32.71 | 32.67 | 19.71 |
| 3000 | **28.42** | 29.77 | **28.85** | 32.16 | 19.55 |
| 3250 | 33.22 | 28.58 | 32.97 | 34.10 | 22.82 |
| 3500 | 37.15 | 30.77 | 32.48 | **28.07** | **19.13** |
| train CPU to step 3,500 | 495 s | 463 s | 461 s | 390 s | 404 s |
| best, seeds 1-5 | 30.53 ± 0.87 | 27.51 ± 0.29 | 29.30 ± 0.44 | 26.43 ± 0.91 | **20.16 ± 0.36** |
| ... / floor | 3.03x | 2.73x | 2.91x | 2.62x | **2.00x** |

Commands: `pilotlab gan train --model cgan --epochs 1000 --width 32 --lr-g 5e-4 --lr-d 5e-4 --loss hinge
--spectral-norm --budget-clock cpu --time-budget-s 900 --eval-every 250 --checkpoint-every 250 --max-steps
3500 --no-final-figures [--beta1 0 --beta2 0.9] [--lecam 0.3 | --no-d-batch-norm] --run-dir
runs/gan-screen-{beta0,b0lecam03,nodbn,b0nodbn}` (the previous default's column is its benchmark run, which
follows the same trajectory: CPU training is deterministic per seed). Adam without momentum (beta1 0,
as SNGAN and BigGAN train hinge GANs) already beat the target with a margin (2.73x) and drifted less
after its best step. Removing D's batch norm on top (a spectrally normalised D without batch norm, as in
SNGAN's D; presumably because batch norm rescales each layer by batch statistics, which undoes part of
the Lipschitz control spectral norm gives, and lets D tell the separate real and fake batches apart by
their statistics) made a training step 13% cheaper and FD kept falling to 19-20 at step 3,500 instead of turning
around: 2.00x the
floor on fresh noise, GAN-test 99.0%, coverage 2.3026. The LeCam regulariser (Tseng et al., 2021, built
for GANs on limited data; lambda 0.3) slowed the start (FD 497 at step
500) and stayed 1-5 above plain betas (0, 0.9) (fresh 29.30): at this data size and lambda it does not
pay. Removing D's batch norm alone (betas (0.5, 0.999), `--no-d-batch-norm`) learned more slowly and
noisily (FD 32-49 from step 1,250 to 3,250) before dropping to 28.07 at step 3,500, its last step (26.43 ± 0.91
fresh, 2.62x; it may still have been falling): within 3,500 steps neither change alone gives the 2x.
Not tried: R1 (`--r1-gamma`, implemented and tested), smaller LeCam weights, TTUR, larger batches.
Standing batch-norm statistics for the previous default's EMA generator (recomputed in train mode with
momentum None over 20 x 256 or 40 x 500 fresh samples, post hoc) made FD *worse*: best checkpoint 30.48
-> 35.67 / 34.59 on seeds 1-3, final 40.21 -> 41.86 / 41.08; the running statistics G carries are the
better ones for its EMA weights here.

**The previous default's run** (`--run-dir runs/bench-gan-sn-hinge`, betas (0.5, 0.999), D with batch
norm; one seed; its full curve was in this section before this run replaced it): FD reached the
target, 28.42 = 2.8x the floor, at step 3,000 after 429 s of training CPU time (895 s of wall time on
the loaded machine), and checkpoints/best holds that generator; afterwards FD drifted back to 33-44 (final 39.24,
3.9x) while
GAN-test rose to 99.8%: the same late drift as with the old default, later and lower. So the target
is met by the best-FD checkpoint within the budget, not by the final generator, and it is the lowest
of 26 noisy evaluations (its neighbours: 30.71 at step 2,750, 33.22 at 3,250). Throughput: 6,444 steps
x 64 = 412k real images in 900 s of training CPU, 458 images per CPU second (255 per wall second on
the shared machine).

**Fresh-noise re-scoring of that best checkpoint.** Every evaluation during training uses the same
noise seed (1234), so checkpoints/best is the minimum of 26 noisy scores of one sample set and its
28.42 is biased low (`pilotlab gan eval runs/bench-gan-sn-hinge --checkpoint best` reproduces 28.423
exactly). On fresh noise, `pilotlab gan eval runs/bench-gan-sn-hinge --checkpoint best --noise-seed 1
--repeats 5` (5,000 samples per seed, same classifier; 21 s of CPU in 38 s of wall time, load average
2.4): FD 29.41, 31.53, 30.50, 31.21, 30.00, mean **30.53 ± 0.87** (3.03x the floor; GAN-test 99.29%,
coverage entropy 2.3026). An earlier re-scoring of the same checkpoint on five other seeds gave 30.12,
29.03, 30.13, 29.97, 30.56 (mean 29.96); pooled over the ten seeds, 30.25 against the target 30.24.
So the FD target is met by the selected evaluation, but the selected generator sits **on** the 3x line,
not below it: met by a coin flip, not with a margin. Benchmark runs now print this re-scoring as its
own row (`--rescore-seeds 5`, seeds 1-5; the row's "met" uses the fresh-seed mean).

**Looking for a margin (short runs, `--max-steps 3000 --no-write`, seed 0, load average 1.3-2.4).**
FD (noise seed 1234) at the same steps, training CPU time in brackets; "default" is the previous default's run:

| step | default (width 32, EMA warm-up) | G width 48, D width 32 | `--ema-start 1000` (then EMA 0.999) |
|---|---|---|---|
| 1000 | 57.80 (149 s) | 50.08 (212 s) | 62.22 (133 s) |
| 1250 | 36.81 (188 s) | 35.82 (266 s) | 53.41 (167 s) |
| 1500 | 37.36 (231 s) | 39.23 (316 s) | 53.81 (207 s) |
| 1750 | 31.77 (265 s) | 39.89 (367 s) | 39.05 (243 s) |
| 2000 | 35.90 (298 s) | 41.14 (417 s) | 50.74 (284 s) |
| 2250 | 33.63 (334 s) | 40.48 (465 s) | 39.06 (321 s) |
| 2500 | 31.97 (365 s) | 38.34 (514 s) | 37.88 (354 s) |
| 2750 | 30.71 (395 s) | 41.82 (561 s) | 37.38 (389 s) |
| 3000 | **28.42** (429 s) | 40.61 (610 s) | 33.87 (420 s) |

Commands: `python benchmarks/gan_mnist.py --max-steps 3000 --no-write --width 48 --d-width 32 --run-dir
runs/gan-short-g48` (610 s of training CPU in 659 s of wall time; best 35.82 at step 1,250, GAN-test
99.5%) and `... --ema-start 1000 --run-dir runs/gan-short-emastart1000` (420 s CPU; its best, the
step-3,000 generator, scores 35.80 ± 0.62 on fresh seeds 1-5 against 33.87 on seed 1234). Neither
wins: the wider generator learns faster up to step 1,250 and then stalls around 38-42 at 1.4x the
CPU per step; averaging over a fixed 1,000-step window (the same G and D trajectory, only the
evaluated average differs) drags in the weaker early weights and stays 3-15 above the default's
warm-up average. **`--ema-decay` 0.9995 / 0.9999 are no candidates at all within this budget**:
the EMA's warm-up d_t = min(decay, (1 + t) / (10 + t)) stays below 0.999 until t = 8,991, so for
the 6,444 steps of the run above every decay >= 0.999 gives the same generator; a run with
`--ema-decay 0.9995` (`... --ema-decay 0.9995 --run-dir runs/gan-short-ema9995`, stopped at step
1,750) reproduced the default's FDs exactly (848.65, 169.95, 102.43, 57.80, 36.81, 37.36, 31.77).
Seed 1234 also scores about 2 lower than seeds 1-5 on both re-scored checkpoints (28.42 vs 30.53,
33.87 vs 35.80), so part of the gap is that sample set, not only the choice of the minimum. Two
discriminator updates per generator update (`... --n-critic 2 --run-dir runs/gan-short-ncritic2`,
stopped after the step-2,500 evaluation, 461 s of training CPU) learned faster up to step 750 (78.3
vs 102.4) and then stalled at 50-63 (1,250: 50.68, 1,750: 54.47, 2,000: 52.77, 2,500: 60.63;
GAN-test 99.6%): a stronger D on 5,000 digits hurts. The R1 penalty was not tried (no time left in
that session). The default stayed as it was then.

**What changed the default.** Short runs of this script, all at Adam 5e-4, width 32, seed 0, compared
by FD at the same step (`--max-steps N --no-write`, machine loaded by other jobs, load average 1.5-4):

| step | ns loss (old default) | DiffAugment transl.,cutout | DiffAugment transl. | hinge + spectral norm (new) |
|---|---|---|---|---|
| 500 | 160.70 | 502.51 | 336.74 | 169.95 |
| 1000 | 52.18 | 158.75 | 118.54 | 57.80 |
| 1250 | 40.84 | 162.31 | 92.68 | 36.81 |
| 1500 | 36.85 | 133.96 | 96.35 | 37.36 |
| 1750 | **35.48** (its best) | 101.59 | 80.61 | 31.77 |
| 2000 | 38.38 | 94.86 | 79.07 | 35.90 |
| 2250 | 42.23 | | | 33.63 |
| 2500 | 41.02 | | | 31.97 |

Commands: `--loss ns --no-spectral-norm` (the idle rerun below), `--loss ns --no-spectral-norm
--diffaugment translation,cutout --max-steps 3000`, `... --diffaugment translation --max-steps 3000`
(both stopped after 2,000 steps), `--spectral-norm --loss hinge --max-steps 2500`. DiffAugment
(Zhao et al., 2020) made FD much *worse* on these digits: MNIST digits are centred by their centre of
mass, and a discriminator that only sees randomly shifted (or cut-out) images can no longer penalise a
generator whose digits are off-centre or broken, so the samples' positions spread (visible in the
sample grids) and FD, which is sensitive to position, rises. The hinge loss with a spectrally
normalised discriminator (Miyato et al., 2018) followed the old curve for 1,000 steps and then kept
FD lower (31.8 at step 1,750, 32.0 at 2,500 against 35.5 and 41.0; GAN-test 99.0%), so it became
the default (`--loss hinge --spectral-norm`, with the budget counted in training CPU time).

**Earlier runs with the non-saturating loss and no spectral norm** (15 minutes of training *wall*
time each, 5,000 samples per evaluation):

- `python benchmarks/gan_mnist.py --lr 5e-4 --run-dir runs/bench-gan-idle-a` on the nearly idle
  machine (one other single-threaded job; 991 s of CPU in 998 s of wall time): 6,825 steps in
  900 s, 485 images/s; best FD **35.48** at step 1,750 (3.5x the floor 10.08), then 38.4 to 48.9,
  final 42.71 (4.2x); GAN-test 99.84%, coverage entropy 2.3026. The same command on the loaded
  machine (load 6 falling to 3; 2,806 steps, 200 images/s) followed the same curve step for step.
- At DCGAN's 2e-4 (`--lr 2e-4 --width 32 --eval-every 500`, load 2-4, 5,155 steps): best 42.0 at
  step 4,000, final 48.2, GAN-test 99.4%; 5e-4 reaches FD 52 after 1,000 steps (2e-4: 186).
- Linear decay of both rates from 5e-4 to 0 over 3,000 steps (`--lr 5e-4 --lr-decay-steps 3000
  --no-write`, 433 s of CPU in 672 s of wall time): best 47.57 at step 1,500, 59.42 at the end,
  GAN-test 99.2%: as the rates fall the samples get cleaner but less varied.
- A wider discriminator (`--lr 5e-4 --d-width 64 --no-write`, 4,063 steps in 900 s): best 42.81 at
  step 1,750, final 53.06, GAN-test 99.7%.
- Standing batch-norm statistics for the EMA generator (post hoc on the 2e-4 run): FD 48.2 -> 45.3.
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="cgan", choices=["cgan", "dcgan"])
    p.add_argument("--width", type=int, default=32, help="base channel width of G and D")
    p.add_argument("--d-width", type=int, default=None, help="base channel width of D (cgan; default: --width)")
    p.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate of G and D")
    p.add_argument("--lr-d", type=float, default=None, help="Adam learning rate of D (default: --lr; TTUR)")
    p.add_argument("--beta1", type=float, default=0.0, help="Adam beta1 of G and D (0 as in SNGAN/BigGAN)")
    p.add_argument("--beta2", type=float, default=0.9, help="Adam beta2 of G and D")
    p.add_argument("--lecam", type=float, default=0.0, help="LeCam regulariser weight on D (0 = off)")
    p.add_argument("--r1-gamma", type=float, default=0.0, help="R1 penalty weight gamma on D (0 = off)")
    p.add_argument("--d-batch-norm", action=argparse.BooleanOptionalAction, default=False,
                   help="batch norm in D's second conv layer (cgan; off as in SNGAN)")
    p.add_argument("--lr-decay-steps", type=int, default=None,
                   help="decay the learning rates linearly to 0 over this many steps (also the step limit)")
    p.add_argument("--ema-decay", type=float, default=0.999, help="generator EMA decay (0 = off)")
    p.add_argument("--ema-start", type=int, default=0,
                   help="G steps before the EMA starts averaging with the fixed --ema-decay (0 = warm-up from step 1)")
    p.add_argument("--n-critic", type=int, default=1, help="discriminator updates per generator update")
    p.add_argument("--diffaugment", default="", help="DiffAugment policy, e.g. translation,cutout ('' = off)")
    p.add_argument("--loss", default="hinge", choices=["ns", "hinge"], help="adversarial loss")
    p.add_argument("--spectral-norm", action=argparse.BooleanOptionalAction, default=True,
                   help="spectral norm on D's layers")
    p.add_argument("--budget-clock", default="cpu", choices=["cpu", "wall"],
                   help="what --budget-s counts: the process's training CPU time or training wall time")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many G steps (short comparisons)")
    p.add_argument("--budget-s", type=float, default=900.0, help="training time budget [s]")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rescore-seeds", type=int, default=5,
                   help="re-score checkpoints/best on this many fresh noise seeds (1, 2, ...) at the end (0 = skip)")
    p.add_argument("--run-dir", default=None)
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    p.add_argument("--augment", action="store_true",
                   help="run the augmentation experiment (N = 10, 100; 3 seeds) instead; writes section gan_augment")
    p.add_argument("--augment-gan-steps", type=int, default=800, help="G steps of each cGAN in --augment")
    p.add_argument("--renotes", metavar="RUN_DIR", default=None,
                   help="rewrite section gan from RUN_DIR's saved table with the current notes; no training")
    p.add_argument("--augment-classifier-steps", type=int, default=300, help="steps of each classifier in --augment")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.renotes:
        renotes(args.renotes)
        return
    if args.augment:
        augment(args)
        return
    run_dir = args.run_dir or f"runs/bench-gan-{args.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    extra: dict[str, object] = {"d_width": args.d_width} if args.d_width is not None else {}
    if args.diffaugment:
        extra["diffaugment"] = args.diffaugment
    if args.ema_start:
        extra["ema_start"] = args.ema_start
    if args.n_critic != 1:
        extra["n_critic"] = args.n_critic
    extra.update(loss=args.loss, spectral_norm=args.spectral_norm, budget_clock=args.budget_clock,
                 beta1=args.beta1, beta2=args.beta2)
    if args.lecam:
        extra["lecam"] = args.lecam
    if args.r1_gamma:
        extra["r1_gamma"] = args.r1_gamma
    if args.model == "cgan":
        extra["d_batch_norm"] = args.d_batch_norm
    if args.max_steps is not None:
        extra["max_steps"] = args.max_steps
    if args.lr_decay_steps is not None:
        extra.update(lr_decay=True, max_steps=args.lr_decay_steps)
    load_before = os.getloadavg()
    t0, cpu0 = time.perf_counter(), time.process_time()
    s = train_and_eval(args.model, epochs=1000, seed=args.seed, run_dir=run_dir, width=args.width,
                       time_budget_s=args.budget_s, eval_every=args.eval_every, checkpoint_every=args.eval_every,
                       lr_g=args.lr, lr_d=args.lr_d or args.lr, ema_decay=args.ema_decay, **extra)
    total_s, total_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    load_after = os.getloadavg()
    rows = [json.loads(line) for line in (Path(s["run_dir"]) / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/fd" in r]
    floor = s["eval/fd_floor"]
    hit = next((r for r in evals if r["eval/fd"] <= 3 * floor), None)
    best = min(evals, key=lambda r: r["eval/fd"])
    acc = s["eval/gan_test_acc"]
    clf_acc = cached_accuracy(ClassifierConfig())
    rescored = rescore_best(s["run_dir"], args.rescore_seeds) if args.rescore_seeds else []
    fresh = [r["eval/fd"] for r in rescored]
    fresh_mean = sum(fresh) / len(fresh) if fresh else math.nan
    fresh_std = statistics.stdev(fresh) if len(fresh) > 1 else math.nan
    fresh_acc = statistics.fmean(r["eval/gan_test_acc"] for r in rescored) if rescored else math.nan
    fresh_cov = statistics.fmean(r["eval/coverage_entropy"] for r in rescored) if rescored else math.nan
    seeds_text = f"seeds 1-{len(fresh)}"
    checks = [
        (f"**FD of checkpoints/best on fresh noise** ({seeds_text}; selected on seed {EVAL_SEED}, the headline)",
         f"**{fresh_mean:.2f} ± {fresh_std:.2f} ({fresh_mean / floor:.2f}x)**; per seed "
         f"{', '.join(f'{v:.2f}' for v in fresh)}" if fresh else "not measured",
         f"<= {3 * floor:.2f} (3x floor)", fresh_mean <= 3 * floor if fresh else None),
        (f"GAN-test accuracy of checkpoints/best ({seeds_text})", f"{100 * fresh_acc:.2f}%" if rescored else
         "not measured", ">= 95%", fresh_acc >= 0.95 if rescored else None),
        (f"coverage entropy of checkpoints/best ({seeds_text}) [nats]", f"{fresh_cov:.4f}" if rescored else
         "not measured", f">= {0.98 * LN10:.4f} (0.98 ln 10)", fresh_cov >= 0.98 * LN10 if rescored else None),
        (f"FD of the selected evaluation (seed {EVAL_SEED}, the minimum over training: biased low)",
         f"{best['eval/fd']:.2f} at step {best['step']} ({best['eval/fd'] / floor:.2f}x)",
         f"<= {3 * floor:.2f}", best["eval/fd"] <= 3 * floor),
        (f"FD (final EMA generator, seed {EVAL_SEED})", f"{s['eval/fd']:.2f} ({s['eval/fd'] / floor:.2f}x)",
         f"<= {3 * floor:.2f}", s["eval/fd"] <= 3 * floor),
        ("real-vs-real floor (5k train vs 10k test)", f"{floor:.2f}", "reference", None),
        ("GAN-test accuracy (final generator)", "n/a" if acc is None else f"{100 * acc:.2f}%", ">= 95%",
         None if acc is None else acc >= 0.95),
        ("coverage entropy (final generator) [nats]", f"{s['eval/coverage_entropy']:.4f}",
         f">= {0.98 * LN10:.4f}", s["eval/coverage_entropy"] >= 0.98 * LN10),
        ("training time", f"{s['train/cpu_s']:.0f} s CPU, {s['train/wall_s']:.0f} s wall "
         f"({s['train/steps']:.0f} G steps)", "<= 900 s", s["train/cpu_s"] <= 900 + 10),
        ("throughput (real images/s)", f"{s['train/images_per_s']:.0f}", "reported", None),
        (f"time to FD target (first evaluation on seed {EVAL_SEED} at <= 3x)",
         "not reached" if hit is None else
         f"{hit['eval/train_cpu_s']:.0f} s CPU, {hit['eval/train_wall_s']:.0f} s wall (step {hit['step']})",
         "reported", hit is not None),
    ]
    lines = ["| quantity | measured | target | met |", "|---|---|---|---|"]
    for name, value, target, ok in checks:
        lines.append(f"| {name} | {value} | {target} | {'' if ok is None else ('yes' if ok else '**no**')} |")
    curve = ["| step | train CPU [s] | train wall [s] | FD | FD / floor | GAN-test | coverage entropy |",
             "|---|---|---|---|---|---|---|"]
    for r in evals:
        gt = r.get("eval/gan_test_acc")
        gt_text = "n/a" if gt is None else f"{100 * gt:.1f}%"
        curve.append(f"| {r['step']} | {r['eval/train_cpu_s']:.0f} | {r['eval/train_wall_s']:.0f} | "
                     f"{r['eval/fd']:.2f} | "
                     f"{r['eval/fd'] / floor:.1f} | {gt_text} | {r['eval/coverage_entropy']:.3f} |")
    table = "\n".join(lines)
    print(table)
    print("\n".join(curve))
    load = (f"load average (1/5/15 min) {' / '.join(f'{v:.1f}' for v in load_before)} at the start, "
            f"{' / '.join(f'{v:.1f}' for v in load_after)} at the end")
    print(f"run directory: {s['run_dir']} (wall time including evaluations: {total_s:.0f} s, "
          f"CPU time of the process {total_cpu:.0f} s; {load})")
    command = "python benchmarks/gan_mnist.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    d_text = f" (D width {args.d_width})" if args.d_width is not None else ""
    md = f"""## GAN: {args.model} on MNIST-5k (issue 4)

Command: `{command.strip()}` (model `{args.model}`, width {args.width}{d_text}, batch 64, {args.loss} loss,
spectral norm in D {'on' if args.spectral_norm else 'off'}, batch norm in D {'on' if args.d_batch_norm else 'off'},
DiffAugment {args.diffaugment or 'off'}, LeCam {args.lecam:g}, R1 {args.r1_gamma:g}, Adam lr {args.lr:g}
(D: {args.lr_d or args.lr:g}) with betas ({args.beta1:g}, {args.beta2:g}), EMA {args.ema_decay:g}, training budget
{args.budget_s:.0f} s of training {'CPU' if args.budget_clock == 'cpu' else 'wall'} time, 5,000 samples per evaluation
every {args.eval_every} steps; evaluation time is not training time). Machine: {machine()}.
**The machine was shared with other engineers' jobs while this ran** ({load}, on 2 cores):
training took {s['train/cpu_s']:.0f} s of CPU time in {s['train/wall_s']:.0f} s of wall time, and the whole
process (training and evaluations) {total_cpu:.0f} s of CPU in {total_s:.0f} s of wall time.
Throughput below is per second of training wall time, so it is pessimistic; the budget counts CPU time,
which the other jobs do not eat into.

Scoring classifier: our CNN trained once on the 5,000 mnist-5k digits, test accuracy
{'n/a' if clf_acc is None else f'{100 * clf_acc:.2f}%'} on the 10,000 official test digits. FD is computed on its
128-d penultimate features (not comparable with InceptionV3 FIDs). No peer GAN library runs in this
environment (they need torchvision); the comparison point is the real-vs-real floor.

{table}

FD over training (EMA generator, 5,000 samples vs the 10,000 test digits):

{chr(10).join(curve)}

Wall time including evaluations: {total_s:.0f} s.
"""
    (Path(s["run_dir"]) / "benchmark_section.md").write_text(md)  # for --renotes
    if not args.no_write:
        print(f"wrote section gan of {write_section('gan', md + (NOTES if args.model == 'cgan' else ''))}")


def renotes(run_dir: str) -> None:
    """Rewrite section `gan` from a finished benchmark run's saved table with the current NOTES (no training)."""
    body = Path(run_dir) / "benchmark_section.md"
    if not body.is_file():
        raise SystemExit(f"error: {body} does not exist (written by a benchmark run of this script)")
    print(f"wrote section gan of {write_section('gan', body.read_text() + NOTES)}")


def rescore_best(run_dir: str, seeds: int) -> list[dict[str, float]]:
    """Scores (eval/fd, eval/gan_test_acc, ...) of the run's checkpoints/best on noise seeds 1..`seeds`.

    Training evaluates (and picks checkpoints/best) with seed `EVAL_SEED` = 1234 only, so these seeds are
    disjoint from the selection. Same as `pilotlab gan eval RUN_DIR --checkpoint best --noise-seed 1
    --repeats SEEDS`, without rewriting the run's summary.json.
    """
    from pilotlab.gan.pipeline import load_generator, score_seeds

    generator, cfg, _ = load_generator(run_dir, "best")
    return score_seeds(generator, cfg, list(range(1, seeds + 1)))


def augment(args: argparse.Namespace) -> None:
    """`pilotlab gan augment` with the benchmark's cGAN recipe, timed; writes section `gan_augment`."""
    from pilotlab.gan.augment import AugmentConfig, run_augment

    cfg = AugmentConfig(per_class=(10, 100), seeds=3, seed=args.seed, gan_steps=args.augment_gan_steps,
                        gan_width=args.width, gan_lr=args.lr, gan_loss=args.loss, gan_spectral_norm=args.spectral_norm,
                        gan_beta1=args.beta1, gan_beta2=args.beta2, gan_d_batch_norm=args.d_batch_norm,
                        gan_diffaugment=args.diffaugment, synthetic_per_class=500,
                        classifier_steps=args.augment_classifier_steps, classifier_width=16, synthetic_filter=0.9,
                        run_dir=args.run_dir or f"runs/bench-gan-augment-{time.strftime('%Y%m%d-%H%M%S')}")
    load_before = os.getloadavg()
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = run_augment(cfg)
    total_s, total_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    load_after = os.getloadavg()
    cells = json.loads((Path(result["run_dir"]) / "cells.json").read_text())
    gans = ["| labels/class | seed | cGAN FD (1,000 samples) | cGAN GAN-test | synthetic kept by the filter |",
            "|---|---|---|---|---|"]
    for c in cells:
        gt = "n/a" if c["gan_test_acc"] is None else f"{100 * c['gan_test_acc']:.1f}%"
        gans.append(f"| {c['per_class']} | {c['seed']} | {c['gan_fd']:.1f} | {gt} | {100 * c['synthetic_kept']:.1f}% |")
    load = (f"load average (1/5/15 min) {' / '.join(f'{v:.1f}' for v in load_before)} at the start, "
            f"{' / '.join(f'{v:.1f}' for v in load_after)} at the end")
    print(result["table"])
    print("\n".join(gans))
    print(f"run directory: {result['run_dir']} ({total_cpu:.0f} s CPU in {total_s:.0f} s wall; {load})")
    command = "python benchmarks/gan_mnist.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    md = f"""## GAN data augmentation: does a cGAN help a classifier with 10 or 100 labels per class? (issue 4)

Command: `{command.strip()}`, i.e. `pilotlab gan augment --per-class 10 100 --seeds 3 --gan-steps
{cfg.gan_steps} --gan-width {cfg.gan_width} --gan-lr {cfg.gan_lr:g} --gan-loss {cfg.gan_loss}
{'--gan-spectral-norm ' if cfg.gan_spectral_norm else ''}--gan-beta1 {cfg.gan_beta1:g} --gan-beta2 {cfg.gan_beta2:g}
{'' if cfg.gan_d_batch_norm else '--no-gan-d-batch-norm '}--synthetic-per-class {cfg.synthetic_per_class}
--classifier-steps {cfg.classifier_steps} --classifier-width {cfg.classifier_width} --synthetic-filter
{cfg.synthetic_filter:g}`. Machine: {machine()}. **Shared with other engineers' jobs** ({load}): the
experiment took {total_cpu:.0f} s of CPU time in {total_s:.0f} s of wall time.

Per labelled budget N and seed: a cGAN (the benchmark's recipe: {cfg.gan_loss} loss, spectral norm
{'on' if cfg.gan_spectral_norm else 'off'}, batch norm in D {'on' if cfg.gan_d_batch_norm else 'off'}, width
{cfg.gan_width}, Adam {cfg.gan_lr:g} with betas ({cfg.gan_beta1:g}, {cfg.gan_beta2:g})) is trained on the
10 N labelled digits only, for {cfg.gan_steps} steps (shortened from the default 3,000 of `pilotlab gan augment` to
keep the whole experiment within ~25 min of CPU on the shared machine); {cfg.synthetic_per_class}
synthetic digits per class are drawn from its EMA generator; then the same width-{cfg.classifier_width}
classifier (random affine augmentation, {cfg.classifier_steps} Adam steps in every arm) is trained on the
real digits, real + synthetic, synthetic only, and real + the synthetic digits to which the real-only
classifier gives their label a probability >= {cfg.synthetic_filter:g} ("real+filtered"). Test accuracy on
the 10,000 official MNIST test digits; gains are paired per seed, 95% t-intervals over 3 seeds.

{result["table"]}
The cGANs:

{chr(10).join(gans)}
{AUGMENT_NOTES}"""
    if not args.no_write:
        print(f"wrote section gan_augment of {write_section('gan_augment', md)}")


if __name__ == "__main__":
    main()
