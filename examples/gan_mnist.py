"""A small MLP GAN on MNIST digits with the labels the right way round, and a check that can fail.

Goodfellow et al. (2014), "Generative Adversarial Nets", NeurIPS. The discriminator D learns to tell real
images (label 1) from generated ones (label 0); the generator G learns to make D answer "real".

The classic mistakes in GAN listings are in the labels:
  * training G with the label "fake" (0) for its own samples: G then helps D instead of fooling it;
  * swapping D's labels (real=0, fake=1) while G still aims for 1: G is pushed away from the data;
  * no .detach() on the fakes in D's loss: D's backward then runs on through G, wasted work at best, and
    G's weights move on D's objective wherever G's gradients are not cleared before G's own step.
Here D minimises BCE(D(x), 1) + BCE(D(G(z).detach()), 0), and G minimises BCE(D(G(z)), 1): the
"non-saturating" generator loss -log D(G(z)) that the paper recommends over minimising log(1 - D(G(z))),
whose gradient vanishes early in training when D easily rejects the fakes. D outputs logits and the loss is
BCEWithLogitsLoss (a sigmoid inside a stable log-sum-exp).

Quality check (exit 1 if it fails): a small classifier is trained on the real digits in this script. The
GAN passes if its samples are classified with confidence > 0.9 at least --min-ratio times as often as real
test digits are, AND the confident ones cover at least --min-classes digit classes (a GAN stuck on a few
digits fails that). Uniform-noise images are scored too, for scale; with swapped labels the GAN's samples
score like noise (0 confident).
Run: python examples/gan_mnist.py --seed 0 [--out samples.png]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from pilotlab.data.registry import load_dataset

torch.set_num_threads(1)
p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--seed", type=int, default=0)
p.add_argument("--steps", type=int, default=1500, help="training steps (one D and one G update each)")
p.add_argument("--batch-size", type=int, default=64)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--z-dim", type=int, default=64)
p.add_argument("--hidden", type=int, default=256)
p.add_argument("--samples", type=int, default=1000, help="generated samples scored by the check")
p.add_argument("--min-ratio", type=float, default=0.25, help="GAN vs real confident fraction")
p.add_argument("--min-classes", type=int, default=7, help="classes each holding >= 2%% of confident samples")
p.add_argument("--out", default=None, help="write a PNG grid of 100 samples")
args = p.parse_args()
torch.manual_seed(args.seed)

ds = load_dataset("mnist-5k", allow_download=False)
x_real = ds.train_x.flatten(1) * 2 - 1  # (N, 784) in [-1, 1], to match G's tanh output
print(f"data: {ds.note}; training on {len(x_real)} digits")

h = args.hidden
G = nn.Sequential(nn.Linear(args.z_dim, h), nn.LeakyReLU(0.2), nn.Linear(h, 784), nn.Tanh())
D = nn.Sequential(nn.Linear(784, h), nn.LeakyReLU(0.2), nn.Linear(h, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=args.lr, betas=(0.5, 0.999))
bce = nn.BCEWithLogitsLoss()
ones, zeros = torch.ones(args.batch_size, 1), torch.zeros(args.batch_size, 1)

t0, sum_d, sum_g = time.time(), 0.0, 0.0
for step in range(1, args.steps + 1):
    real = x_real[torch.randint(len(x_real), (args.batch_size,))]
    fake = G(torch.randn(args.batch_size, args.z_dim))
    # D step: real -> 1, fake -> 0. detach(): this loss must not reach G's weights.
    loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    # G step: non-saturating loss, G's fakes labelled 1 ("real") through the just-updated D.
    loss_g = bce(D(fake), ones)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    sum_d, sum_g = sum_d + loss_d.item(), sum_g + loss_g.item()
    if step % 500 == 0 or step == args.steps:  # mean losses since the last line
        n = (step - 1) % 500 + 1
        mean_d, mean_g, sum_d, sum_g = sum_d / n, sum_g / n, 0.0, 0.0
        print(f"step {step:5d}  loss_D {mean_d:.3f}  loss_G {mean_g:.3f}  ({time.time() - t0:.1f}s)")

# ---- quality check: a digit classifier trained on the real training digits ----
clf = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
opt_c = torch.optim.Adam(clf.parameters(), lr=1e-3)
y_real = ds.train_y
for _ in range(10):
    for idx in torch.randperm(len(x_real)).split(64):
        loss = F.cross_entropy(clf(x_real[idx]), y_real[idx])
        opt_c.zero_grad()
        loss.backward()
        opt_c.step()


@torch.no_grad()
def score(x: torch.Tensor) -> tuple[float, int]:
    """Fraction of images classified with confidence > 0.9, and how many classes hold >= 2% of those."""
    conf, pred = F.softmax(clf(x), dim=1).max(dim=1)
    sure = pred[conf > 0.9]
    counts = torch.bincount(sure, minlength=10)
    return len(sure) / len(x), int((counts >= max(1, 0.02 * len(sure))).sum())


with torch.no_grad():
    samples = G(torch.randn(args.samples, args.z_dim))
    x_test = ds.test_x.flatten(1)[: args.samples] * 2 - 1
    acc = (clf(ds.test_x.flatten(1) * 2 - 1).argmax(1) == ds.test_y).float().mean().item()
print(f"classifier test accuracy {acc:.3f}")
scores = {"real test digits": score(x_test), "uniform noise": score(torch.rand(args.samples, 784) * 2 - 1),
          "GAN samples": score(samples)}
for name, (f, c) in scores.items():
    print(f"{name:17s}: {f:.3f} classified with confidence > 0.9, {c} classes")
(frac, classes), real_frac = scores["GAN samples"], scores["real test digits"][0]
ok = frac >= args.min_ratio * real_frac and classes >= args.min_classes

if args.out:
    from PIL import Image

    grid = ((samples[:100] + 1) / 2).view(10, 10, 28, 28).permute(0, 2, 1, 3).reshape(280, 280)
    Image.fromarray((grid * 255).round().byte().numpy()).resize((560, 560)).save(args.out)
    print(f"wrote {args.out}")
print(f"result: confident={frac:.3f} real_confident={real_frac:.3f} classes={classes} loss_D={mean_d:.3f} "
      f"loss_G={mean_g:.3f} {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
