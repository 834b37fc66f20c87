"""A CenterNet-style camera detector: vehicles as points, with their bird's-eye position and its uncertainty.

Zhou, Wang & Krähenbühl, "Objects as Points" (2019): a heat map of object centres, read at its local maxima,
plus per-cell regressions. On a stride-4 map of `StrideFourBackbone` (16 x 32 cells for a 64 x 128 image):

- heat map (1): the 2D box centre, splatted as a Gaussian; the penalty-reduced focal loss of the paper (eq. 1);
- offset (2): sub-cell position of the centre, L1;
- size (2): log box width and height [px], L1 (for the 2D boxes COCO AP is computed on);
- position (2): the vehicle centre in the camera's ground frame as (log depth, lateral / depth), with
- log std (2) of each, trained by the Gaussian negative log-likelihood (a heteroscedastic regression), so
  every detection carries a covariance: the tracker fuses it with radar like any other measurement.

Cameras of other focal lengths (the wide side cameras) share the network: the position head works in the units
of a camera of focal length `FOCAL_REF`. A pinhole image taken with focal length f of a point at depth d and
lateral offset x is exactly the image, taken with `FOCAL_REF`, of the point at depth d FOCAL_REF / f and the
same lateral offset (and height); so the targets are log(d / s) and (x / d) s with s = f / FOCAL_REF, and
decoding maps them back with each image's own s. What the network sees and what it must say then agree
whatever the lens (s = 1 for the front and rear cameras: their detectors are unchanged).

Decoding: 3x3 max-pool peaks above `score_threshold`, at most `max_detections`. The position's covariance is
the predicted one propagated through (log d, r) -> (d, r d) to first order, inflated by `std_scale`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pilotlab.core.errors import PilotlabError
from pilotlab.nn.backbone import StrideFourBackbone

STRIDE = 4
HEADS = {"heat": 1, "offset": 2, "size": 2, "position": 2, "log_std": 2}
MIN_DEPTH = 1.0  # [m] depths below this are clipped in the targets (cars beside the camera)
FOCAL_REF = 96.0  # [px] the focal length the position head's units refer to (the forward camera's)


def focal_scales(focal: np.ndarray | list[float] | None, n: int) -> np.ndarray:
    """(n,) s = f / FOCAL_REF per image from focal lengths [px] (None: every image at FOCAL_REF)."""
    if focal is None:
        return np.ones(n)
    s = np.asarray(focal, dtype=float).reshape(-1) / FOCAL_REF
    if len(s) != n or not np.all(s > 0):
        raise PilotlabError(f"need {n} positive focal lengths, got {np.asarray(focal).tolist()!r}")
    return s


class CenterNet(nn.Module):
    """Backbone + one small head per output; `forward` returns a dict of (B, k, H/4, W/4) maps."""

    def __init__(self, width: int = 16, in_channels: int = 3):
        super().__init__()
        self.backbone = StrideFourBackbone(in_channels, width)
        c = self.backbone.out_channels
        self.neck = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True))
        self.out = nn.Conv2d(c, sum(HEADS.values()), 1)
        with torch.no_grad():  # heat map starts at a prior of 0.01 per cell (the paper's focal-loss init)
            self.out.bias.zero_()
            self.out.bias[0] = -4.6

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.out(self.neck(self.backbone(x)))
        out, k = {}, 0
        for name, n in HEADS.items():
            out[name] = y[:, k:k + n]
            k += n
        return out


def to_input(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in about [-1, 1]."""
    x = torch.as_tensor(images)
    return x.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


# -- targets ------------------------------------------------------------------------------------------------
class Targets(NamedTuple):
    heat: np.ndarray  # (N, 1, h, w) float32 in [0, 1], 1 exactly at each centre cell
    reg: np.ndarray  # (N, 6, h, w): offset (2), log size (2), log depth, lateral / depth
    mask: np.ndarray  # (N, 1, h, w) 1 at centre cells


def encode(annotations: list[list[dict[str, Any]]], height: int, width: int,
           focal: np.ndarray | list[float] | None = None) -> Targets:
    """Dense training targets from COCO annotations (with ``position_camera``) of images of `height` x `width`
    taken with focal lengths `focal` [px] (per image; None: `FOCAL_REF`)."""
    h, w = (height + STRIDE - 1) // STRIDE, (width + STRIDE - 1) // STRIDE
    n = len(annotations)
    scale = focal_scales(focal, n)
    heat = np.zeros((n, 1, h, w), np.float32)
    reg = np.zeros((n, 6, h, w), np.float32)
    mask = np.zeros((n, 1, h, w), np.float32)
    ys, xs = np.arange(h)[:, None], np.arange(w)[None, :]
    for i, anns in enumerate(annotations):
        # nearer (larger) boxes last: where two centres share a cell, the nearer car's regression wins
        for a in sorted(anns, key=lambda a: -a["position_camera"][0]):
            x0, y0, bw, bh = a["bbox"]
            cx, cy = (x0 + bw / 2) / STRIDE, (y0 + bh / 2) / STRIDE
            ix, iy = min(int(cx), w - 1), min(int(cy), h - 1)
            sigma = max(0.5, max(bw, bh) / STRIDE / 6.0)
            g = np.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2))
            np.maximum(heat[i, 0], g, out=heat[i, 0])
            d, lat = a["position_camera"]
            d = max(float(d), MIN_DEPTH)
            reg[i, :, iy, ix] = (cx - ix, cy - iy, np.log(max(bw, 1.0)), np.log(max(bh, 1.0)),
                                 np.log(d / scale[i]), lat / d * scale[i])
            mask[i, 0, iy, ix] = 1.0
    return Targets(heat, reg, mask)


