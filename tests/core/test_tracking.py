"""`--track wandb` mirrors a run to Weights & Biases (offline here: no network, no API key).

What wandb wrote is read back from its offline datastore (``<run>/wandb/offline-run-*/run-<id>.wandb``, a
LevelDB-style log of protobuf records) and compared with the run directory itself.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from pilotlab.cli import main
from pilotlab.core import tracking
from pilotlab.core.run import RunDir

RL = ["rl", "train", "--algo", "q-learning", "--env", "FrozenLake-v1", "--episodes", "40"]


@pytest.fixture(autouse=True)
def _offline_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """wandb stays offline and quiet, and keeps its caches and settings out of the home folder."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb-home" / var.lower()))


def records(path: Path) -> list[Any]:
    """The protobuf records of a .wandb file: 7-byte file header, then 32 KiB blocks of chunks, each with a
    7-byte header (crc32, length, type: 1 full, 2 first, 3 middle, 4 last)."""
    from wandb.proto import wandb_internal_pb2

    data, block, pos, buf, out = path.read_bytes(), 32768, 7, b"", []
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0:
            pos += block - pos % block
            continue
        buf += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(buf)
            out.append(record)
            buf = b""
    return out


def _set(doc: dict[str, Any], item: Any) -> None:
    keys = [item.key] if item.key else list(item.nested_key)
    for k in keys[:-1]:
        doc = doc.setdefault(k, {})
    doc[keys[-1]] = json.loads(item.value_json)


def read_offline_run(run_dir: Path) -> dict[str, Any]:
    """The run records, history rows (wandb's own `_` keys dropped) and final summary of the offline runs of
    `run_dir` (one per command that wrote into it, each continuing the same wandb run), oldest first."""
    stores = [records(next(f.glob("*.wandb"))) for f in (run_dir / "wandb").glob("offline-run-*")]
    stores.sort(key=lambda rs: next((r.run.start_time.seconds, r.run.start_time.nanos) for r in rs if r.run.run_id))
    runs: list[Any] = []
    history: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for r in [r for store in stores for r in store]:
        kind = r.WhichOneof("record_type")
        if kind == "run":
            runs.append(r.run)
        elif kind == "history":
            row: dict[str, Any] = {}
            for item in r.history.item:
                _set(row, item)
            history.append({k: v for k, v in row.items() if not k.startswith("_")})
        elif kind == "summary":
            for item in r.summary.update:
                _set(summary, item)
    config = {u.key: json.loads(u.value_json) for u in runs[0].config.update if u.key != "_wandb"}
    return {"runs": runs, "config": config, "history": history, "summary": summary}


