"""Assembling the executor's backends from parameter values.

The simulated robot, its VLA, camera and success check share one simulated world; a real
setup combines the Interbotix arm with a local or remote VLA and a camera topic.
"""
from __future__ import annotations

from typing import Any

from sarl_ros.backends.featurizers import make_featurizer
from sarl_ros.backends.options import options_for
from sarl_ros.core.interfaces import Camera, Stack

# VLAs that may drive the simulated arm: its own, and openpi's policy server (a dry run of the real path
# against a local server; the simulated arm executes whatever the served policy returns).
SIM_ARM_VLAS = ('sim', 'openpi')


def build_stack(robot: str, vla: str, params: dict[str, Any], camera: Camera | None = None,
                task: str | None = None) -> Stack:
    """Return the backends the parameters name; camera is what a real VLA reads (the simulator has its own).

    task: the task name the episode manager resolved; the simulator builds that task's scene (without
    one, the `sim_task` parameter's, shown until the first reset). A real stack serves any task.
    """
    state = params.get('state_featurizer', 'auto')
    if robot == 'sim':
        if vla not in SIM_ARM_VLAS:
            raise ValueError(f'vla:={vla} needs camera images of a real scene; with robot:=sim use vla:=sim')
        from sarl_ros.sim.ros_stack import make_sim_stack
        options = options_for('robot', 'sim', params).kwargs()
        if task:
            options['task'] = task
        stack = make_sim_stack(seed=params['seed'], state_featurizer=state, **options)
        if vla != 'sim':  # a policy server drives the simulated arm, looking at the simulator's camera
            from sarl_ros.backends.registry import make_vla
            stack.vla = _bound(make_vla(vla, **_kwargs('vla', vla, params)), stack.robot)
            stack.camera = stack.view
        return stack
    from sarl_ros.backends.registry import make_robot, make_vla
    arm = make_robot(robot, **_kwargs('robot', robot, params))
    policy = _bound(make_vla(vla, **_kwargs('vla', vla, params)), arm)
    # auto: the observable state the simulated benchmark trains on, so a simulated checkpoint loads here.
    featurizer = make_featurizer('observable' if state == 'auto' else state, len(arm.joint_state()))
    return Stack(robot=arm, vla=policy, camera=camera, featurizer=featurizer)


def _bound(policy: Any, robot: Any) -> Any:
    # A VLA that reads the arm's end-effector pose itself (vla:=openpi: state and absolute actions).
    if hasattr(policy, 'bind_robot'):
        policy.bind_robot(robot)
    return policy


def _kwargs(argument: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    options = options_for(argument, name, params)
    return options.kwargs() if options is not None else {}
