"""The trainer plumbing of `pilotlab.core.session` and `RunDir`: restore, the batch schedule, `with run:`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from pilotlab.core import distributed, tracking
from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.core.session import BatchSchedule, Start, restore, save_state


# -- batch schedule ------------------------------------------------------------------------------
def test_batches_walk_seeded_epochs_and_drop_the_last_partial_batch() -> None:
    s = BatchSchedule(n=10, batch_size=3, seed=4)
    assert (s.per_rank, s.per_epoch) == (3, 3)  # 10 samples: three batches of 3, one sample left out per epoch
    for epoch in range(3):
        order = distributed.epoch_indices(10, epoch, 4)
        got = torch.cat([s.indices(epoch * 3 + b) for b in range(3)])
        assert torch.equal(got, order[:9])
        assert len(set(got.tolist())) == 9
    assert not torch.equal(s.indices(0), s.indices(3))  # epochs are permuted differently
    assert torch.equal(s.indices(7), BatchSchedule(10, 3, 4).indices(7))  # batch k depends only on (seed, k)
    assert not torch.equal(s.indices(7), BatchSchedule(10, 3, 5).indices(7))


def test_total_steps() -> None:
    s = BatchSchedule(n=100, batch_size=10, seed=0)
    assert s.total_steps(epochs=3) == 30
    assert s.total_steps(epochs=3, max_steps=7) == 7
    assert s.total_steps(epochs=3, batches_per_step=4) == 7  # a GAN step with n_critic=4 takes 4 batches
    assert s.total_steps(epochs=1, batches_per_step=50) == 1  # at least one step


def test_batches_are_split_over_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    shares = []
    for r in (0, 1):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        s = BatchSchedule(n=21, batch_size=4, seed=1)
        assert (s.per_rank, s.per_epoch) == (2, 5)  # 10 samples per rank, 2 per rank and batch
        shares.append([set(s.indices(k).tolist()) for k in range(5)])
    for a, b in zip(*shares):
        assert len(a) == len(b) == 2 and not a & b  # the two halves of each global batch
    with pytest.raises(PilotlabError, match="batch-size 3 must be divisible by the 2 processes"):
        BatchSchedule(n=21, batch_size=3, seed=1)


def test_a_batch_larger_than_the_data_is_refused() -> None:
    with pytest.raises(PilotlabError, match="batch-size 64 is larger than the 10 training images"):
        BatchSchedule(n=10, batch_size=64, seed=0)


# -- restore -------------------------------------------------------------------------------------
class _Cfg:
    def __init__(self, resume: bool):
        self.resume, self.seed = resume, 0


def test_restore_gives_where_the_run_starts(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    run = RunDir(tmp_path)
    model = torch.nn.Linear(2, 2)
    assert restore(run, _Cfg(False), {"model": model}) == Start(0, 0.0, {}, {})
    save_state(run, 12, {"model": model.state_dict(), "extra": torch.ones(3)}, {"wall_s": 1.5, "updates": 4})
    fresh = torch.nn.Linear(2, 2)
    start = restore(RunDir(tmp_path), _Cfg(True), {"model": fresh}, {"updates": int})
    assert (start.step, start.wall_s, start.meta["updates"]) == (12, 1.5, 4)
    assert torch.equal(start.state["extra"], torch.ones(3))
    assert torch.equal(fresh.weight, model.weight)
    with pytest.raises(PilotlabError, match="no valid 'episode'"):
        restore(RunDir(tmp_path), _Cfg(True), {}, {"episode": int})


def test_restore_needs_the_training_time(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    save_state(RunDir(tmp_path), 3, {"x": torch.ones(1)})
    with pytest.raises(PilotlabError, match="no valid 'wall_s'"):
        restore(RunDir(tmp_path), _Cfg(True))


# -- cleanup -------------------------------------------------------------------------------------
class _Closes:
    def __init__(self, name: str, log: list[str], fail: bool = False):
        self.name, self.log, self.fail = name, log, fail

    def close(self) -> None:
        self.log.append(self.name)
        if self.fail:
            raise OSError(f"{self.name} failed to close")


class SpyTracker(tracking.Tracker):
    def __init__(self) -> None:
        self.rows: list[int] = []
        self.closed = 0

    def log(self, step: int, metrics: Any) -> None:
        self.rows.append(step)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def tracker(monkeypatch: pytest.MonkeyPatch) -> SpyTracker:
    """The tracker every run started in this test gets (in place of --track none)."""
    spy = SpyTracker()
    monkeypatch.setattr(tracking, "start", lambda track, path, doc: spy)
    return spy


def _new_run(path: Path) -> RunDir:
    return RunDir.create("core", "test", RunConfig(run_dir=str(path)), str(path))


def test_with_run_closes_everything_and_reraises(tmp_path: Path, tracker: SpyTracker) -> None:
    log: list[str] = []
    run = _new_run(tmp_path / "r")

    def train() -> None:
        with run:
            run.own(_Closes("env", log))
            run.own(_Closes("progress", log))
            run.log(1, {"train/loss": 0.5})
            raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        train()
    assert log == ["progress", "env"]  # last owned, first closed
    assert tracker.closed == 1 and tracker.rows == [1]
    assert run._metrics_file is None and run._tb is None
    assert [json.loads(line)["train/loss"] for line in (run.path / "metrics.jsonl").read_text().splitlines()] == [0.5]
    run.close()  # closing again closes nothing twice
    assert log == ["progress", "env"] and tracker.closed == 1


def test_a_failing_close_does_not_leave_the_rest_open(tmp_path: Path, tracker: SpyTracker) -> None:
    log: list[str] = []
    run = _new_run(tmp_path / "r")
    run.own(_Closes("env", log))
    run.own(_Closes("broken", log, fail=True))
    run.log(1, {"train/loss": 0.5})
    with pytest.raises(OSError, match="broken failed to close"):
        run.close()
    assert log == ["broken", "env"] and tracker.closed == 1 and run._metrics_file is None


# -- every trainer, failing in the middle of training --------------------------------------------
def _spy_on_close(monkeypatch: pytest.MonkeyPatch, module: ModuleType, factory: str, closed: list[object]) -> None:
    """Make `module.factory` (an env maker) record each env it made in `closed` when that env is closed."""
    make: Callable[..., Any] = getattr(module, factory)

    def made(*args: Any, **kwargs: Any) -> Any:
        env = make(*args, **kwargs)
        close = env.close

        def spy() -> None:
            closed.append(env)
            close()

        env.close = spy
        made.envs.append(env)
        return env

    made.envs = []  # type: ignore[attr-defined]
    monkeypatch.setattr(module, factory, made)


def _trainers() -> dict[str, tuple[str, str | None, Callable[[str], Any]]]:
    """name -> (module, its env factory or None, config for a run dir)."""
    from pilotlab.rl.ddpg import DDPGConfig
    from pilotlab.rl.dqn import DQNConfig
    from pilotlab.rl.ppo import PPOConfig
    from pilotlab.rl.sac import SACConfig
    from pilotlab.rl.tabular import QLearningConfig
    from pilotlab.ssl.autoencoder import AEConfig
    from pilotlab.ssl.simclr import SimCLRConfig

    deep = {"log_every": 50, "checkpoint_every": 100, "hidden": (8,)}
    ssl = {"dataset": "digits", "batch_size": 32, "log_every": 2, "checkpoint_every": 4, "evaluate": False,
           "probe_every": 0}
    return {
        "dqn": ("pilotlab.rl.dqn", "make_vec_env",
                lambda d: DQNConfig(total_steps=300, learning_starts=50, train_freq=50, gradient_steps=2,
                                    run_dir=d, **deep)),
        "ppo": ("pilotlab.rl.ppo", "make_vec_env",
                lambda d: PPOConfig(total_steps=256, num_envs=2, n_steps=32, batch_size=32, n_epochs=1, run_dir=d,
                                    **deep)),
        "td3": ("pilotlab.rl.ddpg", "make_vec_env",
                lambda d: DDPGConfig(algo="td3", env="Pendulum-v1", total_steps=300, learning_starts=50,
                                     train_freq=50, gradient_steps=2, batch_size=16, run_dir=d, **deep)),
        "sac": ("pilotlab.rl.sac", "make_vec_env",
                lambda d: SACConfig(env="Pendulum-v1", total_steps=300, learning_starts=50, train_freq=50,
                                    gradient_steps=2, batch_size=16, run_dir=d, **deep)),
        "q-learning": ("pilotlab.rl.tabular", "make_env",
                       lambda d: QLearningConfig(env="FrozenLake-v1", episodes=40, log_every=10, eval_every=20,
                                                 checkpoint_every=20, run_dir=d)),
        "ae": ("pilotlab.ssl.autoencoder", None, lambda d: AEConfig(method="ae", width=4, run_dir=d, **ssl)),
        "simclr": ("pilotlab.ssl.joint", None,
                   lambda d: SimCLRConfig(width=4, proj_hidden=16, proj_dim=8, feature_dim=16, run_dir=d, **ssl)),
    }


@pytest.mark.parametrize("name", ["dqn", "ppo", "td3", "sac", "q-learning", "ae", "simclr"])
def test_a_trainer_that_fails_closes_its_envs_and_run(name: str, tmp_path: Path, tracker: SpyTracker,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    module_name, factory, config = _trainers()[name]
    module = importlib.import_module(module_name)
    closed: list[object] = []
    if factory is not None:
        _spy_on_close(monkeypatch, module, factory, closed)
    runs: list[RunDir] = []
    setup = module.setup

    def keep_run(*args: Any) -> Any:
        run, device = setup(*args)
        runs.append(run)
        return run, device

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected failure at the first checkpoint")

    monkeypatch.setattr(module, "setup", keep_run)
    monkeypatch.setattr(module, "save_state", fail)
    train = module.train_joint if name == "simclr" else module.train
    cfg = config(str(tmp_path / name))
    with pytest.raises(RuntimeError, match="injected failure"):
        train(cfg, "simclr", lambda a, b: ((a - b).pow(2).mean(), {})) if name == "simclr" else train(cfg)
    (run,) = runs
    if factory is not None:
        made = getattr(module, factory).envs
        assert made and all(env in closed for env in made)
    assert run._metrics_file is None and run._tb is None and tracker.closed == 1
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert rows and tracker.rows == [r["step"] for r in rows]  # the metrics written before the failure stay
