"""Video files: read a user's clip as context frames, write predictions as an animated GIF (or MP4).

Reading goes through imageio (GIF, animated PNG/WebP, TIFF stacks with Pillow; MP4 and the like only where a
video plugin such as imageio-ffmpeg or PyAV is installed). Anything that cannot be decoded is a one-line
`PilotlabError`. Frames are converted to grey in [0, 1] and resized to 64x64 (area averaging) when needed.

Writing: GIF through `pilotlab.report.figures.save_gif`; MP4 only where imageio has a video plugin
(imageio-ffmpeg or PyAV), refused up front otherwise.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pilotlab.core.errors import PilotlabError, one_line
from pilotlab.data.moving_mnist import CANVAS
from pilotlab.report.figures import check_output_file, grid_array, save_gif

VIDEO_OUT = (".gif", ".mp4")
FPS = 4.0


def mp4_writer() -> str | None:
    """The imageio plugin that can write MP4 here ("pyav" or "FFMPEG"), or None."""
    if importlib.util.find_spec("av") is not None:
        return "pyav"
    if importlib.util.find_spec("imageio_ffmpeg") is not None:
        return "FFMPEG"
    return None


def check_video_out(path: str, flag: str = "--out") -> Path:
    """Refuse, before any work, an output a writer would fail on (see `check_output_file`), and MP4 without a
    writer."""
    p = check_output_file(path, flag, VIDEO_OUT)
    if p.suffix.lower() == ".mp4" and mp4_writer() is None:
        raise PilotlabError(f"{flag} {path!r}: no MP4 writer is installed (imageio needs imageio-ffmpeg or av); "
                            "write a .gif instead")
    return p


def write_video(frames: list[np.ndarray], path: str | Path, fps: float = FPS) -> Path:
    """uint8 (H, W, 3) frames -> an animated GIF or an MP4."""
    p = Path(path)
    if p.suffix.lower() != ".mp4":
        return save_gif(frames, p, fps)
    import imageio.v3 as iio

    plugin = mp4_writer()
    if plugin is None:
        raise PilotlabError(f"cannot write {str(p)!r}: no MP4 writer is installed; write a .gif instead")
    even = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]  # H.264 wants even sides
    iio.imwrite(p, np.stack(even), plugin=plugin, fps=fps, **({"codec": "libx264"} if plugin == "pyav" else {}))
    return p


def read_video(path: str, frames: int) -> torch.Tensor:
    """The first `frames` frames of the clip at `path` as float32 (frames, 1, 64, 64) in [0, 1]."""
    p = Path(path)
    if not p.is_file():
        raise PilotlabError(f"--input-video {path!r}: no such file")
    import imageio.v3 as iio

    try:
        decoded = []
        for frame in iio.imiter(p):  # each frame (H, W) grey or (H, W, C) colour
            f = np.asarray(frame, dtype=np.float64)
            decoded.append(f[..., :3].mean(axis=-1) if f.ndim == 3 else f)
            if len(decoded) == frames:
                break
    except Exception as e:  # any decoder failure (unknown format, truncated file) is bad input
        raise PilotlabError(f"--input-video {path!r} cannot be decoded as a video ({one_line(e, 160)}); give an "
                            "animated GIF (or a video format imageio can read here)") from None
    if not decoded or any(f.ndim != 2 or f.shape != decoded[0].shape or min(f.shape) < 1 for f in decoded):
        raise PilotlabError(f"--input-video {path!r}: its frames are not images of one size")
    arr = np.stack(decoded)  # (T, h, w)
    if len(arr) < frames:
        raise PilotlabError(f"--input-video {path!r} has {len(arr)} frame(s); the model needs {frames} context frames")
    x = torch.from_numpy(np.ascontiguousarray(arr[:frames], dtype=np.float32))
    x = (x / 255.0).clamp(0, 1)[:, None]  # (T, 1, h, w): 8-bit frames
    if x.shape[-2:] != (CANVAS, CANVAS):
        x = F.interpolate(x, size=(CANVAS, CANVAS), mode="area" if x.shape[-1] >= CANVAS else "bilinear")
    return x


def animation(rows: list[torch.Tensor], scale: int = 2) -> list[np.ndarray]:
    """Rows of sequences (each (N, T, 1, H, W) in [0, 1], same T) -> uint8 frames of a grid animation, one
    sequence per column and one row per tensor."""
    t = rows[0].shape[1]
    ncol = rows[0].shape[0]
    return [grid_array(torch.cat([r[:, k] for r in rows]), nrow=ncol, scale=scale) for k in range(t)]


def prediction_gif(model: torch.nn.Module, context: int, test: object, ids: range, path: Path,
                   samples: int = 1, seed: int = 0) -> Path:
    """A GIF of test sequences `ids` (columns): the true sequence on top, then `samples` predicted futures
    (z ~ N(0, I) where the model has a latent), each shown after the true context frames."""
    from pilotlab.gan.video_metrics import predict, sample_latents

    x = test.batch(ids)  # type: ignore[attr-defined]
    ctx = x[:, :context]
    rows = [x]
    for k in range(samples):
        z = sample_latents(model, len(x), seed + k)
        device = next(model.parameters()).device
        rows.append(torch.cat([ctx, predict(model, ctx.to(device), None if z is None else z.to(device)).cpu()], 1))
    return write_video(animation(rows), path)
