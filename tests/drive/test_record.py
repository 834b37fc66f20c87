"""drive record / train-perception / eval --perception: labels against the renderer, disjoint seeds, bad input,
and a tiny end-to-end run record -> train -> eval with the camera in the loop."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from pilotlab.cli import main
from pilotlab.drive.camera import Camera, CameraConfig, RoadSegments, Vehicles
from pilotlab.drive.evaluate import EVAL_SEED
from pilotlab.drive.record import SPLITS, annotations_for, split_seeds

ROAD = RoadSegments(np.array([[-1000.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([3000.0]), np.array([4.0]),
                    np.zeros(1), np.array([2]), np.array([2]))


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_split_seeds_never_overlap() -> None:
    seeds = {s: set(split_seeds(1_000_000, s, 5000)) for s in SPLITS}
    for a in SPLITS:
        for b in SPLITS:
            assert a == b or not seeds[a] & seeds[b]
        assert not seeds[a] & set(range(EVAL_SEED, EVAL_SEED + 10_000))  # nor with drive eval's seeds


def test_labels_agree_with_the_rendered_frame() -> None:
    cam = Camera(CameraConfig(nuisance=False))
    ego = np.array([100.0, 4.0])
    veh = Vehicles(np.array([11, 12, 13]), np.array([[120.0, 4.0], [135.0, 4.5], [130.0, 0.0]]), np.zeros(3),
                   np.full(3, 5.0), np.full(3, 2.0))
    frame = cam.render(ego, 0.0, veh, ROAD)
    vel = np.array([[20.0, 0.0], [22.0, 0.0], [25.0, 1.0]])
    pos, heading = cam.pose(ego, 0.0)
    anns = annotations_for(frame, veh, ego, 0.0, np.array([25.0, 0.0]), vel, pos, heading, min_pixels=1)
    assert len(anns) == 3
    for a in anns:
        j = int(np.flatnonzero(veh.ids == a["track_id"])[0])
        x, y, w, h = a["bbox"]
        ys, xs = np.nonzero(frame.object_index == j)
        assert xs.min() >= x and xs.max() < x + w and ys.min() >= y and ys.max() < y + h  # box holds its pixels
        assert a["visible_pixels"] == len(xs) <= w * h
        assert a["position"] == pytest.approx(list(veh.position[j] - ego))  # ego heading 0: world axes
        assert a["position_camera"][0] == pytest.approx(veh.position[j, 0] - ego[0] - cam.cfg.forward_offset)
        assert a["velocity"] == pytest.approx(list(vel[j] - [25.0, 0.0]))
    by_id = {a["track_id"]: a for a in anns}
    assert by_id[11]["occlusion"] == 0.0 and by_id[12]["occlusion"] > 0.3  # 12 hides behind 11


def test_record_refuses_bad_input_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    for argv, what in [(["--out", str(tmp_path / "used")], "not an empty folder"),
                       (["--out", str(tmp_path / "d.png")], "looks like a file"),
                       (["--out", str(tmp_path / "no" / "d")], "not an existing folder"),
                       (["--out", str(tmp_path / "d"), "--frames", "0"], "frames must be >= 1"),
                       (["--out", str(tmp_path / "d"), "--env", "nope-v0"], "unknown env")]:
        code, _, err = _run(["drive", "record", *argv])
        assert code == 2 and err.startswith("error: ") and what in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]


def _tb_tags(run: Path) -> set[str]:
    """Scalar tags of a run's TensorBoard event files."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    tags = set()
    for f in run.glob("events.out.tfevents.*"):
        for event in EventFileLoader(str(f)).Load():
            tags |= {v.tag for v in event.summary.value}
    return tags


