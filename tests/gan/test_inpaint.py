"""Inpainting: masks, baselines, metrics, tiny end-to-end runs of `gan inpaint train|eval|apply`, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from clihelp import refused
from pilotlab.cli import main
from pilotlab.core import checkpoint
from pilotlab.core.summary import (
    GAN_FD_FLOOR,
    INPAINT_ACC,
    INPAINT_FD,
    INPAINT_L1,
    INPAINT_MEAN,
    INPAINT_METHODS,
    INPAINT_MODEL,
    INPAINT_NEAREST,
    INPAINT_ORIGINAL_ACC,
    INPAINT_PSNR,
    inpaint_key,
)
from pilotlab.gan import masks
from pilotlab.gan.inpaint import GatedConv2d, InpaintNet, complete
from pilotlab.gan.inpaint_eval import mean_fill, nearest_patch, psnr_l1
from pilotlab.gan.metrics import Evaluator

from .conftest import TINY_FLAGS

# 8x8 digits: no classifier (FD and accuracy are None), a run takes well under a second
DIGITS = ["--dataset", "digits", "--mask-size", "4", "--width", "4", "--batch-size", "16", "--eval-every", "2",
          "--eval-samples", "32", "--test-size", "64", "--log-every", "1", "--checkpoint-every", "1"]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- masks ----------------------------------------------------------------------------------------------------


def test_centre_mask_is_the_middle_square() -> None:
    m = masks.centre_mask(28, 28, 14)
    assert m.shape == (1, 28, 28) and m.sum() == 14 * 14
    assert m[0, 7:21, 7:21].all() and m[0, :7].sum() == 0 and m[0, 21:].sum() == 0 and m[0, :, :7].sum() == 0
    odd = masks.centre_mask(7, 9, 3)  # parities differ: still a 3x3 square, inside
    assert odd.sum() == 9 and odd[0, 2:5, 3:6].all()


def test_box_masks_are_squares_inside_the_image_at_varied_places() -> None:
    m = masks.box_masks(200, 28, 20, 6, gen())
    assert m.shape == (200, 1, 28, 20)
    assert (m.sum(dim=(1, 2, 3)) == 36).all()  # a full square each: never cut by the border
    rows, cols = m.amax(dim=3)[:, 0], m.amax(dim=2)[:, 0]  # (n, H), (n, W): the square's extent
    assert (rows.sum(1) == 6).all() and (cols.sum(1) == 6).all()
    tops = rows.float().argmax(1)
    assert len(set(tops.tolist())) > 10 and tops.min() == 0 and tops.max() == 28 - 6  # both edges reachable


def test_free_form_masks_cover_a_plausible_share_and_differ() -> None:
    m = masks.free_form_masks(100, 28, 28, gen(1))
    frac = m.mean(dim=(1, 2, 3))
    assert (frac > 0).all() and (frac < 0.9).all()
    assert 0.05 < float(frac.mean()) < 0.5
    assert len({tuple(x.flatten().tolist()) for x in m[:20]}) == 20  # strokes differ from mask to mask
    assert set(m.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("kind", masks.KINDS)
def test_masks_are_a_function_of_seed_and_step(kind: str) -> None:
    a = masks.make_masks(kind, 8, 28, 28, 10, masks.step_generator(3, 17))
    b = masks.make_masks(kind, 8, 28, 28, 10, masks.step_generator(3, 17))
    assert torch.equal(a, b)
    if kind != "centre":
        assert not torch.equal(a, masks.make_masks(kind, 8, 28, 28, 10, masks.step_generator(3, 18)))


def test_mask_size_that_does_not_fit_is_refused() -> None:
    from pilotlab.core.errors import PilotlabError

    with pytest.raises(PilotlabError, match="does not fit"):
        masks.check_size("centre", 8, 8, 8, "--dataset digits")
    masks.check_size("free-form", 99, 8, 8, "--dataset digits")  # free-form has no size


def test_read_mask_from_png_and_npy(tmp_path: Path) -> None:
    hole = np.zeros((6, 5), dtype=np.uint8)
    hole[1:3, 2:4] = 255
    Image.fromarray(hole).save(tmp_path / "m.png")
    m = masks.read_mask(tmp_path / "m.png", 6, 5)
    assert m.shape == (1, 6, 5) and torch.equal(m[0], torch.from_numpy(hole > 0).float())
    np.save(tmp_path / "m.npy", (hole > 0).astype(np.float32))
    assert torch.equal(masks.read_mask(tmp_path / "m.npy", 6, 5), m)


# -- networks, baselines, metrics ---------------------------------------------------------------------------------


@torch.no_grad()
def test_gated_conv_gate_scales_the_feature() -> None:
    layer = GatedConv2d(1, 1, k=1)
    with torch.no_grad():
        layer.conv.weight.zero_()
        layer.conv.bias.copy_(torch.tensor([1.0, -30.0]))  # feature ELU(1) = 1, gate sigmoid(-30) ~ 0
    assert float(layer(torch.randn(1, 1, 3, 3)).abs().max()) < 1e-9
    with torch.no_grad():
        layer.conv.bias.copy_(torch.tensor([1.0, 30.0]))  # gate open
    assert torch.allclose(layer(torch.randn(1, 1, 3, 3)), torch.ones(1, 1, 3, 3))


def test_completion_keeps_every_known_pixel() -> None:
    torch.manual_seed(0)
    net = InpaintNet(1, 4)
    x = torch.rand(3, 1, 12, 8) * 2 - 1
    m = masks.box_masks(3, 12, 8, 4, gen())
    out = complete(net, x, m)
    assert out.shape == x.shape
    assert torch.equal(out[m == 0], x[m == 0])
    assert not torch.equal(out[m == 1], x[m == 1])


def test_nearest_patch_finds_the_training_image_that_matches_the_known_pixels() -> None:
    torch.manual_seed(0)
    train = torch.rand(50, 1, 6, 6)
    m = masks.box_masks(5, 6, 6, 3, gen(2))
    target = torch.tensor([7, 3, 41, 0, 19])
    x = train[target].clone()
    x[m.expand_as(x) == 1] = torch.rand(int(m.sum()))  # the hole is unknown: whatever is there must not count
    out = nearest_patch(x, m, train, chunk=2)
    assert torch.allclose(out, train[target])
    naive = torch.stack([train[((train - xi) ** 2 * (1 - mi)).sum(dim=(1, 2, 3)).argmin()] for xi, mi in zip(x, m)])
    assert torch.allclose(out * m + x * (1 - m), naive * m + x * (1 - m))


def test_mean_fill_and_metrics_against_hand_computed_values() -> None:
    x = torch.zeros(2, 1, 2, 2)
    m = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).expand(2, 1, 2, 2)
    filled = mean_fill(x, m, torch.full((1, 2, 2), 0.1))
    assert torch.allclose(filled, 0.1 * m)
    psnr, l1 = psnr_l1(filled, x, m)
    assert psnr == pytest.approx(10 * math.log10(1 / 0.01)) and l1 == pytest.approx(0.1)
    perfect, _ = psnr_l1(x, x, m)
    assert perfect == pytest.approx(100.0)


# -- end to end --------------------------------------------------------------------------------------------------


def test_train_eval_apply_resume_on_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["gan", "inpaint", "train", "--run-dir", str(run), "--max-steps", "4", *DIGITS]) == 0
    out = capsys.readouterr().out
    assert "mean fill" in out and "nearest training patch" in out
    summary = json.loads((run / "summary.json").read_text())
    for method in INPAINT_METHODS:
        assert 0 < summary[inpaint_key(method, INPAINT_L1)] < 1
        assert summary[inpaint_key(method, INPAINT_PSNR)] > 0
        assert summary[inpaint_key(method, INPAINT_FD)] is None  # 8x8 digits: no classifier to score them
    assert summary["data/test_size"] == 64 and summary["data/mask"] == "centre 4x4"
    assert summary["data/hole_fraction"] == pytest.approx(16 / 64)
    assert (run / "figures" / "completions.png").is_file()
    assert checkpoint.exists(run / "checkpoints" / "last")
    assert main(["report", str(run)]) == 0  # the run's report leads with the comparison table
    report = (run / "report.md").read_text()
    assert "| nearest training patch |" in report and "centre 4x4 masks on" in report

    # eval reproduces the run's final table; another mask kind is scored on request
    assert main(["gan", "inpaint", "eval", str(run)]) == 0
    again = json.loads((run / "summary.json").read_text())
    for method in INPAINT_METHODS:
        key = inpaint_key(method, INPAINT_PSNR)
        assert again[key] == pytest.approx(summary[key], rel=1e-6)
    assert main(["gan", "inpaint", "eval", str(run), "--mask", "free-form"]) == 0
    assert json.loads((run / "summary.json").read_text())["data/mask"] == "free-form"

    # apply: a PNG image and mask in, the known pixels kept, the hole filled
    img = (np.arange(64).reshape(8, 8) * 4).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "in.png")
    hole = np.zeros((8, 8), dtype=np.uint8)
    hole[2:5, 3:6] = 255
    Image.fromarray(hole).save(tmp_path / "mask.png")
    capsys.readouterr()
    for name in ("out.png", "out.npy"):
        assert main(["gan", "inpaint", "apply", str(run), "--image", str(tmp_path / "in.png"), "--mask-file",
                     str(tmp_path / "mask.png"), "--out", str(tmp_path / name)]) == 0
    restored = np.asarray(Image.open(tmp_path / "out.png"))
    assert restored.shape == (8, 8)
    assert np.array_equal(restored[hole == 0], img[hole == 0])
    as_array = np.load(tmp_path / "out.npy")
    assert np.allclose(as_array[hole == 0], img[hole == 0] / 255, atol=1e-6)

    # resume: a run of 4 steps continued to 6 ends where a run of 6 steps from scratch ends
    full = tmp_path / "full"
    assert main(["gan", "inpaint", "train", "--run-dir", str(full), "--max-steps", "6", *DIGITS]) == 0
    assert main(["gan", "inpaint", "train", "--run-dir", str(run), "--resume", "--max-steps", "6"]) == 0
    a, _ = checkpoint.load(run / "checkpoints" / "last")
    b, _ = checkpoint.load(full / "checkpoints" / "last")
    for net in ("generator", "discriminator", "l2_generator"):
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k} differs after resume"

    # the report escapes what the run's files say (the table's caption comes from summary.json)
    summary = json.loads((run / "summary.json").read_text())
    summary.update({"data/mask": "<script>alert(1)</script>", "data/test_set": "a | b <img src=x onerror=alert(2)>"})
    (run / "summary.json").write_text(json.dumps(summary))
    assert main(["report", str(run)]) == 0
    page, md = (run / "report.html").read_text(), (run / "report.md").read_text()
    for text in (page, md):
        assert "<script>" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; masks on a | b &lt;img" in page
    assert "| nearest training patch |" in md and "a \\| b &lt;img" in md  # a bar cannot split a table row


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert "does not fit" in refused(["gan", "inpaint", "train", "--run-dir", str(run), "--max-steps", "1",
                                      *DIGITS, "--mask-size", "8"], capsys)
    assert not run.exists()
    assert main(["gan", "inpaint", "train", "--run-dir", str(run), "--max-steps", "1", *DIGITS,
                 "--no-l2-baseline"]) == 0
    capsys.readouterr()
    img = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(img)
    good_mask = tmp_path / "mask.png"
    hole = np.zeros((8, 8), dtype=np.uint8)
    hole[:2] = 255
    Image.fromarray(hole).save(good_mask)
    wide = tmp_path / "wide.png"
    Image.fromarray(np.zeros((8, 9), dtype=np.uint8) + 255).save(wide)
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    np.save(tmp_path / "cube.npy", np.zeros((2, 8, 8)))
    np.save(tmp_path / "empty.npy", np.zeros((8, 8)))
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(big)

    def apply(image: Path, mask: Path, *extra: str) -> str:
        return refused(["gan", "inpaint", "apply", str(run), "--image", str(image), "--mask-file", str(mask),
                        "--out", str(tmp_path / "o.png"), *extra], capsys)

    assert "is 8x9 but the image is 8x8" in apply(img, wide)
    assert "cannot read image" in apply(tmp_path / "junk.png", good_mask)
    assert "cannot read mask" in apply(img, tmp_path / "junk.png")
    assert "shape (2, 8, 8)" in apply(img, tmp_path / "cube.npy")
    assert "marks no pixel" in apply(img, tmp_path / "empty.npy")
    assert "not found" in apply(tmp_path / "missing.png", good_mask)
    assert "the run restores 8x8" in apply(big, good_mask)
    assert "--no-l2-baseline" in apply(img, good_mask, "--network", "l2")
    refused(["gan", "inpaint", "eval", str(tmp_path)], capsys)  # not a run directory
    assert not (tmp_path / "o.png").exists()


def test_a_flat_folder_of_mixed_images_is_inpainted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Filling holes needs no labels: a flat folder of files of mixed sizes and colour modes is read at 32x32 RGB
    (with a note saying so), trained on, evaluated and applied; a folder of one image is one error line."""
    from .test_images import write_images

    data, run = tmp_path / "photos", tmp_path / "run"
    write_images(data, 10, size=(40, 36))
    write_images(data, 2, size=(17, 31), mode="L", seed=1)
    argv = ["gan", "inpaint", "train", "--dataset", "folder", "--data-dir", str(data), "--run-dir", str(run),
            "--mask", "box", "--mask-size", "8", "--width", "2", "--batch-size", "4", "--max-steps", "2",
            "--eval-every", "2", "--eval-samples", "2", "--no-l2-baseline"]
    assert main(argv) == 0
    assert "note: --data-dir" in capsys.readouterr().err  # resized and converted, and said so
    s = json.loads((run / "summary.json").read_text())
    assert s["data/test_size"] == 2 and s["data/mask"] == "box 8x8"  # 1 in 5 of the 12 images held out (rounded down)
    assert s[inpaint_key(INPAINT_MODEL, INPAINT_PSNR)] > 0 and s[inpaint_key(INPAINT_MODEL, INPAINT_FD)] is None
    assert main(["gan", "inpaint", "eval", str(run), "--mask", "free-form"]) == 0
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((32, 32), 200, np.uint8)).save(photo)  # grey: converted to the run's RGB
    hole = np.zeros((32, 32), np.uint8)
    hole[8:20, 4:12] = 255
    Image.fromarray(hole).save(tmp_path / "hole.png")
    assert main(["gan", "inpaint", "apply", str(run), "--image", str(photo), "--mask-file", str(tmp_path / "hole.png"),
                 "--out", str(tmp_path / "out.png")]) == 0
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == (32, 32, 3) and (out[hole == 0] == 200).all()
    single = tmp_path / "single"
    write_images(single, 1)
    assert "holds 1 image" in refused([*argv[:6], str(single), "--run-dir", str(tmp_path / "r1")], capsys)
    assert not (tmp_path / "r1").exists()


