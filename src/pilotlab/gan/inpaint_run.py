"""A finished `gan inpaint` run: load its networks, score it again (`inpaint eval`), restore a user's image
(`inpaint apply`), print its table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from pilotlab.core.config import from_dict, positional
from pilotlab.core.errors import PilotlabError
from pilotlab.core.run import RunDir
from pilotlab.core.session import load_weights
from pilotlab.core.summary import (
    DATA_TEST_SET,
    INPAINT_HOLE_FRACTION,
    INPAINT_MASK,
    TRAIN_CPU_S,
    TRAIN_STEPS,
    TRAIN_WALL_S,
)
from pilotlab.data.registry import cached_dataset as dataset
from pilotlab.gan import masks
from pilotlab.gan.inpaint import InpaintConfig, InpaintNet
from pilotlab.gan.inpaint_eval import Scorer, run_network, save_completions


def load_run(run_dir: str | Path, device: torch.device | str = "cpu") -> tuple[InpaintConfig, dict[str, nn.Module],
                                                                            dict[str, Any]]:
    """A finished inpainting run's config, its networks in eval mode ("generator", "l2_generator" if trained)
    and the checkpoint's metadata."""
    run = RunDir.open(run_dir)
    saved = run.config()
    if saved.get("pillar") != "gan" or saved.get("method") != "inpaint":
        raise PilotlabError(f"{str(run_dir)!r} is not a `gan inpaint train` run (pillar {saved.get('pillar')!r}, "
                            f"method {saved.get('method')!r})")
    cfg = from_dict(InpaintConfig, {**saved["config"], "resume": False})
    state, meta = load_weights(run, "last")
    shape = meta.get("image_shape")
    if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) and v > 0 for v in shape)):
        raise PilotlabError(f"{str(run_dir)!r}: checkpoints/last has no valid image_shape in its metadata; it was "
                            "damaged or written by another version")
    nets: dict[str, nn.Module] = {}
    for key in ("generator", "l2_generator"):
        if key == "l2_generator" and not cfg.l2_baseline:
            continue
        net = InpaintNet(shape[0], cfg.width)
        if not isinstance(state, dict) or key not in state:
            raise PilotlabError(f"{str(run_dir)!r}: checkpoints/last has no {key!r}; it was damaged")
        try:
            net.load_state_dict(state[key])
        except (KeyError, RuntimeError, ValueError, TypeError, AttributeError) as e:
            reason = " ".join(str(e).split())[:200]
            raise PilotlabError(f"{str(run_dir)!r}: checkpoints/last does not fit the run's {key!r} ({reason}); "
                                "it was damaged or written by another version") from None
        nets[key] = net.to(device).eval()
    return cfg, nets, meta


@dataclass(frozen=True, kw_only=True)
class InpaintEvalConfig:
    run_dir: str = positional()
    """Run directory of a `pilotlab gan inpaint train`."""
    mask: Literal["run", "centre", "box", "free-form"] = "run"
    """Masks to score on: run (the run's own), centre, box or free-form."""
    mask_size: int | None = None
    """Side [px] of a centre or box hole; default: the run's."""
    test_size: int | None = None
    """Test images to score (the first ones); default: the run's test-size (all)."""
    threads: int = 1
    """torch intra-op threads."""

    def __post_init__(self) -> None:
        if self.mask_size is not None and self.mask_size < 1:
            raise PilotlabError(f"mask-size must be >= 1, got {self.mask_size}")
        if self.test_size is not None and self.test_size < 2:
            raise PilotlabError(f"test-size must be >= 2 (a covariance needs two images), got {self.test_size}")
        if self.threads < 1:
            raise PilotlabError(f"threads must be >= 1, got {self.threads}")


def evaluate_run(cfg: InpaintEvalConfig) -> dict[str, Any]:
    """Score the run's last checkpoint and every baseline on the test split; merged into summary.json."""
    torch.set_num_threads(cfg.threads)
    run_cfg, nets, meta = load_run(cfg.run_dir)
    ds = dataset(run_cfg.dataset, run_cfg.data_dir, unlabelled=True)
    scorer = Scorer(run_cfg, ds, None if cfg.mask == "run" else cfg.mask, cfg.mask_size)
    n = cfg.test_size if cfg.test_size is not None else run_cfg.test_size
    scores = scorer.score_all(nets["generator"], nets.get("l2_generator"), n, "cpu")
    with RunDir.open(cfg.run_dir) as run:
        trained = {TRAIN_STEPS: int(meta.get("step", 0)), TRAIN_WALL_S: meta.get("wall_s"),
                   TRAIN_CPU_S: meta.get("cpu_s")}  # of the checkpoint scored
        summary = run.update_summary({**scores, **trained, "eval/step": int(meta.get("step", 0))})
        save_completions(run, scorer, nets["generator"], nets.get("l2_generator"), "cpu", "completions.png")
    return summary


