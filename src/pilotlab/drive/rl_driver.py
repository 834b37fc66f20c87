"""RL drivers: a safety shield over a trained policy's meta-actions (Alshiekh et al., 2018, "Safe
Reinforcement Learning via Shielding"), for ``pilotlab drive eval --agent rl:RUN_DIR+shield``.

The RL policy (DQN or PPO from `pilotlab.rl`, trained with `pilotlab drive train`) ranks the five
meta-actions of highway-env's `DiscreteMetaAction` (its Q values or logits, `policy.scores`). The
shield removes those the modular planner's own safety checks (`planning.py`) reject in the current
scene, and the agent takes the best-ranked action left:

- LANE_LEFT / LANE_RIGHT: the target lane exists, no change is under way, and
  `planning.lane_change_safe` accepts it (constant-velocity prediction of the cars in and beyond the
  target lane, MOBIL's braking limit for the new follower), and the set-point the change keeps is
  within `braking_cap` of the new lane's cars ahead;
- IDLE / FASTER / SLOWER: the cruise set-point each one leads to is within `braking_cap` of every
  car ahead in the ego's lane (and the lane it is moving to): from that speed, braking at
  `PlannerConfig.b_actuator` keeps at least `s0` to a leader holding its speed;
- when nothing is left, SLOWER (the hardest braking the action space has).

highway-fast-v0's default set-points are 20, 25 and 30 m/s: a policy trained on them cannot brake
behind a leader slower than 20 m/s, even when both lane changes are refused. The shield therefore
extends the grid downwards in its own step (`lower_grid`: 0, 5, ..., 30) and goes below the policy's
lowest trained set-point only when the braking cap demands it (the crashes that showed the need:
docs/drive.md, "Shield").

The shield reads the other vehicles from the simulator, as the `oracle` driver does: it is a
safety layer on top of the learned policy, not part of it, and the benchmark reports the policy
with and without it on the same seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pilotlab.core.errors import PilotlabError
from pilotlab.drive import control, envs, planning
from pilotlab.drive.envs import VEHICLE_LENGTH
from pilotlab.drive.scene import build_scene

SHIELD_SUFFIX = "+shield"  # rl:RUN_DIR+shield evaluates RUN_DIR's policy behind the shield
N_META_ACTIONS = 5  # LANE_LEFT, IDLE, LANE_RIGHT, FASTER, SLOWER (control.META_ACTIONS)


def speed_cap(scene: planning.Scene, lanes: set[int], cfg: planning.PlannerConfig, period: float) -> float:
    """Highest set-point [m/s] that keeps `braking_cap` to every car ahead in `lanes` (inf if none)."""
    cap = np.inf
    for lane in lanes - {-1}:
        for i in planning.lane_members(scene, lane, cfg):
            gap = scene.objects.s[i] - scene.ego_s - VEHICLE_LENGTH  # [m] bumper to bumper
            if gap >= 0.0:
                cap = min(cap, planning.braking_cap(gap, scene.ego_v, scene.objects.v_s[i], period, cfg))
    return float(cap)


def allowed_actions(scene: planning.Scene, cfg: planning.PlannerConfig, grid: np.ndarray, set_point: float,
                    period: float = 1.0, floor: float = -np.inf) -> np.ndarray:
    """(5,) bool: which meta-actions the shield lets through in `scene` (see the module docstring).

    `grid` holds the env's cruise set-points [m/s] (``target_speeds``), `set_point` the ego's current
    one [m/s]; FASTER and SLOWER move one grid step from the grid speed nearest the ego's speed, as
    highway-env's `MDPVehicle` does. SLOWER to a set-point below `floor` [m/s] (the lowest one the
    policy was trained with) is allowed only when neither IDLE nor FASTER is.
    """
    grid = np.asarray(grid, dtype=float)
    ok = np.zeros(N_META_ACTIONS, dtype=bool)
    lanes = {scene.ego_lane, scene.also_lane}
    cap = speed_cap(scene, lanes, cfg, period)
    i = control.speed_index(scene.ego_v, grid)
    targets = {control.IDLE: set_point, control.FASTER: grid[min(i + 1, len(grid) - 1)],
               control.SLOWER: grid[max(i - 1, 0)]}
    for action, target in targets.items():
        ok[action] = target <= cap + 1e-6
    if targets[control.SLOWER] < floor - 1e-6 and (ok[control.IDLE] or ok[control.FASTER]):
        ok[control.SLOWER] = False  # below the trained range only when braking is needed
    if scene.lane_change_allowed:
        for action, step in ((control.LANE_LEFT, -1), (control.LANE_RIGHT, 1)):
            lane = scene.ego_lane + step
            if 0 <= lane < scene.n_lanes and planning.lane_change_safe(scene, lane, cfg)[0]:
                ok[action] = set_point <= min(cap, speed_cap(scene, {lane}, cfg, period)) + 1e-6
    if not ok.any():
        ok[control.SLOWER] = True
    return ok


def lower_grid(grid: np.ndarray) -> np.ndarray:
    """`grid` [m/s] extended downwards in its own step to 0: highway-fast-v0's default set-points
    (20, 25, 30) leave no way to brake behind a leader slower than 20 m/s."""
    grid = np.sort(np.asarray(grid, dtype=float))
    step = float(grid[1] - grid[0]) if len(grid) > 1 else float(grid[0])
    if step <= 0.0:
        return grid
    below = np.arange(grid[0] - step, -1e-9, -step)[::-1]  # (K,) ascending, >= 0
    return np.concatenate([below, grid])


def shielded_choice(scores: np.ndarray, ok: np.ndarray) -> int:
    """The best-scored action among the allowed ones; `scores` (A,) are Q values or logits."""
    return int(np.argmax(np.where(ok, scores, -np.inf)))


class Shield:
    """Builds the planner's scene from the simulator (ground-truth vehicles) and applies `allowed_actions`.

    The planner's settings are those the modular driver uses on highways (`PlannerConfig` defaults,
    desired speed `v0_ratio` x the reward's top speed).
    """

    def __init__(self, cfg: planning.PlannerConfig | None = None):
        self.base_cfg = cfg or planning.PlannerConfig()
        self.cfg = self.base_cfg
        self.interventions = 0  # policy steps where the shield overrode the policy's own choice
        self.steps = 0
        self.floor = -np.inf  # [m/s] the policy's lowest trained set-point

    def prepare(self, env: Any, extend_grid: bool = True) -> None:
        """Planner settings for this env, and set-points below the policy's lowest one (see `lower_grid`;
        `extend_grid=False` keeps the env's own set-points, as `shield_teacher` does in training)."""
        fields = {**self.base_cfg.__dict__, "v0": self.base_cfg.v0_ratio * envs.reference_speed(env)}
        self.cfg = planning.PlannerConfig(**fields)
        action = dict(env.unwrapped.config["action"])
        if action.get("type") != "DiscreteMetaAction":
            raise PilotlabError(f"the shield masks DiscreteMetaAction meta-actions; this env uses {action.get('type')}")
        if not extend_grid:
            return
        grid = np.asarray(action.get("target_speeds", env.unwrapped.action_type.target_speeds), dtype=float)
        self.floor = float(grid.min())
        action["target_speeds"] = lower_grid(grid).tolist()
        env.unwrapped.configure({"action": action})

    def mask(self, env: Any) -> np.ndarray:
        """(5,) bool allowed meta-actions in the env's current state."""
        truth = envs.ground_truth(env)
        scene = build_scene(env, truth.position, truth.velocity, self.cfg)
        ego = envs.ego_vehicle(env)
        grid = np.asarray(env.unwrapped.action_type.target_speeds, dtype=float)
        period, _ = envs.env_timing(env)
        return allowed_actions(scene, self.cfg, grid, float(getattr(ego, "target_speed", ego.speed)), period,
                               self.floor)

    def choose(self, env: Any, scores: np.ndarray) -> int:
        """The shielded action for the policy's `scores` (A,); counts interventions."""
        choice = shielded_choice(scores, self.mask(env))
        self.steps += 1
        self.interventions += int(choice != int(np.argmax(scores)))
        return choice


__all__ = ["N_META_ACTIONS", "SHIELD_SUFFIX", "Shield", "allowed_actions", "lower_grid", "shielded_choice", "speed_cap"]
