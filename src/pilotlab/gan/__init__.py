"""GANs: MLP GAN, DCGAN, WGAN-GP, a class-conditional GAN and SN-ResNet, on any image set; scored by our own
digit classifier (digit sets) or a self-supervised encoder of the data set (any set).

Registers the kind ``gan.model`` (``--model``) in `pilotlab.core.registry`. Every model module exposes its
config class (named in the entry) and ``build(cfg, shape, num_classes)``; modules are imported only when
chosen.
"""

from __future__ import annotations

from pilotlab.core.registry import Kind, define_kind, register

MODEL = "gan.model"

define_kind(Kind(MODEL, "model", "GAN model", "module with the config class and build(cfg, shape, num_classes)"))

for _name, _module, _config, _help in [
    ("mlp-gan", "mlp_gan", "MLPGANConfig", "multi-layer perceptron GAN (Goodfellow et al. 2014)"),
    ("dcgan", "dcgan", "DCGANConfig", "deep convolutional GAN (Radford et al. 2016)"),
    ("wgan-gp", "wgan_gp", "WGANGPConfig", "Wasserstein GAN with gradient penalty (Gulrajani et al. 2017)"),
    ("cgan", "cgan", "CGANConfig", "class-conditional convolutional GAN (Mirza & Osindero 2014)"),
    ("sn-resnet", "resnet", "ResNetGANConfig", "SNGAN's residual G and spectrally normalised residual D "
     "(Miyato et al. 2018)"),
]:
    register(MODEL, _name, f"pilotlab.gan.{_module}", _help, config=_config)

DEFAULT_MODEL = "cgan"
"""The model `pilotlab gan train` trains without --model: the best measured on MNIST-5k (docs/gan.md, "Results")."""

VIDEO_MODEL = "gan.video-model"

define_kind(Kind(VIDEO_MODEL, "model", "video model", "module with the config class (a VideoConfig) and build(cfg)"))
register(VIDEO_MODEL, "simvp", "pilotlab.gan.video_simvp", "SimVP-style convolutional predictor (Gao et al. 2022)",
         config="SimVPConfig")
register(VIDEO_MODEL, "convlstm", "pilotlab.gan.video_convlstm", "ConvLSTM predictor (Shi et al. 2015)",
         config="ConvLSTMConfig")

__all__ = ["DEFAULT_MODEL", "MODEL", "VIDEO_MODEL"]
