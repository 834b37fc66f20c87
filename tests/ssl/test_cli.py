"""End to end through the CLI: every method trains and evaluates on a tiny budget; resume; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilotlab.cli import main
from pilotlab.core import registry
from pilotlab.ssl import METHOD

TINY = ["--dataset", "digits", "--epochs", "1", "--batch-size", "64", "--max-steps", "4", "--log-every", "2"]
SUMMARY_KEYS = ("eval/linear_acc_all", "eval/linear_acc_10pc", "eval/linear_acc_100pc", "eval/knn_acc",
                "baseline/pixels_linear_acc_all", "baseline/pixels_linear_acc_10pc",
                "baseline/pixels_classic_linear_acc_10pc", "baseline/random_linear_acc_all",
                "baseline/random_linear_acc_10pc", "train/wall_s")


@pytest.mark.parametrize("method", registry.names(METHOD))
def test_train_then_eval_writes_the_run_dir(method: str, tmp_path: Path) -> None:
    run = tmp_path / method
    assert main(["ssl", "train", "--method", method, *TINY, "--run-dir", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    for key in SUMMARY_KEYS:
        assert 0.0 <= summary[key] <= (1.0 if key != "train/wall_s" else 1e6), key
    assert summary["train/steps"] == 4
    for name in ("config.json", "metrics.jsonl", "checkpoints/last.safetensors", "checkpoints/last.json",
                 "figures/embedding.png", "figures/probe_accuracy.png"):
        assert (run / name).is_file(), name
    assert list(run.glob("events.out.tfevents.*"))
    if method.endswith("ae"):
        assert (run / "figures/reconstructions.png").is_file()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "train/loss" in r] == [2, 4]
    assert any("eval/knn_acc_subset" in r for r in rows)


def test_eval_command_reprobes_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["ssl", "train", "--method", "ae", *TINY, "--no-evaluate", "--run-dir", str(run)]) == 0
    assert "eval/linear_acc_all" not in json.loads((run / "summary.json").read_text())
    assert main(["ssl", "eval", str(run), "--draws", "2", "--no-baselines"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert "eval/linear_acc_10pc_std" in summary and "baseline/pixels_linear_acc_all" not in summary
    assert "| ae |" in capsys.readouterr().out


def test_simclr_resume_matches_an_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["ssl", "train", "--method", "simclr", "--dataset", "digits", "--batch-size", "32", "--max-steps", "6",
            "--log-every", "1", "--checkpoint-every", "3", "--probe-every", "0", "--no-evaluate"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main([*args, "--run-dir", str(full)]) == 0

    import pilotlab.ssl.joint as joint

    real_save = joint.save_state

    def save_then_stop(run: object, step: int, *a: object, **kw: object) -> None:
        real_save(run, step, *a, **kw)
        if step == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(joint, "save_state", save_then_stop)
    assert main([*args, "--run-dir", str(cut)]) == 130
    monkeypatch.setattr(joint, "save_state", real_save)
    assert main([*args, "--run-dir", str(cut), "--resume"]) == 0

    def losses(run: Path) -> list[float]:
        return [json.loads(r)["train/loss"] for r in (run / "metrics.jsonl").read_text().splitlines()
                if "train/loss" in r]

    assert len(losses(full)) == 6
    assert losses(cut) == losses(full)
    assert (cut / "checkpoints/last.safetensors").read_bytes() == (full / "checkpoints/last.safetensors").read_bytes()


@pytest.mark.parametrize(("argv", "message"), [
    (["ssl", "train", "--method", "byol"], "unknown ssl method"),
    (["ssl", "train", "--method", "simclr", "--temperature", "0"], "temperature must be > 0"),
    (["ssl", "train", "--method", "vicreg", "--crop-min", "1.5"], "crop scale"),
    (["ssl", "train", "--method", "conv-ae", "--dataset", "nope"], "unknown dataset"),
    (["ssl", "train", "--method", "ae", "--hidden", "-1"], "hidden must be an integer in [0"),
    (["ssl", "eval", "/nonexistent/run"], "not a run directory"),
])
def test_bad_input_exits_2_with_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


@pytest.mark.parametrize("method", registry.names(METHOD))
def test_help_lists_the_method_fields(method: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ssl", "train", "--method", method, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--dataset" in out and "--max-steps" in out
    assert ("--temperature" in out) == (method == "simclr")


def test_simclr_on_a_folder_of_colour_images(tmp_path: Path) -> None:
    """The `folder` dataset (3-channel 32x32) takes the colour augmentations and the full protocol."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(("cats", "dogs")):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(12):
            img = rng.integers(0, 80, (20, 20, 3), dtype=np.uint8)
            img[..., c] += 150  # class = dominant colour
            Image.fromarray(img).save(tmp_path / "imgs" / name / f"{i}.png")
    run = tmp_path / "run"
    assert main(["ssl", "train", "--method", "simclr", "--dataset", "folder", "--data-dir", str(tmp_path / "imgs"),
                 "--batch-size", "8", "--max-steps", "2", "--run-dir", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert all(key in summary for key in SUMMARY_KEYS)
    assert json.loads((run / "config.json").read_text())["config"]["dataset"] == "folder"
