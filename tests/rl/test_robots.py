"""Robot envs (the optional ``robots`` extra): tiny CLI runs on Reacher-v5 and FetchReach-v4 with HER, a video of
the arm, and the one-line error naming the extra when MuJoCo or gymnasium-robotics is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import pytest

from pilotlab.cli import main
from pilotlab.core.run import RunDir

TINY = ["--total-steps", "150", "--learning-starts", "50", "--train-freq", "50", "--gradient-steps", "2",
        "--batch-size", "16", "--hidden", "16", "--eval-episodes", "2", "--log-every", "50"]


def test_reacher_tiny_run(tmp_path: Path) -> None:
    pytest.importorskip("mujoco", reason="needs the robots extra: pip install -e '.[robots]'")
    assert main(["rl", "train", "--algo", "sac", "--env", "Reacher-v5", *TINY, "--run-dir", str(tmp_path / "r")]) == 0
    summary = RunDir.open(tmp_path / "r").summary()
    assert summary["train/env_steps"] == 150 and summary["eval/length_mean"] == 50  # Reacher's episodes: 50 steps


def test_fetch_reach_with_her_tiny_run_and_video(tmp_path: Path) -> None:
    pytest.importorskip("gymnasium_robotics", reason="needs the robots extra: pip install -e '.[robots]'")
    run_dir = tmp_path / "f"
    assert main(["rl", "train", "--algo", "sac", "--env", "FetchReach-v4", "--her", *TINY, "--run-dir",
                 str(run_dir)]) == 0  # resets and steps: gymnasium-robotics' joint helpers are fixed
    summary = RunDir.open(run_dir).summary()
    assert 0.0 <= summary["eval/success_rate"] <= 1.0
    gif = tmp_path / "arm.gif"
    assert main(["rl", "eval", str(run_dir), "--episodes", "1", "--video", str(gif)]) == 0
    assert gif.is_file() and gif.stat().st_size > 10_000


def test_missing_mujoco_is_one_line_naming_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # simulate an install without MuJoCo: `import mujoco` fails, and Gymnasium's MuJoCo modules import afresh
    monkeypatch.setitem(sys.modules, "mujoco", None)
    for name in [m for m in sys.modules if m.startswith("gymnasium.envs.mujoco")]:
        monkeypatch.delitem(sys.modules, name)
    assert main(["rl", "train", "--algo", "sac", "--env", "HalfCheetah-v5", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: HalfCheetah-v5 needs MuJoCo") and "pip install -e '.[robots]'" in err
    assert err.count("\n") == 1 and not (tmp_path / "r").exists()


def test_missing_gymnasium_robotics_is_one_line_naming_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from pilotlab.rl import robots

    monkeypatch.setitem(sys.modules, "gymnasium_robotics", None)
    monkeypatch.setattr(robots, "_registered", False)
    for env_id in [k for k in gym.registry if k.startswith("Fetch")]:  # as if it had never been imported
        monkeypatch.delitem(gym.registry, env_id)
    assert main(["rl", "train", "--algo", "sac", "--env", "FetchPush-v4", "--her", "--run-dir",
                 str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: FetchPush-v4 needs gymnasium-robotics") and "pip install -e '.[robots]'" in err
    assert err.count("\n") == 1 and not (tmp_path / "r").exists()
