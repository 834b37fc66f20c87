"""``pilotlab ssl eval RUN_DIR``: the probe protocol on a trained encoder, with its baselines.

One table, same protocol for every row (probe.py): the run's frozen encoder, the raw pixels, and a
randomly initialised encoder of the same architecture. Writes summary.json keys (pilotlab.core.summary)::

    eval/linear_acc_all  eval/linear_acc_10pc  eval/linear_acc_100pc  eval/knn_acc
    baseline/pixels_linear_acc_all  baseline/pixels_linear_acc_10pc
    baseline/random_linear_acc_all  baseline/random_linear_acc_10pc

(plus the std of each few-label probe, the remaining baseline probes, and `baseline/pixels_classic_*`:
raw pixels under the classic unscaled probe, the stronger pixel baseline; `data/test_set`: which test
images), and two figures: a 2-D PCA embedding of the test features coloured by label, and the probe
accuracy over training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from pilotlab.core import registry
from pilotlab.core.config import positional
from pilotlab.core.device import resolve_device
from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.core.session import load_weights
from pilotlab.core.summary import (
    DATA_TEST_SET,
    DATA_TEST_SIZE,
    SSL_EVAL,
    SSL_PIXELS,
    SSL_PIXELS_CLASSIC,
    SSL_PIXELS_LINEAR_10PC,
    SSL_RANDOM,
    SSL_RANDOM_LINEAR_10PC,
    ssl_probe,
)
from pilotlab.data import load_dataset
from pilotlab.data.registry import ImageDataset
from pilotlab.report.figures import save_line_plot
from pilotlab.ssl import METHOD
from pilotlab.ssl.probe import PIXEL_PROBE, extract_features, pixel_features, probe_suite

EMBEDDING_POINTS = 2000
"""Test images drawn in the 2-D embedding figure."""


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    run_dir: str = positional()
    """Run directory of a finished `pilotlab ssl train`."""
    checkpoint: str = "last"
    """Checkpoint of the run to evaluate (checkpoints/<name>.safetensors)."""
    draws: int = 3
    """Label draws of the 10- and 100-labels-per-class probes (mean and std are reported)."""
    seed: int = 0
    """Seed of the label draws and of the random-init baseline encoder."""
    baselines: bool = True
    """Also probe raw pixels and a random-init encoder of the same architecture."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "cpu"
    """Where the encoder runs."""
    threads: int = 1
    """torch intra-op threads."""

    def __post_init__(self) -> None:
        if self.draws < 1:
            raise PilotlabError(f"draws must be >= 1, got {self.draws}")
        if self.threads < 1:
            raise PilotlabError(f"threads must be >= 1, got {self.threads}")


def evaluate_run(cfg: EvalConfig) -> dict[str, Any]:
    """Probe the run's encoder and the baselines; update summary.json; return the new summary keys."""
    torch.set_num_threads(cfg.threads)
    run = RunDir.open(cfg.run_dir)
    doc = run.config()
    if doc.get("pillar") != "ssl":
        raise PilotlabError(f"{run.path} is a {doc.get('pillar')} run, not an ssl run")
    module = registry.implementation(METHOD, str(doc["method"]))
    saved = doc["config"]
    ds = load_dataset(saved["dataset"], saved.get("data_dir"))
    state, meta = load_weights(run, cfg.checkpoint)
    device = resolve_device(cfg.device)
    encoder = module.encoder_from_state(run, state, ds.shape).to(device)
    random = module.random_encoder(run, ds.shape, cfg.seed).to(device) if cfg.baselines else None
    return evaluate_encoder(run, str(doc["method"]), encoder, random, ds, device, cfg.draws, cfg.seed,
                            int(meta.get("step", 0)))