# -- MNIST: the classifier's scores -----------------------------------------------------------------------------


def test_tiny_mnist_run_is_scored_by_the_classifier(tmp_path: Path, scorer: Evaluator) -> None:
    run = tmp_path / "run"
    assert main(["gan", "inpaint", "train", "--run-dir", str(run), "--max-steps", "2", "--width", "4",
                 "--batch-size", "16", "--eval-every", "2", "--eval-samples", "100", "--test-size", "300",
                 *TINY_FLAGS]) == 0
    s = json.loads((run / "summary.json").read_text())
    assert s[GAN_FD_FLOOR] == pytest.approx(scorer.real.floor)
    assert 0.8 < s[INPAINT_ORIGINAL_ACC] <= 1
    for method in INPAINT_METHODS:
        assert s[inpaint_key(method, INPAINT_FD)] > 0 and 0 <= s[inpaint_key(method, INPAINT_ACC)] <= 1
    # the nearest training patch is a real digit's stroke: it keeps the class far better than the mean image
    assert s[inpaint_key(INPAINT_NEAREST, INPAINT_ACC)] > s[inpaint_key(INPAINT_MEAN, INPAINT_ACC)]
    assert "eval/fd" in (run / "metrics.jsonl").read_text()


@pytest.mark.slow
def test_short_run_beats_mean_fill(tmp_path: Path, scorer: Evaluator) -> None:
    """300 steps of the context encoder (L2 + adversarial) on the centre hole already fill it better than the mean
    image: higher PSNR, digits the classifier recognises more often, a lower FD. (The L1 loss needs far longer:
    its per-pixel median leaves the mostly-background hole black at first; docs/gan.md.)"""
    run = tmp_path / "run"
    assert main(["gan", "inpaint", "train", "--run-dir", str(run), "--max-steps", "300", "--width", "8",
                 "--batch-size", "32", "--recon", "l2", "--eval-every", "150", "--eval-samples", "200",
                 "--test-size", "1000", "--no-l2-baseline", "--log-every", "50", *TINY_FLAGS]) == 0
    s = json.loads((run / "summary.json").read_text())
    ours, mean = INPAINT_MODEL, INPAINT_MEAN
    assert s[inpaint_key(ours, INPAINT_PSNR)] > s[inpaint_key(mean, INPAINT_PSNR)]
    assert s[inpaint_key(ours, INPAINT_ACC)] > s[inpaint_key(mean, INPAINT_ACC)]
    assert s[inpaint_key(ours, INPAINT_FD)] < s[inpaint_key(mean, INPAINT_FD)]
