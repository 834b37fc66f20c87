"""The text pillar end to end through the CLI: train, sample, eval, exact resume, and bad input (exit 2, one
line, nothing written)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from safetensors.torch import load_file

from pilotlab.cli import main
from pilotlab.data.text import TEXT_DATASETS, text_dataset_path

TINY = ["--context", "16", "--layers", "1", "--heads", "2", "--width", "16", "--batch-size", "8", "--max-steps", "6",
        "--log-every", "1", "--checkpoint-every", "3", "--eval-every", "3", "--eval-windows", "4",
        "--warmup-steps", "2"]
PROSE = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
         "foolishness, it was the epoch of belief, it was the epoch of incredulity.\n")


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    f = tmp_path / "prose.txt"
    f.write_text(PROSE * 12, encoding="utf-8")
    return f


def _train(run: Path, data: Path, *extra: str) -> int:
    return main(["text", "train", "--data-file", str(data), *TINY, "--run-dir", str(run), *extra])


@pytest.mark.parametrize("method", ["gpt", "masked"])
def test_train_writes_the_run_dir(method: str, text_file: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / method
    assert _train(run, text_file, "--method", method) == 0
    summary = json.loads((run / "summary.json").read_text())
    vocab = json.loads((run / "vocab.json").read_text())
    assert vocab == {"chars": "".join(sorted(set(PROSE))), "mask_token": method == "masked"}
    assert summary["train/steps"] == 6 and summary["data/vocab"] == len(set(PROSE))
    assert 0 < summary["eval/val_loss"] < 2 * math.log(len(set(PROSE)))
    assert summary["eval/val_bpc"] == pytest.approx(summary["eval/val_loss"] / math.log(2))
    for name in ("config.json", "metrics.jsonl", "checkpoints/last.safetensors", "checkpoints/last.json"):
        assert (run / name).is_file(), name
    assert list(run.glob("events.out.tfevents.*"))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "train/loss" in r] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in rows if "eval/val_loss_subset" in r] == [3]
    capsys.readouterr()
    assert main(["text", "eval", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"{summary['eval/val_loss']:.4f} nats/char" in out  # eval reproduces the run's own number


def test_sample_continues_the_prompt(text_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert _train(run, text_file) == 0
    capsys.readouterr()
    args = ["text", "sample", str(run), "--prompt", "It was", "--length", "40", "--top-k", "5", "--seed", "3"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert first.startswith("It was") and len(first.rstrip("\n")) >= 46
    assert set(first) <= set(PROSE)
    assert main(args) == 0
    assert capsys.readouterr().out == first  # same seed, same text
    assert main(["text", "sample", str(run), "--length", "20", "--temperature", "0", "--context", "8"]) == 0


@pytest.mark.parametrize("method", ["gpt", "masked"])
def test_resume_matches_an_uninterrupted_run(method: str, text_file: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    full, cut = tmp_path / "full", tmp_path / "cut"
    # dropout draws from the global RNG, which the checkpoint must carry; masks from the step's generator
    extra = ["--dropout", "0.1", "--method", method]
    assert _train(full, text_file, *extra) == 0

    import pilotlab.text.train as train

    real_save = train.save_state

    def save_then_stop(run: object, step: int, *a: object, **kw: object) -> None:
        real_save(run, step, *a, **kw)  # type: ignore[arg-type]
        if step == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(train, "save_state", save_then_stop)
    assert _train(cut, text_file, *extra) == 130
    monkeypatch.setattr(train, "save_state", real_save)
    assert main(["text", "train", "--resume", "--run-dir", str(cut)]) == 0

    def rows(run: Path) -> list[dict[str, float]]:
        out = []
        for line in (run / "metrics.jsonl").read_text().splitlines():
            row = json.loads(line)
            out.append({k: v for k, v in row.items() if k not in ("time", "train/wall_s")})
        return out

    assert rows(cut) == rows(full)
    a, b = load_file(full / "checkpoints/last.safetensors"), load_file(cut / "checkpoints/last.safetensors")
    assert a.keys() == b.keys()
    assert all((a[k] == b[k]).all() for k in a)
    s_full, s_cut = (json.loads((r / "summary.json").read_text()) for r in (full, cut))
    assert s_cut["eval/val_loss"] == s_full["eval/val_loss"]


# -- bad input -------------------------------------------------------------------------------------------
def _one_line_error(capsys: pytest.CaptureFixture[str], code: int, *needles: str) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "is empty"),
    (b"\xef\xbb\xbf", "is empty"),  # only a byte-order mark
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary"),
    (bytes(range(1, 32)) * 50, "looks binary"),
    (("caf\u00e9 " * 100).encode("latin-1"), "not UTF-8"),
    (b"To be, or not to be\n", "too short for a context of 16"),
    (b"a" * 500, "single distinct character"),
])
def test_bad_data_file_is_one_line_and_writes_nothing(content: bytes, needle: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data.txt"
    data.write_bytes(content)
    run = tmp_path / "run"
    _one_line_error(capsys, _train(run, data), needle)
    assert not run.exists()


def test_missing_or_folder_data_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_error(capsys, _train(tmp_path / "r", tmp_path / "nope.txt"), "does not exist")
    _one_line_error(capsys, _train(tmp_path / "r", tmp_path), "is not a file")
    _one_line_error(capsys, main(["text", "train", "--dataset", "nope"]), "unknown text dataset")
    _one_line_error(capsys, main(["text", "train", "--width", "30", "--heads", "4"]), "multiple of heads")
    assert not (tmp_path / "r").exists()


def test_bad_prompt_and_context_are_one_line(text_file: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert _train(run, text_file) == 0
    capsys.readouterr()
    before = sorted((p.name, p.stat().st_mtime_ns) for p in run.rglob("*"))
    _one_line_error(capsys, main(["text", "sample", str(run), "--prompt", "It was Zo\u00eb"]),
                    "never saw in training", "'Z'", "'\u00eb'")
    _one_line_error(capsys, main(["text", "sample", str(run), "--context", "17"]),
                    "longer than the model's context 16")
    _one_line_error(capsys, main(["text", "eval", str(run), "--context", "64"]), "longer than the model's context 16")
    _one_line_error(capsys, main(["text", "sample", str(run), "--top-k", "999"]), "larger than the vocabulary")
    other = tmp_path / "other.txt"
    other.write_text("Quite different TEXT! " * 20, encoding="utf-8")
    _one_line_error(capsys, main(["text", "eval", str(run), "--data-file", str(other)]), "never saw in training")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in run.rglob("*")) == before


def test_masked_run_cannot_sample_and_other_runs_are_refused(text_file: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "masked"
    assert _train(run, text_file, "--method", "masked") == 0
    capsys.readouterr()
    _one_line_error(capsys, main(["text", "sample", str(run)]), "cannot generate text")
    (run / "vocab.json").write_text("{oops", encoding="utf-8")
    _one_line_error(capsys, main(["text", "eval", str(run)]), "vocab.json")
    _one_line_error(capsys, main(["text", "eval", str(tmp_path)]), "not a run directory")


def test_resume_refuses_changed_text(text_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert _train(run, text_file) == 0
    text_file.write_text(PROSE.upper() * 12, encoding="utf-8")
    capsys.readouterr()
    _one_line_error(capsys, main(["text", "train", "--resume", "--run-dir", str(run), "--max-steps", "9"]),
                    "another vocabulary")


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tinyshakespeare").is_dir(),
                    reason="../shared/data/tinyshakespeare not found")
def test_tinyshakespeare_is_found_and_verified() -> None:
    path = text_dataset_path("tinyshakespeare", allow_download=False)
    assert path.stat().st_size == 1_115_394 and TEXT_DATASETS["tinyshakespeare"].file == path.name


def test_sigkill_then_resume_matches_uninterrupted(text_file: Path, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    args = [sys.executable, "-m", "pilotlab", "text", "train", "--data-file", str(text_file), "--context", "16",
            "--layers", "1", "--heads", "2", "--width", "16", "--batch-size", "8", "--max-steps", "200",
            "--log-every", "5", "--checkpoint-every", "20", "--eval-every", "50", "--eval-windows", "4",
            "--dropout", "0.1", "--seed", "2"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run([*args, "--run-dir", str(full)], check=True, env=env, capture_output=True, timeout=300)

    def ckpt_step() -> int:
        try:
            return json.loads((killed / "checkpoints" / "last.json").read_text())["meta"]["step"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return -1

    proc = subprocess.Popen([*args, "--run-dir", str(killed)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while ckpt_step() < 40 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    running = proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert running, "the run finished before it could be killed; make it longer"
    assert 40 <= ckpt_step() < 200 and not (killed / "summary.json").exists()
    r = subprocess.run([*args[:3], "text", "train", "--resume", "--run-dir", str(killed)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr

    def rows(run: Path) -> list[dict[str, float]]:
        return [{k: v for k, v in json.loads(line).items() if k not in ("time", "train/wall_s")}
                for line in (run / "metrics.jsonl").read_text().splitlines()]

    assert rows(killed) == rows(full)
    a, b = (json.loads((r / "summary.json").read_text()) for r in (full, killed))
    assert a["eval/val_loss"] == b["eval/val_loss"] and a["train/steps"] == b["train/steps"] == 200


def test_resume_extends_a_finished_run(text_file: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _train(run, text_file) == 0
    assert main(["text", "train", "--resume", "--run-dir", str(run), "--max-steps", "9"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["train/steps"] == 9
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "train/loss" in r] == list(range(1, 10))


def test_a_failing_run_is_closed_and_keeps_its_metrics(text_file: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import pilotlab.text.train as train
    from pilotlab.text.gpt import OBJECTIVE, GPTConfig

    runs = []
    setup = train.setup

    def keep_run(*args: object) -> object:
        run, device = setup(*args)  # type: ignore[arg-type]
        runs.append(run)
        return run, device

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected failure at the first checkpoint")

    monkeypatch.setattr(train, "setup", keep_run)
    monkeypatch.setattr(train, "save_state", fail)
    cfg = GPTConfig(data_file=str(text_file), context=16, layers=1, heads=2, width=16, batch_size=8, max_steps=6,
                    log_every=1, checkpoint_every=3, run_dir=str(tmp_path / "run"))
    with pytest.raises(RuntimeError, match="injected failure"):
        train.train_text(cfg, OBJECTIVE)
    (run,) = runs
    assert run._metrics_file is None and run._tb is None
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]


def test_gpt_run_writes_a_sample_the_report_shows_escaped(tmp_path: Path) -> None:
    from pilotlab.report.html import build_run_report

    data = tmp_path / "markup.txt"
    data.write_text(("<b>bold & ``` fenced</b>\n" + PROSE) * 10, encoding="utf-8")
    run = tmp_path / "gpt"
    assert _train(run, data) == 0
    sample = json.loads((run / "samples.json").read_text())["samples"][0]
    assert sample["checkpoint"] == "last" and sample["step"] == 6 and sample["temperature"] == 0.8
    assert sample["text"].startswith(sample["prompt"]) and len(sample["text"]) == len(sample["prompt"]) + 400
    vocab = set(json.loads((run / "vocab.json").read_text())["chars"])
    assert set(sample["text"]) <= vocab
    build_run_report(run)
    page = (run / "report.html").read_text()
    assert "temperature 0.8" in page and "checkpoint last (step 6)" in page
    assert "<b>" not in page.split("<pre>", 1)[1]  # the sample's markup is escaped
    assert "Sample: checkpoint last (step 6)" in (run / "report.md").read_text()


def test_report_fences_a_sample_longer_than_its_backtick_runs() -> None:
    from pilotlab.report.html import _samples

    s = {"prompt": "<", "temperature": 0.5, "top_k": 3, "checkpoint": "last", "step": 1, "seed": 0,
         "text": "<i>x</i> ````` y"}
    h, md = _samples([s])
    assert "<i>" not in h and "&lt;i&gt;" in h and "top-k 3" in h
    assert "``````text\n<i>x</i> ````` y\n``````" in md


def test_masked_run_writes_no_sample(text_file: Path, tmp_path: Path) -> None:
    assert _train(tmp_path / "m", text_file, "--method", "masked") == 0
    assert not (tmp_path / "m" / "samples.json").exists()
