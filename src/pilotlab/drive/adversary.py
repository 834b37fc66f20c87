"""An RL adversary for stress testing: one NPC driven by a learnt policy, rewarded for the ego's avoidable crashes.

`AdversaryEnv` (Gymnasium id ``drive-adversary-v0``, registered by `pilotlab.drive` under RL's kind
``rl.env``, so ``pilotlab rl train --env drive-adversary-v0`` trains it while `pilotlab.rl` never names the
driving stack) wraps one highway-env scenario in which the ego is a driver of the stack (``modular`` by
default) and the agent is one NPC:

- **Which NPC**: at the reset, the nearest vehicle ahead of or beside the ego (ahead of its rear bumper,
  along the ego's heading), else the nearest one at all. It stops being highway-env's IDM / MOBIL vehicle
  and becomes a controlled vehicle (`MDPVehicle`) at the same position, heading, speed and lane.
- **Actions**: highway-env's five discrete meta-actions (`ACTIONS`), each held for one policy step: change
  lane left or right, keep, one cruise set-point up or down on a 5 m/s grid from 5 m/s to 5 m/s above the
  env's reference speed (`speed_grid`). So it can cut in, brake down to 5 m/s, block, but never stop dead
  in a lane or leave the road; highway-env's speed loop brakes at up to about 8 m/s^2 for one step down.
- **Observation** (`ROWS` x 5, float32, clipped to [-5, 5]): row 0 the NPC itself (1, speed, lateral
  offset in its lane, cruise set-point, lane number), row 1 the ego, rows 2.. the `OTHERS` nearest other
  vehicles, each as (present, dx, dy, dvx, dvy) in the NPC's heading frame (100 m, 30 m/s units).
- **Reward**: `crash_reward` (+1) when the ego crashes and `scenarios.crash_fault` puts it at fault (with
  any partner: an adversary that makes the ego swerve into a third car counts too); minus
  `npc_fault_penalty` for a crash the NPC is at fault for (it rammed the ego from behind, cut in within
  2 s, hit a standing ego: proves nothing about the ego); minus `alone_penalty` (0.25: such a crash already
  ends the episode and forfeits its chance of a +1) when the adversary crashes without the ego. All three
  end the episode. Otherwise a shaping term `shaping` x (phi' - phi) with
  phi = exp(-gap / 5 m), gap the ego-to-adversary centre distance less a car length: a difference of
  potentials (Ng et al. 1999), so it sums to phi(end) - phi(start) over an episode and pulls towards the
  ego without paying for merely being near.

Determinism: every reset draws the env seed from the env's own generator in the stress search's range
[1_000_000, 2_000_000); the driver and its sensor noise are seeded by (agent seed, env seed), as in
`scenarios.run_scenario`, and the inner env is built fresh for each episode. So an episode is a function of
(scenario, the adversary's action sequence), and `scenarios.Scenario.adversary` holding that sequence
replays it bit for bit through `AdversaryHooks` (the adversary's commands are applied before the driver
acts, in the env and in the replay alike).

With ``episode_log`` set, every episode the env simulates (complete, or cut off by a reset or close) is
appended to that JSONL file as {seed, actions, outcome, complete, adversary, adversary_crashed}: the stress
search counts a training run's episodes and collects its failures from it (`drive stress --methods rl`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from pilotlab.core.errors import PilotlabError
from pilotlab.drive import envs, metrics, scenarios
from pilotlab.drive.scenarios import ACTIONS, AdversaryHooks, choose_npc, speed_grid

ENV_ID = "drive-adversary-v0"
OTHERS = 4  # nearest other vehicles observed besides the ego
ROWS = 2 + OTHERS
DIST_SCALE = 100.0  # [m] observation unit of positions
SPEED_SCALE = 30.0  # [m/s] observation unit of speeds
LANE_WIDTH = 4.0  # [m] highway-env's StraightLane.DEFAULT_WIDTH
GAP_SCALE = 5.0  # [m] shaping potential exp(-gap / GAP_SCALE)
SEED_LOW, SEED_HIGH = 1_000_000, 2_000_000  # env seeds: the stress search's range (drive/stress.py)


def _gap(a: Any, b: Any) -> float:
    return float(np.hypot(*(np.asarray(a.position) - b.position))) - envs.VEHICLE_LENGTH


class AdversaryEnv(gym.Env):
    """One NPC against the driver under test (module docstring). Keyword arguments (``--env-kwargs``):

    env: highway-env scenario id; agent: the driver under test (modular, oracle, idm); agent_seed: its seed;
    duration: episode length [s] (None: the scenario's); knobs: `scenarios.SPACE` values (defaults: the
    env's own traffic and the default sensors); crash_reward, npc_fault_penalty, alone_penalty, shaping:
    the reward; episode_log: JSONL file every simulated episode is appended to."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, env: str = "highway-fast-v0", agent: str = "modular", agent_seed: int = 0,
                 duration: float | None = None, knobs: dict[str, float] | None = None, crash_reward: float = 1.0,
                 npc_fault_penalty: float = 1.0, alone_penalty: float = 0.25, shaping: float = 0.1,
                 episode_log: str | None = None):
        if not isinstance(knobs, (dict, type(None))):
            raise PilotlabError(f"{ENV_ID}: knobs must be a JSON object of scenario knobs, got {knobs!r}")
        self.template = scenarios.validate({"format": scenarios.FORMAT, "env": env, "seed": 0, "agent": agent,
                                            "agent_seed": agent_seed, "duration": duration, **(knobs or {})},
                                           f"{ENV_ID} keyword arguments")
        for name, value in (("crash_reward", crash_reward), ("npc_fault_penalty", npc_fault_penalty),
                            ("alone_penalty", alone_penalty), ("shaping", shaping)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < math.inf:
                raise PilotlabError(f"{ENV_ID}: {name} must be a finite number >= 0, got {value!r}")
        self.rewards = (float(crash_reward), float(npc_fault_penalty), float(alone_penalty), float(shaping))
        self.episode_log = Path(episode_log) if episode_log else None
        self.observation_space = gym.spaces.Box(-5.0, 5.0, (ROWS, 5), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(len(ACTIONS))
        self.last_record: dict[str, Any] | None = None  # the last finished episode's log record
        self._inner: Any = None
        self._hooks: AdversaryHooks | None = None
        self._open = False  # an episode is in progress (steps taken, not ended)

    # -- gymnasium API --------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        from pilotlab.drive.agents import make_agent

        super().reset(seed=seed)
        self._end_episode(complete=False)
        env_seed = int(self.np_random.integers(SEED_LOW, SEED_HIGH))
        sc = dataclasses.replace(self.template, seed=env_seed)
        self.scenario = sc
        self._agent = scenarios.configure_agent(make_agent(sc.agent, sc.agent_seed), sc)
        self._inner = envs.make_env(sc.env, sc.env_config())
        self._hooks = AdversaryHooks(sc)
        # the order of scenarios.run_scenario / episode.run_episode: prepare, reset, hooks, agent reset
        self._agent.prepare(self._inner)
        self._ego_obs, _ = self._inner.reset(seed=env_seed)
        self._hooks.after_reset(self._inner)
        self._agent.reset(self._inner, env_seed)
        self._period = envs.env_timing(self._inner)[0]
        self._stats = metrics.EpisodeStats()
        self._actions: list[int] = []
        self._phi = self._potential()
        return self._observe(), {"env_seed": env_seed}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._inner is None or self._hooks is None:
            raise RuntimeError("call reset() before step()")
        a = int(action)
        self._actions.append(a)
        self._open = True
        hooks, inner = self._hooks, self._inner
        hooks.command(a)
        ego_action = self._agent.act(inner, self._ego_obs)
        self._ego_obs, r, term, trunc, info = inner.step(ego_action)
        hooks.after_step(inner, len(self._actions) - 1)
        ego = inner.unwrapped.vehicle
        self._stats.ret += float(r) * self._period
        self._stats.crashed = self._stats.crashed or bool(info.get("crashed", ego.crashed))
        crash_reward, npc_penalty, alone_penalty, shaping = self.rewards
        phi = self._potential()
        reward = shaping * (phi - self._phi)
        self._phi = phi
        terminated = bool(term)
        if hooks.crash is not None:
            reward = crash_reward if hooks.crash["at_fault"] else -npc_penalty
            terminated = True
        elif hooks.npc is not None and hooks.npc.crashed:
            reward = -alone_penalty
            terminated = True
        truncated = bool(trunc) and not terminated
        info = {"env_seed": self.scenario.seed}
        if terminated or truncated:
            self._end_episode(complete=True)
        return self._observe(), float(reward), terminated, truncated, info

    def close(self) -> None:
        self._end_episode(complete=False)
        if self._inner is not None:
            self._inner.close()
            self._inner = None

    # -- helpers --------------------------------------------------------------------------------------------
    def _potential(self) -> float:
        npc = self._hooks.npc if self._hooks is not None else None
        if npc is None:
            return 0.0
        return float(math.exp(-max(_gap(npc, self._inner.unwrapped.vehicle), 0.0) / GAP_SCALE))

    def _observe(self) -> np.ndarray:
        obs = np.zeros((ROWS, 5), dtype=np.float32)
        npc = self._hooks.npc if self._hooks is not None else None
        if npc is None:
            return obs
        base = self._inner.unwrapped
        ego = base.vehicle
        c, s = math.cos(npc.heading), math.sin(npc.heading)
        rot = np.array([[c, s], [-s, c]])  # world -> the NPC's heading frame
        lane_index = npc.lane_index
        lateral = float(npc.lane.local_coordinates(npc.position)[1])
        n_lanes = len(base.road.network.graph[lane_index[0]][lane_index[1]])
        lane_no = float(lane_index[2] or 0) / max(n_lanes - 1, 1)
        obs[0] = [1.0, npc.speed / SPEED_SCALE, lateral / LANE_WIDTH, npc.target_speed / SPEED_SCALE, lane_no]
        others = sorted((v for v in base.road.vehicles if v is not npc and v is not ego), key=lambda v: _gap(v, npc))
        for i, v in enumerate([ego, *others[:OTHERS]]):
            dp = rot @ (np.asarray(v.position, dtype=float) - npc.position) / DIST_SCALE
            dv = rot @ (np.asarray(v.velocity, dtype=float) - npc.velocity) / SPEED_SCALE
            obs[1 + i] = [1.0, dp[0], dp[1], dv[0], dv[1]]
        return np.clip(obs, -5.0, 5.0)

    def _end_episode(self, complete: bool) -> None:
        """Close the episode in progress: its record (`last_record`), appended to the episode log."""
        if not self._open or self._hooks is None:
            return
        self._open = False
        hooks = self._hooks
        rec = {"seed": int(self.scenario.seed), "actions": list(self._actions),
               "outcome": scenarios.outcome(self._stats, hooks), "complete": bool(complete),
               "adversary": int(hooks.npc_serial),
               "adversary_crashed": bool(hooks.npc is not None and hooks.npc.crashed)}
        self.last_record = rec
        if self.episode_log is not None:
            with self.episode_log.open("a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")


def scenario_of(template: scenarios.Scenario, record: dict[str, Any]) -> scenarios.Scenario:
    """The replayable scenario of an episode `record` (the env's log line) under `template`'s settings."""
    return dataclasses.replace(template, seed=int(record["seed"]), adversary=tuple(int(a) for a in record["actions"]),
                               expect=dict(record["outcome"]))





# -- training (``drive stress --methods rl``) -------------------------------------------------------------
EVAL_EPISODES = 2  # the trainer's final greedy evaluation (its episodes are logged and counted like the rest)


def dqn_config(template: scenarios.Scenario, steps: int, seed: int, threads: int, run_dir: Path,
               episode_log: Path) -> Any:
    """The DQN run that trains the adversary against `template`'s driver, env and knobs.

    highway-env's own DQN recipe for its meta-actions (as the RL driver's, `recipes.py`: lr 5e-4, batch 32,
    learning starts 200, one gradient step per env step, target copy every 50 steps) on a 64-64 MLP,
    exploring over the first half of the steps: the budget is a few thousand steps, each a whole step of
    the driver under test. gamma 0.9 rather than the driver's 0.8: a failure takes a plan of several
    steps (get ahead of the ego, wait out the 2 s after a lane change that would make it a cut-in, brake)."""
    from pilotlab.rl.dqn import DQNConfig

    kwargs = {"env": template.env, "agent": template.agent, "agent_seed": template.agent_seed,
              "duration": template.duration, "knobs": template.knobs(), "episode_log": str(episode_log)}
    return DQNConfig(env=ENV_ID, env_kwargs=json.dumps(kwargs), total_steps=steps, num_envs=1, hidden=(64, 64),
                     lr=5e-4, batch_size=32, buffer_size=15_000, learning_starts=min(200, steps), train_freq=1,
                     gradient_steps=1, target_update_interval=50, gamma=0.9, exploration_fraction=0.5,
                     exploration_final_eps=0.05, eval_every=0, eval_episodes=EVAL_EPISODES,
                     log_every=max(1, min(500, steps)), checkpoint_every=steps, seed=seed, threads=threads,
                     run_dir=str(run_dir))


def load_policy(run_dir: Path, env: AdversaryEnv) -> Any:
    """The greedy policy of the adversary's DQN run, for `env` (built here from `env`'s spaces: rl's own
    `dqn.load_policy` probes the env with a reset and a step, an episode the log would count)."""
    import torch

    from pilotlab.core.config import from_dict
    from pilotlab.core.run import RunDir
    from pilotlab.core.session import load_weights
    from pilotlab.rl.common import policy_checkpoint
    from pilotlab.rl.dqn import DQNConfig, GreedyPolicy, build_q

    run = RunDir.open(run_dir)
    cfg = from_dict(DQNConfig, run.config()["config"])
    q = build_q(cfg, env.observation_space, env.action_space)
    state, _ = load_weights(run, policy_checkpoint(run))
    q.load_state_dict(state["q"])
    return GreedyPolicy(q, env.observation_space, torch.device("cpu"))


def read_log(path: Path) -> list[dict[str, Any]]:
    """The episode records of an episode log (a torn last line, from an interrupted write, is dropped)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and {"seed", "actions", "outcome"} <= set(rec):
            out.append(rec)
    return out


__all__ = ["ACTIONS", "ENV_ID", "EVAL_EPISODES", "AdversaryEnv", "AdversaryHooks", "choose_npc", "dqn_config",
           "load_policy", "read_log", "scenario_of", "speed_grid"]
