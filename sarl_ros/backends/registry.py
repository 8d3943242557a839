"""Factories of the real backends, chosen by name from node parameters.

Every factory imports its backend module only when called, so choosing the simulator never
imports torch, transformers, OpenCV or the Interbotix API.
"""
from __future__ import annotations

from typing import Any, Callable


def _openvla(**kw):
    from sarl_ros.backends.openvla import OpenVLAPolicy
    return OpenVLAPolicy(**kw)


def _remote_vla(**kw):
    from sarl_ros.backends.vla_client import RemoteVLA
    return RemoteVLA(**kw)


def _openpi(**kw):
    from sarl_ros.backends.openpi_client import OpenPIVLA
    return OpenPIVLA(**kw)


def _widowx(**kw):
    from sarl_ros.backends.widowx import WidowXRobot
    return WidowXRobot(**kw)


def _openai_proposer(**kw):
    from sarl_ros.backends.vlm_proposer import make_openai_proposer
    return make_openai_proposer(**kw)


def _hf_proposer(**kw):
    from sarl_ros.backends.vlm_proposer import make_hf_proposer
    return make_hf_proposer(**kw)


def _sim_proposer(**kw):
    from sarl_ros.sim.registry import SimulatedVLM
    return SimulatedVLM(**kw)


def _vlm_detector(**kw):
    from sarl_ros.backends.detector import make_vlm_detector
    return make_vlm_detector(**kw)


def _opencv_camera(**kw):
    from sarl_ros.backends.camera import OpenCVCamera
    return OpenCVCamera(**kw)


ROBOTS: dict[str, Callable[..., Any]] = {'widowx': _widowx}
VLAS: dict[str, Callable[..., Any]] = {'openvla': _openvla, 'remote': _remote_vla, 'openpi': _openpi}
PROPOSERS: dict[str, Callable[..., Any]] = {'openai': _openai_proposer, 'hf_vlm': _hf_proposer, 'sim': _sim_proposer}
DETECTORS: dict[str, Callable[..., Any]] = {'vlm': _vlm_detector}
CAMERAS: dict[str, Callable[..., Any]] = {'opencv': _opencv_camera}


def task_catalogs() -> list[Any]:
    """Return the catalogs of named tasks the installed backends offer (the simulator's, when importable)."""
    try:
        from sarl_ros.sim.registry import SimTaskCatalog
    except ImportError:  # the simulator's dependencies (MuJoCo) are optional on a robot computer
        return []
    return [SimTaskCatalog()]


def _make(kind: str, table: dict[str, Callable[..., Any]], name: str, kw: dict) -> Any:
    factory = table.get(name)
    if factory is None:
        raise ValueError(f'unknown {kind} backend {name!r}; choose one of {sorted(table)}')
    return factory(**kw)


def make_robot(name: str, **kw) -> Any:
    """Return the robot backend called name (`widowx`)."""
    return _make('robot', ROBOTS, name, kw)


def make_vla(name: str, **kw) -> Any:
    """Return the VLA backend called name (`openvla` local, `remote` policy server, `openpi` websocket server)."""
    return _make('VLA', VLAS, name, kw)


def make_proposer(name: str, **kw) -> Any:
    """Return the VLM proposer called name (`openai` chat endpoint, `hf_vlm` local transformers, `sim`)."""
    return _make('proposer', PROPOSERS, name, kw)


def make_detector(name: str, **kw) -> Any:
    """Return the success detector called name (`vlm`)."""
    return _make('detector', DETECTORS, name, kw)


def make_camera(name: str, **kw) -> Any:
    """Return the camera backend called name (`opencv`)."""
    return _make('camera', CAMERAS, name, kw)
