"""Running one prompt on a robot through a VLA: shared by the simulator and the ROS node."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from sarl_ros.core.interfaces import ACTION_DIM, VLA, Camera, Robot
from sarl_ros.core.mdp import RETURN_TO_START_PROMPT  # noqa: F401 - the command execute_prompt runs itself
from sarl_ros.core.proposals import normalize_prompt

COMPLETED = 'completed'  # the control-step budget was used up
SKILL_DONE = 'skill_done'  # the VLA reported the skill finished early
CANCELLED = 'cancelled'  # should_stop() asked to stop (cancel or emergency stop)


class ActionSteering(Protocol):
    """Action-space RL acting inside a prompt's execution (sarl_ros.core.baselines.action_rl: DSRL, residual RL).

    needs_noise: it steers the VLA's latent noise, so the VLA must accept one (vla_accepts_noise).
    """

    needs_noise: bool

    def noise(self, step: int, proprio: np.ndarray) -> np.ndarray | None: ...  # latent for this step, or None

    def correct(self, step: int, proprio: np.ndarray, action: np.ndarray) -> np.ndarray: ...  # the action to apply


def vla_accepts_noise(vla) -> bool:
    """Return whether a VLA takes a latent-noise input (a diffusion or flow policy; not OpenVLA)."""
    return bool(getattr(vla, 'accepts_noise', False))


def require_latent_noise(vla) -> None:
    """Raise ValueError unless the VLA takes latent noise, naming the backend (DSRL needs it)."""
    if not vla_accepts_noise(vla):
        raise ValueError(f'DSRL steers the latent noise of a diffusion or flow VLA; {type(vla).__name__} has no '
                         'noise input (an autoregressive VLA such as OpenVLA cannot be steered this way: use '
                         'residual or sarl)')


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
                   on_step: Callable[[int, np.ndarray], None] | None = None,
                   steering: ActionSteering | None = None) -> ExecutionResult:
    """Close the loop image -> VLA -> arm for up to max_steps control steps.

    steering (action-space RL) may give the VLA a latent noise and correct its action at each step.
    """
    if max_steps <= 0:
        raise ValueError(f'max_steps must be positive, got {max_steps}')
    if is_return_to_start(prompt):
        return return_to_start(robot, max_steps, should_stop, on_step)
    if steering is not None and steering.needs_noise:
        require_latent_noise(vla)
    vla.reset()
    result = ExecutionResult(outcome=COMPLETED, control_steps=0)
    for step in range(max_steps):
        if should_stop is not None and should_stop():
            result.outcome = CANCELLED
            return result
        image = camera.read() if camera is not None else None
        proprio = robot.proprio()
        noise = steering.noise(step, proprio) if steering is not None else None
        # Only a steered call passes noise, so VLAs without a noise input are called as always.
        raw = vla.act(image, prompt, proprio) if noise is None else vla.act(image, prompt, proprio, noise=noise)
        action = np.asarray(raw, dtype=np.float64)
        if steering is not None and action.shape == (ACTION_DIM,):
            action = np.asarray(steering.correct(step, proprio, action), dtype=np.float64)
        if action.shape != (ACTION_DIM,) or not np.all(np.isfinite(action)):
            # A VLA (or a correction) emitting NaN must never reach the arm.
            raise ValueError(f'VLA returned an invalid action {action!r} for prompt {prompt!r}')
        _apply(robot, action, step, result, on_step)
        if vla.skill_done():
            result.outcome = SKILL_DONE
            return result
    return result


def _apply(robot: Robot, action: np.ndarray, step: int, result: ExecutionResult,
           on_step: Callable[[int, np.ndarray], None] | None) -> None:
    """Send one control step's action to the arm and account for it (a VLA's or the arm's own controller's)."""
    applied = robot.apply(action)
    result.control_steps = step + 1
    result.actions.append(action)
    result.clipped_steps += int(applied.clipped)
    if not applied.ok:
        result.skipped_steps += 1
        result.messages.append(applied.message)
    if on_step is not None:
        on_step(step + 1, action)


def is_return_to_start(prompt: str) -> bool:
    """Return whether a prompt is the return-to-start command (case, spaces and final punctuation aside)."""
    return isinstance(prompt, str) and normalize_prompt(prompt) == RETURN_TO_START_PROMPT


def return_to_start(robot: Robot, max_steps: int, should_stop: Callable[[], bool] | None = None,
                    on_step: Callable[[int, np.ndarray], None] | None = None) -> ExecutionResult:
    """Bring the arm back to its start pose with its own controller (no VLA), at most max_steps control steps.

    A robot with start_pose_action() (the simulator, the WidowX) is stepped through apply(), as a VLA's
    actions are: the same bounds, pacing and emergency stop; the outcome is SKILL_DONE once the pose is
    reached, COMPLETED when the budget ran out first. Any other robot is sent home() in one call.
    """
    result = ExecutionResult(outcome=COMPLETED, control_steps=0)
    next_action = getattr(robot, 'start_pose_action', None)
    if next_action is None:
        if should_stop is not None and should_stop():
            result.outcome = CANCELLED
            return result
        robot.home()
        result.outcome = SKILL_DONE
        result.messages.append('home()')
        return result
    for step in range(max_steps):
        if should_stop is not None and should_stop():
            result.outcome = CANCELLED
            return result
        action = next_action()
        if action is None:
            result.outcome = SKILL_DONE
            return result
        action = np.asarray(action, dtype=np.float64)
        _apply(robot, action, step, result, on_step)
    if next_action() is None:
        result.outcome = SKILL_DONE
    return result
