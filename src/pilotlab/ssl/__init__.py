"""Self-supervised learning: autoencoders and joint-embedding methods, evaluated by probes.

Registers the kind ``ssl.method`` (``--method``) in `pilotlab.core.registry`. Every method module exposes
its config class (named in the entry), ``train(cfg) -> RunDir``, ``encoder_from_state(run, state, shape)``
(the trained feature extractor) and ``random_encoder(run, shape, seed)`` (the random-init baseline of the
same architecture). Modules are imported only when chosen.
"""

from __future__ import annotations

from pilotlab.core.registry import Kind, define_kind, register

METHOD = "ssl.method"

define_kind(Kind(METHOD, "method", "ssl method",
                 "module with the config class, train(cfg) -> RunDir, encoder_from_state and random_encoder"))

for _name, _module, _config, _help in [
    ("ae", "autoencoder", "AEConfig", "dense autoencoder, reconstruction loss (Hinton & Salakhutdinov 2006)"),
    ("conv-ae", "autoencoder", "AEConfig", "convolutional autoencoder"),
    ("denoising-ae", "autoencoder", "AEConfig",
     "denoising autoencoder: reconstruct clean images from noisy ones (Vincent et al. 2008)"),
    ("simclr", "simclr", "SimCLRConfig",
     "contrastive learning of two augmented views, NT-Xent loss (Chen et al. 2020)"),
    ("vicreg", "vicreg", "VICRegConfig",
     "variance-invariance-covariance regularisation of two views (Bardes et al. 2022)"),
]:
    register(METHOD, _name, f"pilotlab.ssl.{_module}", _help, config=_config)

DEFAULT_METHOD = "vicreg"
"""The method `pilotlab ssl train` runs without --method: the best measured on MNIST-5k (docs/ssl.md, "Results")."""

__all__ = ["DEFAULT_METHOD", "METHOD"]
