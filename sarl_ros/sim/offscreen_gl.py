"""Pick an offscreen OpenGL platform for MuJoCo's renderer on a machine without a display.

MuJoCo reads MUJOCO_GL once, when it is imported. Left unset on a headless machine (a
robot PC over SSH, CI, `ros2 launch` from a service) it uses GLFW, which needs a display,
and the first render fails with "an OpenGL platform library has not been loaded". So this
module, imported by sarl_ros.sim before anything imports mujoco, chooses a platform that can
work without a display, unless the user chose one or a display is there.
"""
from __future__ import annotations

import ctypes.util
import os
from typing import Callable, MutableMapping

# OSMesa first: it renders on the CPU anywhere (scripts/bootstrap.sh installs it); EGL
# needs a GPU driver or Mesa's surfaceless EGL. Set MUJOCO_GL=egl to prefer the GPU.
CANDIDATES = (('osmesa', 'OSMesa'), ('egl', 'EGL'))


def choose_platform(environ: MutableMapping[str, str],
                    find_library: Callable[[str], str | None] = ctypes.util.find_library) -> str | None:
    """Return the MUJOCO_GL value to set, or None to leave MuJoCo's own choice alone."""
    if environ.get('MUJOCO_GL') or environ.get('DISPLAY') or environ.get('WAYLAND_DISPLAY'):
        return None
    # PyOpenGL must agree with MuJoCo, which refuses a different PYOPENGL_PLATFORM.
    wanted = environ.get('PYOPENGL_PLATFORM', '').lower()
    for platform, library in CANDIDATES:
        if wanted in ('', platform) and find_library(library):
            return platform
    return None


def configure(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Set MUJOCO_GL (and PYOPENGL_PLATFORM) for a headless machine; return what was set."""
    platform = choose_platform(environ)
    if platform is not None:
        environ['MUJOCO_GL'] = platform
        environ.setdefault('PYOPENGL_PLATFORM', platform)
    return platform


configure()