def wandb_children() -> list[str]:
    """Command lines of this process's child processes that are wandb's."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and "wandb" in cmd:
            out.append(cmd)
    return out


def test_offline_wandb_run_holds_the_same_metrics_config_summary_and_figures(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    d = tmp_path / "run"
    assert main([*RL, "--run-dir", str(d), "--track", "wandb"]) == 0
    got = read_offline_run(d)
    doc = json.loads((d / "config.json").read_text())
    assert doc["config"]["track"] == "wandb"

    (run,) = got["runs"]
    assert run.run_id == tracking.run_id(d, doc) and run.display_name == d.name
    assert set(run.tags) == {"rl", "q-learning"}
    assert got["config"] == doc["config"]

    lines = (d / "metrics.jsonl").read_text().splitlines()
    rows = [{k: v for k, v in json.loads(line).items() if k != "time"} for line in lines]
    scalars = [h for h in got["history"] if not any(k.startswith("figures/") for k in h)]
    assert scalars == rows  # every row, same step, keys and values

    figures = {k for h in got["history"] for k in h if k.startswith("figures/")}
    assert figures == {f"figures/{p.name}" for p in (d / "figures").iterdir()} and len(figures) == 3
    assert len(list((d / "wandb").rglob("media/images/figures/*.png"))) == 3

    summary = json.loads((d / "summary.json").read_text())
    assert {k: got["summary"][k] for k in summary} == summary
    last = {}
    for row in rows:
        last.update(row)
    assert all(got["summary"][k] == v for k, v in last.items() if k not in summary)  # last logged value

    assert not wandb_children()  # wandb-core was stopped at close

    # an evaluation writing into the tracked run continues the same wandb run
    run = RunDir.open(d)
    run.log(10**6, {"eval/extra": 2.0})
    run.update_summary({"eval/score": 1.5})
    shutil.copy(d / "figures" / "policy.png", run.figure("extra.png"))
    run.close()
    got = read_offline_run(d)
    assert [r.run_id for r in got["runs"]] == [tracking.run_id(d, doc)] * 2
    assert got["history"][-2:] == [{"eval/extra": 2.0, "step": 10**6}, {"figures/extra.png": ANY, "step": 10**6}]
    assert got["summary"]["eval/score"] == 1.5
    assert not wandb_children()


def test_evaluation_without_wandb_warns_and_saves(tmp_path: Path, monkeypatch, capsys) -> None:
    d = tmp_path / "run"
    assert main([*RL, "--run-dir", str(d)]) == 0
    doc = json.loads((d / "config.json").read_text())
    doc["config"]["track"] = "wandb"  # as a tracked run copied to a machine without wandb
    (d / "config.json").write_text(json.dumps(doc))
    monkeypatch.setitem(sys.modules, "wandb", None)
    capsys.readouterr()
    run = RunDir.open(d)
    run.update_summary({"eval/score": 1.5})
    run.close()
    err = capsys.readouterr().err.strip()
    assert err.startswith("warning: this command's results are not sent to wandb") and "\n" not in err
    assert json.loads((d / "summary.json").read_text())["eval/score"] == 1.5


def test_resume_may_start_tracking_and_keeps_the_wandb_run_id(tmp_path: Path) -> None:
    pytest.importorskip("wandb")
    d = tmp_path / "run"
    assert main([*RL, "--run-dir", str(d)]) == 0
    assert not (d / "wandb").exists()
    assert main([*RL, "--run-dir", str(d), "--resume", "--track", "wandb"]) == 0
    doc = json.loads((d / "config.json").read_text())
    assert doc["config"]["track"] == "wandb" and doc["resumes"][-1]["changed"]["track"] == "wandb"
    assert [r.run_id for r in read_offline_run(d)["runs"]] == [tracking.run_id(d, doc)]
    assert not wandb_children()


def test_missing_wandb_is_one_line_and_writes_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    d = tmp_path / "run"
    assert main([*RL, "--run-dir", str(d), "--track", "wandb"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pip install -e '.[track]'" in err and "--track none" in err
    assert not d.exists()


def test_a_tracker_that_cannot_start_leaves_no_run(tmp_path: Path, monkeypatch, capsys) -> None:
    wandb = pytest.importorskip("wandb")

    def refuse(**kwargs: Any) -> None:
        raise ConnectionError("api.wandb.ai unreachable")

    monkeypatch.setattr(wandb, "init", refuse)
    d = tmp_path / "run"
    assert main([*RL, "--run-dir", str(d), "--track", "wandb"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unreachable" in err and "WANDB_MODE=offline" in err
    assert not d.exists()


def test_unknown_tracker_is_refused_and_help_lists_track(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as refused:  # argparse's one line and exit 2
        main([*RL, "--run-dir", str(tmp_path / "run"), "--track", "nope"])
    assert refused.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "nope" in err and "wandb" in err
    assert not (tmp_path / "run").exists()
    with pytest.raises(SystemExit):
        main(["ssl", "train", "--help"])
    assert "--track {none,wandb}" in capsys.readouterr().out


def test_offline_unless_credentials(tmp_path: Path, monkeypatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine example.com login u password p\n")
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.delenv("WANDB_BASE_URL", raising=False)
    monkeypatch.delenv("WANDB_IDENTITY_TOKEN_FILE", raising=False)
    assert not tracking.has_credentials()
    netrc.write_text("machine api.wandb.ai login user password " + "k" * 40 + "\n")
    assert tracking.has_credentials()
    netrc.unlink()
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert tracking.has_credentials()


def test_pilotlab_imports_no_wandb() -> None:
    code = "import sys, pilotlab.cli, pilotlab.core.run; assert 'wandb' not in sys.modules"
    src = str(Path(__file__).resolve().parents[2] / "src")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": src})
