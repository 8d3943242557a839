"""The simulated WidowX 250 tabletop: MuJoCo world, Bridge-style controller, simulated VLA/VLM, tasks."""

# Before any simulator module imports mujoco: a headless machine needs an offscreen GL.
from sarl_ros.sim import offscreen_gl  # noqa: E402,F401
