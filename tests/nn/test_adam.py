"""FusedAdam: the same bits as torch.optim.Adam(fused=True), its state format, and no torch._dynamo import."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from pilotlab.nn.adam import FusedAdam


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def _train(net: torch.nn.Module, opt: object, steps: int, lr: float) -> None:
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(1))
    for i in range(steps):
        opt.zero_grad(set_to_none=True)  # type: ignore[attr-defined]
        net(x).pow(2).sum().backward()
        if i == 3:  # a parameter without a gradient is skipped, as torch.optim does
            net[2].bias.grad = None
        opt.param_groups[0]["lr"] = lr * (1 - i / steps)  # type: ignore[attr-defined]  # annealed as PPO does
        opt.step()  # type: ignore[attr-defined]


def test_same_bits_as_torch_fused_adam() -> None:
    a, b = _net(), _net()
    ours = FusedAdam(a.parameters(), lr=1e-2, eps=1e-5)
    ref = torch.optim.Adam(b.parameters(), lr=1e-2, eps=1e-5, fused=True)
    _train(a, ours, 12, 1e-2)
    _train(b, ref, 12, 1e-2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    mine, theirs = ours.state_dict(), ref.state_dict()
    assert mine["param_groups"] == theirs["param_groups"]
    assert mine["state"].keys() == theirs["state"].keys()
    for i, entry in theirs["state"].items():
        for key, value in entry.items():
            assert torch.equal(mine["state"][i][key], value), (i, key)


def test_state_dicts_load_across_and_continue_identically() -> None:
    a, b = _net(), _net()
    ref = torch.optim.Adam(a.parameters(), lr=1e-2, fused=True)
    _train(a, ref, 5, 1e-2)
    b.load_state_dict(a.state_dict())
    ours = FusedAdam(b.parameters(), lr=1e-2)
    ours.load_state_dict(ref.state_dict())  # a torch.optim checkpoint resumes into FusedAdam
    _train(a, ref, 5, 1e-2)
    _train(b, ours, 5, 1e-2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    back = torch.optim.Adam(_net().parameters(), lr=1e-2, fused=True)
    back.load_state_dict(ours.state_dict())  # and the other way


def test_mismatched_state_is_refused() -> None:
    ours = FusedAdam(_net().parameters())
    other = torch.optim.Adam(torch.nn.Linear(2, 2).parameters(), fused=True)
    with pytest.raises(ValueError, match="parameters"):
        ours.load_state_dict(other.state_dict())
    net = _net()
    trained = FusedAdam(net.parameters())
    _train(net, trained, 1, 1e-3)
    state = trained.state_dict()
    state["state"][0]["exp_avg"] = torch.zeros(3)  # parameter 0 is (8, 4)
    with pytest.raises(ValueError, match="shape"):
        ours.load_state_dict(state)


def test_does_not_import_dynamo() -> None:
    code = ("import sys, torch\nfrom pilotlab.nn.adam import FusedAdam\nnet = torch.nn.Linear(3, 2)\n"
            "opt = FusedAdam(net.parameters())\nnet(torch.ones(1, 3)).sum().backward()\nopt.step()\n"
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
