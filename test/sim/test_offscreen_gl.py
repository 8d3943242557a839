"""A headless machine renders the simulator with no MUJOCO_GL set by hand."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sarl_ros.sim.offscreen_gl import choose_platform, configure

ROOT = Path(__file__).resolve().parents[2]


def libraries(*present):
    return lambda name: f'lib{name}.so' if name in present else None


@pytest.mark.parametrize('environ, present, expected', [
    ({}, ('OSMesa', 'EGL'), 'osmesa'),
    ({}, ('EGL',), 'egl'),
    ({}, (), None),
    ({'MUJOCO_GL': 'glfw'}, ('OSMesa',), None),  # the user's choice stands
    ({'DISPLAY': ':0'}, ('OSMesa',), None),  # a display: MuJoCo's default works
    ({'WAYLAND_DISPLAY': 'wayland-0'}, ('OSMesa',), None),
    ({'PYOPENGL_PLATFORM': 'egl'}, ('OSMesa', 'EGL'), 'egl'),  # must agree with PyOpenGL
])
def test_platform_choice(environ, present, expected):
    assert choose_platform(environ, libraries(*present)) == expected


def test_configure_sets_both_variables_only_when_headless():
    headless = {}
    platform = configure(headless)
    if platform is None:
        pytest.skip('neither libOSMesa nor libEGL is installed')
    assert headless == {'MUJOCO_GL': platform, 'PYOPENGL_PLATFORM': platform}
    with_display = {'DISPLAY': ':1'}
    assert configure(with_display) is None and with_display == {'DISPLAY': ':1'}


def test_simulator_renders_headless_without_mujoco_gl():
    env = {k: v for k, v in os.environ.items()
           if k not in ('MUJOCO_GL', 'PYOPENGL_PLATFORM', 'DISPLAY', 'WAYLAND_DISPLAY')}
    code = ('import os\n'
            'from sarl_ros.sim.registry import make_env\n'
            'env = make_env("sushi_to_pot", seed=1, render=True, width=64, height=48)\n'
            'env.reset(seed=1)\n'
            'image = env.render()\n'
            'print(os.environ["MUJOCO_GL"], image.shape, int(image.std() > 1))\n')
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    platform, *rest = out.stdout.split()
    assert platform in ('osmesa', 'egl')
    assert ' '.join(rest) == '(48, 64, 3) 1'  # an image with content, not a blank frame
