"""Checkpoints: round trip without pickle, atomic writes, integrity checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pilotlab.core import checkpoint
from pilotlab.core.errors import PilotlabError
from pilotlab.core.seed import rng_state, seed_everything, set_rng_state


def _model_and_opt() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.8, 0.9))
    loss = model(torch.randn(5, 3)).pow(2).sum()
    loss.backward()
    opt.step()
    return model, opt


def test_round_trip_model_optimizer_rng(tmp_path) -> None:
    model, opt = _model_and_opt()
    seed_everything(3)
    state = {"model": model.state_dict(), "optim": opt.state_dict(), "rng": rng_state(), "step": 7}
    checkpoint.save(tmp_path / "last", state, {"step": 7, "note": "x"})
    expected_draw = (torch.rand(3), np.random.rand(2))
    loaded, meta = checkpoint.load(tmp_path / "last")
    assert meta == {"step": 7, "note": "x"}
    assert loaded["step"] == 7
    model2, opt2 = _model_and_opt()
    model2.load_state_dict(loaded["model"])
    opt2.load_state_dict(loaded["optim"])
    for a, b in zip(model.parameters(), model2.parameters()):
        assert torch.equal(a, b)
    assert opt2.state_dict()["param_groups"][0]["betas"] == (0.8, 0.9)
    for k, v in opt.state_dict()["state"][0].items():
        assert torch.equal(v, opt2.state_dict()["state"][0][k])
    set_rng_state(loaded["rng"])
    assert torch.equal(torch.rand(3), expected_draw[0])
    assert np.array_equal(np.random.rand(2), expected_draw[1])


def test_loading_never_unpickles(tmp_path, monkeypatch) -> None:
    model, _ = _model_and_opt()
    checkpoint.save(tmp_path / "c", {"model": model.state_dict()})

    def forbidden(*a, **k):
        raise AssertionError("pickle used")

    monkeypatch.setattr("pickle.load", forbidden)
    monkeypatch.setattr("pickle.loads", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    state, _ = checkpoint.load(tmp_path / "c")
    assert set(state["model"]) == set(model.state_dict())


def test_tampered_or_missing_checkpoint_is_rejected(tmp_path) -> None:
    checkpoint.save(tmp_path / "c", {"w": torch.ones(4)})
    blob = (tmp_path / "c.safetensors").read_bytes()
    (tmp_path / "c.safetensors").write_bytes(blob[:-4] + b"\x00\x00\x80\x7f")
    with pytest.raises(PilotlabError, match="does not match its sha256"):
        checkpoint.load(tmp_path / "c")
    with pytest.raises(PilotlabError, match="no checkpoint"):
        checkpoint.load(tmp_path / "missing")
    (tmp_path / "d.json").write_text("{not json")
    (tmp_path / "d.safetensors").write_bytes(b"")
    with pytest.raises(PilotlabError, match="is not valid JSON"):
        checkpoint.load(tmp_path / "d")


def test_failed_write_keeps_previous_checkpoint(tmp_path, monkeypatch) -> None:
    checkpoint.save(tmp_path / "c", {"w": torch.zeros(2)}, {"step": 1})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(tmp_path / "c", {"w": torch.ones(2)}, {"step": 2})
    state, meta = checkpoint.load(tmp_path / "c")
    assert meta["step"] == 1 and torch.equal(state["w"], torch.zeros(2))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_json_holds_no_tensors(tmp_path) -> None:
    checkpoint.save(tmp_path / "c", {"a": {"b": [torch.arange(3), 1.5, None]}, "t": (1, "x")})
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["format"] == checkpoint.FORMAT
    state, _ = checkpoint.load(tmp_path / "c")
    assert torch.equal(state["a"]["b"][0], torch.arange(3))
    assert state["a"]["b"][1:] == [1.5, None]
    assert state["t"] == (1, "x")


def test_unsupported_values_fail_loudly(tmp_path) -> None:
    with pytest.raises(TypeError, match="cannot checkpoint a object"):
        checkpoint.save(tmp_path / "c", {"x": object()})
