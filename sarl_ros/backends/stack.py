"""Assembling the executor's backends from parameter values.

The simulated robot, its VLA, camera and success check share one simulated world; a real
setup combines the Interbotix arm with a local or remote VLA and a camera topic.
"""
from __future__ import annotations

from typing import Any

from sarl_ros.backends.featurizers import make_featurizer
from sarl_ros.core.interfaces import Camera, Stack


def build_stack(robot: str, vla: str, params: dict[str, Any], camera: Camera | None = None) -> Stack:
    """Return the backends the parameters name; camera is what a real VLA reads (the simulator has its own)."""
    if robot == 'sim':
        if vla != 'sim':
            raise ValueError(f'vla:={vla} needs camera images of a real scene; with robot:=sim use vla:=sim')
        from sarl_ros.sim.ros_stack import make_sim_stack
        return make_sim_stack(task=params['sim_task'], seed=params['seed'],
                              width=params.get('sim_camera_width', 256),
                              height=params.get('sim_camera_height', 256))
    from sarl_ros.backends.registry import make_robot, make_vla
    arm = make_robot(robot, **_optional(robot, params))
    policy = make_vla(vla, **_vla_params(vla, params))
    featurizer = make_featurizer(params.get('state_featurizer', 'proprio_thumbnail'), len(arm.proprio()))
    return Stack(robot=arm, vla=policy, camera=camera, featurizer=featurizer)


# Optional parameters: used when the node declares them, the backend's defaults otherwise.
_OPTIONAL = {
    'openvla': {'vla_dtype': 'dtype'},
    'remote': {'vla_timeout_s': 'timeout_s', 'vla_retries': 'retries', 'vla_image_size': 'image_size'},
    'widowx': {'widowx_control_hz': 'control_hz', 'widowx_moving_time_s': 'moving_time_s',
               'widowx_pose_source': 'pose_source', 'widowx_robot_model': 'robot_model'},
}


def _optional(backend: str, params: dict[str, Any]) -> dict[str, Any]:
    return {kw: params[name] for name, kw in _OPTIONAL.get(backend, {}).items()
            if params.get(name) not in (None, '', 0)}


def _vla_params(vla: str, params: dict[str, Any]) -> dict[str, Any]:
    if vla == 'openvla':
        return {'model': params['vla_model'], 'device': params['vla_device'],
                'unnorm_key': params['vla_unnorm_key'], **_optional(vla, params)}
    if vla == 'remote':
        return {'url': params['vla_server_url'], 'unnorm_key': params['vla_unnorm_key'], **_optional(vla, params)}
    return {}
