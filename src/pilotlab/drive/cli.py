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
from pilotlab.rl.presets import layer


def _record(cfg: object) -> int:
    from pilotlab.drive.record import run_record

    run_record(cfg)  # type: ignore[arg-type]
    return 0


def _train_perception(cfg: object) -> int:
    from pilotlab.drive.perception_train import train

    train(cfg)  # type: ignore[arg-type]
    return 0


def _pretrain_perception(cfg: object) -> int:
    from pilotlab.drive.perception_pretrain import train

    train(cfg)  # type: ignore[arg-type]
    return 0


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
                     choices=TRAIN_ALGO, default="dqn", preset=layer),
    "record": Command("pilotlab.drive.record:RecordConfig", _record,
                      "drive episodes and save camera frames with COCO labels (train, unlabelled, test splits)"),
    "train-perception": Command("pilotlab.drive.perception_train:TrainPerceptionConfig", _train_perception,
                                "train the camera detector (CenterNet-style) on a `drive record` dataset; "
                                "writes a run directory"),
    "pretrain-perception": Command("pilotlab.drive.perception_pretrain:PretrainPerceptionConfig",
                                   _pretrain_perception, "self-supervised pretraining (vicreg, simclr, masked) of "
                                   "the detector's backbone on unlabelled recorded frames; writes a run directory"),
    "stress": Command(DriveStressConfig, _stress, "search scenarios (env seed, traffic, NPC behaviour, sensor noise) "
                      "for the driver's at-fault crashes with the cross-entropy method, uniform random sampling and an "
                      "RL adversary NPC (--methods cem,random,rl); "
                      "saves each failure as a replayable scenario file"),
}
