"""Through the CLI: tiny runs of every deep algorithm, eval with a GIF, save -> load, resume,
determinism and one-line errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pilotlab.cli import main
from pilotlab.core import registry
from pilotlab.core.run import RunDir
from pilotlab.rl import ALGO
from pilotlab.rl.evaluate import evaluate_policy

TINY = {
    "dqn": ["--env", "CartPole-v1", "--total-steps", "300", "--learning-starts", "100", "--train-freq", "50",
            "--gradient-steps", "4", "--hidden", "16", "--eval-every", "200", "--eval-every-episodes", "2"],
    "ppo": ["--env", "CartPole-v1", "--total-steps", "256", "--num-envs", "2", "--n-steps", "64",
            "--batch-size", "64", "--n-epochs", "2", "--hidden", "16"],
    "ddpg": ["--env", "Pendulum-v1", "--total-steps", "300", "--learning-starts", "100", "--train-freq", "100",
             "--gradient-steps", "10", "--batch-size", "32", "--hidden", "16"],
    "td3": ["--env", "Pendulum-v1", "--total-steps", "300", "--learning-starts", "100", "--train-freq", "100",
            "--gradient-steps", "10", "--batch-size", "32", "--hidden", "16"],
    "sac": ["--env", "Pendulum-v1", "--total-steps", "300", "--learning-starts", "100", "--train-freq", "100",
            "--gradient-steps", "10", "--batch-size", "32", "--hidden", "16"],
}
KEYS = {"eval/return_mean", "eval/return_std", "eval/episodes", "train/env_steps", "train/wall_s"}


def train(algo: str, run_dir: Path, *extra: str) -> RunDir:
    code = main(["rl", "train", "--algo", algo, *TINY[algo], "--eval-episodes", "3", "--log-every", "100",
                 "--checkpoint-every", "100", "--run-dir", str(run_dir), *extra])
    assert code == 0
    return RunDir.open(run_dir)


@pytest.mark.parametrize("algo", list(TINY))
def test_train_then_load_gives_identical_actions(algo: str, tmp_path: Path) -> None:
    run = train(algo, tmp_path / algo)
    summary = run.summary()
    assert set(summary) >= KEYS and summary["train/env_steps"] >= 256
    rows = run.metrics()
    assert any("train/episode_return" in r for r in rows) and any("train/steps_per_s" in r for r in rows)
    assert any(k.startswith("losses/") for r in rows for k in r)
    assert (run.checkpoints / "last.safetensors").is_file() and (run.path / "figures" / "learning_curve.png").is_file()
    module = registry.implementation(ALGO, algo)
    policy_a, policy_b = module.load_policy(run, "cpu"), module.load_policy(run, "cpu")
    space = (4,) if algo in ("dqn", "ppo") else (3,)
    obs = np.random.default_rng(0).normal(size=(32, *space)).astype(np.float32)
    assert np.array_equal(policy_a(obs), policy_b(obs))
    # the loaded policy replays the final evaluation (done in training with the in-memory policy) exactly
    env = "CartPole-v1" if algo in ("dqn", "ppo") else "Pendulum-v1"
    again = evaluate_policy(policy_a, env, {}, 3, 10_000)
    assert again.summary()["eval/return_mean"] == pytest.approx(summary["eval/return_mean"], abs=1e-9)


def test_eval_command_writes_summary_and_gif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = train("dqn", tmp_path / "run")
    gif = tmp_path / "out.gif"
    assert main(["rl", "eval", str(run.path), "--episodes", "2", "--video", str(gif)]) == 0
    assert gif.is_file() and gif.stat().st_size > 0
    assert run.summary()["eval/episodes"] == 2.0
    assert "eval/return_mean" in capsys.readouterr().out


@pytest.mark.parametrize("algo", list(TINY))
def test_same_seed_same_metrics_and_actions(algo: str, tmp_path: Path) -> None:
    def rows(run: RunDir) -> list[dict]:
        drop = ("time", "train/steps_per_s", "eval/wall_s")
        return [{k: v for k, v in r.items() if k not in drop} for r in run.metrics()]

    a, b = train(algo, tmp_path / "a"), train(algo, tmp_path / "b")
    assert rows(a) == rows(b)
    assert any(k.startswith("losses/") for r in rows(a) for k in r)  # the runs did learn, not only act
    module = registry.implementation(ALGO, algo)
    obs = np.random.default_rng(1).normal(size=(64, 4 if algo in ("dqn", "ppo") else 3)).astype(np.float32)
    assert np.array_equal(module.load_policy(a, "cpu")(obs), module.load_policy(b, "cpu")(obs))
    c = train(algo, tmp_path / "c", "--seed", "1")  # and the seed matters
    assert not np.array_equal(module.load_policy(a, "cpu")(obs), module.load_policy(c, "cpu")(obs))


def test_resume_restores_buffer_and_continues(tmp_path: Path) -> None:
    run = train("dqn", tmp_path / "run", "--total-steps", "200")
    state = json.loads((run.checkpoints / "last.json").read_text())
    assert state["meta"]["step"] == 200
    resumed = train("dqn", tmp_path / "run", "--total-steps", "400", "--resume")
    rows = [r for r in resumed.metrics() if "train/buffer_size" in r]
    assert [r["step"] for r in rows] == [100, 200, 300, 400]  # nothing logged twice
    assert rows[-1]["train/buffer_size"] > 300  # the 200 transitions before the restart were kept
    assert resumed.summary()["train/env_steps"] == 400


@pytest.mark.parametrize(("algo", "extra"), [("dqn", ()), ("dqn", ("--vector-env", "batched", "--num-envs", "3")),
                                           ("ppo", ()), ("ppo", ("--normalize-obs", "--normalize-reward")),
                                           ("ppo", ("--env", "Pendulum-v1", "--total-steps", "512", "--sde",
                                                    "--sde-sample-freq", "16")),
                                           ("td3", ())])
def test_killed_after_a_checkpoint_then_resumed_repeats_the_uninterrupted_run(
        algo: str, extra: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resume after a kill continues the very episodes the envs were in (SAC: tests/rl/test_sac.py)."""
    from safetensors.torch import load_file

    module = registry.implementation(ALGO, algo)
    train(algo, tmp_path / "full", *extra)
    real_save = module.save_state

    def save_then_stop(*a: object, **kw: object) -> None:
        real_save(*a, **kw)
        if kw.get("name", "last") == "last":
            raise KeyboardInterrupt  # killed right after the first checkpoint

    monkeypatch.setattr(module, "save_state", save_then_stop)
    with pytest.raises(AssertionError):  # exit code 130, not 0
        train(algo, tmp_path / "cut", *extra)
    monkeypatch.setattr(module, "save_state", real_save)
    assert 0 < json.loads((tmp_path / "cut/checkpoints/last.json").read_text())["meta"]["step"] < 256
    cut = train(algo, tmp_path / "cut", *extra, "--resume")

    def rows(run: RunDir) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "time" and not k.endswith(("steps_per_s", "wall_s"))}
                for r in run.metrics()]

    full = RunDir.open(tmp_path / "full")
    assert rows(full) == rows(cut) and any("train/episode_return" in r for r in rows(full))
    x, y = (load_file(r.checkpoints / "last.safetensors") for r in (full, cut))
    assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.mark.parametrize(("argv", "message"), [
    (["--algo", "dqn", "--env", "NoSuchEnv-v9"], "unknown Gymnasium env id"),
    (["--algo", "dqn", "--env", "Pendulum-v1"], "dqn needs a Discrete action space"),
    (["--algo", "ddpg", "--env", "CartPole-v1"], "ddpg needs a Box action space"),
    (["--algo", "sac", "--env", "CartPole-v1"], "sac needs a Box action space"),
    (["--algo", "ppo", "--lr", "-1"], "lr must be > 0"),
    (["--algo", "dqn", "--gamma", "1.5"], "gamma must be in [0, 1]"),
    (["--algo", "dqn", "--env-kwargs", "{oops"], "env-kwargs must be a JSON object"),
    (["--algo", "nope"], "unknown algorithm"),
])
def test_bad_input_is_one_line_exit_2(argv: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "train", *argv, "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "r").exists()  # no half-made run directory


def test_eval_of_missing_run_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "eval", str(tmp_path / "none")]) == 2
    assert "not a run directory" in capsys.readouterr().err
