"""``pilotlab drive record``: drive episodes and save camera frames with COCO labels.

The folder it writes (the layout `load_split` reads back)::

    OUT/meta.json                     what was recorded: env, driver, cameras, seeds, counts, versions
    OUT/<split>/images/000000.png     RGB frames, one per camera per policy step
    OUT/<split>/labels.json           COCO (images, annotations, categories); no annotations in "unlabelled"

Splits: ``train`` (labelled), ``unlabelled`` (frames only, for self-supervised pretraining) and ``test``
(labelled). Each split drives its own episodes on env seeds ``seed + k * SPLIT_STRIDE + i`` (k = 0, 1, 2),
so no episode of one split is ever seen in another, and none is a seed of ``drive eval`` (100_000 on).

Each annotation is a vehicle showing at least `min_pixels` pixels: ``bbox`` [x, y, w, h] of its whole
silhouette in the image (as rendered, clipped to the image), ``category_id`` 1 (vehicle), and the extra
fields ``position`` and ``velocity`` (relative to the ego in the ego frame: x forward, y to the right as
in highway-env [m], [m/s]), ``position_camera`` (the same point in the camera's ground frame: x along
the optical axis [m]), ``occlusion`` (1 - visible pixels / pixels of the silhouette alone, from the
renderer's object-id buffer), ``visible_pixels``, ``track_id`` (stable within an episode) and ``distance`` [m].
Everything is written to a sibling folder first and renamed at the end: an interrupted recording leaves no
half-written OUT.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from pilotlab.core.errors import PilotlabError
from pilotlab.core.runfiles import quote

SPLITS = ("train", "unlabelled", "test")
SPLIT_STRIDE = 10_000_000  # env seeds of split k: seed + k * SPLIT_STRIDE + episode
RECORD_SEED = 1_000_000  # default first seed: far from rl training (0 on) and drive eval (100_000 on)
CATEGORY = {"id": 1, "name": "vehicle", "supercategory": "vehicle"}


@dataclass(frozen=True, kw_only=True)
class RecordConfig:
    out: str
    """Folder to create for the dataset (must not exist, or be empty); a name, not a file (no suffix)."""
    env: str = "highway-fast-v0"
    """highway-env scenario to drive in."""
    agent: Literal["modular", "idm"] = "modular"
    """Driver of the ego while recording: the modular stack (lidar + radar) or highway-env's IDM."""
    frames: int = 1000
    """Labelled training frames."""
    unlabelled_frames: int = 0
    """Unlabelled frames (for self-supervised pretraining), from their own episodes."""
    test_frames: int = 200
    """Labelled test frames, from their own episodes."""
    cameras: Literal["front", "front+rear", "front+rear+sides"] = "front"
    """Cameras to record: the forward camera, also the rear one, or also the two wide side cameras (each step
    gives one frame per camera)."""
    every: int = 1
    """Record every this many policy steps (1 Hz on highway-fast-v0)."""
    min_pixels: int = 4
    """A vehicle is labelled when at least this many of its pixels are visible."""
    nuisance: bool = True
    """Draw the camera's seeded nuisances (brightness, contrast, colour, noise, blur)."""
    seed: int = RECORD_SEED
    """First env seed; split k drives seeds seed + k * 10_000_000 + episode."""
    duration: float | None = None
    """Episode length [s]; default: the scenario's own."""

    def __post_init__(self) -> None:
        from pilotlab.core.config import check_fields
        from pilotlab.drive import envs

        check_fields(self)
        if self.frames < 1:
            raise PilotlabError(f"frames must be >= 1, got {self.frames}")
        if self.every < 1:
            raise PilotlabError(f"every must be >= 1, got {self.every}")
        if self.env not in envs.SCENARIOS:
            raise PilotlabError(f"unknown env {self.env!r}; choose one of {', '.join(envs.SCENARIOS)}")
        if self.duration is not None and self.duration <= 0:
            raise PilotlabError(f"duration must be > 0 seconds, got {self.duration}")
        if self.seed + 3 * SPLIT_STRIDE > 2**31 - 1:
            raise PilotlabError(f"seed must be <= {2**31 - 1 - 3 * SPLIT_STRIDE} (three splits of seeds follow it)")
        check_out(self.out)


