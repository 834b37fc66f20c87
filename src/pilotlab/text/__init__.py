"""Text: character-level transformers pretrained without labels (causal LM, masked denoising), sampling,
validation loss in nats and bits per character, and a downstream speaker task (speakers.py).

Registers the kind ``text.method`` (``--method``) in `pilotlab.core.registry`. Every method module exposes
its config class (named in the entry), ``train(cfg) -> RunDir`` and ``objective(...)`` (how a batch of
character windows becomes inputs and targets). Modules are imported only when chosen.
"""

from __future__ import annotations

from pilotlab.core.registry import Kind, define_kind, register

METHOD = "text.method"

define_kind(Kind(METHOD, "method", "text method",
                 "module with the config class, train(cfg) -> RunDir and objective(...) -> Objective"))

for _name, _module, _config, _help in [
    ("gpt", "gpt", "GPTConfig", "causal character language model (GPT-style: predict the next character)"),
    ("masked", "masked", "MaskedConfig",
     "masked-character denoising, bidirectional attention (BERT-style: predict corrupted characters, 15 in 100)"),
]:
    register(METHOD, _name, f"pilotlab.text.{_module}", _help, config=_config)

__all__ = ["METHOD"]
