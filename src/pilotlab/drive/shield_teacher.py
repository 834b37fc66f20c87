"""The safety shield as a teacher during RL training (wrapper names ``fast-highway-shield-teacher[-half]``).

Alshiekh et al. (2018), "Safe Reinforcement Learning via Shielding", place the shield *before* the
learner's actions take effect ("preemptive shielding") or *after* them ("post-posed shielding"): in
the post-posed form the shield replaces an unsafe action by a safe one, and the learner is given the
unsafe action with a punishment, so it learns which actions the shield forbids. That is what this
wrapper does during DQN training on highway-env, with the planner's checks of `rl_driver.Shield`:

- before each step the shield computes the allowed meta-actions of the current scene (ground-truth
  vehicles, as for ``rl:RUN_DIR+shield``);
- an allowed action is executed unchanged and its reward is the env's;
- a forbidden action is replaced, with probability `override_prob`, by the first allowed one of
  `FALLBACK` (keep the set-point, brake, change lanes: the order of a cautious driver); the reward
  returned for a forbidden action is the env's reward of that step minus `penalty`, whether it was
  replaced or not; the agent stores its own (forbidden) action with it.

With every forbidden action replaced (``fast-highway-shield-teacher``), Q(s, a_forbidden) is learnt
as Q(s, a_fallback) - penalty, but the agent never sees where its own mistakes lead, so it may learn
to keep its set-point behind slower cars where the shield brakes, and crash once the shield is gone.
Replacing half of them (``fast-highway-shield-teacher-half``, the benchmark's choice) lets it also
visit the states after its own mistakes and the crashes they can end in (the point DAgger, Ross et
al. 2011, makes about a learner's own state distribution); docs/drive.md ("The shield as a teacher")
has the measurements.

The greedy policy runs without the shield at evaluation (``rl:RUN_DIR``). Only the training reward
is changed; evaluation uses the env's reward, unmodified. The shield keeps the env's own cruise
set-points here (no `lower_grid`): give the training run the set-points it should have through
``--env-config`` (e.g. ``{"action": {"type": "DiscreteMetaAction", "target_speeds": [10, 15, 20, 25,
30]}}``), which evaluation then applies too. The wrapper sits on `FastHighway`, the exactly equivalent
faster step.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from pilotlab.drive import control
from pilotlab.drive.fast_sim import FastHighway
from pilotlab.drive.rl_driver import Shield

FALLBACK = (control.IDLE, control.SLOWER, control.LANE_RIGHT, control.LANE_LEFT, control.FASTER)
DEFAULT_PENALTY = 1.0  # subtracted from the normalized [0, 1] step reward: about a quarter of Q at gamma 0.8


def teacher_action(action: int, allowed: np.ndarray, fallback: tuple[int, ...] = FALLBACK) -> int:
    """The action executed: `action` if `allowed` (A,) lets it through, else the first allowed of `fallback`
    (SLOWER if none is: `Shield.mask` always allows at least one action)."""
    if allowed[action]:
        return int(action)
    for a in fallback:
        if allowed[a]:
            return int(a)
    return int(control.SLOWER)


def teacher_reward(reward: float, forbidden: bool, penalty: float) -> float:
    """The training reward: the env's, minus `penalty` when the shield forbade the agent's action."""
    return float(reward) - (penalty if forbidden else 0.0)


class ShieldTeacher(FastHighway):
    """`FastHighway` whose `step` lets the shield override forbidden meta-actions, with a reward penalty.

    `overrides` / `steps` count the overridden and all steps since construction (the intervention rate).
    """

    penalty: float = DEFAULT_PENALTY
    override_prob: float = 1.0
    """Probability that a forbidden action is replaced; otherwise it runs (still penalized), so the agent also
    sees where its mistakes lead (1.0: always replaced)."""

    def __init__(self, env: gym.Env, penalty: float | None = None, override_prob: float | None = None):
        super().__init__(env)
        if penalty is not None:
            self.penalty = float(penalty)
        if override_prob is not None:
            self.override_prob = float(override_prob)
        self._rng = np.random.default_rng(0)
        self.shield = Shield()
        self.shield.prepare(env, extend_grid=False)
        self.overrides = 0
        self.steps = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        if kwargs.get("seed") is not None:
            self._rng = np.random.default_rng(kwargs["seed"])
        return super().reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        chosen = int(np.asarray(action).reshape(-1)[0])
        allowed = self.shield.mask(self.env)
        forbidden = not allowed[chosen]
        executed = chosen
        if forbidden and (self.override_prob >= 1.0 or self._rng.random() < self.override_prob):
            executed = teacher_action(chosen, allowed)
        obs, reward, terminated, truncated, info = super().step(executed)
        self.steps += 1
        self.overrides += int(executed != chosen)
        info = {**info, "shield_override": executed != chosen, "shield_forbidden": forbidden,
                "executed_action": executed}
        return obs, teacher_reward(reward, forbidden, self.penalty), terminated, truncated, info


class HalfShieldTeacher(ShieldTeacher):
    """`ShieldTeacher` that overrides a forbidden action with probability 0.5 (wrapper name
    ``fast-highway-shield-teacher-half``); every forbidden action is penalized."""

    override_prob = 0.5


__all__ = ["DEFAULT_PENALTY", "FALLBACK", "HalfShieldTeacher", "ShieldTeacher", "teacher_action", "teacher_reward"]
