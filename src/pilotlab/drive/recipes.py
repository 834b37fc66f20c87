"""The RL driver's recipe: what ``pilotlab drive train --algo dqn`` trains unless told otherwise.

`pilotlab rl train --algo dqn` keeps DQN's generic defaults (tuned on CartPole); a driver needs
another recipe, so drive has its own config class with the same fields and the driving defaults.
They are the DQN recipe of highway-env's own example (Leurent's `DQN("MlpPolicy", net_arch=[256,
256], lr 5e-4, buffer 15000, learning_starts 200, batch 32, gamma 0.8, train_freq 1, gradient_steps 1,
target_update_interval 50, exploration_fraction 0.7)`) on the fast equivalent step of
highway-fast-v0, with two changes: the safety shield acts as a teacher in training only (it
overrides half of the forbidden meta-actions and the agent pays a reward penalty for each,
`pilotlab.drive.shield_teacher`), and the cruise set-points reach down to 10 m/s, so the policy
can brake behind slow traffic. The evaluation in docs/drive.md ("RL drivers") shows why each
part is there. Every field stays a flag: ``--env-wrapper fast-highway --env-config '{}'`` is the
plain recipe, ``--gamma 0.99 --lr 2.3e-3 ...`` moves towards `DQNConfig`'s generic defaults.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from pilotlab.rl.dqn import DQNConfig

TARGET_SPEEDS = (10.0, 15.0, 20.0, 25.0, 30.0)
"""[m/s] DiscreteMetaAction cruise set-points of the driver (highway-env's default grid is 20, 25, 30)."""

DRIVER_ENV_CONFIG = json.dumps({"action": {"type": "DiscreteMetaAction", "target_speeds": list(TARGET_SPEEDS)}})
"""highway-env config of the driver's training (and, read back from the run, evaluation) env."""


@dataclass(frozen=True, kw_only=True)
class DriverDQNConfig(DQNConfig):
    """`DQNConfig` with the RL driver's defaults (module docstring); the same fields and run directory."""

    env: str = "highway-fast-v0"
    """Gymnasium env id (highway-fast-v0: highway-env's shorter, coarser-grained highway)."""
    env_config: str = DRIVER_ENV_CONFIG
    """JSON object passed as gymnasium.make(..., config=...); the default widens the cruise set-points to
    10, 15, 20, 25, 30 m/s so that the policy can brake behind slow traffic."""
    env_wrapper: str = "fast-highway-shield-teacher-half"
    """Wrapper around each training env: the fast highway step with the safety shield as teacher (it
    overrides half of the forbidden meta-actions and penalises each); fast-highway is the plain recipe."""
    total_steps: int = 20_000
    """Environment steps to train for."""
    num_envs: int = 1
    """Parallel environments (one, as the recipe: a highway step costs far more than a gradient step)."""
    network: str = "mlp"
    """Observation encoder (mlp on the flattened kinematics table)."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of the encoder (the recipe's 256-256)."""
    lr: float = 5e-4
    """Adam learning rate."""
    buffer_size: int = 15_000
    """Replay buffer capacity in transitions."""
    learning_starts: int = 200
    """Env steps of random actions before the first gradient step."""
    batch_size: int = 32
    """Samples per gradient step."""
    gamma: float = 0.8
    """Discount factor (0.8: the reward is dense, a horizon of about five decisions suffices)."""
    train_freq: int = 1
    """Env steps between gradient phases."""
    gradient_steps: int = 1
    """Gradient steps per phase."""
    target_update_interval: int = 50
    """Env steps between hard copies of the online network into the target network."""
    exploration_fraction: float = 0.7
    """Fraction of total-steps over which epsilon decays linearly."""
    eval_every: int = 0
    """Every this many env steps, evaluate on eval-every-episodes seeds and keep the best policy in
    checkpoints/best; 0 (the recipe): off, the final policy is the driver."""


def driver_overrides() -> dict[str, Any]:
    """The fields whose driver default differs from `DQNConfig`'s: field name -> driver default."""
    base = DQNConfig.__dataclass_fields__
    return {f.name: f.default for f in fields(DriverDQNConfig) if f.default != base[f.name].default}

