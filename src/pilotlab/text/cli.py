"""``pilotlab text train --method M | sample RUN_DIR | eval RUN_DIR``.

`train` takes its fields from the chosen method's config class (``--method masked --help`` shows
``--mask-prob``); method modules are imported only when chosen.
"""

from __future__ import annotations

from pilotlab.core.command import Command
from pilotlab.text import METHOD
from pilotlab.text.evaluate import EvalConfig, SampleConfig


def run_train(cfg: object) -> int:
    from pilotlab.core import distributed, registry
    from pilotlab.core.summary import TEXT_CHARS_PER_S, TEXT_VAL_BPC, TEXT_VAL_LOSS, TRAIN_STEPS, TRAIN_WALL_S

    run = registry.implementation(METHOD, cfg.method).train(cfg)  # type: ignore[attr-defined]
    if not distributed.is_main():
        return 0
    s = run.summary()
    print(f"run directory: {run.path}")
    nan = float("nan")
    print(f"  validation {s.get(TEXT_VAL_LOSS, nan):.4f} nats/char ({s.get(TEXT_VAL_BPC, nan):.4f} bits/char)"
          f" after {int(s.get(TRAIN_STEPS, 0))} steps, {s.get(TRAIN_WALL_S, 0.0):.0f} s, "
          f"{s.get(TEXT_CHARS_PER_S, 0.0):.0f} chars/s")
    return 0


def run_sample(cfg: SampleConfig) -> int:
    from pilotlab.text.evaluate import sample_run

    print(sample_run(cfg))
    return 0


def run_eval(cfg: EvalConfig) -> int:
    from pilotlab.text.evaluate import evaluate_run

    evaluate_run(cfg)
    return 0


COMMANDS = {
    "train": Command(None, run_train, "pretrain a character transformer without labels (causal gpt, masked); "
                     "writes a run dir", choices=METHOD, default="gpt"),
    "sample": Command(SampleConfig, run_sample, "continue a prompt with a trained gpt run (--temperature, --top-k)"),
    "eval": Command(EvalConfig, run_eval, "validation loss of a run in nats/char and bits/char"),
}
