"""Assembling the executor's backends from parameter values.

The simulated robot, its VLA, camera and success check share one simulated world; a real
setup combines the Interbotix arm with a local or remote VLA and a camera topic.
"""
from __future__ import annotations

from typing import Any

from sarl_ros.backends.featurizers import make_featurizer
from sarl_ros.backends.options import options_for
from sarl_ros.core.interfaces import Camera, Stack


def build_stack(robot: str, vla: str, params: dict[str, Any], camera: Camera | None = None,
                task: str | None = None) -> Stack:
    """Return the backends the parameters name; camera is what a real VLA reads (the simulator has its own).

    task: the task name the episode manager resolved; the simulator builds that task's scene (without
    one, the `sim_task` parameter's, shown until the first reset). A real stack serves any task.
    """
    state = params.get('state_featurizer', 'auto')
    if robot == 'sim':
        if vla != 'sim':
            raise ValueError(f'vla:={vla} needs camera images of a real scene; with robot:=sim use vla:=sim')
        from sarl_ros.sim.ros_stack import make_sim_stack
        options = options_for('robot', 'sim', params).kwargs()
        if task:
            options['task'] = task
        return make_sim_stack(seed=params['seed'], state_featurizer=state, **options)
    from sarl_ros.backends.registry import make_robot, make_vla
    arm = make_robot(robot, **_kwargs('robot', robot, params))
    policy = make_vla(vla, **_kwargs('vla', vla, params))
    # auto: the observable state the simulated benchmark trains on, so a simulated checkpoint loads here.
    featurizer = make_featurizer('observable' if state == 'auto' else state, len(arm.joint_state()))
    return Stack(robot=arm, vla=policy, camera=camera, featurizer=featurizer)


def _kwargs(argument: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    options = options_for(argument, name, params)
    return options.kwargs() if options is not None else {}
