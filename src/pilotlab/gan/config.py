"""The fields every GAN shares; each model file subclasses `GANConfig` with its own defaults.

A "step" is one generator update; with `n_critic` > 1 the discriminator takes that many updates,
each on a fresh real batch, before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from torch import nn

from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError
from pilotlab.data import DATASETS
from pilotlab.gan.classifier import ClassifierConfig
from pilotlab.gan.diffaugment import parse_policy


@dataclass(frozen=True, kw_only=True)
class GANConfig(RunConfig):
    model: str = ""
    """GAN model: mlp-gan, dcgan, wgan-gp, cgan or sn-resnet (each has its own defaults)."""
    dataset: str = "mnist-5k"
    """Training images (see `pilotlab data list`): any image set; `folder` reads --data-dir/<class>/*.png or a flat
    --data-dir/*.png (unlabelled)."""
    data_dir: str | None = None
    """Folder holding the dataset's files (required for `folder`)."""
    resolution: int | None = None
    """Side [px] of the square images generated, 16 to 64: the data set's images are centre-cropped and resized to
    it (antialiased); default: the data set's own side clamped to 16..64 (28 for MNIST, 32 for CIFAR-10), 32 for
    a folder."""
    channels: int = 0
    """Image channels: 1 (grey; RGB converted by luminance) or 3 (RGB; grey repeated); 0: the data set's own (a
    folder: 1 when every file is grey)."""
    conditional: Literal["auto", "on", "off"] = "auto"
    """Class-conditional generation: auto = on when the data set has labels (class folders) and the model can
    condition (cgan, sn-resnet), else off; on/off force it."""
    mixed_images: Literal["convert", "reject"] = "convert"
    """A folder whose files differ in size or colour mode: convert (crop/resize and convert them, with a note) or
    reject (one error line naming them)."""
    metric: Literal["auto", "classifier", "ssl"] = "auto"
    """What eval/fd is computed on: classifier (our digit classifier; with GAN-test and coverage; 28x28 grey
    ten-class sets), ssl (a VICReg encoder trained on the data set's own training images; with KID and
    precision/recall; any data set); auto: classifier for mnist-5k and mnist, ssl otherwise."""
    ssl_steps: int = 600
    """Training steps of the metric's self-supervised encoder (trained once per data set and cached)."""
    ssl_width: int = 16
    """First-layer channels of the metric's encoder (16 for reported numbers; smaller only for tests)."""
    train_per_class: int | None = None
    """Train on only this many images per class (a seeded random subset, e.g. 10 for few-shot runs)."""
    epochs: int = 30
    """Passes of the discriminator over the training images."""
    batch_size: int = 64
    """Global batch size of real (and of generated) images per update."""
    z_dim: int = 100
    """Size of the latent noise z ~ N(0, I) (100 as in DCGAN)."""
    lr_g: float = 2e-4
    """Generator Adam learning rate."""
    lr_d: float = 2e-4
    """Discriminator Adam learning rate (set apart from lr-g for a two time-scale update rule)."""
    beta1: float = 0.5
    """Adam beta1 of both optimizers (0.5 as in DCGAN: momentum 0.9 oscillated)."""
    beta2: float = 0.999
    """Adam beta2 of both optimizers."""
    lr_decay: bool = False
    """Decay both learning rates linearly to 0 over the run's steps (max-steps, else from epochs)."""
    loss: Literal["ns", "hinge"] = "ns"
    """Adversarial loss of the logit models: ns (non-saturating BCE) or hinge (Lim & Ye, 2017);
    wgan-gp always uses the Wasserstein loss."""
    n_critic: int = 1
    """Discriminator updates per generator update."""
    label_smoothing: float = 0.0
    """One-sided label smoothing s: the discriminator's real target is 1 - s (0.1 gives 0.9)."""
    spectral_norm: bool = False
    """Spectral normalisation on every conv/linear layer of the discriminator."""
    diffaugment: str = ""
    """DiffAugment policy (Zhao et al., 2020): comma-separated transforms from translation, cutout,
    brightness, contrast, applied alike to real and generated images whenever D sees them (D and G
    steps); "" turns it off. Counters D memorising small training sets."""
    lecam: float = 0.0
    """Weight lambda of the LeCam regulariser on D (Tseng et al., 2021, eq. 3): pulls D's outputs towards
    moving averages of its outputs on the other class of images, against D memorising a small training set;
    0 turns it off. Logit models (not wgan-gp) only."""
    lecam_decay: float = 0.99
    """Decay of the moving averages of D's mean real and fake outputs the LeCam term anchors to (0.99 as in
    the paper)."""
    r1_gamma: float = 0.0
    """Weight gamma of the R1 penalty (gamma / 2) E_real ||grad_x D(x)||^2 on D (Mescheder et al., 2018);
    0 turns it off. Costs a double backward through D on every D step. Logit models (not wgan-gp) only."""
    ema_decay: float = 0.999
    """Decay of the exponential moving average of generator weights used for evaluation; 0 turns it off.
    With ema-start 0 it warms up as min(decay, (1 + t) / (10 + t)), which stays below 0.999 for 8,991 steps."""
    ema_start: int = 0
    """Generator steps during which the EMA just copies G; after them it averages with the fixed ema-decay
    (no warm-up). 0: average from the first step with the warm-up."""
    eval_every: int = 500
    """Evaluate (Fréchet distance, sample grid, best checkpoint) every this many steps and at the end."""
    eval_samples: int = 5000
    """Generated images per evaluation (5,000 matches the floor's 5,000 real digits)."""
    classifier_epochs: int = 30
    """Epochs of the scoring classifier (trained once and cached; fewer only for quick tests)."""
    classifier_width: int = 32
    """First-layer channels of the scoring classifier (32 for reported numbers; smaller only for tests)."""
    final_figures: bool = True
    """Write the end-of-training figures (sample GIF, loss and FD curves, interpolation strip); the
    per-evaluation sample grid is always written."""
    log_every: int = 50
    """Log losses every this many steps."""
    checkpoint_every: int = 500
    """Save checkpoints/last every this many steps (and at the end)."""
    max_steps: int | None = None
    """Stop after this many generator steps; default: from epochs."""
    time_budget_s: float | None = None
    """Stop training after this many seconds of training wall time [s] (then evaluate)."""
    budget_clock: Literal["wall", "cpu"] = "wall"
    """The clock time-budget-s counts: wall (training wall time) or cpu (the process's CPU time in
    training, which other jobs on a shared machine do not eat into)."""
    fd_target_ratio: float = 3.0
    """The wall time at which FD first falls to this multiple of the real-vs-real floor is reported."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dataset not in DATASETS:
            raise PilotlabError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.resolution is not None and not 16 <= self.resolution <= 64:
            raise PilotlabError(f"resolution must lie in 16..64 px, got {self.resolution}")
        if self.channels not in (0, 1, 3):
            raise PilotlabError(f"channels must be 1, 3 or 0 (the data set's own), got {self.channels}")
        if self.conditional not in ("auto", "on", "off"):
            raise PilotlabError(f"conditional must be auto, on or off, got {self.conditional!r}")
        if self.mixed_images not in ("convert", "reject"):
            raise PilotlabError(f"mixed-images must be convert or reject, got {self.mixed_images!r}")
        if self.metric not in ("auto", "classifier", "ssl"):
            raise PilotlabError(f"metric must be auto, classifier or ssl, got {self.metric!r}")
        if self.batch_size < 2:  # batch norm (in G, and in most D) needs two images to normalise over
            raise PilotlabError(f"batch-size must be >= 2, got {self.batch_size}")
        for name in ("epochs", "batch_size", "z_dim", "n_critic", "eval_every", "eval_samples", "log_every",
                     "checkpoint_every", "classifier_epochs", "classifier_width", "ssl_steps", "ssl_width"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("lr_g", "lr_d"):
            if getattr(self, name) <= 0:
                raise PilotlabError(f"{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise PilotlabError(f"beta1 and beta2 must lie in [0, 1), got {self.beta1}, {self.beta2}")
        if self.loss not in ("ns", "hinge"):
            raise PilotlabError(f"loss must be ns or hinge, got {self.loss!r}")
        if self.loss == "hinge" and self.label_smoothing:
            raise PilotlabError("label-smoothing applies to the non-saturating loss, not to the hinge loss")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise PilotlabError(f"label-smoothing must lie in [0, 0.5), got {self.label_smoothing}")
        if self.lecam < 0 or self.r1_gamma < 0:
            raise PilotlabError(f"lecam and r1-gamma must be >= 0 (0 = off), got {self.lecam}, {self.r1_gamma}")
        if not 0.0 <= self.lecam_decay < 1.0:
            raise PilotlabError(f"lecam-decay must lie in [0, 1), got {self.lecam_decay}")
        if self.model == "wgan-gp" and (self.lecam or self.r1_gamma):
            raise PilotlabError("lecam and r1-gamma regularise the logit models; wgan-gp has its gradient penalty")
        if not 0.0 <= self.ema_decay < 1.0:
            raise PilotlabError(f"ema-decay must lie in [0, 1) (0 = off), got {self.ema_decay}")
        if self.ema_start < 0:
            raise PilotlabError(f"ema-start must be >= 0, got {self.ema_start}")
        try:
            parse_policy(self.diffaugment)
        except ValueError as e:
            raise PilotlabError(f"diffaugment: {e}") from None
        if self.train_per_class is not None and self.train_per_class < 1:
            raise PilotlabError(f"train-per-class must be >= 1, got {self.train_per_class}")
        if self.max_steps is not None and self.max_steps < 1:
            raise PilotlabError(f"max-steps must be >= 1, got {self.max_steps}")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise PilotlabError(f"time-budget-s must be > 0, got {self.time_budget_s}")
        if self.budget_clock not in ("wall", "cpu"):
            raise PilotlabError(f"budget-clock must be wall or cpu, got {self.budget_clock!r}")
        if self.fd_target_ratio <= 0:
            raise PilotlabError(f"fd-target-ratio must be > 0, got {self.fd_target_ratio}")


@dataclass(frozen=True, kw_only=True)
class SNGANConfig(GANConfig):
    """SNGAN's way of training (Miyato et al., 2018) and the fields of a generator with a base width and a label
    embedding: what the cgan and sn-resnet share. The recipe won the MNIST benchmark (docs/gan.md)."""

    width: int = 32
    """Base channel count w of G (and of D unless d-width is set): the stage next to the image has w channels,
    each stage further away twice as many, up to 8w."""
    d_width: int | None = None
    """Base channel count of D when it should differ from G's."""
    embed_dim: int = 32
    """Size of the generator's label embedding concatenated to z (conditional runs only)."""
    loss: Literal["ns", "hinge"] = "hinge"
    """Adversarial loss: hinge (Lim & Ye, 2017, as SNGAN) or ns (non-saturating BCE, as DCGAN)."""
    spectral_norm: bool = True
    """Spectral normalisation on every conv/linear layer of the discriminator (Miyato et al., 2018)."""
    lr_g: float = 5e-4
    """Generator Adam learning rate."""
    lr_d: float = 5e-4
    """Discriminator Adam learning rate (set apart from lr-g for a two time-scale update rule)."""
    beta1: float = 0.0
    """Adam beta1 of both optimizers (0 as SNGAN and BigGAN train hinge GANs)."""
    beta2: float = 0.9
    """Adam beta2 of both optimizers (0.9 as SNGAN)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width < 1 or self.embed_dim < 1 or (self.d_width is not None and self.d_width < 1):
            raise PilotlabError(f"width, d-width and embed-dim must be >= 1, got {self.width}, {self.d_width}, "
                                f"{self.embed_dim}")


class GANModel(NamedTuple):
    """What a model file's `build` returns."""

    generator: nn.Module
    """forward(z (B, z_dim), y (B,) or None) -> images (B, C, H, W) in [-1, 1]"""
    discriminator: nn.Module
    """forward(x (B, C, H, W), y (B,) or None) -> logits or critic scores (B,)"""
    objective: str
    """"ns" (non-saturating GAN loss) or "wgan-gp" (Wasserstein loss + gradient penalty)"""
    conditional: bool
    """Whether G and D take class labels."""


def scorer_config(cfg: GANConfig) -> ClassifierConfig:
    """The scoring classifier a GAN run is evaluated with."""
    return ClassifierConfig(epochs=cfg.classifier_epochs, width=cfg.classifier_width)