def print_table(summary: dict[str, Any]) -> None:
    """The table of a run's summary on stdout, with what it was measured on."""
    from pilotlab.report.html import INPAINT_HEADER, inpaint_rows

    rows = [INPAINT_HEADER, *inpaint_rows(summary)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(INPAINT_HEADER))]
    print(f"{summary.get(INPAINT_MASK, '?')} masks on {summary.get(DATA_TEST_SET, '?')} "
          f"(hole: {100 * float(summary.get(INPAINT_HOLE_FRACTION) or 0):.1f}% of the pixels)")
    for r in rows:
        print("  " + "  ".join(c.ljust(wd) for c, wd in zip(r, widths)))


@dataclass(frozen=True, kw_only=True)
class InpaintApplyConfig:
    run_dir: str = positional()
    """Run directory of a `pilotlab gan inpaint train`."""
    image: str = ""
    """The image to restore: PNG, PGM or any file Pillow reads, or a .npy array; the run's image size."""
    mask_file: str = ""
    """The mask, the image's size: a grey image (white = missing pixels) or a .npy array (1 = missing)."""
    out: str = "restored.png"
    """Output file (.png, .pgm, .bmp, ... or .npy with values in [0, 1]); its folder must exist."""
    network: Literal["inpaint", "l2"] = "inpaint"
    """Which network fills the hole: inpaint (the run's, with its adversary) or l2 (the L2-only baseline)."""

    def __post_init__(self) -> None:
        from pilotlab.report.figures import check_output_file

        if not self.image:
            raise PilotlabError("--image is required: the image file to restore")
        if not self.mask_file:
            raise PilotlabError("--mask-file is required: the mask of the pixels to fill")
        if Path(self.out).suffix.lower() == ".npy":
            check_output_file(self.out, "--out", (".npy",))
        else:
            check_output_file(self.out, "--out", _writable_extensions())


def _writable_extensions() -> tuple[str, ...]:
    from pilotlab.report.figures import IMAGE_FORMATS

    return (*IMAGE_FORMATS, ".pgm", ".npy")


def apply_file(cfg: InpaintApplyConfig) -> Path:
    """Restore cfg.image's masked pixels with the run's network; writes cfg.out and returns its path."""
    run_cfg, nets, meta = load_run(cfg.run_dir)
    key = "generator" if cfg.network == "inpaint" else "l2_generator"
    if key not in nets:
        raise PilotlabError(f"{cfg.run_dir!r} trained no L2 network (it ran with --no-l2-baseline); use "
                            "--network inpaint")
    channels, h, w = meta["image_shape"]
    arr = masks.read_image_file(cfg.image, "L" if channels == 1 else "RGB")  # (H, W, C) uint8
    if arr.shape[:2] != (h, w):
        raise PilotlabError(f"image {cfg.image!r} is {arr.shape[0]}x{arr.shape[1]} but the run restores {h}x{w} "
                            f"images ({run_cfg.dataset}); resize it to {h}x{w}")
    m = masks.read_mask(cfg.mask_file, h, w)  # (1, H, W)
    x = torch.from_numpy(arr).permute(2, 0, 1).float().div(255)[None]  # (1, C, H, W) in [0, 1]
    restored = run_network(nets[key], x, m[None])[0]  # (C, H, W)
    return _write(restored, Path(cfg.out))


def _write(image: torch.Tensor, out: Path) -> Path:
    """Write (C, H, W) in [0, 1] as .npy (H, W[, C]) or an image file."""
    arr = image.permute(1, 2, 0).numpy()
    arr = arr[..., 0] if arr.shape[2] == 1 else arr
    if out.suffix.lower() == ".npy":
        np.save(out, arr.astype(np.float32))
        return out
    from PIL import Image

    Image.fromarray((arr * 255).round().astype(np.uint8)).save(out)
    return out
