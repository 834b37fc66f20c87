"""Self-supervised learning: autoencoders and joint-embedding methods, evaluated by probes.

`METHODS` maps each ``--method`` to the module that trains it. Every method module exposes
``CONFIGS`` (method -> config class), ``train(cfg) -> RunDir``, ``encoder_from_state(run, state,
shape)`` (the trained feature extractor) and ``random_encoder(run, shape, seed)`` (the random-init
baseline of the same architecture). Modules are imported only when chosen.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pilotlab.core.errors import PilotlabError

METHODS: dict[str, str] = {
    "ae": "pilotlab.ssl.autoencoder",
    "conv-ae": "pilotlab.ssl.autoencoder",
    "denoising-ae": "pilotlab.ssl.autoencoder",
    "simclr": "pilotlab.ssl.simclr",
    "vicreg": "pilotlab.ssl.vicreg",
}
"""--method -> module implementing it."""

METHOD_HELP: dict[str, str] = {
    "ae": "dense autoencoder, reconstruction loss (Hinton & Salakhutdinov 2006)",
    "conv-ae": "convolutional autoencoder",
    "denoising-ae": "denoising autoencoder: reconstruct clean images from noisy ones (Vincent et al. 2008)",
    "simclr": "contrastive learning of two augmented views, NT-Xent loss (Chen et al. 2020)",
    "vicreg": "variance-invariance-covariance regularisation of two views (Bardes et al. 2022)",
}
"""--method -> one line for --help."""

DEFAULT_METHOD = "vicreg"
"""The method `pilotlab ssl train` runs without --method: the best measured on MNIST-5k (docs/ssl.md, "Results")."""


def method_module(method: str) -> ModuleType:
    """The module that trains `method` (imported on first use)."""
    if method not in METHODS:
        raise PilotlabError(f"unknown ssl method {method!r}; choose one of {', '.join(METHODS)}")
    return importlib.import_module(METHODS[method])


__all__ = ["DEFAULT_METHOD", "METHODS", "method_module"]
