"""The RL driver's recipe (`pilotlab.drive.recipes`): the benchmark's configuration, trainable as a DQN run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from pilotlab.core import registry
from pilotlab.drive import TRAIN_ALGO
from pilotlab.drive.agents import RLAgent
from pilotlab.drive.envs import make_env
from pilotlab.drive.recipes import TARGET_SPEEDS, DriverDQNConfig, driver_overrides
from pilotlab.rl import ENV_WRAPPER
from pilotlab.rl.dqn import DQNConfig, train

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "drive_rl.py"


def _benchmark_module():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCHMARK.parent))
    try:
        spec = importlib.util.spec_from_file_location("drive_rl_benchmark", BENCHMARK)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARK.parent))


def test_driver_defaults_are_the_benchmarked_shield_teacher_recipe() -> None:
    """Every hyperparameter benchmarks/drive_rl.py trains with (docs/benchmarks.md, "RL driver on
    highway-fast-v0") is a default of the driver config; the generic DQN config keeps its own."""
    bench = _benchmark_module()
    variant = bench.Variant(target_speeds=TARGET_SPEEDS, env_wrapper="fast-highway-shield-teacher-half")
    cfg = DriverDQNConfig()
    for name, value in bench.RECIPE.items():
        assert getattr(cfg, name) == value, name
    assert (cfg.network, cfg.gamma, cfg.env_wrapper, cfg.hidden, cfg.num_envs, cfg.eval_every, cfg.env) == (
        variant.network, variant.gamma, variant.env_wrapper, (256, 256), 1, 0, "highway-fast-v0")
    assert json.loads(cfg.env_config) == json.loads(variant.env_config)
    assert cfg.env_wrapper in registry.names(ENV_WRAPPER)
    assert registry.config_class(TRAIN_ALGO, "dqn") is DriverDQNConfig  # what `drive train` builds
    overrides = driver_overrides()
    assert overrides["gamma"] == 0.8 and DQNConfig().gamma != 0.8 and "algo" not in overrides
    assert DQNConfig(**overrides) == DQNConfig(**{f: getattr(cfg, f) for f in overrides})


def test_driver_recipe_trains_a_dqn_run_that_drive_eval_reads_back(tmp_path: Path) -> None:
    """A (tiny) run with the driver's defaults is an ordinary dqn run directory; the RL agent loads it and
    drives with the recipe's 10-30 m/s set-points."""
    run = tmp_path / "driver"
    cfg = DriverDQNConfig(total_steps=8, learning_starts=4, train_freq=4, hidden=(16,), eval_episodes=1,
                          run_dir=str(run))
    train(cfg)
    saved = json.loads((run / "config.json").read_text())
    assert saved["method"] == "dqn" and saved["config"]["env_wrapper"] == "fast-highway-shield-teacher-half"
    agent = RLAgent(str(run))
    env = make_env("highway-fast-v0", {"duration": 3})
    agent.prepare(env)
    env.reset(seed=0)
    assert tuple(env.unwrapped.action_type.target_speeds) == TARGET_SPEEDS


def test_drive_train_defaults_to_the_recipe_and_rl_train_keeps_dqns(tmp_path: Path) -> None:
    from pilotlab.cli import main

    tiny = ["--total-steps", "8", "--learning-starts", "4", "--train-freq", "4", "--hidden", "16", "--eval-episodes",
            "1"]
    assert main(["drive", "train", *tiny, "--run-dir", str(tmp_path / "d")]) == 0
    saved = json.loads((tmp_path / "d" / "config.json").read_text())["config"]
    assert (saved["algo"], saved["env"], saved["env_wrapper"], saved["gamma"]) == (
        "dqn", "highway-fast-v0", "fast-highway-shield-teacher-half", 0.8)
    assert registry.config_class(TRAIN_ALGO, "ppo") is registry.config_class("rl.algo", "ppo")
    assert registry.config_class("rl.algo", "dqn") is DQNConfig
