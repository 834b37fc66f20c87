"""Observation encoders shared by the deep agents, chosen by name through `NETWORKS`.

An encoder maps a batch of observations (B, *obs_shape) to features (B, out_dim); the agents put
their heads (Q values, policy, value, critic) on top.

- ``mlp``: flatten, then Linear-activation blocks (the usual choice for vector observations).
- ``deepsets``: Zaheer et al. (2017), "Deep Sets": each row of an (E, F) observation (E entities of
  F features, e.g. highway-env's kinematics of nearby vehicles) goes through a shared MLP phi; the
  rows are pooled by mean and max, so the output does not change when rows are permuted; an MLP
  rho maps the pooled vector to features.
- ``deepsets-ego``: as ``deepsets`` over rows 1..E-1, concatenated with an MLP of row 0 (the ego
  vehicle in highway-env), so the agent knows which row is itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from pilotlab.core.errors import PilotlabError
from pilotlab.nn import mlp

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


class RunningNorm(nn.Module):
    """Running mean/variance of observations (Chan et al. parallel update); normalizes and clips to +-`clip`.

    PPO's, SAC's and DDPG's --normalize-obs; its buffers are part of the model's state, so checkpoints keep them.
    `min_std` floors the standard deviation it divides by (0: only the 1e-8 added to the variance): a coordinate
    that is almost constant in the data (a goal's height on a table) is otherwise blown up to +-clip by any
    change."""

    def __init__(self, shape: tuple[int, ...], min_std: float = 0.0, clip: float = 10.0):
        super().__init__()
        self.min_std, self.clip = min_std, clip
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("var", torch.ones(shape))
        self.register_buffer("count", torch.tensor(1e-4))

    def update(self, x: torch.Tensor) -> None:
        b_mean, b_var, b = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta, total = b_mean - self.mean, self.count + b
        self.mean += delta * b / total
        self.var.copy_((self.var * self.count + b_var * b + delta.pow(2) * self.count * b / total) / total)
        self.count += b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = torch.sqrt(self.var + 1e-8)
        if self.min_std > 0:
            std = std.clamp_min(self.min_std)
        return ((x - self.mean) / std).clamp(-self.clip, self.clip)


def flat_layers(net: nn.Module) -> list[nn.Module]:
    """The leaf layers of an `mlp` (nested Sequentials unrolled), in call order, for `run_layers`."""
    return [m for m in net.modules() if not isinstance(m, nn.Sequential)]


def run_layers(layers: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """x through `layers` as the Sequential would, minus the module-call overhead, with a ReLU that directly follows
    a Linear applied in place: the Linear's output is a fresh tensor that its backward does not read, so the
    values and gradients are those of the Sequential, bit for bit, with one allocation less per layer."""
    prev: nn.Module | None = None
    for layer in layers:
        x = x.relu_() if isinstance(layer, nn.ReLU) and isinstance(prev, nn.Linear) else layer.forward(x)
        prev = layer
    return x


class MLPEncoder(nn.Module):
    """(B, *obs_shape) -> flatten -> MLP -> (B, hidden[-1])."""

    def __init__(self, obs_shape: tuple[int, ...], hidden: Sequence[int], act: type[nn.Module]):
        super().__init__()
        in_dim = math.prod(obs_shape)
        self.out_dim = hidden[-1]
        self.net = nn.Sequential(mlp(in_dim, hidden[:-1], hidden[-1], act=act), act())
        # the same layers, flat, called through .forward: skipping nn.Module.__call__ and the nested Sequentials
        # saved about 10% of a 64-64 Q network's forward pass on a CPU (docs/rl.md), called ~10^5 times a run
        self._layers = [m for m in self.net.modules() if not isinstance(m, nn.Sequential)]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.flatten(1)  # (B, prod(obs_shape))
        for layer in self._layers:
            x = layer.forward(x)
        return x  # (B, out_dim)


def _pool(rows: torch.Tensor) -> torch.Tensor:
    """(B, E, H) -> (B, 2H): mean and max over the entity axis, both permutation invariant."""
    return torch.cat([rows.mean(dim=1), rows.amax(dim=1)], dim=-1)


class DeepSetsEncoder(nn.Module):
    """(B, E, F) -> phi per row (B, E, H) -> mean|max pool (B, 2H) -> rho -> (B, hidden[-1])."""

    def __init__(self, obs_shape: tuple[int, ...], hidden: Sequence[int], act: type[nn.Module], ego: bool = False):
        super().__init__()
        if len(obs_shape) != 2:
            raise PilotlabError(f"the deepsets network needs (entities, features) observations, got shape {obs_shape}")
        if ego and obs_shape[0] < 2:
            raise PilotlabError("the deepsets-ego network needs at least 2 rows (ego + others)")
        f, h = obs_shape[1], hidden[0]
        self.ego = ego
        self.out_dim = hidden[-1]
        self.phi = nn.Sequential(mlp(f, [], h, act=act), act())  # per-row embedding
        rho_in = 2 * h + (h if ego else 0)
        self.ego_net = nn.Sequential(mlp(f, [], h, act=act), act()) if ego else None
        self.rho = nn.Sequential(mlp(rho_in, hidden[1:-1], hidden[-1], act=act), act())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.ego_net is not None:
            pooled = _pool(self.phi(obs[:, 1:]))  # (B, E-1, F) -> (B, 2H)
            feats = torch.cat([self.ego_net(obs[:, 0]), pooled], dim=-1)  # (B, 3H)
        else:
            feats = _pool(self.phi(obs))  # (B, E, F) -> (B, 2H)
        return self.rho(feats)  # (B, out_dim)


NETWORKS: dict[str, Callable[[tuple[int, ...], Sequence[int], type[nn.Module]], nn.Module]] = {
    "mlp": MLPEncoder,
    "deepsets": DeepSetsEncoder,
    "deepsets-ego": lambda shape, hidden, act: DeepSetsEncoder(shape, hidden, act, ego=True),
}


def build_encoder(name: str, obs_shape: tuple[int, ...], hidden: Sequence[int], activation: str = "relu") -> nn.Module:
    """The encoder `name` from `NETWORKS`; it has an `out_dim` attribute."""
    if name not in NETWORKS:
        raise PilotlabError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}")
    if not hidden:
        raise PilotlabError("hidden needs at least one layer size")
    return NETWORKS[name](obs_shape, list(hidden), ACTIVATIONS[activation])
