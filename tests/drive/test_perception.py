"""Camera perception: targets and decoding on synthetic maps, metrics on hand-built cases, camera fusion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pilotlab.drive import perception as P
from pilotlab.drive.camera_perception import FusionConfig, fuse_radar
from pilotlab.drive.envs import EgoState
from pilotlab.drive.perception_metrics import average_precision, bev_metrics, coco_ap, match_centres
from pilotlab.drive.sensors import RadarScan, SensorConfig


def _ann(x: float, y: float, w: float, h: float, depth: float, lat: float) -> dict:
    return {"bbox": [x, y, w, h], "position_camera": [depth, lat]}


def _logits(t: P.Targets, std: float = 0.5) -> dict[str, torch.Tensor]:
    """Network outputs that reproduce targets exactly (heat: large logits at centres)."""
    heat = torch.where(torch.as_tensor(t.mask) > 0, torch.tensor(8.0), torch.tensor(-8.0))
    reg = torch.as_tensor(t.reg)
    off = torch.logit(reg[:, 0:2].clamp(1e-4, 1 - 1e-4))
    return {"heat": heat, "offset": off, "size": reg[:, 2:4], "position": reg[:, 4:6],
            "log_std": torch.full_like(reg[:, 4:6], float(np.log(std)))}


def test_encode_decode_round_trip() -> None:
    anns = [[_ann(40.0, 26.0, 10.0, 6.0, 20.0, -3.0), _ann(81.0, 29.0, 5.0, 3.0, 45.0, 4.0)], []]
    t = P.encode(anns, 64, 128)
    assert t.heat.shape == (2, 1, 16, 32) and t.mask.sum() == 2 and t.heat.max() == 1.0
    dets = P.decode(_logits(t), score_threshold=0.5, min_std=0.0)
    assert len(dets[0].score) == 2 and len(dets[1].score) == 0
    order = np.argsort(dets[0].position[:, 0])
    np.testing.assert_allclose(dets[0].position[order], [[20.0, -3.0], [45.0, 4.0]], rtol=1e-5)
    np.testing.assert_allclose(dets[0].box[order], [[40.0, 26.0, 10.0, 6.0], [81.0, 29.0, 5.0, 3.0]], atol=1e-3)
    # covariance: std 0.5 of log depth and of the ratio, through J = [[d, 0], [r d, d]]
    d, r = 20.0, -3.0 / 20.0
    jac = np.array([[d, 0.0], [r * d, d]])
    np.testing.assert_allclose(dets[0].cov[order[0]], jac @ np.diag([0.25, 0.25]) @ jac.T, rtol=1e-5)


def test_decode_keeps_local_maxima_only() -> None:
    heat = torch.full((1, 1, 16, 32), -8.0)
    heat[0, 0, 5, 10] = 3.0
    heat[0, 0, 5, 11] = 2.0  # a neighbour of the peak: suppressed
    heat[0, 0, 12, 3] = 1.0
    out = {"heat": heat, "offset": torch.zeros(1, 2, 16, 32), "size": torch.zeros(1, 2, 16, 32),
           "position": torch.zeros(1, 2, 16, 32), "log_std": torch.zeros(1, 2, 16, 32)}
    det = P.decode(out, score_threshold=0.5)[0]
    assert len(det.score) == 2
    np.testing.assert_allclose(np.sort(det.score), np.sort(torch.sigmoid(torch.tensor([3.0, 1.0])).numpy()))


def test_flip_is_an_involution_and_mirrors_positions() -> None:
    anns = [[_ann(40.0, 26.0, 10.0, 6.0, 20.0, -3.0)]]
    t = P.encode(anns, 64, 128)
    x = torch.rand(1, 3, 64, 128)
    tensors = (x, torch.as_tensor(t.heat), torch.as_tensor(t.reg), torch.as_tensor(t.mask))
    flipped = P.flip_targets(*tensors)
    det = P.decode(_logits(P.Targets(*(a.numpy() for a in flipped[1:]))), 0.5, min_std=0.0)[0]
    np.testing.assert_allclose(det.position, [[20.0, 3.0]], rtol=1e-5)
    np.testing.assert_allclose(det.box, [[128 - 50.0, 26.0, 10.0, 6.0]], atol=1e-3)
    back = P.flip_targets(*flipped)
    for a, b in zip(back, tensors):
        torch.testing.assert_close(a, b)


def test_focal_loss_prefers_the_right_map() -> None:
    t = torch.as_tensor(P.encode([[_ann(40.0, 26.0, 10.0, 6.0, 20.0, 0.0)]], 64, 128).heat)
    good = torch.where(t == 1.0, 6.0, -6.0)
    assert P.focal_loss(good, t) < P.focal_loss(torch.zeros_like(t), t) < P.focal_loss(-good, t)


def test_average_precision_hand_cases() -> None:
    assert average_precision(np.array([0.9, 0.8]), np.array([True, True]), 2) == pytest.approx(1.0)
    # TP, FP, TP over 2 positives: recall .5 at precision 1, recall 1 at precision 2/3
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([True, False, True]), 2) == pytest.approx(
        0.5 * 1.0 + 0.5 * 2 / 3)
    assert average_precision(np.array([0.9]), np.array([True]), 4) == pytest.approx(0.25)
    assert average_precision(np.zeros(0), np.zeros(0, dtype=bool), 3) == 0.0


def test_centre_distance_matching_and_range_bins() -> None:
    gt = [np.array([[10.0, 0.0], [50.0, 4.0]]), np.array([[30.0, -4.0]])]
    det = [np.array([[10.5, 0.0], [53.0, 4.0]]), np.array([[30.0, -2.5], [70.0, 0.0]])]
    score = [np.array([0.9, 0.6]), np.array([0.8, 0.7])]
    _, _, taken = match_centres(det, score, gt, 2.0)
    assert taken[0].tolist() == [0, -1] and taken[1].tolist() == [0]
    m = bev_metrics(det, score, gt)
    # 1 m: only the 0.5 m error matches (rank 1 of 4) -> AP 1/3; 2 m: ranks 1, 2 -> 2/3; 4 m: ranks 1, 2, 4
    assert m["bev_ap_1m"] == pytest.approx(1 / 3)
    assert m["bev_ap_2m"] == pytest.approx(2 / 3)
    assert m["bev_ap_4m"] == pytest.approx(2 / 3 + 1 / 3 * 3 / 4)
    assert m["pos_err_0_20m"] == pytest.approx(0.5) and m["pos_err_20_40m"] == pytest.approx(1.5)
    assert m["pos_err_40_80m"] == pytest.approx(3.0) and m["recall_40_80m"] == 1.0
    assert np.isnan(m["pos_err_80m_plus"])


def test_coco_ap_through_pycocotools() -> None:
    pytest.importorskip("pycocotools")
    doc = {"images": [{"id": 0, "width": 128, "height": 64}, {"id": 1, "width": 128, "height": 64}],
           "annotations": [{"id": 1, "image_id": 0, "bbox": [10, 10, 20, 10], "area": 200, "category_id": 1,
                            "iscrowd": 0},
                           {"id": 2, "image_id": 1, "bbox": [50, 20, 10, 8], "area": 80, "category_id": 1,
                            "iscrowd": 0}],
           "categories": [{"id": 1, "name": "vehicle"}]}
    perfect = coco_ap(doc, [np.array([[10, 10, 20, 10.0]]), np.array([[50, 20, 10, 8.0]])],
                      [np.array([0.9]), np.array([0.8])], [0, 1])
    assert perfect["ap"] == pytest.approx(1.0) and perfect["ap50"] == pytest.approx(1.0)
    half = coco_ap(doc, [np.array([[10, 10, 20, 10.0]]), np.array([[100, 40, 10, 8.0]])],
                   [np.array([0.9]), np.array([0.8])], [0, 1])
    assert 0.4 < half["ap50"] < 0.6


def test_radar_fusion_shrinks_the_camera_covariance_and_adds_velocity() -> None:
    ego = EgoState(np.zeros(2), 0.0, 25.0, ("0", "1", 0), 25.0)
    cam_pos = np.array([[42.0, 0.0]])  # camera: 42 m, radar says the car's centre is at 40 + 2 m... shifted
    cov = np.array([[[16.0, 0.0], [0.0, 1.0]]])
    from pilotlab.drive.detection import Detections

    dets = Detections(cam_pos, cov, np.array([[1.0, 0.0]]), np.array([np.nan]), np.array([3]))
    radar = RadarScan(np.array([38.5]), np.array([0.0]), np.array([-3.0]), np.array([0]))
    out = fuse_radar(ego, dets, radar, SensorConfig(), FusionConfig(), [])
    assert len(out.position) == 1
    assert out.position_cov[0, 0, 0] < 2.0  # the radar's range fixes the depth
    assert out.position[0, 0] == pytest.approx(40.5, abs=0.5)
    assert out.radial_velocity[0] == pytest.approx(22.0)  # ground-frame: -3 + 25
    # a far radar point nobody explains (no camera looks at it here) becomes its own detection
    radar2 = RadarScan(np.array([38.5, 120.0]), np.array([0.0, 0.0]), np.array([-3.0, 0.0]), np.array([0, 1]))
    assert len(fuse_radar(ego, dets, radar2, SensorConfig(), FusionConfig(), []).position) == 2


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, list[list[dict]]]:
    """Frames of a 3-lane road with 1-3 cars ahead, straight from the camera (no simulator)."""
    from pilotlab.drive.camera import Camera, CameraConfig, RoadSegments, Vehicles
    from pilotlab.drive.record import annotations_for

    road = RoadSegments(np.array([[-1e3, -4.0], [-1e3, 0.0], [-1e3, 4.0]]), np.tile([1.0, 0.0], (3, 1)),
                        np.full(3, 3e3), np.full(3, 4.0), np.zeros(3), np.array([3, 1, 1]), np.array([0, 0, 3]))
    cam = Camera(CameraConfig())
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for i in range(n):
        k = int(rng.integers(1, 4))
        pos = np.stack([rng.uniform(8.0, 40.0, k), rng.choice([-4.0, 0.0, 4.0], k)], -1)
        veh = Vehicles(np.arange(k) + 100 * i, pos, np.zeros(k), np.full(k, 5.0), np.full(k, 2.0))
        frame = cam.render(np.zeros(2), 0.0, veh, road, rng, colour_seed=i)
        cp, ch = cam.pose(np.zeros(2), 0.0)
        images.append(frame.image)
        anns.append(annotations_for(frame, veh, np.zeros(2), 0.0, np.zeros(2), np.zeros((k, 2)), cp, ch, 4))
    return np.stack(images), anns


@pytest.mark.slow
def test_short_training_beats_chance() -> None:
    torch.manual_seed(0)
    x, anns = _synthetic(160, 0)
    x_test, anns_test = _synthetic(40, 1)
    t = P.encode(anns, 64, 128)
    model = P.CenterNet(width=8)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    heat, reg, mask = (torch.as_tensor(a) for a in t)
    for _ in range(120):
        idx = torch.randint(0, len(x), (16,))
        loss = P.losses(model(P.to_input(x[idx])), heat[idx], reg[idx], mask[idx]).total
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        dets = P.decode(model(P.to_input(x_test)), 0.1)
    gt = [np.array([a["position_camera"] for a in an]).reshape(-1, 2) for an in anns_test]
    m = bev_metrics([d.position for d in dets], [d.score for d in dets], gt)
    # chance: a detector without the image places points at random; it matches next to nothing within 4 m
    assert m["bev_ap_4m"] > 0.3, m
