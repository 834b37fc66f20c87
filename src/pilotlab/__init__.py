"""pilotlab: self-supervised learning, GANs, reinforcement learning and a driving stack, measured."""

__version__ = "0.1.0"