def flip_targets(images: torch.Tensor, heat: torch.Tensor, reg: torch.Tensor, mask: torch.Tensor
                 ) -> tuple[torch.Tensor, ...]:
    """Mirror a batch left-right: images, maps, the x offset (cells are mirrored too) and the lateral ratio.

    Exact only when the image width is a multiple of the stride and the principal point is centred."""
    images, heat, reg, mask = (t.flip(-1) for t in (images, heat, reg, mask))
    reg = reg.clone()
    reg[:, 0] = torch.where(mask[:, 0] > 0, 1.0 - reg[:, 0], reg[:, 0])
    reg[:, 5] = -reg[:, 5]
    return images, heat, reg, mask


class Losses(NamedTuple):
    total: torch.Tensor
    heat: torch.Tensor
    offset: torch.Tensor
    size: torch.Tensor
    position: torch.Tensor


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced pixel-wise focal loss, normalised by the number of centres."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1.0).float()
    pos_loss = -(torch.log(p) * (1 - p) ** alpha * pos).sum()
    neg_loss = -(torch.log(1 - p) * p**alpha * (1 - target) ** beta * (1 - pos)).sum()
    return (pos_loss + neg_loss) / pos.sum().clamp(min=1.0)


def losses(out: dict[str, torch.Tensor], heat: torch.Tensor, reg: torch.Tensor, mask: torch.Tensor,
           size_weight: float = 0.1, position_weight: float = 1.0) -> Losses:
    n = mask.sum().clamp(min=1.0)
    l_heat = focal_loss(out["heat"], heat)
    l_off = (F.l1_loss(torch.sigmoid(out["offset"]), reg[:, 0:2], reduction="none") * mask).sum() / n
    l_size = (F.l1_loss(out["size"], reg[:, 2:4], reduction="none") * mask).sum() / n
    log_std = out["log_std"].clamp(-5.0, 3.0)
    nll = 0.5 * ((out["position"] - reg[:, 4:6]) * torch.exp(-log_std)) ** 2 + log_std
    l_pos = (nll * mask).sum() / n
    total = l_heat + l_off + size_weight * l_size + position_weight * l_pos
    return Losses(total, l_heat, l_off, l_size, l_pos)


# -- decoding -----------------------------------------------------------------------------------------------
class CameraDetections(NamedTuple):
    """Detections of one image, in the camera's ground frame (x along the optical axis, y to the right)."""

    score: np.ndarray  # (D,)
    box: np.ndarray  # (D, 4) [px] x, y, w, h (COCO)
    position: np.ndarray  # (D, 2) [m]
    cov: np.ndarray  # (D, 2, 2) [m^2]


def decode(out: dict[str, torch.Tensor], score_threshold: float = 0.3, max_detections: int = 20,
           std_scale: float = 1.0, min_std: float = 0.3, focal: np.ndarray | list[float] | None = None
           ) -> list[CameraDetections]:
    """Peaks of the heat map (3x3 local maxima above `score_threshold`) -> detections, per image taken with
    focal length `focal` [px] (per image; None: `FOCAL_REF`).

    The heads are read only at the `max_detections` best peaks of each image, all images at once."""
    heat = torch.sigmoid(out["heat"])  # (B, 1, h, w)
    peak = heat == F.max_pool2d(heat, 3, stride=1, padding=1)
    scores = torch.where(peak, heat, torch.zeros_like(heat)).flatten(1)  # (B, h w)
    b, _, h, w = heat.shape
    k = min(max_detections, h * w)
    top_t, idx_t = scores.topk(k, dim=1)  # (B, k)
    maps = torch.cat([out["offset"], out["size"], out["position"], out["log_std"]], 1).flatten(2)  # (B, 8, h w)
    g = maps.gather(2, idx_t[:, None, :].expand(-1, maps.shape[1], -1)).numpy().astype(np.float64)  # (B, 8, k)
    top, idx = top_t.numpy(), idx_t.numpy()
    off = 1.0 / (1.0 + np.exp(-g[:, 0:2]))  # sigmoid
    cx, cy = (idx % w + off[:, 0]) * STRIDE, (idx // w + off[:, 1]) * STRIDE  # (B, k) [px]
    bw, bh = np.exp(g[:, 2]), np.exp(g[:, 3])
    s = focal_scales(focal, b)[:, None]  # (B, 1): back from the reference lens to each image's own
    depth, ratio = np.exp(g[:, 4]) * s, g[:, 5] / s
    var = (np.exp(np.clip(g[:, 6:8], -5.0, 3.0)) * max(std_scale, 0.0)) ** 2  # (B, 2, k) of (log d, r)
    var[:, 1] /= s**2
    # (log d, r) -> (d, r d): J = [[d, 0], [r d, d]], so cov = J diag(var) J^T
    d2 = depth**2
    cov = np.empty((b, k, 2, 2))
    cov[..., 0, 0] = d2 * var[:, 0] + min_std**2
    cov[..., 0, 1] = cov[..., 1, 0] = d2 * ratio * var[:, 0]
    cov[..., 1, 1] = d2 * (ratio**2 * var[:, 0] + var[:, 1]) + min_std**2
    box = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], -1)  # (B, k, 4)
    position = np.stack([depth, ratio * depth], -1)  # (B, k, 2)
    result = []
    for i in range(b):
        keep = top[i] >= score_threshold
        result.append(CameraDetections(top[i][keep], box[i][keep], position[i][keep], cov[i][keep]))
    return result


