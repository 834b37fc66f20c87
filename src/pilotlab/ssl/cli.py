"""``pilotlab ssl train --method M [--dataset D] ...`` and ``pilotlab ssl eval RUN_DIR``.

`train` takes its fields from the chosen method's own config class (``--method simclr --help``
shows SimCLR's fields, among them ``--temperature``); method modules are imported only when chosen.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pilotlab.core.command import Command
from pilotlab.ssl import METHOD_HELP, METHODS, method_module
from pilotlab.ssl.evaluate import EvalConfig


class _LazyConfigs(Mapping[str, type]):
    """method -> config class, importing a method's module only when it is chosen."""

    def __getitem__(self, method: str) -> type:
        return method_module(method).CONFIGS[method]

    def __iter__(self) -> Iterator[str]:
        return iter(METHODS)

    def __len__(self) -> int:
        return len(METHODS)


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
    "train": Command(object, run_train, "pretrain without labels (autoencoders, SimCLR, VICReg); writes a run dir",
                     variants=_LazyConfigs(), variant_flag="method", default_variant="simclr",
                     descriptions=METHOD_HELP),
    "eval": Command(EvalConfig, run_eval, "probe a trained encoder (linear all/10/100 labels per class, kNN) "
                    "against raw pixels and a random-init encoder"),
}
