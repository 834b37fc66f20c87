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

ALGORITHM_HELP: dict[str, str] = {
    "q-learning": "tabular Q-learning (Watkins 1989), discrete states and actions",
    "sarsa": "tabular SARSA, on-policy TD control",
    "expected-sarsa": "tabular expected SARSA (van Seijen et al. 2009)",
    "dqn": "deep Q-network with double Q and dueling heads (Mnih et al. 2015), discrete actions",
    "ppo": "proximal policy optimization with GAE (Schulman et al. 2017), discrete or continuous actions",
    "ddpg": "deep deterministic policy gradient (Lillicrap et al. 2016), continuous actions",
    "td3": "twin delayed DDPG (Fujimoto et al. 2018), continuous actions",
}
"""--algo -> one line for --help."""


def algorithm_module(algo: str) -> ModuleType:
    """Import the module implementing `algo`."""
    if algo not in ALGORITHMS:
        raise PilotlabError(f"unknown algorithm {algo!r}; choose one of {', '.join(ALGORITHMS)}")
    return importlib.import_module(ALGORITHMS[algo])


__all__ = ["ALGORITHMS", "algorithm_module"]
