"""A frame of the episode with what the modular driver perceived drawn over highway-env's render.

Lidar returns are small white dots, detections red crosses, tracks yellow-outlined boxes with their
id and a whisker of the motion relative to the ego over 1 s. World -> pixel uses the viewer's own transform (the
`sim_surface` origin [m] and scaling [px/m]), so overlays sit exactly on the rendered vehicles.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from pilotlab.drive.agents import Perception
from pilotlab.drive.envs import VEHICLE_LENGTH, VEHICLE_WIDTH


def world_to_pixels(env: Any, points: np.ndarray) -> np.ndarray:
    """World points (N, 2) [m] -> pixel coordinates (N, 2) of the last rendered frame."""
    surface = env.unwrapped.viewer.sim_surface
    return (np.asarray(points, dtype=float).reshape(-1, 2) - np.asarray(surface.origin)) * float(surface.scaling)


def overlay(env: Any, frame: np.ndarray, perception: Perception | None, note: str = "") -> np.ndarray:
    """`frame` (H, W, 3) uint8 with lidar points, detections and tracks drawn on it."""
    img = Image.fromarray(np.ascontiguousarray(frame))
    draw = ImageDraw.Draw(img)
    if perception is not None and env.unwrapped.viewer is not None:
        ego = env.unwrapped.vehicle.position
        ego_vel = np.asarray(env.unwrapped.vehicle.velocity, dtype=float)  # [m/s]
        lid = perception.lidar
        hits = lid.hit
        pts = ego + lid.ranges[hits, None] * np.stack([np.cos(lid.angles[hits]), np.sin(lid.angles[hits])], -1)
        for x, y in world_to_pixels(env, pts):
            draw.ellipse((x - 1, y - 1, x + 1, y + 1), fill=(255, 255, 255))
        for x, y in world_to_pixels(env, perception.detections.position):
            draw.line((x - 3, y - 3, x + 3, y + 3), fill=(220, 30, 30), width=2)
            draw.line((x - 3, y + 3, x + 3, y - 3), fill=(220, 30, 30), width=2)
        scale = float(env.unwrapped.viewer.sim_surface.scaling)
        hl, hw = VEHICLE_LENGTH / 2 * scale, VEHICLE_WIDTH / 2 * scale
        for t in perception.tracks:
            x, y = world_to_pixels(env, t.x[None, :2])[0]
            vx, vy = world_to_pixels(env, (t.x[:2] + t.x[2:] - ego_vel)[None])[0]  # relative motion over 1 s
            colour = (250, 200, 0) if t.confirmed else (160, 160, 160)
            draw.rectangle((x - hl, y - hw, x + hl, y + hw), outline=colour, width=2)
            draw.line((x, y, vx, vy), fill=colour, width=1)
            draw.text((x - hl, y - hw - 10), str(t.id), fill=colour)
    if note:
        draw.text((4, 2), note, fill=(255, 255, 255))
    return np.asarray(img)


__all__ = ["overlay", "world_to_pixels"]
