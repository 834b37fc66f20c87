"""Reinforcement learning: tabular methods, DQN, PPO, DDPG/TD3, MCTS.

`ALGORITHMS` maps each ``--algo`` name to the module that implements it. Every such module exposes

- ``CONFIGS: dict[str, type[RunConfig]]`` - the frozen config class of each algorithm it holds;
- ``train(cfg) -> RunDir`` - trains, checkpoints, resumes, writes the run directory;
- ``load_policy(run: RunDir, device) -> Policy`` - a deterministic policy from a finished run.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pilotlab.core.errors import PilotlabError

ALGORITHMS: dict[str, str] = {
    "q-learning": "pilotlab.rl.tabular",
    "sarsa": "pilotlab.rl.tabular",
    "expected-sarsa": "pilotlab.rl.tabular",
    "dqn": "pilotlab.rl.dqn",
    "ppo": "pilotlab.rl.ppo",
    "ddpg": "pilotlab.rl.ddpg",
    "td3": "pilotlab.rl.ddpg",
}


def algorithm_module(algo: str) -> ModuleType:
    """Import the module implementing `algo`."""
    if algo not in ALGORITHMS:
        raise PilotlabError(f"unknown algorithm {algo!r}; choose one of {', '.join(ALGORITHMS)}")
    return importlib.import_module(ALGORITHMS[algo])


__all__ = ["ALGORITHMS", "algorithm_module"]
