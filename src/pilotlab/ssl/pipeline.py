"""Train-then-probe in one call: what `pilotlab ssl train` runs, and what the tour calls.

    from pilotlab.core.summary import SSL_LINEAR_10PC, SSL_PIXELS_LINEAR_10PC
    from pilotlab.ssl.pipeline import pretrain_and_probe
    summary = pretrain_and_probe("simclr", "mnist-5k", epochs=5, seed=0, run_dir="runs/tour-ssl")
    summary[SSL_LINEAR_10PC], summary[SSL_PIXELS_LINEAR_10PC]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pilotlab.core import distributed, registry
from pilotlab.core.config import build_config
from pilotlab.core.run import RunDir
from pilotlab.ssl import METHOD
from pilotlab.ssl.evaluate import EvalConfig, evaluate_run


def train_and_evaluate(cfg: Any) -> RunDir:
    """Train with `cfg` (any method's config); with ``cfg.evaluate``, run the probe protocol after.

    Under torchrun every rank trains and rank 0 alone evaluates; the others wait, then all leave
    the process group.
    """
    run = registry.implementation(METHOD, cfg.method).train(cfg)
    if cfg.evaluate and distributed.is_main():
        evaluate_run(EvalConfig(run_dir=str(run.path), seed=cfg.seed, threads=cfg.threads,
                                device="cpu" if cfg.device == "auto" else cfg.device))
    distributed.barrier()
    distributed.cleanup()
    return run


def pretrain_and_probe(method: str, dataset: str, epochs: int, seed: int, run_dir: str | Path,
                       **overrides: Any) -> dict[str, Any]:
    """Pretrain `method` on `dataset` without labels, probe it, and return the run's summary.

    Args:
        method: a registered ``ssl.method`` (ae, conv-ae, denoising-ae, simclr, vicreg).
        dataset: a key of `pilotlab.data.DATASETS` (e.g. "mnist-5k", "digits").
        epochs: passes over the training images.
        seed: seeds training, the label draws and the random-init baseline.
        run_dir: where the run directory is written (must not hold a run yet).
        **overrides: any other field of the method's config (e.g. batch_size=128, max_steps=50).

    Returns:
        summary.json as a dict: ``eval/linear_acc_all``, ``eval/linear_acc_10pc``, ``eval/linear_acc_100pc``,
        ``eval/knn_acc``, ``baseline/pixels_linear_acc_{all,10pc}``, ``baseline/random_linear_acc_{all,10pc}``,
        ``train/wall_s`` and more; the run directory also holds figures/ (embedding.png,
        probe_accuracy.png and, for autoencoders, reconstructions.png).
    """
    config_cls = registry.config_class(METHOD, method)
    values = {"method": method, "dataset": dataset, "epochs": epochs, "seed": seed, "run_dir": str(run_dir),
              "evaluate": True, **overrides}
    run = train_and_evaluate(build_config(config_cls, values))
    return RunDir(run.path, writable=False).summary()
