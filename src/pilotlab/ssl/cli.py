"""``pilotlab ssl train --method M [--dataset D] ...`` and ``pilotlab ssl eval RUN_DIR``.

`train` takes its fields from the chosen method's own config class (``--method simclr --help``
shows SimCLR's fields, among them ``--temperature``); method modules are imported only when chosen.
"""

from __future__ import annotations

from pilotlab.core.command import Command
from pilotlab.ssl import DEFAULT_METHOD, METHOD
from pilotlab.ssl.evaluate import EvalConfig


def run_train(cfg: object) -> int:
    from pilotlab.ssl.pipeline import train_and_evaluate

    run = train_and_evaluate(cfg)
    print(f"run directory: {run.path}")
    return 0


def run_eval(cfg: EvalConfig) -> int:
    from pilotlab.ssl.evaluate import evaluate_run

    evaluate_run(cfg)
    return 0


COMMANDS = {
    "train": Command(None, run_train, "pretrain without labels (autoencoders, SimCLR, VICReg); writes a run dir",
                     choices=METHOD, default=DEFAULT_METHOD),
    "eval": Command(EvalConfig, run_eval, "probe a trained encoder (linear all/10/100 labels per class, "
                    "kNN) against raw pixels and a random-init encoder"),
}
