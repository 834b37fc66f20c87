"""``pilotlab drive eval --agent modular|oracle|idm|rl:RUN_DIR --env ID --episodes N``, ``drive train`` and
``drive stress --agent modular --env ID --budget N`` (drive/stress.py).

`train` delegates to `pilotlab.rl` (``--algo dqn|ppo``) with a highway-env id; the resulting run
directory is then evaluated with ``pilotlab drive eval --agent rl:RUN_DIR``.
"""

from __future__ import annotations

from pilotlab.core.command import Command
from pilotlab.drive import TRAIN_ALGO
from pilotlab.drive.evaluate import DriveEvalConfig, run_eval
from pilotlab.drive.stress import DriveStressConfig, run_stress
from pilotlab.rl.cli import run_train


def _eval(cfg: DriveEvalConfig) -> int:
    run_eval(cfg)
    return 0


def _stress(cfg: DriveStressConfig) -> int:
    run_stress(cfg)
    return 0


COMMANDS = {
    "eval": Command(DriveEvalConfig, _eval, "drive held-out episodes with modular, oracle, idm or rl:RUN_DIR drivers; "
                    "writes a run directory"),
    "train": Command(None, run_train, "train an RL driver with pilotlab.rl (e.g. --algo dqn --env highway-fast-v0)",
                     choices=TRAIN_ALGO, default="dqn"),
    "stress": Command(DriveStressConfig, _stress, "search scenarios (env seed, traffic, NPC behaviour, sensor noise) "
                      "for the driver's at-fault crashes with the cross-entropy method and uniform random sampling; "
                      "saves each failure as a replayable scenario file"),
}
