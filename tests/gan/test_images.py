"""GANs on any image set: resizing and channels, folders (flat, mixed, too small, broken), CIFAR-10's binary
format, architectures at every resolution, conditional auto/on/off, the digit defaults, tiny end-to-end runs."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from pilotlab.cli import main
from pilotlab.core import registry
from pilotlab.core.config import build_config
from pilotlab.core.errors import PilotlabError
from pilotlab.data.registry import cached_dataset, load_dataset
from pilotlab.gan import DEFAULT_MODEL, MODEL
from pilotlab.gan.cgan import CGANConfig
from pilotlab.gan.dcgan import stages_for
from pilotlab.gan.images import gan_dataset, resolve, to_channels, to_square

TINY = ["--max-steps", "4", "--batch-size", "8", "--z-dim", "8", "--eval-every", "2", "--eval-samples", "32",
        "--log-every", "2", "--checkpoint-every", "2", "--ssl-steps", "2", "--ssl-width", "4", "--width", "4"]


def write_images(folder: Path, n: int, size: tuple[int, int] = (20, 20), mode: str = "RGB", seed: int = 0) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / f"{seed}-{i}.png")


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in "\n".join(err), err
    return errors[0]


def test_digit_defaults_are_unchanged() -> None:
    """The MNIST benchmark's recipe, data, networks and metric, as before issue 16."""
    assert DEFAULT_MODEL == "cgan"
    cfg = CGANConfig()
    assert (cfg.dataset, cfg.loss, cfg.spectral_norm, cfg.d_batch_norm, cfg.lr_g, cfg.lr_d, cfg.beta1, cfg.beta2,
            cfg.width, cfg.embed_dim, cfg.batch_size, cfg.z_dim, cfg.n_critic, cfg.ema_decay) == (
        "mnist-5k", "hinge", True, False, 5e-4, 5e-4, 0.0, 0.9, 32, 32, 64, 100, 1, 0.999)
    ds = gan_dataset(cfg)
    assert ds is cached_dataset("mnist-5k")  # no resizing: same arrays, same digest, same cached classifier
    resolved = resolve(cfg, ds)
    assert (resolved.conditional, resolved.metric) == ("on", "classifier")
    gan = registry.implementation(MODEL, "cgan").build(resolved, ds.shape, ds.num_classes)
    shapes = {k: tuple(v.shape) for k, v in gan.generator.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert shapes == {
        "embed.weight": (10, 32), "project.0.weight": (6272, 132), "project.1.weight": (6272,),
        "project.1.bias": (6272,), "project.1.running_mean": (6272,), "project.1.running_var": (6272,),
        "net.0.weight": (128, 64, 4, 4), "net.1.weight": (64,), "net.1.bias": (64,), "net.1.running_mean": (64,),
        "net.1.running_var": (64,), "net.3.weight": (64, 1, 4, 4), "net.3.bias": (1,)}
    d_params = {k: tuple(v.shape) for k, v in gan.discriminator.named_parameters()}
    assert d_params == {
        "features.net.0.bias": (32,), "features.net.0.parametrizations.weight.original": (32, 1, 4, 4),
        "features.net.2.bias": (64,), "features.net.2.parametrizations.weight.original": (64, 32, 4, 4),
        "out.bias": (1,), "out.parametrizations.weight.original": (1, 3136), "embed.weight": (10, 3136)}


def test_stages_and_resizing() -> None:
    assert [stages_for(s) for s in (16, 20, 28, 32, 48, 56, 64)] == [2, 2, 2, 3, 3, 3, 4]
    x = torch.rand(5, 3, 30, 40)
    sq = to_square(x, 16)
    assert sq.shape == (5, 3, 16, 16) and sq.min() >= 0 and sq.max() <= 1
    assert torch.equal(to_square(x, 30), x[..., 5:35])  # centre crop, no resize at the same side
    grey = to_channels(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1), 1)
    assert grey.item() == pytest.approx(0.299)
    assert to_channels(torch.rand(2, 1, 4, 4), 3).shape == (2, 3, 4, 4)


@pytest.mark.parametrize("model", ["dcgan", "cgan", "sn-resnet"])
def test_architectures_scale_with_resolution(model: str) -> None:
    cls = registry.config_class(MODEL, model)
    for side, c, conditional in ((16, 1, "off"), (28, 3, "on"), (32, 3, "off"), (48, 1, "on"), (64, 3, "on")):
        if model == "dcgan" and conditional == "on":
            conditional = "off"
        cfg = build_config(cls, {"model": model, "width": 4, "z_dim": 8, "conditional": conditional})
        gan = registry.implementation(MODEL, model).build(cfg, (c, side, side), 3)
        y = torch.tensor([0, 2]) if gan.conditional else None
        assert gan.conditional == (conditional == "on")
        img = gan.generator(torch.randn(2, 8), y)
        assert img.shape == (2, c, side, side) and img.abs().max() <= 1
        assert gan.discriminator(img, y).shape == (2,)


