"""ConvLSTM video predictor (Shi et al. 2015, "Convolutional LSTM Network"), sized for a CPU.

An LSTM whose gates are convolutions, so its state is a feature map: i, f, o, g = conv([x_t, h_{t-1}]),
c_t = f * c_{t-1} + i * tanh(g), h_t = o * tanh(c_t). As in OpenSTL's ConvLSTM, frames enter as 4x4 patches
(space-to-depth: a 64x64 frame becomes 16 channels at 16x16) and a 1x1 conv of the top layer's h_t gives the
next frame's patches. The stack reads the context frames, then predicts one frame at a time, feeding back
its own prediction; during training the true frame is fed back instead with a probability that falls
linearly from 1 to 0 over `scheduled_sampling_steps` (scheduled sampling, Bengio et al. 2015), since early
predictions are too poor to learn from. An optional latent z (B, z_dim) initialises the first layer's
hidden state, so sampling z samples a future.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from pilotlab.core.errors import PilotlabError
from pilotlab.gan.video import VideoConfig

PATCH = 4


@dataclass(frozen=True, kw_only=True)
class ConvLSTMConfig(VideoConfig):
    model: Literal["convlstm"] = "convlstm"
    """Video model: simvp (convolutional, one pass) or convlstm (recurrent)."""
    hidden: int = 32
    """Channels of each ConvLSTM layer's state (128 in OpenSTL's ConvLSTM-S)."""
    layers: int = 2
    """Stacked ConvLSTM layers (4 in OpenSTL's ConvLSTM-S)."""
    kernel: int = 3
    """Side of the gate convolutions' kernel (odd; 5 in OpenSTL)."""
    scheduled_sampling_steps: int = 2000
    """Training steps over which the chance of feeding back the true frame falls from 1 to 0 (0: never)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("hidden", "layers", "kernel"):
            if not 1 <= getattr(self, name) <= 1024:
                raise PilotlabError(f"{name} must lie in [1, 1024], got {getattr(self, name)}")
        if self.kernel % 2 == 0:
            raise PilotlabError(f"kernel must be odd (same-size convolutions), got {self.kernel}")


class Cell(nn.Module):
    """One ConvLSTM layer: (x (B, Cin, h, w), (h, c)) -> (h, c), each (B, hidden, h, w)."""

    def __init__(self, cin: int, hidden: int, kernel: int):
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(cin + hidden, 4 * hidden, kernel, 1, kernel // 2)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], 1)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class ConvLSTM(nn.Module):
    """forward(context (B, Tc, 1, H, W), z, truth=None, teacher=0.0) -> future (B, Tf, 1, H, W) in [0, 1].

    With `truth` (B, Tf, 1, H, W) and `teacher` p > 0, each fed-back frame is the true one with probability p.
    """

    def __init__(self, future: int, hidden: int, layers: int, kernel: int, z_dim: int = 0):
        super().__init__()
        self.future = future
        cin = PATCH * PATCH
        self.cells = nn.ModuleList([Cell(cin if k == 0 else hidden, hidden, kernel) for k in range(layers)])
        self.out = nn.Conv2d(hidden, cin, 1)
        self.z = nn.Linear(z_dim, hidden) if z_dim else None

    def forward(self, context: torch.Tensor, z: torch.Tensor | None = None, truth: torch.Tensor | None = None,
                teacher: float = 0.0) -> torch.Tensor:
        b, tc, _, hh, ww = context.shape
        h, w = hh // PATCH, ww // PATCH
        zeros = context.new_zeros(b, self.cells[0].hidden, h, w)
        states = [(zeros, zeros) for _ in self.cells]
        if self.z is not None and z is not None:
            states[0] = (torch.tanh(self.z(z))[:, :, None, None].expand(-1, -1, h, w), zeros)
        outs: list[torch.Tensor] = []
        x = F.pixel_unshuffle(context[:, 0], PATCH)  # (B, 16, h, w)
        for t in range(tc + self.future - 1):
            for k, cell in enumerate(self.cells):
                states[k] = cell(x if k == 0 else states[k - 1][0], states[k])
            if t < tc - 1:
                x = F.pixel_unshuffle(context[:, t + 1], PATCH)
                continue
            pred = torch.sigmoid(self.out(states[-1][0]))  # (B, 16, h, w): frame tc + len(outs)
            outs.append(pred)
            x = pred
            if truth is not None and teacher > 0.0 and len(outs) < self.future:
                use = (torch.rand(b, 1, 1, 1, device=pred.device) < teacher).to(pred.dtype)
                x = use * F.pixel_unshuffle(truth[:, len(outs) - 1], PATCH) + (1 - use) * pred
        return F.pixel_shuffle(torch.stack(outs, 1).flatten(0, 1), PATCH).reshape(b, self.future, 1, hh, ww)


def build(cfg: ConvLSTMConfig) -> nn.Module:
    return ConvLSTM(cfg.frames - cfg.context, cfg.hidden, cfg.layers, cfg.kernel,
                    cfg.z_dim if cfg.latent != "none" else 0)