@pytest.mark.slow
def test_record_pretrain_finetune_eval_end_to_end(tmp_path: Path) -> None:
    """record (front + rear + sides) -> pretrain (vicreg, simclr, masked) -> fine-tune -> resume -> eval with the
    cameras in the loop, on a handful of frames; then damaged datasets and checkpoints of the wrong backbone."""
    from pilotlab.core.run import RunDir
    from pilotlab.core.session import load_weights

    data = tmp_path / "data"
    code, _, err = _run(["drive", "record", "--out", str(data), "--agent", "idm", "--frames", "6",
                           "--test-frames", "4", "--unlabelled-frames", "4", "--duration", "4",
                           "--cameras", "front+rear+sides"])
    assert code == 0, err
    meta = json.loads((data / "meta.json").read_text())
    assert set(meta["cameras"]) == {"front", "rear", "left", "right"}
    assert meta["cameras"]["rear"]["yaw"] == pytest.approx(np.pi)
    assert meta["cameras"]["left"]["yaw"] == pytest.approx(-np.pi / 2) and meta["cameras"]["right"]["fx"] < 96
    seeds = [set(meta["splits"][s]["episode_seeds"]) for s in SPLITS]
    assert not (seeds[0] & seeds[1] or seeds[0] & seeds[2] or seeds[1] & seeds[2])
    coco = json.loads((data / "train" / "labels.json").read_text())
    assert len(coco["images"]) == 6 and coco["categories"][0]["name"] == "vehicle"
    # one frame per camera per policy step (the 6 frames end within the second step)
    assert [im["camera"] for im in coco["images"]] == ["front", "rear", "left", "right", "front", "rear"]
    assert all((data / "train" / im["file_name"]).is_file() for im in coco["images"])
    assert json.loads((data / "unlabelled" / "labels.json").read_text())["annotations"] == []

    # self-supervised pretraining of the backbone, every method
    for method in ("vicreg", "simclr", "masked"):
        code, _, err = _run(["drive", "pretrain-perception", "--data-dir", str(data), "--method", method,
                             "--batch-size", "2", "--max-steps", "2", "--width", "4", "--proj-dim", "8",
                             "--log-every", "1", "--run-dir", str(tmp_path / method)])
        assert code == 0, err
        summary = json.loads((tmp_path / method / "summary.json").read_text())
        assert summary["train/steps"] == 2 and summary["data/pretrain_frames"] == 4
        assert "train/loss" in _tb_tags(tmp_path / method)

    # fine-tuning from the masked-reconstruction backbone: it starts from those weights
    run = tmp_path / "det"
    code, _, err = _run(["drive", "train-perception", "--data-dir", str(data), "--epochs", "2", "--batch-size",
                           "3", "--width", "4", "--run-dir", str(run), "--log-every", "1",
                           "--pretrained", str(tmp_path / "masked")])
    assert code == 0, err
    summary = json.loads((run / "summary.json").read_text())
    assert {"eval/ap", "eval/ap50", "eval/bev_ap_1m", "eval/bev_ap_2m", "eval/bev_ap_4m", "eval/pos_err_0_20m",
            "eval/nees", "eval/detect_fps", "train/steps"} <= set(summary)
    assert {"train/loss", "train/heat_loss", "eval/bev_ap_2m"} <= _tb_tags(run)
    key = "backbone.features.0.weight"
    pre = load_weights(RunDir.open(str(tmp_path / "masked")))[0]["model"][key]
    fine = load_weights(RunDir.open(str(run)))[0]["model"][key]
    fresh = torch.nn.Conv2d(3, 4, 3).weight  # another initialisation, for scale
    assert (fine - pre).norm() < 0.2 * (fresh - pre).norm()
    # resume with a larger budget continues from the checkpoint
    code, _, err = _run(["drive", "train-perception", "--data-dir", str(data), "--epochs", "3", "--batch-size",
                         "3", "--width", "4", "--run-dir", str(run), "--log-every", "1", "--resume",
                         "--pretrained", str(tmp_path / "masked")])
    assert code == 0, err
    assert json.loads((run / "summary.json").read_text())["train/steps"] == 6

    code, _, err = _run(["drive", "eval", "--agent", "modular", "--perception", "camera+radar", "--perception-run",
                           str(run), "--episodes", "1", "--duration", "2", "--no-gif", "--radars", "front+rear+corners",
                           "--cameras", "front+rear+sides", "--run-dir", str(tmp_path / "ev")])
    assert code == 0, err
    ev = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert {"eval/mota", "eval/idf1", "eval/crash_rate"} <= set(ev)
    config = json.loads((tmp_path / "ev" / "config.json").read_text())["config"]
    assert config["radars"] == "front+rear+corners" and config["cameras"] == "front+rear+sides"

    # damaged datasets and checkpoints: one line, exit 2, no run directory
    def refused(argv: list[str], what: str) -> None:
        code, _, err = _run([*argv, "--run-dir", str(tmp_path / "r2")])
        assert code == 2 and what in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "r2").exists()

    train = ["drive", "train-perception", "--batch-size", "3", "--width", "4", "--data-dir"]
    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    (broken / "test" / "labels.json").unlink()
    refused([*train, str(broken)], "no labels.json")
    shutil.copy(data / "test" / "labels.json", broken / "test" / "labels.json")
    shutil.copy(broken / "train" / "images" / "000000.png", broken / "train" / "images" / "000099.png")
    refused([*train, str(broken)], "their labels are missing")  # a frame without labels
    (broken / "train" / "images" / "000099.png").unlink()
    next((broken / "test" / "images").iterdir()).unlink()
    refused([*train, str(broken)], "do not match")  # a listed frame is gone
    shutil.copytree(data / "test", broken / "test", dirs_exist_ok=True)
    small = broken / "test" / "images" / "000001.png"
    from PIL import Image

    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(small)
    refused([*train, str(broken)], "do not match")  # a frame of another size than its labels say
    shutil.copytree(data / "test", broken / "test", dirs_exist_ok=True)
    doc = json.loads((broken / "test" / "labels.json").read_text())
    assert doc["annotations"], "the test split should label some vehicle"
    doc["annotations"][0]["bbox"][0] = 200.0  # a box beyond the 128 px wide image
    (broken / "test" / "labels.json").write_text(json.dumps(doc))
    refused([*train, str(broken)], "outside its 128x64 image")
    shutil.copytree(data / "test", broken / "test", dirs_exist_ok=True)
    meta["cameras"]["right"].pop("fx")  # the side frames' lens is unknown: their positions cannot be learned
    (broken / "meta.json").write_text(json.dumps(meta))
    refused([*train, str(broken)], "no focal length (fx) of camera 'right'")
    refused(["drive", "eval", "--agent", "modular", "--cameras", "front+rear+sides"], "for the camera modes")
    refused([*train, str(data), "--pretrained", str(run), "--width", "8"], "width 8")
    refused(["drive", "eval", "--agent", "modular", "--perception", "camera", "--perception-run",
             str(tmp_path / "vicreg")], "not a `pilotlab drive train-perception` run")
    # a detector checkpoint whose weights are not the backbone its metadata names
    wrong = tmp_path / "wrong"
    shutil.copytree(run, wrong)
    side = json.loads((wrong / "checkpoints" / "last.json").read_text())
    side["meta"]["width"] = 8
    (wrong / "checkpoints" / "last.json").write_text(json.dumps(side))
    refused(["drive", "eval", "--agent", "modular", "--perception", "camera", "--perception-run", str(wrong)],
            "does not fit the detector")
    side["meta"]["width"] = 4
    assert side["state"]["__dict__"][0][0] == "model"
    side["state"]["__dict__"][0][1] = [1, 2]  # weights that are no state dict at all
    (wrong / "checkpoints" / "last.json").write_text(json.dumps(side))
    refused(["drive", "eval", "--agent", "modular", "--perception", "camera", "--perception-run", str(wrong)],
            "does not fit the detector")
    refused([*train, str(data), "--pretrained", str(wrong)], "holds no backbone.* weights")
