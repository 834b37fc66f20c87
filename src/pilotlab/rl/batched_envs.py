"""Batched classic-control environments: N copies of one task stepped as a few array ops on (N, ...) arrays.

Gymnasium's `SyncVectorEnv` steps its sub-envs one after another in Python, tens of microseconds each;
here one `step` advances all N envs with the same few dozen NumPy ops whatever N is. Each class follows
the dynamics, constants, reset distribution, reward, termination and time limit (``max_episode_steps``
of `gymnasium.make`'s `TimeLimit`) of Gymnasium 1.4.0's ``gymnasium/envs/classic_control`` env of the
same id, in the same floating-point precision and order of operations;
`tests/rl/test_batched_envs.py` checks them transition by transition against Gymnasium's own envs.

The env is a `gymnasium.vector.VectorEnv` with next-step autoreset (``AutoresetMode.NEXT_STEP``, what
`pilotlab.rl.envs.make_vec_env` uses): after a row ends (terminated or truncated), the *next* `step`
ignores that row's action and returns a fresh reset observation with reward 0 and both flags False.
Inputs and outputs are NumPy arrays as from `SyncVectorEnv` (observations float32 (N, obs_dim), rewards
float64 (N,), terminated/truncated bool (N,)), so any code written for Gymnasium's vector envs takes it;
a torch trainer wraps them with `torch.from_numpy`, which shares the memory (no copy).

Why NumPy and not torch: on these (N, 4) arrays every op is pure dispatch overhead, and a small torch op
costs several times a NumPy one on a CPU (docs/rl.md, "Batched envs"), which would make one batched step
slower than Gymnasium's Python loop over 8 envs.

Actions are not checked against the action space (Gymnasium's envs assert it per step); Box actions are
clipped where Gymnasium's env clips them. Reset states are drawn from the env's `np_random` generator,
seeded by ``reset(seed=...)``: the same seed gives the same episodes. They do not reproduce
Gymnasium's own streams (N separately seeded envs), only the distributions.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from pilotlab.core.errors import PilotlabError


class BatchedEnv(VectorEnv):
    """N copies of one task as batched array ops with next-step autoreset; subclasses give the physics.

    ``self.state`` (N, state_dim) is the physical state of every row (public: the tests set it to
    Gymnasium's state). A subclass sets the class attributes below and implements `spaces`,
    `initial_state` and `transition` (and `observe` where the observation is not the state).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}
    env_id: str = ""
    max_episode_steps: int = 0
    """Gymnasium's registered time limit for `env_id`."""
    state_dtype: type = np.float64
    """Precision Gymnasium keeps the state in (float64, except MountainCarContinuous)."""
    defaults: dict[str, Any] = {}
    """Keyword arguments of the Gymnasium env this class accepts (besides max_episode_steps), with their defaults."""

    def __init__(self, num_envs: int, *, max_episode_steps: int | None = None, **params: Any):
        check_kwargs(type(self), params)
        if not isinstance(num_envs, int) or num_envs < 1:
            raise PilotlabError(f"num-envs must be an integer >= 1, got {num_envs!r}")
        if max_episode_steps is not None:
            if not isinstance(max_episode_steps, int) or isinstance(max_episode_steps, bool) or max_episode_steps < 1:
                raise PilotlabError(f"max_episode_steps must be an integer >= 1, got {max_episode_steps!r}")
            self.max_episode_steps = max_episode_steps
        self.params = {**self.defaults, **params}
        self.num_envs = num_envs
        self.single_observation_space, self.single_action_space = self.spaces()
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.state = self.initial_state(num_envs)
        self.elapsed = np.zeros(num_envs, dtype=np.int64)  # steps since the row's reset (TimeLimit's counter)
        self.ended = np.zeros(num_envs, dtype=bool)  # the row ended on the previous step: it restarts now

    # -- what a task defines
    def spaces(self) -> tuple[gym.Space, gym.Space]:
        """(single observation space, single action space), equal to Gymnasium's."""
        raise NotImplementedError

    def initial_state(self, n: int) -> np.ndarray:
        """(n, state_dim) states drawn from the task's reset distribution with `self.np_random`."""
        raise NotImplementedError

    def transition(self, state: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(next state, reward (N,), terminated (N,) bool) of one step of every row."""
        raise NotImplementedError

    def observe(self, state: np.ndarray) -> np.ndarray:
        """(N, obs_dim) float32 observation of `state`."""
        return state.astype(np.float32)

    # -- the VectorEnv interface
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None,
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every row (with ``options={"reset_mask": (N,) bool}``: the masked rows only)."""
        super().reset(seed=seed)  # seeds self.np_random
        mask = None if not options else options.get("reset_mask")
        rows = np.ones(self.num_envs, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        self.state[rows] = self.initial_state(int(rows.sum()))
        self.elapsed[rows] = 0
        self.ended[rows] = False
        return self.observe(self.state), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        restart = self.ended  # next-step autoreset: these rows ignore their action and restart
        self.state, reward, terminated = self.transition(self.state, np.asarray(actions))
        self.elapsed += 1
        if restart.any():
            self.state[restart] = self.initial_state(int(restart.sum()))
            self.elapsed[restart] = 0
            reward[restart] = 0.0
            terminated[restart] = False
        truncated = self.elapsed >= self.max_episode_steps  # TimeLimit: the step that reaches the limit
        self.ended = terminated | truncated
        return self.observe(self.state), reward, terminated, truncated, {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_id}, num_envs={self.num_envs})"

    # -- checkpointing: unlike Gymnasium's envs, the whole state is these arrays and the generator
    def state_dict(self) -> dict[str, Any]:
        """Every row's state, step counter and restart flag (arrays), and the generator's state (a dict)."""
        return {"state": self.state.copy(), "elapsed": self.elapsed.copy(), "ended": self.ended.copy(),
                "rng": self.np_random.bit_generator.state}

    def load_state_dict(self, saved: dict[str, Any]) -> np.ndarray:
        """Restore `state_dict`'s values; returns the observation of the restored state."""
        state = np.asarray(saved["state"], dtype=self.state_dtype)
        if state.shape != self.state.shape:
            raise ValueError(f"saved state has shape {state.shape}, this env {self.state.shape}")
        self.state, self.elapsed = state, np.asarray(saved["elapsed"], dtype=np.int64)
        self.ended = np.asarray(saved["ended"], dtype=bool)
        self.np_random.bit_generator.state = saved["rng"]
        return self.observe(self.state)


class CartPole(BatchedEnv):
    """CartPole-v1 (Barto, Sutton & Anderson 1983), gymnasium 1.4.0 ``cartpole.py``, explicit Euler.

    State (x [m], x_dot [m/s], theta [rad, 0 = upright], theta_dot [rad/s]); action 0 pushes the cart
    left, 1 right, with 10 N. Reward 1 per step, the terminating one included (``sutton_barto_reward``:
    0 per step, -1 on termination). Terminates when |x| > 2.4 m or |theta| > 12 degrees; time limit 500.
    Reset: every component uniform in (-0.05, 0.05).
    """

    env_id, max_episode_steps, defaults = "CartPole-v1", 500, {"sutton_barto_reward": False}
    gravity = 9.8  # m/s^2
    mass_cart, mass_pole = 1.0, 0.1  # kg
    length = 0.5  # m, half the pole's length (pivot to its centre of mass)
    force_mag = 10.0  # N
    tau = 0.02  # s per step
    x_threshold = 2.4  # m
    theta_threshold = 12 * 2 * math.pi / 360  # rad

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        high = np.array([self.x_threshold * 2, np.inf, self.theta_threshold * 2, np.inf], dtype=np.float32)
        return gym.spaces.Box(-high, high, dtype=np.float32), gym.spaces.Discrete(2)

    def initial_state(self, n: int) -> np.ndarray:
        return self.np_random.uniform(-0.05, 0.05, size=(n, 4))

    def transition(self, state: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, x_dot, theta, theta_dot = state.T
        force = np.where(action == 1, self.force_mag, -self.force_mag)  # N
        cos, sin = np.cos(theta), np.sin(theta)
        total_mass = self.mass_pole + self.mass_cart  # kg
        polemass_length = self.mass_pole * self.length  # kg m
        # frictionless cart-pole (see Florian 2007, "Correct equations for the dynamics of the cart-pole system")
        temp = (force + polemass_length * np.square(theta_dot) * sin) / total_mass  # m/s^2
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.mass_pole * np.square(cos) / total_mass))  # rad/s^2
        x_acc = temp - polemass_length * theta_acc * cos / total_mass  # m/s^2
        x, x_dot, theta, theta_dot = (x + self.tau * x_dot, x_dot + self.tau * x_acc,  # Euler: positions move
                                      theta + self.tau * theta_dot, theta_dot + self.tau * theta_acc)  # at old speeds
        terminated = ((x < -self.x_threshold) | (x > self.x_threshold)
                      | (theta < -self.theta_threshold) | (theta > self.theta_threshold))
        if self.params["sutton_barto_reward"]:
            reward = -terminated.astype(np.float64)
        else:
            reward = np.ones(len(state))
        return np.stack((x, x_dot, theta, theta_dot), axis=1), reward, terminated


