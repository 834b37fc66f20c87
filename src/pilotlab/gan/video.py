"""Video prediction and generation on Moving MNIST: the fields every video model shares, and its data.

The task (Srivastava et al. 2015; OpenSTL's table): see `context` frames of a 64x64 Moving MNIST sequence,
predict the next `frames - context`. Every model file (`video_simvp`, `video_convlstm`) subclasses
`VideoConfig` and exposes ``build(cfg) -> nn.Module`` whose forward maps (context (B, Tc, 1, 64, 64) in [0, 1],
z (B, z_dim) or None) to the future (B, Tf, 1, 64, 64) in [0, 1].

Beyond the deterministic predictor, two ways to sample futures: ``--latent vae`` (a posterior network reads
the whole true sequence and gives z during training; z ~ N(0, I) at sampling; the KL term keeps them alike)
and ``--latent noise`` (z ~ N(0, I) throughout, useful with ``--adv-weight`` > 0: a sequence discriminator
rewards sharp, plausible futures, which a pure MSE loss blurs). Either is scored as a generator by the
Frechet distance of per-frame features and by frame-to-frame consistency (`pilotlab.gan.video_metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from pilotlab.core.config import RunConfig
from pilotlab.core.errors import PilotlabError
from pilotlab.data import DATASETS
from pilotlab.data import moving_mnist as mm

MAX_FRAMES = 100


@dataclass(frozen=True, kw_only=True)
class VideoConfig(RunConfig):
    model: str = ""
    """Video model: simvp (convolutional, one pass) or convlstm (recurrent)."""
    dataset: str = "mnist-5k"
    """Digits the sequences are made of (28x28 grey digit sets: mnist-5k, mnist, digits, fashion-mnist); the
    training sequences use its training images, the fixed test set its test images."""
    data_dir: str | None = None
    """Folder holding the dataset's files."""
    frames: int = mm.FRAMES
    """Frames per sequence (20 in the standard protocol)."""
    context: int = 10
    """Frames the model sees; it predicts the other frames - context (10 -> 10 in the standard protocol)."""
    batch_size: int = 16
    """Sequences per update (each is a new draw of the endless training stream)."""
    lr: float = 1e-3
    """Adam learning rate of the predictor."""
    lr_schedule: Literal["constant", "cosine"] = "cosine"
    """constant, or cosine decay to 0 over max-steps (the budget in steps)."""
    max_steps: int = 2000
    """Training steps (a time budget may stop it earlier)."""
    time_budget_s: float | None = None
    """Stop training after this many seconds of training time [s] (budget-clock), then evaluate."""
    budget_clock: Literal["wall", "cpu"] = "cpu"
    """The clock time-budget-s and the MSE-vs-time curve count: cpu (the process's CPU time in training, which
    other jobs on a shared machine do not eat into) or wall."""
    latent: Literal["none", "vae", "noise"] = "none"
    """Sample futures from a latent z: none (deterministic predictor), vae (posterior network + KL), noise
    (z ~ N(0, I), meant with adv-weight > 0)."""
    z_dim: int = 16
    """Size of the latent z (latent vae or noise)."""
    kl_weight: float = 1.0
    """Weight of the KL term (latent vae), in nats per future pixel against the per-pixel squared error."""
    adv_weight: float = 0.0
    """Weight of the adversarial (hinge) loss of a sequence discriminator added to the MSE; 0 turns it off."""
    lr_d: float = 2e-4
    """Adam learning rate of the discriminator (adv-weight > 0)."""
    eval_every: int = 500
    """Evaluate on the test sequences every this many steps and at the end (the MSE-vs-time curve)."""
    eval_sequences: int = 1000
    """Test sequences per evaluation during training (the first of the fixed 10,000; `gan video-eval
    --sequences 10000` scores all)."""
    fd_sequences: int = 200
    """Test sequences scored as a generator at the end (FD of per-frame features, consistency); 0 skips it."""
    fd_samples: int = 3
    """Futures drawn per context for the generator scores (latent vae or noise; 1 otherwise)."""
    classifier_epochs: int = 30
    """Epochs of the digit classifier whose conv features score frames (cached; fewer only for tests)."""
    classifier_width: int = 32
    """First-layer channels of that classifier (32 for reported numbers)."""
    log_every: int = 25
    """Log the training losses every this many steps."""
    checkpoint_every: int = 250
    """Save checkpoints/last every this many steps (and at the end)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dataset not in DATASETS:
            raise PilotlabError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if not 2 <= self.frames <= MAX_FRAMES:
            raise PilotlabError(f"frames must lie in [2, {MAX_FRAMES}], got {self.frames}")
        if not 1 <= self.context < self.frames:
            raise PilotlabError(f"context must lie in [1, frames - 1] (frames {self.frames} leaves "
                                f"{self.frames - self.context} to predict), got {self.context}")
        for name in ("batch_size", "max_steps", "z_dim", "eval_every", "eval_sequences", "fd_samples", "log_every",
                     "checkpoint_every", "classifier_epochs", "classifier_width"):
            if getattr(self, name) < 1:
                raise PilotlabError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.eval_sequences > mm.TEST_SEQUENCES or 2 * self.fd_sequences > mm.TEST_SEQUENCES:
            raise PilotlabError(f"eval-sequences must be <= {mm.TEST_SEQUENCES} and fd-sequences <= "
                                f"{mm.TEST_SEQUENCES // 2} (the floor uses twice as many), got {self.eval_sequences}"
                                f", {self.fd_sequences}")
        if self.fd_sequences == 1:
            raise PilotlabError("fd-sequences must be 0 (off) or >= 2 (a covariance needs two points)")
        for name in ("lr", "lr_d"):
            if getattr(self, name) <= 0:
                raise PilotlabError(f"{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        if self.kl_weight < 0 or self.adv_weight < 0:
            raise PilotlabError(f"kl-weight and adv-weight must be >= 0, got {self.kl_weight}, {self.adv_weight}")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise PilotlabError(f"time-budget-s must be > 0, got {self.time_budget_s}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise PilotlabError(f"lr-schedule must be constant or cosine, got {self.lr_schedule!r}")
        if self.budget_clock not in ("wall", "cpu"):
            raise PilotlabError(f"budget-clock must be wall or cpu, got {self.budget_clock!r}")
        if self.latent not in ("none", "vae", "noise"):
            raise PilotlabError(f"latent must be none, vae or noise, got {self.latent!r}")

    @property
    def future(self) -> int:
        return self.frames - self.context


class VideoData(NamedTuple):
    """The training stream and the fixed test set of a run."""

    train: mm.MovingMNIST
    test: mm.MovingMNIST
    digits: str
    """What the test digits are, in words (the data set's test description)."""

    def test_words(self, n: int) -> str:
        """The first `n` test sequences, in words (summary key data/test_set)."""
        return (f"the first {n:,} of {mm.TEST_SEQUENCES:,} fixed Moving MNIST test sequences (64x64, "
                f"{self.test.num_digits} digits, {self.test.frames} frames, seed {mm.TEST_SEED}) made of "
                f"{self.digits}")


def video_data(dataset: str, data_dir: str | None, seed: int, frames: int) -> VideoData:
    """Moving MNIST from the digits of `dataset`; refuses a data set whose images are not grey digits that fit."""
    from pilotlab.data.registry import cached_dataset

    ds = cached_dataset(dataset, data_dir)
    c, h, w = ds.shape
    if c != 1 or max(h, w) > mm.CANVAS // 2:
        raise PilotlabError(f"dataset {dataset!r} has {c}x{h}x{w} images; Moving MNIST needs grey (1-channel) "
                            f"images of at most {mm.CANVAS // 2}x{mm.CANVAS // 2} px (e.g. mnist-5k)")
    train = mm.training_stream(ds.train_x, seed, frames)
    return VideoData(train, mm.fixed_test_sequences(ds.test_x, frames), ds.test_description)
