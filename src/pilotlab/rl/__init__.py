"""Reinforcement learning: tabular methods, DQN, PPO, DDPG/TD3, SAC (all off-policy ones with HER), MCTS.

Registers two kinds in `pilotlab.core.registry`:

- ``rl.algo`` (``--algo``): every algorithm module exposes its config class (named in the entry),
  ``train(cfg) -> RunDir`` (trains, checkpoints, resumes, writes the run directory) and
  ``load_policy(run: RunDir, device) -> Policy`` (a deterministic policy from a finished run);
- ``rl.env-wrapper`` (``--env-wrapper``): a ``gymnasium.Wrapper`` class applied to every training env.
  Other pillars add theirs (the driving stack registers its fast highway simulator and shield teacher).
- ``rl.env`` (``--env``): a ``gymnasium.Env`` class another pillar provides under a Gymnasium id (the
  driving stack's stress-test adversary); `rl.envs` registers it with Gymnasium when the id is first used.
"""

from __future__ import annotations

from pilotlab.core.registry import Kind, define_kind, register

ALGO = "rl.algo"
ENV_WRAPPER = "rl.env-wrapper"

define_kind(Kind(ALGO, "algo", "algorithm",
                 "module with the config class, train(cfg) -> RunDir and load_policy(run, device) -> Policy"))
define_kind(Kind(ENV_WRAPPER, "env_wrapper", "env wrapper",
                 "a gymnasium.Wrapper class taking the env as its only argument"))

for _name, _module, _config, _help in [
    ("q-learning", "tabular", "QLearningConfig", "tabular Q-learning (Watkins 1989), discrete states and actions"),
    ("sarsa", "tabular", "SarsaConfig", "tabular SARSA, on-policy TD control"),
    ("expected-sarsa", "tabular", "ExpectedSarsaConfig", "tabular expected SARSA (van Seijen et al. 2009)"),
    ("dqn", "dqn", "DQNConfig",
     "deep Q-network with double Q and dueling heads (Mnih et al. 2015), discrete actions"),
    ("ppo", "ppo", "PPOConfig",
     "proximal policy optimization with GAE (Schulman et al. 2017), discrete or continuous actions"),
    ("ddpg", "ddpg", "DDPGConfig", "deep deterministic policy gradient (Lillicrap et al. 2016), continuous actions"),
    ("td3", "ddpg", "DDPGConfig", "twin delayed DDPG (Fujimoto et al. 2018), continuous actions"),
    ("sac", "sac", "SACConfig",
     "soft actor-critic with twin critics and entropy tuning (Haarnoja et al. 2018), continuous actions"),
]:
    register(ALGO, _name, f"pilotlab.rl.{_module}", _help, config=_config)

register(ENV_WRAPPER, "none", "", "no wrapper: the env as gymnasium.make builds it")

ENV = "rl.env"
define_kind(Kind(ENV, "", "env", "a gymnasium.Env class (attr), registered with Gymnasium under the entry's name "
                                 "(a Gymnasium id) when that id is first used"))

__all__ = ["ALGO", "ENV", "ENV_WRAPPER"]
