"""A ReLU MLP's forward and backward pass written out by hand, into buffers allocated once.

The off-policy actor-critic updates (SAC, TD3, DDPG) run the same few small MLPs forward and backward
hundreds of thousands of times on a batch of fixed size. Through autograd each pass records a graph,
allocates every activation and gradient afresh and computes the weight gradients of every parameter that
requires them. Here a pass is the same products (``addmm`` forward, ``mm`` backward, ReLU in place and its
``threshold_backward``), written into tensors allocated at the first call and reused, with the weight
gradients computed only when asked for: the actor's loss needs the critics' gradient with respect to the
action, not their weight gradients. Used under ``torch.no_grad``; the callers write the gradient of their
loss with respect to the tower's output by hand.

`ReluTower` runs the `mlp` of this package without an output activation (Linear, ReLU, ..., Linear) over that
module's own ``nn.Linear`` layers: the parameters are shared, not copied, so optimizers, checkpoints and
Polyak averaging see the usual modules. The weight gradients go into each parameter's ``.grad`` (allocated
once), where the optimizers read them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def linears(net: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of a module, in registration (= call) order for an `mlp`."""
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


def cat_into(buf: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """cat([a, b], dim=1), (B, da + db), written into `buf` when it has that shape and dtype, else into a new
    tensor; returns the tensor written (a critic's (obs, action) input, reused every gradient step)."""
    d = a.shape[1]
    if buf.shape != (a.shape[0], d + b.shape[1]) or buf.dtype != a.dtype:
        buf = a.new_empty((a.shape[0], d + b.shape[1]))
    buf[:, :d].copy_(a)
    buf[:, d:].copy_(b)
    return buf


def grad_buffer(p: nn.Parameter) -> torch.Tensor:
    """p.grad, allocated on first use and then overwritten by every backward pass (never zeroed or freed)."""
    if p.grad is None or p.grad.shape != p.shape:
        p.grad = torch.empty_like(p)
    return p.grad


class ReluTower:
    """One pass at a time of Linear -> ReLU -> ... -> Linear over `layers`: `forward` keeps what `backward` reads.

    The output of `forward` and the input it was given stay referenced until the next `forward`: the caller must
    not write into either before `backward`. Buffers follow the batch size, dtype and device of the input
    (reallocated when one changes)."""

    def __init__(self, layers: Sequence[nn.Linear]):
        self.layers = list(layers)
        self.key: tuple = ()
        self.x = torch.empty(0)

    def _buffers(self, x: torch.Tensor) -> None:
        key = (x.shape[0], x.dtype, x.device)
        if key != self.key:
            b = x.shape[0]
            # outs[i]: layer i's output (B, out_i), after its ReLU in place for all but the last layer
            self.outs = [x.new_empty((b, layer.out_features)) for layer in self.layers]
            # grads[i]: d loss / d outs[i] (B, out_i) for the hidden layers
            self.grads = [x.new_empty((b, layer.out_features)) for layer in self.layers[:-1]]
            self.key = key

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, in) -> (B, out), a buffer of this tower (overwritten by the next `forward`)."""
        self._buffers(x)
        self.x = x
        h = x
        last = len(self.layers) - 1
        for i, (layer, out) in enumerate(zip(self.layers, self.outs, strict=True)):
            torch.addmm(layer.bias, h, layer.weight.t(), out=out)  # (B, in_i) @ (in_i, out_i) + (out_i,) -> (B, out_i)
            if i < last:
                out.relu_()
            h = out
        return h

    def backward(self, grad_out: torch.Tensor, weight_grads: bool = True,
                 input_cols: slice | None = None) -> torch.Tensor | None:
        """Backward from grad_out = d loss / d output (B, out) of the last `forward`.

        With `weight_grads`, d loss / d weight and bias of every layer go into their ``.grad`` (overwritten).
        With `input_cols`, returns d loss / d x[:, input_cols] (B, len), a new tensor; else None.
        """
        g = grad_out
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            x_i = self.x if i == 0 else self.outs[i - 1]  # layer i's input; for i > 0 a ReLU's output
            if weight_grads:
                torch.mm(g.t(), x_i, out=grad_buffer(layer.weight))  # (out_i, B) @ (B, in_i) -> (out_i, in_i)
                torch.sum(g, 0, out=grad_buffer(layer.bias))  # (B, out_i) -> (out_i,)
            if i > 0:
                dx = self.grads[i - 1]
                torch.mm(g, layer.weight, out=dx)  # (B, out_i) @ (out_i, in_i) -> (B, in_i)
                # through the ReLU that made x_i: zero where it output 0 (autograd's rule for relu)
                torch.ops.aten.threshold_backward.grad_input(dx, x_i, 0, grad_input=dx)
                g = dx
        if input_cols is None:
            return None
        return torch.mm(g, self.layers[0].weight[:, input_cols])  # (B, out_0) @ (out_0, len) -> (B, len)

    def input_grad(self, grad_out: torch.Tensor, cols: slice, rows: torch.Tensor) -> torch.Tensor:
        """d loss / d x[rows, cols] (R, len) when only the output rows `rows` (R,) have a gradient, grad_out (R, out).

        No weight gradients. An input row's gradient depends on its own output row only, so the rows left out,
        whose gradient is zero, are skipped instead of multiplied through: the same values at R / B of the cost.
        """
        g = grad_out
        for i in range(len(self.layers) - 1, 0, -1):
            x_i = self.outs[i - 1].index_select(0, rows)  # (R, in_i): the rows' ReLU outputs
            g = torch.mm(g, self.layers[i].weight)  # (R, out_i) @ (out_i, in_i) -> (R, in_i)
            torch.ops.aten.threshold_backward.grad_input(g, x_i, 0, grad_input=g)
        return torch.mm(g, self.layers[0].weight[:, cols])  # (R, out_0) @ (out_0, len) -> (R, len)

