"""Assembling the executor's backends from parameter values.

The simulated robot, its VLA, camera and success check share one simulated world; a real
setup combines the Interbotix arm with a local or remote VLA and a camera topic.
"""
from __future__ import annotations

from typing import Any

from sarl_ros.backends.featurizers import make_featurizer
from sarl_ros.backends.options import options_for
from sarl_ros.core.interfaces import Camera, Stack


def build_stack(robot: str, vla: str, params: dict[str, Any], camera: Camera | None = None) -> Stack:
    """Return the backends the parameters name; camera is what a real VLA reads (the simulator has its own)."""
    if robot == 'sim':
        if vla != 'sim':
            raise ValueError(f'vla:={vla} needs camera images of a real scene; with robot:=sim use vla:=sim')
        from sarl_ros.sim.ros_stack import make_sim_stack
        return make_sim_stack(seed=params['seed'], **options_for('robot', 'sim', params).kwargs())
    from sarl_ros.backends.registry import make_robot, make_vla
    arm = make_robot(robot, **_kwargs('robot', robot, params))
    policy = make_vla(vla, **_kwargs('vla', vla, params))
    featurizer = make_featurizer(params.get('state_featurizer', 'proprio_thumbnail'), len(arm.proprio()))
    return Stack(robot=arm, vla=policy, camera=camera, featurizer=featurizer)


def _kwargs(argument: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    options = options_for(argument, name, params)
    return options.kwargs() if options is not None else {}
