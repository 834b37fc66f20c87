"""A dense 784-64-784 autoencoder on MNIST digits, trained and checked against a trivial baseline.

Hinton & Salakhutdinov (2006), "Reducing the dimensionality of data with neural networks", Science 313,
showed that a network squeezing 784 pixels through a narrow code reconstructs digits far better than
simple baselines. This is the smallest version of that idea: one hidden layer of 64 ReLU units, a sigmoid
output (pixels lie in [0, 1]), per-pixel binary cross-entropy and Adam.

The classic mistakes in autoencoder listings: a linear or sigmoid-free output scored with cross-entropy
(log of values outside (0, 1)), computing the BCE on logits as if they were probabilities, images left in
0..255, and reporting only the training loss, which says nothing on its own. Here BCE is computed from
logits (BCEWithLogits, numerically stable; the sigmoid is applied for the pictures), images are in [0, 1],
and the test-set loss is compared with the loss of always answering the mean training image. The script
fails (exit 1) unless the autoencoder beats that baseline by --margin.
Run: python examples/autoencoder_mnist.py --seed 0 [--out recon.png]
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
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--batch-size", type=int, default=64)
p.add_argument("--lr", type=float, default=2e-3)
p.add_argument("--code", type=int, default=64, help="bottleneck width")
p.add_argument("--margin", type=float, default=0.7, help="pass if test BCE < margin * baseline BCE")
p.add_argument("--out", default=None, help="write a PNG: originals (top) over reconstructions (bottom)")
args = p.parse_args()
torch.manual_seed(args.seed)

# ---- data: float32 (N, 1, 28, 28) in [0, 1], flattened to (N, 784) ----
ds = load_dataset("mnist-5k", allow_download=False)
x_train, x_test = ds.train_x.flatten(1), ds.test_x.flatten(1)
print(f"data: {ds.note}; train {tuple(x_train.shape)}, test {tuple(x_test.shape)}")

# ---- model: 784 -> 64 (ReLU) -> 784 (logits; sigmoid gives the image) ----
model = nn.Sequential(nn.Linear(784, args.code), nn.ReLU(), nn.Linear(args.code, 784))
opt = torch.optim.Adam(model.parameters(), lr=args.lr)


def bce(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Mean per-pixel binary cross-entropy (nats)."""
    return F.binary_cross_entropy_with_logits(logits, target).item()


t0 = time.time()
gen = torch.Generator().manual_seed(args.seed)
for epoch in range(args.epochs):
    perm, total = torch.randperm(len(x_train), generator=gen), 0.0
    for i in range(0, len(x_train), args.batch_size):
        xb = x_train[perm[i : i + args.batch_size]]
        loss = F.binary_cross_entropy_with_logits(model(xb), xb)  # the input is its own target
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(xb)
    print(f"epoch {epoch + 1:2d}  train BCE {total / len(x_train):.4f}  ({time.time() - t0:.1f}s)")

# ---- evaluation on the test split ----
with torch.no_grad():
    logits = model(x_test)
test_bce = bce(logits, x_test)
mean_img = x_train.mean(0).clamp(1e-4, 1 - 1e-4)  # baseline: answer the mean training image for every input
base_bce = bce(torch.logit(mean_img).expand_as(x_test), x_test)
floor = bce(torch.logit(x_test.clamp(1e-6, 1 - 1e-6)), x_test)  # BCE of a perfect copy (grey pixels cost > 0)
ok = test_bce < args.margin * base_bce
print(f"test BCE: autoencoder {test_bce:.4f}, mean-image baseline {base_bce:.4f}, perfect copy {floor:.4f}")

if args.out:
    from PIL import Image

    n = 10
    top, bottom = x_test[:n], torch.sigmoid(logits[:n])
    grid = torch.cat([torch.cat(list(top.view(n, 28, 28)), 1), torch.cat(list(bottom.view(n, 28, 28)), 1)], 0)
    Image.fromarray((grid * 255).round().byte().numpy()).resize((n * 56, 112)).save(args.out)
    print(f"wrote {args.out}")
print(f"result: test_bce={test_bce:.4f} baseline_bce={base_bce:.4f} ratio={test_bce / base_bce:.3f} "
      f"{'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
