"""Every backend in one table: its role, its name, its options and its factory.

A role is the launch argument that chooses the backend (robot, vla, vlm, detector, camera). The
launch arguments' choices (sarl_ros.graph.description), the nodes' parameter choices, the nodes'
backend parameters (from the options dataclasses, sarl_ros.backends.options) and the factories
all read this table, so a backend added here is offered, configured and built everywhere at once.

Every factory imports its backend module only when called, so choosing the simulator never
imports torch, transformers, OpenCV or the Interbotix API, and this module imports none of them.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from sarl_ros.backends.options import (HFProposerOptions, OpenAIProposerOptions, OpenPIOptions, OpenVLAOptions,
                                       RemoteVLAOptions, SimOptions, SimProposerOptions, VLMDetectorOptions,
                                       WidowXOptions)

ROBOT, VLA, VLM, DETECTOR, CAMERA = 'robot', 'vla', 'vlm', 'detector', 'camera'
ROLES = (ROBOT, VLA, VLM, DETECTOR, CAMERA)


@dataclass(frozen=True)
class Backend:
    argument: str  # its role: the launch argument that chooses it
    name: str  # the value of that argument
    options: type | None = None  # its options dataclass (sarl_ros.backends.options); None: it has none
    prefix: str = ''  # node parameter = prefix + option field name
    # Called with the options' kwargs(); None: the node that takes the role serves it itself (see `served_by`).
    factory: Callable[..., Any] | None = None
    served_by: str = ''  # how a backend without a factory is served
    # A robot whose factory builds the executor's whole stack (robot, VLA, camera, judge over one world).
    builds_stack: bool = False
    drives_sim_arm: bool = False  # a VLA that may drive the simulated arm (robot:=sim)


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """Return a factory that imports module only when called, then calls its `name` with the options."""
    def build(**kw):
        return getattr(importlib.import_module(module), name)(**kw)
    build.__name__ = f'make_{name}'
    return build


# The order within a role is the order of the choices in --help and in error messages.
BACKENDS: tuple[Backend, ...] = (
    Backend(ROBOT, 'sim', SimOptions, 'sim_', _lazy('sarl_ros.sim.ros_stack', 'make_sim_stack'), builds_stack=True),
    Backend(ROBOT, 'widowx', WidowXOptions, 'widowx_', _lazy('sarl_ros.backends.widowx', 'WidowXRobot')),
    Backend(VLA, 'sim', served_by='the simulated stack of robot:=sim', drives_sim_arm=True),
    Backend(VLA, 'openvla', OpenVLAOptions, 'vla_', _lazy('sarl_ros.backends.openvla', 'OpenVLAPolicy')),
    Backend(VLA, 'remote', RemoteVLAOptions, 'vla_', _lazy('sarl_ros.backends.vla_client', 'RemoteVLA')),
    # openpi's server may drive the simulated arm: a dry run of the real path against a local server.
    Backend(VLA, 'openpi', OpenPIOptions, 'vla_', _lazy('sarl_ros.backends.openpi_client', 'OpenPIVLA'),
            drives_sim_arm=True),
    Backend(VLM, 'sim', SimProposerOptions, '', _lazy('sarl_ros.sim.registry', 'SimulatedVLM')),
    Backend(VLM, 'openai', OpenAIProposerOptions, '', _lazy('sarl_ros.backends.vlm_proposer', 'make_openai_proposer')),
    Backend(VLM, 'hf_vlm', HFProposerOptions, '', _lazy('sarl_ros.backends.vlm_proposer', 'make_hf_proposer')),
    Backend(DETECTOR, 'sim', served_by="the reward node, asking the executor's simulated world"),
    Backend(DETECTOR, 'vlm', VLMDetectorOptions, 'detector_', _lazy('sarl_ros.backends.detector', 'make_vlm_detector')),
    Backend(DETECTOR, 'none', served_by='nobody: the verdict is a person\'s or undecided'),
    Backend(CAMERA, 'relay', served_by='the camera node, re-publishing an image topic'),
    Backend(CAMERA, 'opencv', factory=_lazy('sarl_ros.backends.camera', 'OpenCVCamera')),
)


def of(*roles: str) -> tuple[Backend, ...]:
    """Return the backends of the given roles, in table order."""
    return tuple(b for b in BACKENDS if b.argument in roles)


def names(role: str) -> tuple[str, ...]:
    """Return the names a role may take: the choices of its launch argument and node parameter."""
    return tuple(b.name for b in of(role))


def backend(role: str, name: str) -> Backend:
    """Return the backend of a role called name; ValueError naming the choices if there is none."""
    for b in of(role):
        if b.name == name:
            return b
    raise ValueError(f'unknown {role} backend {name!r}; choose one of {sorted(names(role))}')


# The backends whose options each node declares as parameters (sarl_ros.backends.options.parameter_specs).
EXECUTOR_BACKENDS = of(ROBOT, VLA)
PROPOSER_BACKENDS = of(VLM)
DETECTOR_BACKENDS = of(DETECTOR)
# The robots that come with their own world, VLA and camera, and the VLAs that may drive the simulated arm.
STACK_ROBOTS = tuple(b.name for b in of(ROBOT) if b.builds_stack)
SIM_ARM_VLAS = tuple(b.name for b in of(VLA) if b.drives_sim_arm)


def task_catalogs() -> list[Any]:
    """Return the catalogs of named tasks the installed backends offer (the simulator's, when importable)."""
    try:
        from sarl_ros.sim.registry import SimTaskCatalog
    except ImportError:  # the simulator's dependencies (MuJoCo) are optional on a robot computer
        return []
    return [SimTaskCatalog()]


def make(role: str, name: str, **kw) -> Any:
    """Build the backend of a role called name from its factory's keyword arguments."""
    return _factory(role, name, stack=False)(**kw)


def make_stack(robot: str, **kw) -> Any:
    """Return the executor's whole stack that a robot backend builds around its own world (`sim`)."""
    return _factory(ROBOT, robot, stack=True)(**kw)


def _factory(role: str, name: str, stack: bool) -> Callable[..., Any]:
    built = {b.name: b.factory for b in of(role) if b.factory is not None and b.builds_stack == stack}
    if name not in built:
        raise ValueError(f'unknown {_KIND[role]} backend {name!r}; choose one of {sorted(built)}')
    return built[name]


_KIND = {ROBOT: 'robot', VLA: 'VLA', VLM: 'proposer', DETECTOR: 'detector', CAMERA: 'camera'}


def make_robot(name: str, **kw) -> Any:
    """Return the robot backend called name (`widowx`; `sim` is a whole stack: make_stack)."""
    return make(ROBOT, name, **kw)


def make_vla(name: str, **kw) -> Any:
    """Return the VLA backend called name (`openvla` local, `remote` policy server, `openpi` websocket server)."""
    return make(VLA, name, **kw)


def make_proposer(name: str, **kw) -> Any:
    """Return the VLM proposer called name (`openai` chat endpoint, `hf_vlm` local transformers, `sim`)."""
    return make(VLM, name, **kw)


def make_detector(name: str, **kw) -> Any:
    """Return the success detector called name (`vlm`)."""
    return make(DETECTOR, name, **kw)


def make_camera(name: str, **kw) -> Any:
    """Return the camera backend called name (`opencv`)."""
    return make(CAMERA, name, **kw)