class Acrobot(BatchedEnv):
    """Acrobot-v1 (Sutton 1996; the dynamics of Sutton & Barto's book), gymnasium 1.4.0 ``acrobot.py``.

    Two links of 1 m and 1 kg (centres of mass at 0.5 m, moments of inertia 1 kg m^2) hanging from a
    fixed pivot; state (theta1, theta2 [rad, theta2 relative to link 1], dtheta1, dtheta2 [rad/s]);
    action 0/1/2 applies a torque of -1/0/+1 N m at the joint between the links. One classic RK4 step of
    0.2 s, then angles wrapped to [-pi, pi] and velocities bounded to 4 pi and 9 pi rad/s. Reward -1 per
    step, 0 on the terminating one; terminates when the free end is more than one link length above
    the pivot: -cos(theta1) - cos(theta1 + theta2) > 1. Time limit 500. Reset: each component uniform in
    (-0.1, 0.1), rounded to float32 as Gymnasium stores it. Observation (cos theta1, sin theta1,
    cos theta2, sin theta2, dtheta1, dtheta2).
    """

    env_id, max_episode_steps = "Acrobot-v1", 500
    dt = 0.2  # s per step
    l1 = 1.0  # m, length of link 1
    m1 = m2 = 1.0  # kg
    lc1 = lc2 = 0.5  # m, a link's joint to its centre of mass
    moi = 1.0  # kg m^2, each link's moment of inertia
    g = 9.8  # m/s^2
    max_vel1, max_vel2 = 4 * math.pi, 9 * math.pi  # rad/s

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        high = np.array([1.0, 1.0, 1.0, 1.0, self.max_vel1, self.max_vel2], dtype=np.float32)
        return gym.spaces.Box(-high, high, dtype=np.float32), gym.spaces.Discrete(3)

    def initial_state(self, n: int) -> np.ndarray:
        return self.np_random.uniform(-0.1, 0.1, size=(n, 4)).astype(np.float32).astype(np.float64)

    def derivatives(self, s: np.ndarray, torque: np.ndarray) -> np.ndarray:
        """d/dt (theta1, theta2, dtheta1, dtheta2), (N, 4): the book's equations of motion."""
        m1, m2, l1, lc1, lc2, i1, i2, g = self.m1, self.m2, self.l1, self.lc1, self.lc2, self.moi, self.moi, self.g
        theta1, theta2, dtheta1, dtheta2 = s.T
        cos2, sin2 = np.cos(theta2), np.sin(theta2)
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * cos2) + i1 + i2  # kg m^2
        d2 = m2 * (lc2**2 + l1 * lc2 * cos2) + i2  # kg m^2
        phi2 = m2 * lc2 * g * np.cos(theta1 + theta2 - math.pi / 2.0)  # N m
        phi1 = (-m2 * l1 * lc2 * dtheta2**2 * sin2 - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
                + (m1 * lc1 + m2 * l1) * g * np.cos(theta1 - math.pi / 2) + phi2)  # N m
        ddtheta2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * sin2 - phi2) / (
            m2 * lc2**2 + i2 - d2**2 / d1)  # rad/s^2
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1  # rad/s^2
        return np.stack((dtheta1, dtheta2, ddtheta1, ddtheta2), axis=1)

    def transition(self, state: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        torque = np.asarray(action, dtype=np.float64) - 1.0  # N m: 0, 1, 2 -> -1, 0, +1
        h = self.dt
        k1 = self.derivatives(state, torque)
        k2 = self.derivatives(state + h / 2.0 * k1, torque)
        k3 = self.derivatives(state + h / 2.0 * k2, torque)
        k4 = self.derivatives(state + h * k3, torque)
        s = state + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        angles = s[:, :2]  # back into [-pi, pi] by whole turns
        turns = np.where(angles > math.pi, np.ceil((angles - math.pi) / (2 * math.pi)),
                         np.where(angles < -math.pi, -np.ceil((-math.pi - angles) / (2 * math.pi)), 0.0))
        s[:, :2] = angles - turns * (2 * math.pi)
        s[:, 2:] = np.clip(s[:, 2:], [-self.max_vel1, -self.max_vel2], [self.max_vel1, self.max_vel2])
        terminated = -np.cos(s[:, 0]) - np.cos(s[:, 1] + s[:, 0]) > 1.0
        return s, np.where(terminated, 0.0, -1.0), terminated

    def observe(self, state: np.ndarray) -> np.ndarray:
        theta1, theta2, dtheta1, dtheta2 = state.T
        return np.stack((np.cos(theta1), np.sin(theta1), np.cos(theta2), np.sin(theta2), dtheta1, dtheta2),
                        axis=1).astype(np.float32)


class MountainCar(BatchedEnv):
    """MountainCar-v0 (Moore 1990), gymnasium 1.4.0 ``mountain_car.py``.

    State (position in [-1.2, 0.6], velocity in [-0.07, 0.07]; the env's own length unit, per step);
    action 0/1/2 accelerates left/not/right: velocity += (action - 1) 0.001 - 0.0025 cos(3 position),
    clipped, then position += velocity, clipped; at the left wall a leftward velocity becomes 0. Reward
    -1 per step; terminates when position >= 0.5 and velocity >= goal_velocity (default 0). Time limit
    200. Reset: position uniform in (-0.6, -0.4), velocity 0.
    """

    env_id, max_episode_steps, defaults = "MountainCar-v0", 200, {"goal_velocity": 0}
    min_position, max_position, max_speed, goal_position = -1.2, 0.6, 0.07, 0.5
    force, gravity = 0.001, 0.0025

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        low = np.array([self.min_position, -self.max_speed], dtype=np.float32)
        high = np.array([self.max_position, self.max_speed], dtype=np.float32)
        return gym.spaces.Box(low, high, dtype=np.float32), gym.spaces.Discrete(3)

    def initial_state(self, n: int) -> np.ndarray:
        position = self.np_random.uniform(-0.6, -0.4, size=n)
        return np.stack((position, np.zeros(n)), axis=1).astype(self.state_dtype)

    def accelerate(self, action: np.ndarray, position: np.ndarray) -> np.ndarray:
        """The change of velocity in one step from the engine and gravity."""
        return (action - 1) * self.force + np.cos(3 * position) * -self.gravity

    def reward(self, action: np.ndarray, terminated: np.ndarray) -> np.ndarray:
        return np.full(len(terminated), -1.0)

    def transition(self, state: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        position, velocity = state.T
        velocity = np.clip(velocity + self.accelerate(action, position), -self.max_speed, self.max_speed)
        position = np.clip(position + velocity, self.min_position, self.max_position)
        velocity = np.where((position == self.min_position) & (velocity < 0), 0, velocity)  # inelastic wall
        terminated = (position >= self.goal_position) & (velocity >= self.params["goal_velocity"])
        return np.stack((position, velocity), axis=1), self.reward(action, terminated), terminated


class MountainCarContinuous(MountainCar):
    """MountainCarContinuous-v0, gymnasium 1.4.0 ``continuous_mountain_car.py``: MountainCar with a force.

    Action (1,) in [-1, 1] (clipped for the dynamics): velocity += force 0.0015 - 0.0025 cos(3 position).
    Terminates when position >= 0.45 and velocity >= goal_velocity (default 0); reward 100 on termination
    minus 0.1 action^2 every step (of the action as given, unclipped). Time limit 999. Gymnasium keeps
    this env's state in float32 (with the cosine in float64), so this class does too.
    """

    env_id, max_episode_steps, defaults = "MountainCarContinuous-v0", 999, {"goal_velocity": 0}
    state_dtype, goal_position, power = np.float32, 0.45, 0.0015

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        obs_space, _ = super().spaces()
        return obs_space, gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def accelerate(self, action: np.ndarray, position: np.ndarray) -> np.ndarray:
        force = np.clip(action[:, 0].astype(np.float32), -1.0, 1.0)
        gravity = (0.0025 * np.cos((3 * position).astype(np.float64))).astype(np.float32)
        return force * self.power - gravity

    def reward(self, action: np.ndarray, terminated: np.ndarray) -> np.ndarray:
        return np.where(terminated, 100.0, 0.0) - np.square(action[:, 0].astype(np.float64)) * 0.1


class Pendulum(BatchedEnv):
    """Pendulum-v1, gymnasium 1.4.0 ``pendulum.py``: swing a torque-limited pendulum up and keep it there.

    State (theta [rad, 0 = upright], theta_dot [rad/s]); action (1,) a torque u in [-2, 2] N m (clipped).
    m = 1 kg, l = 1 m, g = 10 m/s^2 (``g``), dt = 0.05 s, semi-implicit Euler:
    theta_dot += (3 g / (2 l) sin(theta) + 3 / (m l^2) u) dt, clipped to +-8 rad/s; theta += theta_dot dt.
    Reward -(normalized theta^2 + 0.1 theta_dot^2 + 0.001 u^2) of the state before the step; never
    terminates; time limit 200. Reset: theta uniform in (-pi, pi), theta_dot in (-1, 1). Observation
    (cos theta, sin theta, theta_dot).
    """

    env_id, max_episode_steps, defaults = "Pendulum-v1", 200, {"g": 10.0}
    max_speed = 8.0  # rad/s
    max_torque = 2.0  # N m
    dt = 0.05  # s per step
    m, l = 1.0, 1.0  # kg, m

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        high = np.array([1.0, 1.0, self.max_speed], dtype=np.float32)
        return (gym.spaces.Box(-high, high, dtype=np.float32),
                gym.spaces.Box(-self.max_torque, self.max_torque, shape=(1,), dtype=np.float32))

    def initial_state(self, n: int) -> np.ndarray:
        high = np.array([math.pi, 1.0])
        return self.np_random.uniform(-high, high, size=(n, 2))

    def transition(self, state: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        th, thdot = state.T
        g, m, l, dt = self.params["g"], self.m, self.l, self.dt
        u = np.clip(action[:, 0].astype(np.float32), -self.max_torque, self.max_torque)  # float32, as Gymnasium's
        normalized = (th + np.pi) % (2 * np.pi) - np.pi  # theta in [-pi, pi)
        costs = normalized**2 + 0.1 * thdot**2 + 0.001 * (u**2)
        new_thdot = np.clip(thdot + (3 * g / (2 * l) * np.sin(th) + 3.0 / (m * l**2) * u) * dt,
                            -self.max_speed, self.max_speed)
        new = np.stack((th + new_thdot * dt, new_thdot), axis=1)
        return new, -costs, np.zeros(len(state), dtype=bool)

    def observe(self, state: np.ndarray) -> np.ndarray:
        th, thdot = state.T
        return np.stack((np.cos(th), np.sin(th), thdot), axis=1).astype(np.float32)


BATCHED_ENVS: dict[str, type[BatchedEnv]] = {
    cls.env_id: cls for cls in (CartPole, Acrobot, MountainCar, MountainCarContinuous, Pendulum)
}


def check_batched(env_id: str, kwargs: dict[str, Any] | None = None) -> type[BatchedEnv]:
    """The batched env class of `env_id`; a one-line `PilotlabError` for an id without one or a keyword
    argument it does not take (checked without building anything, for config validation)."""
    cls = BATCHED_ENVS.get(env_id)
    if cls is None:
        raise PilotlabError(f"no batched env for {env_id!r}; batched envs: {', '.join(BATCHED_ENVS)} "
                            "(use --vector-env sync for other envs)")
    check_kwargs(cls, {k: v for k, v in (kwargs or {}).items() if k != "max_episode_steps"})
    return cls


def check_kwargs(cls: type[BatchedEnv], kwargs: dict[str, Any]) -> None:
    """A one-line `PilotlabError` naming the keyword arguments `cls` does not take."""
    unknown = sorted(set(kwargs) - set(cls.defaults))
    if unknown:
        accepted = ", ".join(["max_episode_steps", *cls.defaults])
        raise PilotlabError(f"batched {cls.env_id} does not take {', '.join(unknown)} (it takes: {accepted}); "
                            "use --vector-env sync for other keyword arguments")


def make_batched_env(env_id: str, num_envs: int, kwargs: dict[str, Any] | None = None) -> BatchedEnv:
    """The batched env of `env_id` with `num_envs` rows and Gymnasium's keyword arguments `kwargs`."""
    return check_batched(env_id, kwargs)(num_envs, **dict(kwargs or {}))
