"""Assembling the executor's backends from parameter values.

The simulated robot, its VLA, camera and success check share one simulated world; a real
setup combines the Interbotix arm with a local or remote VLA and a camera topic.
"""
from __future__ import annotations

from typing import Any

from sarl_ros.backends.catalog import (EXECUTOR_BACKENDS, ROBOT, SIM_ARM_VLAS, STACK_ROBOTS, VLA, make_robot,
                                       make_stack, make_vla)
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
    if robot in STACK_ROBOTS:
        if vla not in SIM_ARM_VLAS:
            raise ValueError(f'vla:={vla} needs camera images of a real scene; with robot:=sim use vla:=sim')
        options = _kwargs(ROBOT, robot, params)
        if task:
            options['task'] = task
        # The simulator builds robot, VLA, camera and judge together: they share one world.
        stack = make_stack(robot, seed=params['seed'], state_featurizer=state, **options)
        if vla != 'sim':  # a policy server drives the simulated arm, looking at the simulator's camera
            stack.vla = _bound(make_vla(vla, **_kwargs(VLA, vla, params)), stack.robot)
            stack.camera = stack.view
        return stack
    arm = make_robot(robot, **_kwargs(ROBOT, robot, params))
    policy = _bound(make_vla(vla, **_kwargs(VLA, vla, params)), arm)
    # auto: the observable state the simulated benchmark trains on, so a simulated checkpoint loads here.
    featurizer = make_featurizer('observable' if state == 'auto' else state, len(arm.joint_state()),
                                 **{key: params[key] for key in ('image_encoder', 'image_model') if key in params})
    return Stack(robot=arm, vla=policy, camera=camera, featurizer=featurizer)


def _bound(policy: Any, robot: Any) -> Any:
    # A VLA that reads the arm's end-effector pose itself (vla:=openpi: state and absolute actions).
    if hasattr(policy, 'bind_robot'):
        policy.bind_robot(robot)
    return policy


def _kwargs(argument: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    options = options_for(argument, name, params, EXECUTOR_BACKENDS)
    return options.kwargs() if options is not None else {}
