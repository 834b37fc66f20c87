"""The reliability contract, case by case (the fuzz suite covers the same ground by property):
nothing is written before validation ends, nothing saved is overwritten, a resumed run keeps its config,
a kept checkpoint is always finite, internal errors are one line, and reports escape what they show."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from pilotlab.cli import main
from pilotlab.core import checkpoint
from pilotlab.core.errors import TrainingError

TAB = ["rl", "train", "--algo", "q-learning", "--env", "FrozenLake-v1", "--episodes", "30"]


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: "), err
    assert "Traceback" not in err
    return err


def test_refused_run_leaves_no_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "r"
    # refused only after the env is built: the algorithm cannot act in a Box action space
    assert main(["rl", "train", "--algo", "dqn", "--env", "Pendulum-v1", "--run-dir", str(run)]) == 2
    assert "Discrete action space" in _err(capsys)
    assert not run.exists()


def test_fresh_run_never_writes_into_a_used_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "r"
    assert main([*TAB, "--run-dir", str(run)]) == 0
    (run / "config.json").unlink()  # the guard must not rest on config.json alone
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main([*TAB, "--run-dir", str(run)]) == 2
    assert "not empty" in _err(capsys)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_run_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    assert main([*TAB, "--run-dir", str(f)]) == 2
    assert "is a file" in _err(capsys)
    assert main([*TAB, "--run-dir", str(f / "sub")]) == 2
    assert "is a file" in _err(capsys)
    assert f.read_text() == "x"


def test_resume_keeps_the_config_and_may_extend_the_budget(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "r"
    assert main([*TAB, "--alpha-power", "0.7", "--run-dir", str(run)]) == 0
    saved = (run / "config.json").read_bytes()
    capsys.readouterr()
    for flag, value in (("--alpha-power", "0.5"), ("--seed", "4"), ("--gamma", "0.5")):
        assert main(["rl", "train", "--run-dir", str(run), "--resume", flag, value]) == 2
        err = _err(capsys)
        assert flag in err and "keeps its config" in err
        assert (run / "config.json").read_bytes() == saved
    # no --algo, no --alpha-power: both come from config.json; a longer budget continues the run
    assert main(["rl", "train", "--run-dir", str(run), "--resume", "--episodes", "40"]) == 0
    doc = json.loads((run / "config.json").read_text())
    assert doc["config"]["alpha_power"] == 0.7 and doc["config"]["episodes"] == 40
    assert doc["resumes"][-1]["changed"] == {"episodes": 40}


def test_resume_with_another_architecture_is_refused_before_writing(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "r"
    args = ["rl", "train", "--algo", "dqn", "--total-steps", "200", "--learning-starts", "50", "--buffer-size", "300",
            "--checkpoint-every", "100", "--eval-episodes", "1", "--run-dir", str(run)]
    assert main(args) == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main([*args, "--resume", "--hidden", "32"]) == 2
    assert "--hidden" in _err(capsys)
    # a checkpoint whose tensors do not fit the model (written consistently, digest and all)
    state, meta = checkpoint.load(run / "checkpoints" / "last")
    state["q"] = {k: torch.zeros(3) for k in state["q"]}
    checkpoint.save(run / "checkpoints" / "last", state, meta)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert main([*args, "--resume", "--total-steps", "300"]) == 2
    assert "does not fit" in _err(capsys)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_nonfinite_weights_are_never_checkpointed(tmp_path: Path) -> None:
    from pilotlab.core.run import RunDir
    from pilotlab.core.session import save_state
    from pilotlab.rl.tabular import QLearningConfig

    cfg = QLearningConfig(run_dir=str(tmp_path / "r"))
    run = RunDir.create("rl", "q-learning", cfg, cfg.run_dir)
    save_state(run, 1, {"model": {"w": torch.ones(2)}})
    with pytest.raises(TrainingError, match="model/w holds NaN or Inf"):
        save_state(run, 2, {"model": {"w": torch.tensor([1.0, math.nan])}})
    _, meta = checkpoint.load(run.checkpoints / "last")
    assert meta["step"] == 1  # the finite checkpoint is kept


def test_internal_error_is_one_line_with_the_traceback_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import pilotlab.rl.tabular as tabular

    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug\nover two lines")

    monkeypatch.setattr(tabular, "td_episode", boom)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main([*TAB, "--run-dir", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: internal error (ZeroDivisionError: a bug\\nover two lines)")
    where = err.split("traceback in '")[1].split("'")[0]
    assert "ZeroDivisionError" in Path(where).read_text()
    assert main(["--debug", *TAB, "--run-dir", str(tmp_path / "r2")]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_file_name_with_a_newline_stays_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "eval", str(tmp_path / "bad\nname")]) == 2
    assert "bad\\nname" in _err(capsys)


def test_report_escapes_run_fields(tmp_path: Path) -> None:
    from pilotlab.report.html import build_run_report

    run = tmp_path / "r"
    assert main([*TAB, "--run-dir", str(run)]) == 0
    doc = json.loads((run / "config.json").read_text())
    doc["created"] = "<script>alert(1)</script>"
    doc["versions"]["torch"] = "<img src=x onerror=alert(2)>"
    (run / "config.json").write_text(json.dumps(doc))
    summary = json.loads((run / "summary.json").read_text())
    summary["eval/<b>key</b>"] = "<script>alert(3)</script>"
    (run / "summary.json").write_text(json.dumps(summary))
    build_run_report(run)
    page = (run / "report.html").read_text()
    md = (run / "report.md").read_text()
    for text in (page, md):
        assert "<script>" not in text and "<img src=x" not in text and "<b>key" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
