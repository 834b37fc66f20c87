"""Robot environments: Gymnasium's MuJoCo v5 tasks and gymnasium-robotics' Fetch arm, from the optional
``robots`` extra (``pip install -e '.[robots]'``).

Gymnasium registers its MuJoCo ids itself and raises `DependencyNotInstalled` at ``make`` when MuJoCo is
missing; gymnasium-robotics registers the Fetch ids only when imported. `register_robotics` imports it
on the first id Gymnasium does not know, and `missing_extra` words the one-line error for either case.

gymnasium-robotics 1.4.2's joint helpers (``mujoco_utils.set_joint_qpos`` and friends) test
``joint_type in (mjJNT_HINGE, mjJNT_SLIDE)`` on a NumPy integer; since MuJoCo 3.3 its enums compare
unequal to NumPy integers from that side (``enum == np.int32(v)`` is False, ``np.int32(v) == enum`` is
True), so every Fetch env fails its first reset with a bare AssertionError. `register_robotics` swaps
in helpers that compare plain ints, where that comparison is broken, instead of pinning an old MuJoCo.

Rendering (``rl eval --video``): without a display, Gymnasium's MuJoCo viewer tries GLFW first, which fails
and leaves PyOpenGL bound to the wrong platform, so EGL fails after it too. `headless_rendering` picks EGL
(``MUJOCO_GL=egl``) up front when no display is set and the user chose nothing.
"""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np

ROBOTS_FIX = "pip install -e '.[robots]'"
MUJOCO_TASKS = ("Reacher-v5", "HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5")
FETCH_TASKS = ("FetchReach-v4", "FetchPush-v4", "FetchPickAndPlace-v4")
ROBOTICS_PREFIXES = ("Fetch", "HandManipulate", "HandReach", "Adroit", "PointMaze", "AntMaze", "FrankaKitchen")

_registered = False


def is_robotics_id(env_id: str) -> bool:
    """Whether `env_id` names a gymnasium-robotics task (registered only once that package is imported)."""
    return env_id.startswith(ROBOTICS_PREFIXES)


def missing_extra(env_id: str, what: str) -> str:
    """The one-line message for a robot env whose package is not installed."""
    return f"{env_id} needs {what}, which is not installed: {ROBOTS_FIX}"


def headless_rendering() -> None:
    """Render MuJoCo off-screen through EGL when there is no display and MUJOCO_GL is unset."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("MUJOCO_GL", "egl")


def register_robotics() -> bool:
    """Import gymnasium-robotics (registering its ids) and fix its joint helpers; False if not installed."""
    global _registered
    if _registered:
        return True
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # it prints release notes to stderr on import
            import gymnasium_robotics  # noqa: F401  (importing registers the ids)
            import mujoco
            from gymnasium_robotics.utils import mujoco_utils
    except ImportError:
        return False
    hinge = mujoco.mjtJoint.mjJNT_HINGE
    if not (hinge == np.int32(int(hinge))):  # noqa: SIM201  (the broken == of the module docstring; != may differ)
        _patch_joint_helpers(mujoco, mujoco_utils)
    _registered = True
    return True


def _patch_joint_helpers(mujoco, mujoco_utils) -> None:  # type: ignore[no-untyped-def]
    """Replace the four joint helpers with versions that read the joint type as an int."""
    free, ball = int(mujoco.mjtJoint.mjJNT_FREE), int(mujoco.mjtJoint.mjJNT_BALL)

    def joint(model, name: str, velocity: bool) -> slice:  # type: ignore[no-untyped-def]
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if jid == -1:
            raise ValueError(f"joint {name!r} is not part of the model")
        kind = int(model.jnt_type[jid])
        size = {free: 6 if velocity else 7, ball: 3 if velocity else 4}.get(kind, 1)  # hinge, slide: 1
        start = int((model.jnt_dofadr if velocity else model.jnt_qposadr)[jid])
        return slice(start, start + size)

    def set_joint_qpos(model, data, name, value):  # type: ignore[no-untyped-def]
        data.qpos[joint(model, name, False)] = np.asarray(value)

    def set_joint_qvel(model, data, name, value):  # type: ignore[no-untyped-def]
        data.qvel[joint(model, name, True)] = np.asarray(value)

    def get_joint_qpos(model, data, name):  # type: ignore[no-untyped-def]
        return data.qpos[joint(model, name, False)].copy()

    def get_joint_qvel(model, data, name):  # type: ignore[no-untyped-def]
        return data.qvel[joint(model, name, True)].copy()

    mujoco_utils.set_joint_qpos, mujoco_utils.set_joint_qvel = set_joint_qpos, set_joint_qvel
    mujoco_utils.get_joint_qpos, mujoco_utils.get_joint_qvel = get_joint_qpos, get_joint_qvel
