"""The generator EMA against a hand-written loop over the decay schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pilotlab.gan.modules import EMA


def scalar_model(value: float) -> nn.Module:
    m = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(value)
    return m


def run_ema(decay: float, start: int, targets: list[float]) -> tuple[EMA, list[float]]:
    model = scalar_model(0.0)
    ema = EMA(model, decay, start)
    out = []
    for v in targets:
        with torch.no_grad():
            model.weight.fill_(v)
        ema.update(model)
        out.append(ema.model.weight.item())
    return ema, out


def oracle(decay: float, start: int, targets: list[float]) -> list[float]:
    w, out = 0.0, []
    for t, v in enumerate(targets):
        if start > 0:
            d = 0.0 if t < start else decay
        else:
            d = min(decay, (1 + t) / (10 + t))
        w = d * w + (1 - d) * v
        out.append(w)
    return out


TARGETS = [float(i % 7) - 2.5 for i in range(40)]


@pytest.mark.parametrize(("decay", "start"), [(0.999, 0), (0.5, 0), (0.9, 5), (0.999, 1)])
def test_ema_follows_the_decay_schedule(decay: float, start: int) -> None:
    _, got = run_ema(decay, start, TARGETS)
    assert got == pytest.approx(oracle(decay, start, TARGETS), abs=1e-6)


def test_warm_up_makes_the_decay_irrelevant_early() -> None:
    """Below t = 8,991 updates the warm-up is below 0.999, so decays 0.999 and 0.9999 average alike."""
    assert oracle(0.999, 0, TARGETS) == oracle(0.9999, 0, TARGETS)
    ema = EMA(scalar_model(0.0), 0.9995)
    ema.updates = 8990
    assert ema.current_decay() == pytest.approx(8991 / 9000)
    ema.start, ema.updates = 100, 99
    assert ema.current_decay() == 0.0  # still copying
    ema.updates = 100
    assert ema.current_decay() == 0.9995


def test_ema_start_copies_the_generator_until_it_starts() -> None:
    _, got = run_ema(0.9, 5, TARGETS)
    assert got[:5] == pytest.approx(TARGETS[:5])
    assert got[5] == pytest.approx(0.9 * TARGETS[4] + 0.1 * TARGETS[5])


def test_state_dict_round_trip_keeps_the_schedule() -> None:
    ema, _ = run_ema(0.9, 5, TARGETS[:7])
    fresh = EMA(scalar_model(0.0), 0.9, 5)
    fresh.load_state_dict(ema.state_dict())
    assert fresh.updates == 7 and fresh.current_decay() == 0.9
    assert torch.equal(fresh.model.weight, ema.model.weight)
