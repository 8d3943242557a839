"""Running one prompt on a robot through a VLA: shared by the simulator and the ROS node."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from sarl_ros.core.interfaces import ACTION_DIM, VLA, Camera, Robot

COMPLETED = 'completed'  # the control-step budget was used up
SKILL_DONE = 'skill_done'  # the VLA reported the skill finished early
CANCELLED = 'cancelled'  # should_stop() asked to stop (cancel or emergency stop)


@dataclass
class ExecutionResult:
    outcome: str
    control_steps: int
    clipped_steps: int = 0
    skipped_steps: int = 0  # the robot refused the action (IK failure)
    actions: list[np.ndarray] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def execute_prompt(robot: Robot, camera: Camera | None, vla: VLA, prompt: str, max_steps: int,
                   should_stop: Callable[[], bool] | None = None,
                   on_step: Callable[[int, np.ndarray], None] | None = None) -> ExecutionResult:
    """Close the loop image -> VLA -> arm for up to max_steps control steps."""
    if max_steps <= 0:
        raise ValueError(f'max_steps must be positive, got {max_steps}')
    vla.reset()
    result = ExecutionResult(outcome=COMPLETED, control_steps=0)
    for step in range(max_steps):
        if should_stop is not None and should_stop():
            result.outcome = CANCELLED
            return result
        image = camera.read() if camera is not None else None
        action = np.asarray(vla.act(image, prompt, robot.proprio()), dtype=np.float64)
        if action.shape != (ACTION_DIM,) or not np.all(np.isfinite(action)):
            # A VLA emitting NaN must never reach the arm.
            raise ValueError(f'VLA returned an invalid action {action!r} for prompt {prompt!r}')
        applied = robot.apply(action)
        result.control_steps = step + 1
        result.actions.append(action)
        result.clipped_steps += int(applied.clipped)
        if not applied.ok:
            result.skipped_steps += 1
            result.messages.append(applied.message)
        if on_step is not None:
            on_step(step + 1, action)
        if vla.skill_done():
            result.outcome = SKILL_DONE
            return result
    return result
