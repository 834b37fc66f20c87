"""``pilotlab gan train --model M | eval RUN_DIR | sample RUN_DIR | augment``.

`train` takes its fields from the chosen model's own config class (``--model wgan-gp`` shows the
critic's fields and the paper's defaults); model modules are imported only when chosen.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pilotlab.core.command import Command
from pilotlab.gan import MODELS, model_module


class _LazyConfigs(Mapping[str, type]):
    """model name -> config class, importing a model's module only when it is chosen."""

    def __getitem__(self, model: str) -> type:
        return model_module(model).CONFIG

    def __iter__(self) -> Iterator[str]:
        return iter(MODELS)

    def __len__(self) -> int:
        return len(MODELS)


def run_train(cfg: object) -> int:
    from pilotlab.gan.train import train

    run = train(cfg)  # type: ignore[arg-type]
    summary = run.summary()
    print(f"run directory: {run.path}")
    print("  " + "  ".join(f"{k}={v:.4g}" for k, v in summary.items() if isinstance(v, float)))
    return 0


COMMANDS = {
    "train": Command(object, run_train, "train a GAN (mlp-gan, dcgan, wgan-gp, cgan); writes a run directory",
                     variants=_LazyConfigs(), variant_flag="model", default_variant="dcgan"),
}
