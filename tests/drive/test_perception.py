"""Camera perception: targets and decoding on synthetic maps, metrics on hand-built cases, camera fusion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pilotlab.core.errors import PilotlabError
from pilotlab.drive import perception as P
from pilotlab.drive.camera_perception import FusionConfig, fuse_radar
from pilotlab.drive.envs import EgoState
from pilotlab.drive.perception_metrics import average_precision, bev_metrics, coco_ap, match_centres
from pilotlab.drive.sensors import RadarScan, SensorConfig, radar_scan


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


def test_other_lenses_share_the_reference_units() -> None:
    """A camera of focal length f sees a point at depth d as the reference lens (`FOCAL_REF`) sees it at depth
    d FOCAL_REF / f, same lateral offset and height (pinhole); the targets of a wide side camera's car are
    those of that equivalent car, and decoding with the image's own focal length gives back metres."""
    from pilotlab.drive.camera import Camera, CameraConfig

    f = 24.0
    k = P.FOCAL_REF / f
    wide = Camera(CameraConfig(fx=f, fy=f, pitch=0.0))
    ref = Camera(CameraConfig(pitch=0.0))
    pts = np.array([[6.0, 2.0, 0.4], [3.0, -1.5, 1.2]])
    uv_wide, _ = wide.project(pts, np.zeros(2), 0.0)
    uv_ref, _ = ref.project(pts * np.array([k, 1.0, 1.0]) + np.array([1.0 - k, 0.0, 0.0]), np.zeros(2), 0.0)
    np.testing.assert_allclose(uv_wide, uv_ref)  # (the mount is 1 m ahead of the origin: depths from it)
    side = [[_ann(40.0, 20.0, 30.0, 20.0, 3.0, -1.5)], [_ann(70.0, 28.0, 8.0, 5.0, 20.0, 6.0)]]
    equivalent = [[_ann(40.0, 20.0, 30.0, 20.0, 3.0 * k, -1.5)], [_ann(70.0, 28.0, 8.0, 5.0, 20.0 * k, 6.0)]]
    t = P.encode(side, 64, 128, focal=[f, f])
    np.testing.assert_allclose(t.reg, P.encode(equivalent, 64, 128).reg, rtol=1e-6, atol=1e-7)
    dets = P.decode(_logits(t), score_threshold=0.5, min_std=0.0, focal=[f, f])
    np.testing.assert_allclose(dets[0].position, [[3.0, -1.5]], rtol=1e-5)
    np.testing.assert_allclose(dets[1].position, [[20.0, 6.0]], rtol=1e-5)
    # the covariance in metres: std 0.5 of log depth, and of the ratio in reference units, which is the own
    # ratio divided by k: std 0.5 k of the own ratio
    d, r = 20.0, 6.0 / 20.0
    jac = np.array([[d, 0.0], [r * d, d]])
    np.testing.assert_allclose(dets[1].cov[0], jac @ np.diag([0.25, 0.25 * k**2]) @ jac.T, rtol=1e-5)
    # a mixed batch: each image decoded with its own lens
    mixed = P.encode([side[0], equivalent[1]], 64, 128, focal=[f, P.FOCAL_REF])
    dets = P.decode(_logits(mixed), score_threshold=0.5, min_std=0.0, focal=[f, P.FOCAL_REF])
    np.testing.assert_allclose(dets[1].position, [[20.0 * k, 6.0]], rtol=1e-5)
    with pytest.raises(PilotlabError, match="focal"):
        P.decode(_logits(t), focal=[f])


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
    cam_pos = np.array([[42.0, 0.0]])  # camera: 42 m; the radar measures the centre's range, 40.5 m
    cov = np.array([[[16.0, 0.0], [0.0, 1.0]]])
    from pilotlab.drive.detection import Detections

    dets = Detections(cam_pos, cov, np.array([[1.0, 0.0]]), np.array([np.nan]), np.array([3]))
    radar = RadarScan(np.array([40.5]), np.array([0.0]), np.array([-3.0]), np.array([0]))
    out = fuse_radar(ego, dets, radar, SensorConfig(), FusionConfig(), [])
    assert len(out.position) == 1
    assert out.position_cov[0, 0, 0] < 2.0  # the radar's range fixes the depth
    assert out.position[0, 0] == pytest.approx(40.5, abs=0.5)
    assert out.radial_velocity[0] == pytest.approx(22.0)  # ground-frame: -3 + 25
    # a far radar point nobody explains (no camera looks at it here) becomes its own detection
    radar2 = RadarScan(np.array([40.5, 120.0]), np.array([0.0, 0.0]), np.array([-3.0, 0.0]), np.array([0, 1]))
    assert len(fuse_radar(ego, dets, radar2, SensorConfig(), FusionConfig(), []).position) == 2
    # the simulated radar measures the range to the car's centre: a radar-only detection lands on it
    from pilotlab.drive.envs import Objects

    exact = SensorConfig(radar_range_noise=0.0, radar_bearing_noise=0.0, radar_detect_prob=1.0, radar_false_alarms=0.0)
    car = Objects(np.array([1]), np.array([[60.0, 4.0]]), np.array([[20.0, 0.0]]), np.zeros(1))
    scan = radar_scan(ego, car, exact, np.random.default_rng(0))
    none = Detections(np.zeros((0, 2)), np.zeros((0, 2, 2)), np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=int))
    np.testing.assert_allclose(fuse_radar(ego, none, scan, exact, FusionConfig(), []).position, [[60.0, 4.0]])
    # the same car in two overlapping radar sectors is one detection, fused or radar-only; two cars stay two
    twice = RadarScan(np.array([40.5, 40.7, 120.0, 120.3]), np.array([0.0, 0.002, 0.1, 0.101]),
                      np.array([-3.0, -3.1, 0.0, 0.0]), np.array([0, 0, 1, 1]))
    out2 = fuse_radar(ego, dets, twice, SensorConfig(), FusionConfig(), [])
    assert len(out2.position) == 2 and list(out2.source) == [4, 1]
    two_cars = RadarScan(np.array([120.0, 127.0]), np.array([0.1, 0.1]), np.zeros(2), np.array([1, 2]))
    assert len(fuse_radar(ego, none, two_cars, SensorConfig(), FusionConfig(), []).position) == 2


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
def test_short_fine_tune_beats_chance() -> None:
    """A backbone pretrained briefly by masked reconstruction on unlabelled frames, then fine-tuned as a detector on
    160 labelled ones, finds the cars of held-out frames far better than chance. Chance: the same detections scored
    against the cars of other frames (a detector that ignores the image keeps its scores and positions, loses the
    link to the scene)."""
    from pilotlab.drive.perception_pretrain import Pretrainer, PretrainPerceptionConfig, random_mask

    torch.manual_seed(0)
    x, anns = _synthetic(160, 0)
    x_test, anns_test = _synthetic(40, 1)
    unlabelled, _ = _synthetic(48, 2)
    pre = Pretrainer(PretrainPerceptionConfig(data_dir=".", method="masked", width=8))
    opt = torch.optim.AdamW(pre.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(15):
        x01 = torch.as_tensor(unlabelled[torch.randint(0, len(unlabelled), (16,))]).permute(0, 3, 1, 2) / 255.0
        m = random_mask(x01, 0.5, gen)
        loss = (((pre(x01 * (1 - m) * 2 - 1) - (x01 * 2 - 1)) ** 2) * m).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model = P.CenterNet(width=8)
    model.backbone.load_state_dict(pre.backbone.state_dict())
    t = P.encode(anns, 64, 128)
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
    pos, score = [d.position for d in dets], [d.score for d in dets]
    m = bev_metrics(pos, score, gt)
    chance = bev_metrics(pos, score, gt[7:] + gt[:7])
    # at 4 m: a short training places cars within 4 m, rarely within 2 m
    assert m["bev_ap_4m"] > max(0.15, 3 * chance["bev_ap_4m"] + 0.05), (m, chance)


class _Oracle:
    """Stands in for the network: per image of a batch, the given camera-frame positions (std 0.5 m)."""

    def __init__(self, per_image: list[np.ndarray]):
        self.per_image = per_image

    def detect(self, images: np.ndarray, focal: np.ndarray | None = None) -> list[P.CameraDetections]:
        assert len(images) == len(self.per_image) and images.dtype == np.uint8
        self.focal = focal
        return [P.CameraDetections(np.ones(len(p)), np.zeros((len(p), 4)), np.asarray(p, float).reshape(-1, 2),
                                   np.tile(np.eye(2) * 0.25, (len(p), 1, 1))) for p in self.per_image]


def _scene() -> tuple[object, object]:
    """highway-fast-v0 four steps (accelerating) into held-out episode 100003, and its ego state: cars ahead and
    one behind."""
    from pilotlab.drive import envs

    env = envs.make_env("highway-fast-v0")
    env.reset(seed=100_003)
    for _ in range(4):
        env.step(3)
    return env, envs.ego_state(env)


@pytest.mark.parametrize("cameras", ["front+rear", "front+rear+sides"])
def test_camera_detections_land_on_the_cars_in_the_world_frame(cameras: str) -> None:
    """The labels' camera-frame positions, fed back as detections of each camera (front, rear and, with the
    sides, left and right), come out of the loop's camera sensors at the cars' true world positions: label
    frames and the loop's poses agree."""
    from pilotlab.drive.camera import camera_view
    from pilotlab.drive.camera_perception import SOURCE_CAMERA, CameraSensors
    from pilotlab.drive.record import annotations_for

    env, ego = _scene()
    # no merging of overlapping views here (a negative gate): each camera's labels come back one for one
    sensors = CameraSensors(_Oracle([]), "camera", FusionConfig(camera_merge_gate=-1.0), cameras=cameras)
    truth, per_image, ids = [], [], []
    for cam in sensors.cameras:
        frame, veh = camera_view(env, cam)
        pos, heading = cam.pose(ego.position, ego.heading)
        anns = annotations_for(frame, veh, ego.position, ego.heading, np.zeros(2), np.zeros((len(veh.ids), 2)),
                               pos, heading, min_pixels=4)
        per_image.append(np.array([a["position_camera"] for a in anns]).reshape(-1, 2))
        rows = [int(np.flatnonzero(veh.ids == a["track_id"])[0]) for a in anns]
        truth.append(veh.position[rows])
        ids += rows
    assert len(per_image[0]) and len(per_image[1]), "the scene should show cars to both cameras"
    sensors.detector = _Oracle(per_image)
    dets = sensors.camera_detections(env, ego, np.random.default_rng(0), 0)
    np.testing.assert_allclose(dets.position, np.concatenate(truth), atol=1e-9)
    # each image is decoded with its own lens
    np.testing.assert_array_equal(sensors.detector.focal, [c.cfg.fx for c in sensors.cameras])
    assert len(sensors.cameras) == (4 if cameras.endswith("sides") else 2)
    assert (dets.source == SOURCE_CAMERA).all() and np.isnan(dets.radial_velocity).all()
    # the covariance turns with each camera: isotropic here, so it stays 0.25 m^2 on the diagonal
    np.testing.assert_allclose(dets.position_cov, np.tile(np.eye(2) * 0.25, (len(ids), 1, 1)), atol=1e-12)
    rel = dets.position - ego.position
    np.testing.assert_allclose(dets.los, rel / np.hypot(*rel.T)[:, None])
    # the rear camera's cars are behind the ego, the front camera's ahead
    fwd = np.array([np.cos(ego.heading), np.sin(ego.heading)])
    n0, n1 = len(per_image[0]), len(per_image[0]) + len(per_image[1])
    assert (rel[:n0] @ fwd > 0).all() and (rel[n0:n1] @ fwd < 0).all()
    # the left camera's cars to the left of the ego, the right camera's to the right (highway-env's +y)
    right = np.array([-np.sin(ego.heading), np.cos(ego.heading)])
    if len(per_image) == 4:
        n2 = n1 + len(per_image[2])
        assert (rel[n1:n2] @ right < 0).all() and (rel[n2:] @ right > 0).all()


def test_overlapping_views_give_one_detection_per_car() -> None:
    """A car seen by the front and a side camera is one detection, fused in information form; two cars of one
    camera stay two however close; a detection outside the gate stays apart."""
    from pilotlab.drive.camera_perception import merge_cameras

    eye = np.eye(2)
    pos = np.array([[10.0, 4.0], [10.6, 4.0], [10.2, 3.9], [30.0, 4.0]])
    cov = np.stack([eye * 0.25, eye * 0.25, eye * 0.25, eye * 0.25])
    p, c = merge_cameras(pos, cov, np.array([0, 0, 2, 2]), 13.8)
    assert len(p) == 3  # the side camera's first car joins the nearer front one; 30 m ahead stays alone
    np.testing.assert_allclose(p[0], (pos[0] + pos[2]) / 2)  # equal covariances: the mean
    np.testing.assert_allclose(c[0], eye * 0.125)
    np.testing.assert_allclose(p[1:], pos[[1, 3]])
    # a gate of -1 keeps every detection
    assert len(merge_cameras(pos, cov, np.array([0, 0, 2, 2]), -1.0)[0]) == 4


def test_every_perception_mode_builds_tracker_detections() -> None:
    """lidar+radar, camera, camera+radar and camera+lidar+radar on one scene, with an oracle camera detector that
    sees the nearest car ahead: what each mode adds, keeps and fuses."""
    from pilotlab.drive import envs
    from pilotlab.drive.camera_perception import MODES, SOURCE_CAMERA, CameraSensors
    from pilotlab.drive.detection import DetectorConfig, detect
    from pilotlab.drive.sensors import lidar_scan, radar_scan

    env, ego = _scene()
    truth = envs.ground_truth(env)
    rel = truth.position - ego.position
    ahead = np.flatnonzero((rel[:, 0] > 5.0) & (np.abs(rel[:, 1]) < 6.0))
    car = ahead[np.argmin(rel[ahead, 0])]
    cfg = SensorConfig(lidar_dropout=0.0, radar_detect_prob=1.0, radar_false_alarms=0.0)
    lidar = lidar_scan(ego, truth, cfg, np.random.default_rng(1))
    radar = radar_scan(ego, truth, cfg, np.random.default_rng(2))
    base = detect(ego, lidar, radar, cfg, DetectorConfig())
    out = {}
    for mode in MODES:
        sensors = CameraSensors(_Oracle([]), mode)
        origin, heading = sensors.cameras[0].pose(ego.position, ego.heading)
        f, r = np.array([np.cos(heading), np.sin(heading)]), np.array([-np.sin(heading), np.cos(heading)])
        d = truth.position[car] - origin
        sensors.detector = _Oracle([np.array([[d @ f + 0.8, d @ r]]), np.zeros((0, 2))])  # 0.8 m too far
        out[mode] = sensors.detections(env, ego, lidar, radar, cfg, DetectorConfig(), np.random.default_rng(3), 0)
    for a, b in zip(out["lidar+radar"], base):
        np.testing.assert_array_equal(a, b)
    cam = out["camera"]
    assert len(cam.position) == 1 and cam.source[0] == SOURCE_CAMERA and np.isnan(cam.radial_velocity[0])
    assert np.hypot(*(cam.position[0] - truth.position[car])) == pytest.approx(0.8, abs=1e-6)
    # camera + radar: the radar point of that car is fused into the camera detection (velocity, tighter depth);
    # the radar points of the other cars stay as radar-only detections
    fused = out["camera+radar"]
    k = int(np.argmin(np.hypot(*(fused.position - truth.position[car]).T)))
    assert fused.source[k] == 4 and np.isfinite(fused.radial_velocity[k])
    assert fused.radial_velocity[k] == pytest.approx(truth.velocity[car] @ fused.los[k], abs=1.0)
    assert np.linalg.det(fused.position_cov[k]) < np.linalg.det(cam.position_cov[0])
    assert len(fused.position) == 1 + len(radar.range) - 1 and (np.delete(fused.source, k) == 1).all()
    # camera + lidar + radar: the car is within the lidar's reach, so the camera detection is a duplicate
    all3 = out["camera+lidar+radar"]
    near = np.hypot(*(base.position - truth.position[car]).T).min() < FusionConfig().merge_distance
    assert near and len(all3.position) == len(base.position)
    # ... but a camera detection far from every lidar/radar one is added
    sensors = CameraSensors(_Oracle([np.array([[140.0, 0.0]]), np.zeros((0, 2))]), "camera+lidar+radar")
    extra = sensors.detections(env, ego, lidar, radar, cfg, DetectorConfig(), np.random.default_rng(3), 0)
    assert len(extra.position) == len(base.position) + 1 and extra.source[-1] == SOURCE_CAMERA


def test_detector_inference_copy_matches_the_network() -> None:
    """`Detector` runs a BN-folded, frozen copy of the network: same detections as the network in eval mode, at
    any batch size and image size."""
    torch.manual_seed(0)
    model = P.CenterNet(width=4)
    with torch.no_grad():  # move the BatchNorm statistics and scales away from their initial values
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
        model.train()
        for _ in range(3):
            model(torch.randn(4, 3, 64, 128))
        model.out.bias[0] = 0.0  # peaks above the threshold
    det = P.Detector(model, score_threshold=0.4)
    model.eval()
    for shape in ((1, 64, 128), (3, 64, 128), (2, 32, 64)):
        images = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
        with torch.no_grad():
            want = P.decode(model(P.to_input(images)), 0.4)
        got = det.detect(images)
        assert sum(len(d.score) for d in want) > 0
        for a, b in zip(got, want):
            for x, y in zip(a, b):
                np.testing.assert_allclose(x, y, rtol=1e-3, atol=1e-4)


def test_coverage_of_each_mode() -> None:
    """Where each mode's sensors look: the cameras' fields of view (less the edge margin), the radars' and the
    lidar's; a car alongside is seen by none of the default camera+radar suite, by a corner radar."""
    from pilotlab.drive.camera_perception import CameraSensors
    from pilotlab.drive.envs import EgoState
    from pilotlab.drive.sensors import radar_suite

    ego = EgoState(np.array([100.0, 4.0]), 0.0, 25.0, ("0", "1", 1), 25.0)
    points = ego.position + np.array([[30.0, 0.0], [-30.0, 0.0], [0.0, 4.0], [30.0, 19.0], [-60.0, 0.0],
                                      [120.0, 0.0]])
    default = SensorConfig()
    corners = SensorConfig(radars=radar_suite("front+rear+corners"))
    assert CameraSensors(_Oracle([]), "lidar+radar").coverage(ego, default) is None
    cam = CameraSensors(_Oracle([]), "camera").coverage(ego, default)
    # ahead and behind in view; alongside not; 30 m ahead 19 m aside: 33 deg off the front camera's axis, inside
    # its 33.7 deg half field of view but within the 8 px edge margin (and 32 deg off the front radar's, outside
    # its 30); 60 m behind in the rear camera; 120 m ahead in view
    np.testing.assert_array_equal(cam(points), [True, True, False, False, True, True])
    cr = CameraSensors(_Oracle([]), "camera+radar")
    np.testing.assert_array_equal(cr.coverage(ego, default)(points), [True, True, False, False, True, True])
    np.testing.assert_array_equal(cr.coverage(ego, corners)(points), [True] * 6)
    all3 = CameraSensors(_Oracle([]), "camera+lidar+radar").coverage(ego, default)
    np.testing.assert_array_equal(all3(points), [True] * 6)  # the lidar's 50 m circle holds the car alongside
    # the side cameras see the car alongside and the one 30 m ahead 19 m aside, with or without radar
    for mode in ("camera", "camera+radar"):
        sides = CameraSensors(_Oracle([]), mode, cameras="front+rear+sides").coverage(ego, default)
        np.testing.assert_array_equal(sides(points), [True] * 6)


def test_corner_radars_see_the_car_alongside() -> None:
    from pilotlab.drive.envs import EgoState, Objects
    from pilotlab.drive.sensors import CORNER_RADARS, radar_suite

    assert radar_suite("front+rear") == SensorConfig().radars
    assert radar_suite("front+rear+corners") == SensorConfig().radars + CORNER_RADARS
    with pytest.raises(PilotlabError, match="unknown radar suite"):
        radar_suite("corners")
    ego = EgoState(np.zeros(2), 0.0, 25.0, ("0", "1", 1), 25.0)
    car = Objects(np.array([7]), np.array([[3.0, 4.0]]), np.array([[25.0, 0.0]]), np.zeros(1))  # 53 deg left
    for suite, seen in (("front+rear", False), ("front+rear+corners", True)):
        cfg = SensorConfig(radars=radar_suite(suite), radar_detect_prob=1.0, radar_false_alarms=0.0)
        scan = radar_scan(ego, car, cfg, np.random.default_rng(0))
        assert (0 in scan.true_index) == seen
    scan = radar_scan(ego, car, SensorConfig(radars=CORNER_RADARS, radar_detect_prob=1.0, radar_false_alarms=0.0,
                                             radar_range_noise=0.0, radar_bearing_noise=0.0),
                      np.random.default_rng(0))
    assert len(scan.range) == 1  # the front left corner alone (45 +- 60 deg; the rear left's 75-195 deg does not)
    assert scan.range[0] == pytest.approx(5.0)
