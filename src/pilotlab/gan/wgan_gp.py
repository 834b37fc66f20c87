"""WGAN-GP (Gulrajani et al., 2017, "Improved Training of Wasserstein GANs").

The critic f is trained to maximise E[f(real)] - E[f(G(z))] - lambda * E[(||grad f(x_hat)||_2 - 1)^2]
with lambda = 10 and n_critic = 5 critic updates per generator update, Adam lr 1e-4, betas
(0.0, 0.9): the defaults of the paper's Algorithm 1. The critic has no batch norm: the penalty is
per sample and batch norm would couple the samples of a batch (section 4). Generator and critic
otherwise follow our DCGAN (`pilotlab.gan.dcgan`), so the two can be compared directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pilotlab.core.errors import PilotlabError
from pilotlab.gan.config import GANConfig, GANModel
from pilotlab.gan.dcgan import Discriminator, Generator
from pilotlab.gan.modules import add_spectral_norm, dcgan_init


@dataclass(frozen=True, kw_only=True)
class WGANGPConfig(GANConfig):
    model: Literal["wgan-gp"] = "wgan-gp"
    """GAN model: mlp-gan, dcgan, wgan-gp, cgan or sn-resnet (each has its own defaults)."""
    width: int = 32
    """Base channel count w of G and the critic."""
    gp_lambda: float = 10.0
    """Weight lambda of the gradient penalty (10 in the paper)."""
    n_critic: int = 5
    """Critic updates per generator update (5 in the paper)."""
    lr_g: float = 1e-4
    """Generator Adam learning rate (1e-4 in the paper)."""
    lr_d: float = 1e-4
    """Critic Adam learning rate (1e-4 in the paper)."""
    beta1: float = 0.0
    """Adam beta1 (0 in the paper)."""
    beta2: float = 0.9
    """Adam beta2 (0.9 in the paper)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width < 1:
            raise PilotlabError(f"width must be >= 1, got {self.width}")
        if self.gp_lambda < 0:
            raise PilotlabError(f"gp-lambda must be >= 0, got {self.gp_lambda}")
        if self.loss != "ns":
            raise PilotlabError("wgan-gp uses the Wasserstein loss; --loss applies to mlp-gan, dcgan and cgan")
        if self.label_smoothing:
            raise PilotlabError("label-smoothing applies to the non-saturating loss, not to the WGAN critic")


def build(cfg: WGANGPConfig, shape: tuple[int, int, int], num_classes: int) -> GANModel:
    g = Generator(cfg.z_dim, shape, cfg.width)
    critic = Discriminator(shape, cfg.width, batch_norm=False)
    g.apply(dcgan_init)
    critic.apply(dcgan_init)
    if cfg.spectral_norm:
        add_spectral_norm(critic)
    return GANModel(g, critic, "wgan-gp", conditional=False)
