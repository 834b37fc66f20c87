"""GANs: MLP GAN, DCGAN, WGAN-GP and a class-conditional GAN, scored by our own MNIST classifier.

`MODELS` maps each model name to the module that holds its config class (`CONFIG`) and `build`;
modules are imported only when chosen (`model_module`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pilotlab.core.errors import PilotlabError

MODELS: dict[str, str] = {
    "mlp-gan": "pilotlab.gan.mlp_gan",
    "dcgan": "pilotlab.gan.dcgan",
    "wgan-gp": "pilotlab.gan.wgan_gp",
    "cgan": "pilotlab.gan.cgan",
}

MODEL_HELP: dict[str, str] = {
    "mlp-gan": "multi-layer perceptron GAN (Goodfellow et al. 2014)",
    "dcgan": "deep convolutional GAN (Radford et al. 2016)",
    "wgan-gp": "Wasserstein GAN with gradient penalty (Gulrajani et al. 2017)",
    "cgan": "class-conditional convolutional GAN (Mirza & Osindero 2014)",
}
"""--model -> one line for --help."""

DEFAULT_MODEL = "cgan"
"""The model `pilotlab gan train` trains without --model: the best measured on MNIST-5k (docs/gan.md, "Results")."""


def model_module(name: str) -> ModuleType:
    """The module implementing GAN `name` (a key of `MODELS`)."""
    if name not in MODELS:
        raise PilotlabError(f"unknown GAN model {name!r}; choose one of {', '.join(MODELS)}")
    return importlib.import_module(MODELS[name])


__all__ = ["DEFAULT_MODEL", "MODELS", "model_module"]