def check_out(out: str) -> Path:
    """The dataset folder: absent or empty, its parent a writable folder, no file-like suffix."""
    path = Path(out)
    if not out.strip():
        raise PilotlabError("out must name a folder")
    if path.suffix:
        raise PilotlabError(f"out {quote(path)} looks like a file name ({path.suffix}); name a folder")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise PilotlabError(f"out {quote(path)} exists and is not an empty folder; choose another --out")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise PilotlabError(f"out {quote(path)}: {quote(parent)} is not an existing folder; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PilotlabError(f"out {quote(path)}: {quote(parent)} is not writable")
    return path


def split_seeds(seed: int, split: str, episodes: int) -> list[int]:
    """Env seeds of the first `episodes` episodes of a split (disjoint between splits)."""
    k = SPLITS.index(split)
    if episodes > SPLIT_STRIDE:
        raise PilotlabError(f"a split may use at most {SPLIT_STRIDE} episodes")
    return [seed + k * SPLIT_STRIDE + i for i in range(episodes)]


def annotations_for(frame: Any, veh: Any, ego_pos: np.ndarray, ego_heading: float, ego_vel: np.ndarray,
                    vel: np.ndarray, cam_pos: np.ndarray, cam_heading: float, min_pixels: int
                    ) -> list[dict[str, Any]]:
    """COCO annotations (without ids) of the vehicles of one rendered frame."""
    out = []
    f = np.array([np.cos(ego_heading), np.sin(ego_heading)])
    r = np.array([-np.sin(ego_heading), np.cos(ego_heading)])
    fc = np.array([np.cos(cam_heading), np.sin(cam_heading)])
    rc = np.array([-np.sin(cam_heading), np.cos(cam_heading)])
    for j in np.flatnonzero(frame.visible_pixels >= min_pixels):
        x0, y0, x1, y1 = (float(v) for v in frame.box[j])
        rel = veh.position[j] - ego_pos
        dv = vel[j] - ego_vel
        relc = veh.position[j] - cam_pos
        own = int(frame.own_pixels[j])
        out.append({
            "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "category_id": 1, "iscrowd": 0,
            "position": [float(rel @ f), float(rel @ r)], "velocity": [float(dv @ f), float(dv @ r)],
            "position_camera": [float(relc @ fc), float(relc @ rc)],
            "occlusion": float(1.0 - frame.visible_pixels[j] / max(own, 1)),
            "visible_pixels": int(frame.visible_pixels[j]), "distance": float(np.hypot(*rel)),
            "track_id": int(veh.ids[j]),
        })
    return out


def record_split(cfg: RecordConfig, split: str, n_frames: int, folder: Path) -> dict[str, Any]:
    """Drive episodes of one split until `n_frames` frames are saved; returns the COCO document."""
    from PIL import Image

    from pilotlab.drive import envs
    from pilotlab.drive.agents import make_agent
    from pilotlab.drive.camera import Camera, CameraConfig, camera_set, camera_view

    cams = {name: Camera(c) for name, c in camera_set(cfg.cameras, CameraConfig(nuisance=cfg.nuisance)).items()}
    (folder / "images").mkdir(parents=True)
    env_config = {"duration": cfg.duration} if cfg.duration is not None else {}
    env = envs.make_env(cfg.env, env_config)
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    episodes: list[int] = []
    labelled = split != "unlabelled"
    episode = 0
    try:
        while len(images) < n_frames:
            seed = split_seeds(cfg.seed, split, episode + 1)[-1]
            episodes.append(seed)
            episode += 1
            agent = make_agent(cfg.agent, seed)
            agent.prepare(env)
            obs, _ = env.reset(seed=seed)
            agent.reset(env, seed)
            track_ids: dict[int, int] = {}
            step, done = 0, False
            while not done and len(images) < n_frames:
                if step % cfg.every == 0:
                    ego = env.unwrapped.vehicle
                    ego_pos, ego_heading = np.asarray(ego.position, dtype=float), float(ego.heading)
                    ego_vel = np.asarray(ego.velocity, dtype=float)
                    for name, cam in cams.items():
                        if len(images) >= n_frames:
                            break
                        rng = np.random.default_rng([seed, step, len(images)])
                        frame, veh = camera_view(env, cam, rng, colour_seed=seed)
                        image_id = len(images)
                        file_name = f"images/{image_id:06d}.png"
                        Image.fromarray(frame.image).save(folder / file_name)
                        images.append({"id": image_id, "file_name": file_name, "width": cam.cfg.width,
                                       "height": cam.cfg.height, "episode_seed": seed, "step": step, "camera": name})
                        if labelled:
                            others = [v for v in env.unwrapped.road.vehicles if v is not ego]
                            vel = np.array([v.velocity for v in others], dtype=float).reshape(-1, 2)
                            cam_pos, cam_heading = cam.pose(ego_pos, ego_heading)
                            for a in annotations_for(frame, veh, ego_pos, ego_heading, ego_vel, vel, cam_pos,
                                                     cam_heading, cfg.min_pixels):
                                a["track_id"] = track_ids.setdefault(a["track_id"], len(track_ids))
                                anns.append({"id": len(anns) + 1, "image_id": image_id, **a})
                action = agent.act(env, obs)
                obs, _, terminated, truncated, _ = env.step(action)
                done = bool(terminated or truncated)
                step += 1
    finally:
        env.close()
    doc = {"info": {"description": f"pilotlab drive record: {split} split", "split": split,
                    "episode_seeds": episodes},
           "images": images, "annotations": anns if labelled else [], "categories": [CATEGORY]}
    (folder / "labels.json").write_text(json.dumps(doc), encoding="utf-8")
    return doc


def run_record(cfg: RecordConfig) -> dict[str, Any]:
    """The CLI command: record every split into a temporary sibling folder, then rename it to `out`."""
    from pilotlab.core.run import versions
    from pilotlab.drive.agents import make_agent
    from pilotlab.drive.camera import CameraConfig, camera_set
    from pilotlab.drive.evaluate import check_drivers

    make_agent(cfg.agent, cfg.seed)
    check_drivers([cfg.agent], cfg.env, {"duration": cfg.duration} if cfg.duration is not None else {}, cfg.seed)
    out = check_out(cfg.out)
    tmp = out.resolve().parent / f".{out.name}.partial-{os.getpid()}"
    counts = {"train": cfg.frames, "unlabelled": cfg.unlabelled_frames, "test": cfg.test_frames}
    start = time.perf_counter()
    meta: dict[str, Any] = {"config": asdict(cfg), "versions": versions(), "splits": {}}
    cams = camera_set(cfg.cameras, CameraConfig(nuisance=cfg.nuisance))
    meta["cameras"] = {k: asdict(v) for k, v in cams.items()}
    try:
        for split in SPLITS:
            if counts[split] <= 0:
                continue
            doc = record_split(cfg, split, counts[split], tmp / split)
            meta["splits"][split] = {"frames": len(doc["images"]), "annotations": len(doc["annotations"]),
                                     "episode_seeds": doc["info"]["episode_seeds"]}
        meta["wall_s"] = time.perf_counter() - start
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty (checked)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for split, info in meta["splits"].items():
        print(f"{split:>10}: {info['frames']} frames, {info['annotations']} vehicles labelled, "
              f"{len(info['episode_seeds'])} episodes")
    print(f"dataset: {out}  ({meta['wall_s']:.1f} s)")
    return meta


# -- reading a dataset back -------------------------------------------------------------------------------
class Split(NamedTuple):
    """One split in memory: images and, per image, its annotations."""

    images: np.ndarray  # (N, H, W, 3) uint8
    annotations: list[list[dict[str, Any]]]  # per image
    coco: dict[str, Any]  # the labels.json document
    cameras: list[str]  # per image: "front", "rear", "left" or "right"
    focal: np.ndarray  # (N,) [px] per image: the focal length fx of the camera that took it (from meta.json)


def load_meta(root: str | Path) -> dict[str, Any]:
    path = Path(root) / "meta.json"
    if not path.is_file():
        raise PilotlabError(f"{quote(root)} is not a dataset of `pilotlab drive record` (no meta.json)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise PilotlabError(f"{quote(path)} is not valid JSON ({' '.join(str(e).split())[:120]})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("cameras"), dict) or "front" not in meta["cameras"]:
        raise PilotlabError(f"{quote(path)} names no cameras; record the dataset again")
    return meta


def load_split(root: str | Path, split: str, limit: int | None = None) -> Split:
    """Images and labels of one split, checked: every image listed exists with the listed size, and every
    annotation points at a listed image (else a one-line `PilotlabError`)."""
    from PIL import Image, UnidentifiedImageError

    folder = Path(root) / split
    labels = folder / "labels.json"
    if not labels.is_file():
        raise PilotlabError(f"{quote(folder)} has no labels.json: the split {split!r} is missing or incomplete")
    try:
        coco = json.loads(labels.read_text(encoding="utf-8"))
        images_meta = coco["images"]
        anns = coco["annotations"]
        by_id = {int(im["id"]): k for k, im in enumerate(images_meta)}
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise PilotlabError(f"{quote(labels)} is not a COCO file of this tool ({type(e).__name__}: "
                            f"{' '.join(str(e).split())[:100]})") from None
    if not isinstance(images_meta, list) or not isinstance(anns, list):
        raise PilotlabError(f"{quote(labels)} is not a COCO file of this tool (images/annotations are not lists)")
    # frames on disk that the labels do not list: in a labelled split they are frames with missing labels
    listed = {str(im.get("file_name", "")) for im in images_meta if isinstance(im, dict)}
    unlisted = sorted(f"images/{p.name}" for p in (folder / "images").glob("*.png") if f"images/{p.name}" not in listed)
    if unlisted:
        raise PilotlabError(f"{quote(folder / 'images')} holds {len(unlisted)} frame(s) that {quote(labels)} does not "
                            f"list (first: {unlisted[0]}): their labels are missing; record the split again")
    if limit is not None:
        images_meta = images_meta[:limit]
    per_image: list[list[dict[str, Any]]] = [[] for _ in images_meta]
    for a in anns:
        try:
            k = by_id[int(a["image_id"])]
            box = [float(v) for v in a["bbox"]]
            pos = [float(v) for v in a["position_camera"]]
        except (KeyError, TypeError, ValueError):
            raise PilotlabError(f"{quote(labels)}: annotation {a.get('id') if isinstance(a, dict) else a!r} "
                                "names no listed image or lacks bbox/position_camera") from None
        if len(box) != 4 or len(pos) != 2 or not np.all(np.isfinite(box + pos)):
            raise PilotlabError(f"{quote(labels)}: annotation {a.get('id')} has a malformed bbox or position")
        im = coco["images"][k]
        try:
            iw, ih = float(im["width"]), float(im["height"])
        except (KeyError, TypeError, ValueError):
            raise PilotlabError(f"{quote(labels)}: image {im.get('id')} has no numeric width and height") from None
        x, y, bw, bh = box
        if not (bw > 0 and bh > 0 and x >= -0.5 and y >= -0.5 and x + bw <= iw + 0.5 and y + bh <= ih + 0.5):
            raise PilotlabError(f"{quote(labels)}: annotation {a.get('id')} has bbox {box}, outside its "
                                f"{im.get('width')}x{im.get('height')} image: the labels do not match the frames")
        if k < len(per_image):
            per_image[k].append(a)
    arrays = []
    for im in images_meta:
        path = folder / str(im.get("file_name", ""))
        try:
            with Image.open(path) as img:
                arr = np.asarray(img.convert("RGB"))
        except (OSError, UnidentifiedImageError):
            raise PilotlabError(f"{quote(labels)} lists {im.get('file_name')!r}, which is missing or not an "
                                "image: the labels do not match the frames") from None
        if arr.shape[:2] != (im.get("height"), im.get("width")):
            raise PilotlabError(f"{quote(path)} is {arr.shape[1]}x{arr.shape[0]} px, labels.json says "
                                f"{im.get('width')}x{im.get('height')}: the labels do not match the frames")
        arrays.append(arr)
    if not arrays:
        raise PilotlabError(f"{quote(labels)} lists no images")
    if len({a.shape for a in arrays}) != 1:
        raise PilotlabError(f"{quote(folder)}: images of different sizes")
    names = [str(im.get("camera", "front")) for im in images_meta]
    return Split(np.stack(arrays), per_image, coco, names, camera_focals(root, names))


def camera_focals(root: str | Path, names: list[str]) -> np.ndarray:
    """(N,) [px] focal length fx of each named camera as meta.json describes it (a dataset without meta.json:
    the default camera's)."""
    from pilotlab.drive.camera import CameraConfig

    if not (Path(root) / "meta.json").is_file():
        return np.full(len(names), CameraConfig().fx)
    cams = load_meta(root)["cameras"]
    out = []
    for name in names:
        fx = cams.get(name, {}).get("fx") if isinstance(cams.get(name), dict) else None
        if isinstance(fx, bool) or not isinstance(fx, (int, float)) or not fx > 0:
            raise PilotlabError(f"{quote(Path(root) / 'meta.json')} gives no focal length (fx) of camera {name!r}, "
                                "which its frames name: record the dataset again")
        out.append(float(fx))
    return np.array(out, dtype=float)


__all__ = ["SPLITS", "SPLIT_STRIDE", "RecordConfig", "Split", "annotations_for", "camera_focals", "check_out",
           "load_meta", "load_split", "record_split", "run_record", "split_seeds"]