def test_folders_flat_mixed_single_broken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flat = tmp_path / "flat"
    write_images(flat, 10)
    write_images(flat, 2, size=(31, 17), mode="L", seed=1)
    ds = load_dataset("folder", str(flat), unlabelled=True, image_size=16, channels=0)
    assert not ds.labelled and ds.shape == (3, 16, 16) and len(ds.train_x) + len(ds.test_x) == 12
    assert "note: --data-dir" in capsys.readouterr().err  # resized and converted, and said so
    with pytest.raises(PilotlabError, match=r"2 of 12 images differ .* '1-0.png' \(31x17 L\)"):
        load_dataset("folder", str(flat), unlabelled=True, mixed="reject")
    with pytest.raises(PilotlabError, match="no class subfolders; this command needs labels"):
        load_dataset("folder", str(flat))  # e.g. the ssl pillar's probes
    single = tmp_path / "single"
    write_images(single, 1)
    assert main(["gan", "train", "--dataset", "folder", "--data-dir", str(single), *TINY]) == 2
    assert "holds 1 image ('0-0.png')" in one_error_line(capsys)
    (flat / "broken.png").write_bytes(b"\x89PNG not really")
    assert main(["gan", "train", "--dataset", "folder", "--data-dir", str(flat), *TINY]) == 2
    assert "cannot read image" in one_error_line(capsys)
    (flat / "broken.png").unlink()
    assert main(["gan", "train", "--dataset", "folder", "--data-dir", str(flat), "--mixed-images", "reject",
                 *TINY]) == 2
    assert "differ from the most common 20x20 RGB" in one_error_line(capsys)
    assert main(["gan", "train", "--dataset", "folder", "--data-dir", str(flat), "--conditional", "on", *TINY]) == 2
    assert "has no labels" in one_error_line(capsys)
    assert main(["gan", "train", "--model", "dcgan", "--conditional", "on", *TINY]) == 2
    assert "dcgan is unconditional" in one_error_line(capsys)
    assert main(["gan", "train", "--dataset", "folder", "--data-dir", str(flat), "--metric", "classifier",
                 *TINY]) == 2
    assert "use --metric ssl" in one_error_line(capsys)
    assert main(["gan", "train", "--resolution", "8", *TINY]) == 2
    assert "resolution must lie in 16..64" in one_error_line(capsys)


def cifar_records(n: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return np.concatenate([labels[:, None], pixels], 1).tobytes(), labels, pixels


def test_cifar10_binary_format(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    parts = []
    for i in range(1, 6):
        blob, labels, pixels = cifar_records(3, i)
        (folder / f"data_batch_{i}.bin").write_bytes(blob)
        parts.append((labels, pixels))
    blob, test_labels, test_pixels = cifar_records(4, 9)
    (folder / "test_batch.bin").write_bytes(blob)
    with tarfile.open(tmp_path / "cifar-10-binary.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-bin")
    for source in (tmp_path, folder):  # the archive, or the extracted folder
        ds = load_dataset("cifar10", str(source))
        assert ds.train_x.shape == (15, 3, 32, 32) and ds.test_x.shape == (4, 3, 32, 32)
        assert ds.train_y.tolist() == np.concatenate([p[0] for p in parts]).tolist()
        # record layout: 1,024 red, then green, then blue, row-major
        assert ds.test_x[1, 2, 0, 5].item() == pytest.approx(test_pixels[1, 2048 + 5] / 255)
        assert ds.test_y.tolist() == test_labels.tolist()
    (folder / "test_batch.bin").write_bytes(blob[:-7])
    with pytest.raises(PilotlabError, match="not a whole number of 3,073-byte"):
        load_dataset("cifar10", str(folder))
    bad = bytearray(blob)
    bad[3073] = 17
    (folder / "test_batch.bin").write_bytes(bytes(bad))
    with pytest.raises(PilotlabError, match="record 1 has label 17"):
        load_dataset("cifar10", str(folder))


def test_unconditional_folder_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, run = tmp_path / "imgs", tmp_path / "run"
    write_images(data, 30, size=(24, 24))
    args = ["gan", "train", "--model", "sn-resnet", "--dataset", "folder", "--data-dir", str(data),
            "--resolution", "16", "--run-dir", str(run), *TINY]
    assert main(args) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["eval/metric"] == "ssl" and summary["eval/gan_test_acc"] is None
    for key in ("eval/fd", "eval/fd_floor", "eval/kid", "eval/kid_floor", "eval/precision", "eval/recall"):
        assert np.isfinite(summary[key]), key
    assert 0 <= summary["eval/precision"] <= 1 and 0 <= summary["eval/recall"] <= 1
    assert json.loads((run / "config.json").read_text())["config"]["conditional"] == "off"
    fd = summary["eval/fd"]
    assert main(["gan", "eval", str(run)]) == 0  # same checkpoint, noise and encoder: same FD
    assert json.loads((run / "summary.json").read_text())["eval/fd"] == pytest.approx(fd, rel=1e-9)
    assert "KID" in capsys.readouterr().out
    assert main(["gan", "sample", str(run), "--n", "4", "--out", str(tmp_path / "g.png")]) == 0
    assert main([*args, "--max-steps", "6", "--resume"]) == 0  # continues the run


def test_conditional_folder_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, run = tmp_path / "imgs", tmp_path / "run"
    for k, cls in enumerate(("a", "b", "c")):
        write_images(data / cls, 8, size=(16, 16), mode="L", seed=k)
    assert main(["gan", "train", "--dataset", "folder", "--data-dir", str(data), "--run-dir", str(run),
                 "--embed-dim", "4", *TINY]) == 0
    cfg = json.loads((run / "config.json").read_text())["config"]
    assert (cfg["conditional"], cfg["metric"]) == ("on", "ssl")
    assert main(["gan", "sample", str(run), "--n", "4", "--label", "2", "--out", str(tmp_path / "g.png")]) == 0
    assert main(["gan", "sample", str(run), "--n", "4", "--label", "3", "--out", str(tmp_path / "g.png")]) == 2
    assert "label must be a class 0-2" in one_error_line(capsys)