def evaluate_encoder(run: RunDir, name: str, encoder: nn.Module, random: nn.Module | None, ds: ImageDataset,
                     device: torch.device, draws: int = 3, seed: int = 0, step: int = 0) -> dict[str, Any]:
    """The protocol on in-memory encoders (used by `evaluate_run` and the benchmark)."""
    ytr, yte = ds.train_y.numpy(), ds.test_y.numpy()
    test_f = extract_features(encoder, ds.test_x, device)
    rows: dict[str, dict[str, float]] = {
        name: probe_suite(extract_features(encoder, ds.train_x, device), ytr, test_f, yte, seed, draws)
    }
    values: dict[str, Any] = {ssl_probe(SSL_EVAL, k): v for k, v in rows[name].items()}
    if random is not None:
        pix_tr, pix_te = pixel_features(ds.train_x), pixel_features(ds.test_x)
        rows["raw pixels"] = probe_suite(pix_tr, ytr, pix_te, yte, seed, draws)
        rows["raw pixels, classic probe"] = probe_suite(pix_tr, ytr, pix_te, yte, seed, draws, knn=False,
                                                        settings=PIXEL_PROBE)
        rows["random-init encoder"] = probe_suite(extract_features(random, ds.train_x, device), ytr,
                                                  extract_features(random, ds.test_x, device), yte, seed, draws)
        values.update({ssl_probe(SSL_PIXELS, k): v for k, v in rows["raw pixels"].items()})
        values.update({ssl_probe(SSL_PIXELS_CLASSIC, k): v for k, v in rows["raw pixels, classic probe"].items()})
        values.update({ssl_probe(SSL_RANDOM, k): v for k, v in rows["random-init encoder"].items()})
    run.log(step, {k: v for k, v in values.items() if k.startswith(SSL_EVAL)})
    values.update({DATA_TEST_SET: ds.test_description, DATA_TEST_SIZE: len(ds.test_y)})
    run.update_summary(values)
    if run.writable:
        save_embedding_plot(test_f[:EMBEDDING_POINTS], yte[:EMBEDDING_POINTS], ds.classes,
                            run.figure("embedding.png"), f"{name}: PCA of test features")
        save_probe_curve(run, values)
    run.close()
    print(format_table(rows, f"{ds.name}, test set: {ds.test_description}"))
    return values


def format_table(rows: dict[str, dict[str, float]], dataset: str) -> str:
    """Markdown table of probe accuracies [%] (mean ± std over label draws)."""
    lines = [f"probes on {dataset} (test accuracy %, mean ± std over label draws)", "",
             "| features | linear, all labels | linear, 10/class | linear, 100/class | kNN (k=20) |",
             "|---|---:|---:|---:|---:|"]
    for name, r in rows.items():
        cells = [f"{100 * r['linear_acc_all']:.1f}"]
        for budget in ("10pc", "100pc"):
            cells.append(f"{100 * r[f'linear_acc_{budget}']:.1f} ± {100 * r[f'linear_acc_{budget}_std']:.1f}")
        cells.append(f"{100 * r['knn_acc']:.1f}" if "knn_acc" in r else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_embedding_plot(features: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], path: Path,
                        title: str) -> Path:
    """Scatter of the first two principal components of `features` (N, D), coloured by label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        xy = PCA(n_components=2, random_state=0).fit_transform(features)  # (N, 2)
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for c in np.unique(labels):
        m = labels == c
        ax.scatter(xy[m, 0], xy[m, 1], s=4, color=cmap(int(c) % cmap.N), label=classes[int(c)], alpha=0.7)
    ax.set_title(title)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(markerscale=3, fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def save_probe_curve(run: RunDir, values: dict[str, float]) -> Path | None:
    """Quick-probe accuracies logged during training against the step, with the baselines as lines."""
    rows = run.metrics()
    series = {}
    for key, label in (("eval/knn_acc_subset", "kNN"), ("eval/linear_acc_10pc_subset", "linear, 10 labels/class")):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        if pts:
            series[label] = ([p[0] for p in pts], [p[1] for p in pts])
    if not series:
        return None
    hlines = {f"{name} (linear, 10/class)": values[k] for name, k in
              (("raw pixels", SSL_PIXELS_LINEAR_10PC), ("random init", SSL_RANDOM_LINEAR_10PC))
              if k in values}
    return save_line_plot(series, run.figure("probe_accuracy.png"), "probe accuracy during training (test subset)",
                          "step", "accuracy", hlines)
