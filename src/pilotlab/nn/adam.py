"""Adam (Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization") as one call of PyTorch's fused
kernel (``torch._fused_adam_``), for the small networks of the RL trainers.

It computes exactly what ``torch.optim.Adam(params, lr, betas, eps, fused=True)`` computes (the same
kernel on the same moments and step counters, so the same bits; tested), and reads and writes the same
``state_dict`` format, so a checkpoint of either loads into the other. What it leaves out is the cost
around the kernel, which dominates for networks of a few thousand weights on a CPU:

- ``torch.optim.Optimizer`` imports ``torch._dynamo`` the first time a parameter group is added (its
  methods are wrapped to be skipped by ``torch.compile``), a large import at process start;
- each ``step`` regroups the tensors by device and dtype and walks the per-parameter state in Python
  (hooks, profiler records, checks), which outweighs the kernel on a small model.

docs/rl.md ("Start-up and the optimizer") has the measurements.

Only what the trainers use is supported: one parameter group, no weight decay, no AMSGrad, no
``maximize``; a learning rate changed between steps through ``param_groups[0]["lr"]`` as with
``torch.optim``. Parameters whose gradient is None at a step are skipped, as ``torch.optim`` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch


class FusedAdam:
    """Adam over `params` with the fused kernel; the `torch.optim.Adam` interface the trainers use."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params = list(params)
        if not self.params:
            raise ValueError("FusedAdam got an empty parameter list")
        self.param_groups = [{"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": 0.0,
                              "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                              "differentiable": False, "fused": True, "decoupled_weight_decay": False,
                              "params": list(range(len(self.params)))}]
        # per parameter: (step counter () float32, first moment, second moment); None until its first step
        self.state: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None] = [None] * len(self.params)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        params, grads, avgs, sqs, steps = [], [], [], [], []
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if self.state[i] is None:  # lazily, as torch.optim does (step counters float32 for the fused kernel)
                self.state[i] = (torch.zeros((), dtype=torch.float32, device=p.device),
                                 torch.zeros_like(p, memory_format=torch.preserve_format),
                                 torch.zeros_like(p, memory_format=torch.preserve_format))
            step, avg, sq = self.state[i]  # type: ignore[misc]
            params.append(p)
            grads.append(p.grad)
            avgs.append(avg)
            sqs.append(sq)
            steps.append(step)
        if not params:
            return
        torch._foreach_add_(steps, 1)
        beta1, beta2 = group["betas"]
        torch._fused_adam_(params, grads, avgs, sqs, [], steps, amsgrad=False, lr=float(group["lr"]),
                           beta1=beta1, beta2=beta2, weight_decay=0.0, eps=group["eps"], maximize=False,
                           grad_scale=None, found_inf=None)

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.Adam``'s format: {"state": {index: {"step", "exp_avg", "exp_avg_sq"}}, "param_groups"}."""
        state = {i: {"step": s[0], "exp_avg": s[1], "exp_avg_sq": s[2]}
                 for i, s in enumerate(self.state) if s is not None}
        return {"state": state, "param_groups": [dict(self.param_groups[0])]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state of this class or of ``torch.optim.Adam`` over the same parameters (copied in)."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            raise ValueError(f"optimizer state has {sum(len(g['params']) for g in groups)} parameters in "
                             f"{len(groups)} group(s), this optimizer 1 group of {len(self.params)}")
        if groups[0].get("amsgrad") or groups[0].get("maximize") or groups[0].get("weight_decay"):
            raise ValueError("optimizer state uses amsgrad, maximize or weight decay, which FusedAdam does not")
        index = {pid: i for i, pid in enumerate(groups[0]["params"])}
        state: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None] = [None] * len(self.params)
        for pid, entry in state_dict["state"].items():
            i = index[pid]
            p = self.params[i]
            for key in ("exp_avg", "exp_avg_sq"):
                if tuple(entry[key].shape) != tuple(p.shape):
                    raise ValueError(f"optimizer state {key} of parameter {i} has shape {tuple(entry[key].shape)}, "
                                     f"the parameter {tuple(p.shape)}")
            step = torch.as_tensor(entry["step"], dtype=torch.float32).to(p.device).clone().reshape(())
            state[i] = (step, entry["exp_avg"].to(p.device, p.dtype).clone(),
                        entry["exp_avg_sq"].to(p.device, p.dtype).clone())
        self.state = state
        self.param_groups[0].update({k: groups[0][k] for k in ("lr", "eps") if k in groups[0]})
        if "betas" in groups[0]:
            self.param_groups[0]["betas"] = tuple(groups[0]["betas"])
