"""Moving MNIST and video prediction: the generator's physics and determinism, the metrics, video files,
tiny end-to-end runs of `gan video-train|video-eval|video-sample`, exact resume, and (slow) a short run
beating copy-last-frame."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pilotlab.cli import main
from pilotlab.core import checkpoint
from pilotlab.core.errors import PilotlabError
from pilotlab.core.summary import (
    VIDEO_COPY_LAST_MSE,
    VIDEO_FD,
    VIDEO_FD_FLOOR,
    VIDEO_MSE,
    VIDEO_MSE_PER_FRAME,
    VIDEO_MSE_VS_COPY,
    VIDEO_SSIM,
)
from pilotlab.data import moving_mnist as mm
from pilotlab.gan import video_metrics
from pilotlab.gan.video_io import mp4_writer, read_video, write_video

# -- the generator ---------------------------------------------------------------------------------------


def blocks(n: int = 5, side: int = 28) -> np.ndarray:
    """Stand-in digits: n solid squares of distinct brightness (no data set needed)."""
    return np.stack([np.full((side, side), 50 * (i + 1), np.uint8) for i in range(n)])


def test_trajectory_stays_inside_and_bounces_elastically() -> None:
    rng = np.random.default_rng(0)
    bounces = 0
    for _ in range(100):
        pos = mm.trajectory(rng, 60)
        assert pos.min() >= 0.0 and pos.max() <= 1.0
        steps = np.diff(pos, axis=0)  # (59, 2)
        assert np.hypot(*steps.T).max() == pytest.approx(mm.STEP)  # a free step moves exactly STEP
        for k in range(2):
            speed = np.abs(steps[:, k]).max()  # this component's constant speed
            if speed < 1e-3:
                continue
            free = np.isclose(np.abs(steps[:, k]), speed)
            for t in range(1, len(steps) - 1):
                if free[t - 1] and free[t + 1] and not free[t]:  # a bounce folds step t: the direction flips
                    assert np.sign(steps[t + 1, k]) == -np.sign(steps[t - 1, k])
                    bounces += 1
                elif free[t - 1] and free[t]:  # no bounce: the direction holds
                    assert np.sign(steps[t, k]) == np.sign(steps[t - 1, k])
    assert bounces > 50


def test_one_digit_never_leaves_the_frame_and_keeps_its_shape() -> None:
    digits = blocks(3)
    world = mm.MovingMNIST(digits, seed=3, frames=40, num_digits=1)
    for i in range(20):
        seq = world.sequence(i)
        which, corners = world.draw(i)
        assert corners.min() >= 0 and corners.max() <= mm.CANVAS - 28
        assert (seq.reshape(40, -1).sum(1) == int(digits[which[0]].sum())).all()  # all of it, every frame
        moves = np.abs(np.diff(corners[:, 0], axis=0)).max()
        assert 0 < moves <= 4  # 3.6 px per frame, rounded


def test_overlapping_digits_take_the_brighter_pixel() -> None:
    world = mm.MovingMNIST(blocks(5), seed=0, frames=20)
    for i in range(50):
        seq, (which, _) = world.sequence(i), world.draw(i)
        assert seq.max() == blocks(5)[which].max()
        assert set(np.unique(seq)) <= {0, *np.unique(blocks(5)[which]).tolist()}


def test_sequences_are_deterministic_and_distinct() -> None:
    a = mm.MovingMNIST(blocks(), seed=7)
    b = mm.MovingMNIST(blocks(), seed=7)
    assert np.array_equal(a.sequence(12), b.sequence(12))
    assert torch.equal(a.batch([3, 4]), b.batch(range(3, 5)))
    assert not np.array_equal(a.sequence(12), a.sequence(13))
    assert not np.array_equal(a.sequence(12), mm.MovingMNIST(blocks(), seed=8).sequence(12))
    x = a.batch(range(4))
    assert x.shape == (4, mm.FRAMES, 1, 64, 64) and x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 1
    digits = torch.from_numpy(blocks()).float()[:, None] / 255
    assert mm.training_stream(digits, seed=0, frames=20).seed != mm.fixed_test_sequences(digits, 20).seed


def test_generator_refuses_unusable_digits() -> None:
    with pytest.raises(ValueError, match="uint8"):
        mm.MovingMNIST(blocks().astype(np.float32), seed=0)
    with pytest.raises(ValueError, match="fit"):
        mm.MovingMNIST(np.zeros((2, 70, 70), np.uint8), seed=0)


# -- metrics ---------------------------------------------------------------------------------------------


class CopyLast(torch.nn.Module):
    def __init__(self, future: int):
        super().__init__()
        self.future = future
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, context: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        return context[:, -1:].expand(-1, self.future, -1, -1, -1) + 0 * self.w


def test_metrics_follow_the_openstl_convention() -> None:
    test = mm.MovingMNIST(blocks(), seed=1)
    s = video_metrics.evaluate(CopyLast(10), test, 10, 6)
    assert s[VIDEO_MSE] == pytest.approx(s[VIDEO_COPY_LAST_MSE]) and s[VIDEO_MSE_VS_COPY] == pytest.approx(1.0)
    x = test.batch(range(6))
    err = (x[:, 9:10] - x[:, 10:]).double()
    assert s[VIDEO_MSE] == pytest.approx(float(err.pow(2).sum(dim=(2, 3, 4)).mean()))  # summed per frame
    assert s[VIDEO_MSE_PER_FRAME][0] == pytest.approx(float(err[:, 0].pow(2).sum(dim=(1, 2, 3)).mean()))
    same = video_metrics.ssim(x[:, 0], x[:, 0])
    assert torch.allclose(same, torch.ones_like(same), atol=1e-4)


def test_frame_change_counts_changed_pixels() -> None:
    x = torch.zeros(2, 3, 1, 4, 4)
    x[:, 1] = 1.0
    assert video_metrics.frame_change(x) == pytest.approx(16.0)  # 0 -> 1 -> 0: 16 pixels change each step


def ramp(n: int, side: int = 64) -> list[np.ndarray]:
    """n distinct frames (a GIF writer merges identical neighbours into one frame)."""
    return [np.full((side, side, 3), 20 * i, np.uint8) for i in range(n)]


# -- video files -----------------------------------------------------------------------------------------


def test_video_round_trip_and_undecodable_files(tmp_path: Path) -> None:
    seq = mm.MovingMNIST(blocks(), seed=2).batch([0])[0]  # (T, 1, 64, 64)
    gif = write_video([np.repeat((f[0].numpy() * 255).astype(np.uint8)[..., None], 3, -1) for f in seq],
                      tmp_path / "clip.gif")
    back = read_video(str(gif), 10)
    assert back.shape == (10, 1, 64, 64)
    assert (back - seq[:10]).abs().max() < 0.02
    small = write_video(ramp(12, 32), tmp_path / "small.gif")
    assert read_video(str(small), 10).shape == (10, 1, 64, 64)  # resized
    junk = tmp_path / "junk.gif"
    junk.write_bytes(b"GIF89a not really a gif")
    with pytest.raises(PilotlabError, match="cannot be decoded"):
        read_video(str(junk), 10)
    with pytest.raises(PilotlabError, match="frame"):
        read_video(str(small), 20)
    with pytest.raises(PilotlabError, match="no such file"):
        read_video(str(tmp_path / "missing.gif"), 10)


# -- end to end ------------------------------------------------------------------------------------------
TINY_CLF = ["--classifier-epochs", "1", "--classifier-width", "8"]  # as tests/gan/conftest.py: shared cache
SIZE = {"simvp": ["--spatial-width", "8", "--translator-width", "16", "--translator-blocks", "1"],
        "convlstm": ["--hidden", "8", "--layers", "1", "--scheduled-sampling-steps", "4"]}


def tiny(model: str, run: Path, steps: int = 4, *extra: str) -> list[str]:
    return ["gan", "video-train", "--model", model, "--run-dir", str(run), "--max-steps", str(steps),
            "--batch-size", "2", "--eval-every", "2", "--eval-sequences", "4", "--fd-sequences", "0",
            "--log-every", "1", "--checkpoint-every", "2", *TINY_CLF, *SIZE[model], *extra]


@pytest.mark.parametrize("model", ["simvp", "convlstm"])
def test_train_eval_sample_every_model(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / model
    assert main(tiny(model, run, 2, "--latent", "vae", "--adv-weight", "0.1")) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary[VIDEO_MSE] > 0 and summary[VIDEO_COPY_LAST_MSE] > 0 and 0 < summary[VIDEO_SSIM] <= 1
    assert "Moving MNIST" in summary["data/test_set"]
    assert (run / "figures" / "predictions.gif").is_file() and (run / "figures" / "mse_vs_time.png").is_file()
    rows = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("eval/train_cpu_s" in r for r in rows) and any("train/d_loss" in r for r in rows)
    assert main(["gan", "video-eval", str(run), "--sequences", "3", "--fd-sequences", "3"]) == 0
    assert "copy-last-frame" in capsys.readouterr().out
    out = tmp_path / "pred.gif"
    assert main(["gan", "video-sample", str(run), "--out", str(out), "--sequences", "2", "--samples", "2"]) == 0
    assert out.is_file()
    assert main(["report", str(run)]) == 0  # the run appears in its HTML/Markdown report
    assert "eval/mse" in (run / "report.md").read_text()
    page = (run / "report.html").read_text()
    assert "predictions.gif" in page and "mse_vs_time" in page and "eval/ssim" in page
    summary["data/test_set"] = "<script>alert(1)</script>"  # what the run's files say is escaped
    (run / "summary.json").write_text(json.dumps(summary))
    assert main(["report", str(run)]) == 0
    for text in ((run / "report.html").read_text(), (run / "report.md").read_text()):
        assert "<script>alert" not in text and "&lt;script&gt;alert(1)" in text


def test_generation_scores_with_the_digit_classifier(tmp_path: Path) -> None:
    run = tmp_path / "gen"
    assert main(tiny("simvp", run, 1, "--latent", "noise", "--fd-sequences", "4", "--fd-samples", "2")) == 0
    s = json.loads((run / "summary.json").read_text())
    assert s[VIDEO_FD] > 0 and s[VIDEO_FD_FLOOR] >= 0 and s["eval/diversity"] > 0 and s["eval/consistency"] > 0


def test_resume_continues_exactly(tmp_path: Path) -> None:
    straight, split = tmp_path / "straight", tmp_path / "split"
    flags = ["--lr-schedule", "constant", "--latent", "vae", "--adv-weight", "0.1"]
    assert main(tiny("simvp", straight, 4, *flags)) == 0
    assert main(tiny("simvp", split, 2, *flags)) == 0
    assert main([*tiny("simvp", split, 4, *flags), "--resume"]) == 0
    a, _ = checkpoint.load(straight / "checkpoints" / "last")
    b, _ = checkpoint.load(split / "checkpoints" / "last")
    for part in ("model", "posterior", "disc"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k} differs after resume"

    def losses(run: Path) -> list[tuple[float, float]]:
        rows = map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
        return [(r["train/mse"], r["train/d_loss"]) for r in rows if "train/mse" in r]

    assert losses(straight) == losses(split)


def _one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "r"
    assert "context" in _one_line_exit_2([*tiny("simvp", run), "--frames", "10", "--context", "10"], capsys)
    assert "frames" in _one_line_exit_2([*tiny("simvp", run), "--frames", "1"], capsys)
    assert "unknown dataset" in _one_line_exit_2([*tiny("simvp", run), "--dataset", "no-such-set"], capsys)
    assert not run.exists()
    assert main(tiny("simvp", run, 1)) == 0
    capsys.readouterr()
    junk = tmp_path / "broken.gif"
    junk.write_bytes(b"\x00\x01 definitely not a video")
    msg = _one_line_exit_2(["gan", "video-sample", str(run), "--input-video", str(junk),
                            "--out", str(tmp_path / "o.gif")], capsys)
    assert "cannot be decoded" in msg
    if mp4_writer() is None:
        assert "MP4" in _one_line_exit_2(["gan", "video-sample", str(run), "--out", str(tmp_path / "o.mp4")], capsys)
    _one_line_exit_2(["gan", "video-eval", str(tmp_path)], capsys)  # not a run directory
    clip = write_video(ramp(3), tmp_path / "short.gif")
    assert "frame" in _one_line_exit_2(["gan", "video-sample", str(run), "--input-video", str(clip),
                                        "--out", str(tmp_path / "o.gif")], capsys)
    clip = write_video(ramp(10), tmp_path / "ten.gif")
    assert main(["gan", "video-sample", str(run), "--input-video", str(clip), "--out", str(tmp_path / "o.gif")]) == 0


@pytest.mark.slow
def test_a_short_prediction_run_beats_copy_last_frame(tmp_path: Path) -> None:
    run = tmp_path / "learn"
    argv = ["gan", "video-train", "--model", "simvp", "--run-dir", str(run), "--max-steps", "40", "--batch-size", "8",
            "--eval-every", "40", "--eval-sequences", "100", "--fd-sequences", "0", "--lr", "2e-3",
            "--translator-width", "64", "--translator-blocks", "2", "--spatial-width", "16"]
    assert main(argv) == 0
    s = json.loads((run / "summary.json").read_text())
    assert s[VIDEO_MSE] < s[VIDEO_COPY_LAST_MSE], s
