"""``pilotlab ssl train``."""

from __future__ import annotations

from pilotlab.core.command import Command
from pilotlab.ssl.autoencoder import AEConfig, train


def run_train(cfg: AEConfig) -> int:
    run = train(cfg)
    print(f"run directory: {run.path}")
    return 0


COMMANDS = {"train": Command(AEConfig, run_train, "train a self-supervised model; writes a run directory")}