# -- a trained detector, loaded for inference ---------------------------------------------------------------
def folded_for_inference(model: CenterNet) -> nn.Module:
    """A copy of `model` for inference: each BatchNorm folded into the conv before it (one op instead of two on
    these small maps), weights channels-last. Outputs as `model.eval()`'s, to rounding."""
    import copy

    net = copy.deepcopy(model).eval()
    layers = list(net.backbone.features)
    merged: list[nn.Module] = []
    for layer in layers:
        if isinstance(layer, nn.BatchNorm2d) and merged and isinstance(merged[-1], nn.Conv2d):
            conv = merged[-1]
            scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)  # (C,)
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              conv.dilation, conv.groups, bias=True)
            with torch.no_grad():
                fused.weight.copy_(conv.weight * scale[:, None, None, None])
                bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
                fused.bias.copy_((bias - layer.running_mean) * scale + layer.bias)
            merged[-1] = fused
        else:
            merged.append(layer)
    net.backbone.features = nn.Sequential(*merged)
    # `to_input` gives channels-last images (a permuted uint8 array); weights in the same layout save the
    # convolutions a conversion
    return net.requires_grad_(False).to(memory_format=torch.channels_last)


@dataclass
class Detector:
    """A trained `CenterNet` with its decoding settings; `detect(images)` -> per-image `CameraDetections`.

    Inference runs on a folded copy of the network (`folded_for_inference`), made at construction:
    a `model` changed afterwards is not seen."""

    model: CenterNet
    score_threshold: float = 0.3
    std_scale: float = 1.0

    def __post_init__(self) -> None:
        self._net = folded_for_inference(self.model)

    @torch.inference_mode()
    def detect(self, images: np.ndarray, focal: np.ndarray | list[float] | None = None) -> list[CameraDetections]:
        """Detections per image; `focal` [px] per image (None: all taken with `FOCAL_REF`)."""
        return decode(self._net(to_input(images)), self.score_threshold, std_scale=self.std_scale, focal=focal)


def load_detector(run_dir: str, checkpoint: str = "last", score_threshold: float = 0.3) -> Detector:
    """The detector of a `pilotlab drive train-perception` run (one-line error for anything else)."""
    from pilotlab.core.run import RunDir
    from pilotlab.core.session import load_weights

    run = RunDir.open(run_dir)
    saved = run.config()
    if saved.get("pillar") != "drive" or saved.get("method") != "perception":
        raise PilotlabError(f"{run_dir} is a {saved.get('pillar')} {saved.get('method')} run, not a "
                            "`pilotlab drive train-perception` run")
    state, meta = load_weights(run, checkpoint)
    width = meta.get("width")
    if not isinstance(width, int) or meta.get("backbone") != "StrideFourBackbone":
        raise PilotlabError(f"{run_dir}: checkpoint {checkpoint!r} holds no StrideFourBackbone detector")
    model = CenterNet(width)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError, AttributeError) as e:  # missing, misshapen, or not a state dict
        raise PilotlabError(f"{run_dir}: checkpoint {checkpoint!r} does not fit the detector "
                            f"({' '.join(str(e).split())[:120]})") from None
    return Detector(model, score_threshold, float(meta.get("std_scale", 1.0)))


__all__ = ["FOCAL_REF", "HEADS", "STRIDE", "CameraDetections", "CenterNet", "Detector", "Losses", "Targets", "decode",
           "encode", "flip_targets", "focal_loss", "focal_scales", "folded_for_inference", "load_detector", "losses",
           "to_input"]
