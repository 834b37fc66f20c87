"""Autonomous driving in highway-env: sensors -> detection -> tracking -> prediction/planning -> control.

Registers in `pilotlab.core.registry`:

- the kind ``drive.agent``: the drivers `pilotlab drive eval --agent` accepts (``make_agent`` in
  `drive.agents` builds them; ``rl:RUN_DIR`` is any policy trained with `pilotlab rl train`);
- its env wrappers, under RL's kind ``rl.env-wrapper``, so ``pilotlab rl train --env-wrapper fast-highway``
  works while `pilotlab.rl` never names the driving stack;
- the stress-test adversary's env, under RL's kind ``rl.env``, so ``pilotlab rl train --env
  drive-adversary-v0`` trains one NPC against a driver (`drive.adversary`).

Submodules are imported on use (highway-env and pygame load only when driving).
"""

from __future__ import annotations

from pilotlab.core.registry import Kind, define_kind, register
from pilotlab.rl import ENV, ENV_WRAPPER

AGENT = "drive.agent"
TRAIN_ALGO = "drive.train-algo"

define_kind(Kind(AGENT, "", "driver", "an agents.Agent: prepare(env), reset(env, seed), act(env, obs)"))

for _name, _attr, _help in [
    ("modular", "PlannerAgent", "IDM + MOBIL planner on lidar + radar detections tracked by Kalman filters"),
    ("oracle", "PlannerAgent", "the modular planner fed the simulator's ground-truth vehicles"),
    ("idm", "IDMAgent", "highway-env's IDMVehicle (IDM + MOBIL) as the ego: the baseline"),
    ("rl:RUN_DIR", "RLAgent", "a DQN/PPO policy trained with `pilotlab rl train` (or `pilotlab drive train`); "
                              "rl:RUN_DIR+shield puts the planner's safety checks in front of it"),
]:
    register(AGENT, _name, "pilotlab.drive.agents", _help, attr=_attr)

# `pilotlab drive train --algo X`: the RL algorithm trained by `pilotlab.rl` (the same run directory as
# `rl train`), its config class carrying the driving defaults where a recipe was measured (recipes.py).
define_kind(Kind(TRAIN_ALGO, "algo", "algorithm",
                 "an rl.algo name whose config class (a subclass of rl's, or rl's own) holds the driving defaults"))
register(TRAIN_ALGO, "dqn", "pilotlab.drive.recipes",
         "DQN with the RL driver's recipe: highway-fast-v0, the shield as teacher in training, set-points 10-30 m/s",
         config="DriverDQNConfig")
register(TRAIN_ALGO, "ppo", "pilotlab.rl.ppo", "PPO with rl's defaults (give --env, e.g. highway-fast-v0)",
         config="PPOConfig")

for _name, _module, _attr, _help in [
    ("fast-highway", "fast_sim", "FastHighway", "highway-env's step, exactly equivalent and faster"),
    ("fast-highway-shield-teacher", "shield_teacher", "ShieldTeacher",
     "fast-highway, with the planner's shield as a teacher: forbidden actions are penalised and overridden"),
    ("fast-highway-shield-teacher-half", "shield_teacher", "HalfShieldTeacher",
     "the shield teacher overriding forbidden actions with probability 0.5 (the RL driver's recipe)"),
]:
    register(ENV_WRAPPER, _name, f"pilotlab.drive.{_module}", _help, attr=_attr)

register(ENV, "drive-adversary-v0", "pilotlab.drive.adversary",
         "one NPC's meta-actions against a driver of the stack, rewarded for the ego's at-fault crashes "
         "(--env-kwargs '{\"env\": \"highway-fast-v0\", \"agent\": \"modular\"}')", attr="AdversaryEnv")

__all__ = ["AGENT", "TRAIN_ALGO"]
