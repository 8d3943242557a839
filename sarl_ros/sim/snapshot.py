"""Save and restore the whole state of a simulated tabletop, to try a prompt and take it back.

A snapshot holds everything a prompt's execution reads or changes:
  physics     a full copy of the MuJoCo data (mj_copyData: state, warm start, controls, mocap poses,
              active welds and the derived quantities the world reads, such as body positions, which
              after mj_step still describe the state before the last integration step: recomputing
              them with mj_forward would not be bit-identical), and the model fields the world edits
              at run time (the grasp welds' relative pose in eq_data, the paint in geom_rgba);
  world       what it holds (the grasp rule), its control-step count, colours and layout roles;
  robot       the commanded end-effector pose and gripper command (the IK scratch data is rewritten
              from the world's state at every solve, so it carries nothing over);
  VLA         its random stream and skill state (plan, instruction, latent, last command);
  env         decisions, the executed prompts (history), the subgoals achieved and its reset stream.
Restoring puts all of it back, so executing a prompt after restore() gives exactly what executing it
then would have given (same features, same outcome, same random draws afterwards):

    with preserved(env):           # or: outcome = try_prompt(env, prompt)
        outcome = env.step(prompt)
    # env is as before the step
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import mujoco
import numpy as np

__all__ = ['SimSnapshot', 'WorldSnapshot', 'preserved', 'restore', 'restore_world', 'save', 'save_world',
           'try_prompt']


@dataclass(frozen=True)
class WorldSnapshot:
    """The state of one world, its robot and its VLA (the parts the ROS graph's stack shares too)."""

    data: mujoco.MjData
    eq_data: np.ndarray
    geom_rgba: np.ndarray
    holding: str | None
    control_steps: int
    colours: dict
    roles: dict
    robot: dict
    vla: dict


@dataclass(frozen=True)
class SimSnapshot:
    """The state of a SimTabletopEnv: its world, robot and VLA, and the episode's bookkeeping."""

    world: WorldSnapshot
    decisions: int
    history: tuple[str, ...]
    achieved: frozenset
    seed_rng: dict


_VLA_FIELDS = ('_plan', '_instruction', '_done', 'last_command', 'last_grounding', '_latent')


def save_world(world, robot, vla) -> WorldSnapshot:
    """Return a snapshot of a world with the robot and VLA acting in it."""
    with world.lock:
        data = mujoco.MjData(world.model)
        mujoco.mj_copyData(data, world.model, world.data)
        return WorldSnapshot(
            data=data, eq_data=world.model.eq_data.copy(), geom_rgba=world.model.geom_rgba.copy(),
            holding=world.holding, control_steps=int(world.control_steps), colours=dict(world.colours),
            roles=dict(world.roles),
            robot={'target_pos': robot.target_pos.copy(), 'target_rpy': robot.target_rpy.copy(),
                   'gripper_command': float(robot.gripper_command)},
            vla={'rng': copy.deepcopy(vla.rng.bit_generator.state),
                 **{name: copy.deepcopy(getattr(vla, name)) for name in _VLA_FIELDS}})


def restore_world(world, robot, vla, snapshot: WorldSnapshot) -> None:
    """Put a world, its robot and its VLA back as they were when the snapshot was taken."""
    with world.lock:
        mujoco.mj_copyData(world.data, world.model, snapshot.data)
        world.model.eq_data[:] = snapshot.eq_data
        world.model.geom_rgba[:] = snapshot.geom_rgba
        world.holding = snapshot.holding
        world.control_steps = snapshot.control_steps
        world.colours = dict(snapshot.colours)
        world.roles = dict(snapshot.roles)
        robot.target_pos = snapshot.robot['target_pos'].copy()
        robot.target_rpy = snapshot.robot['target_rpy'].copy()
        robot.gripper_command = snapshot.robot['gripper_command']
        vla.rng.bit_generator.state = copy.deepcopy(snapshot.vla['rng'])
        for name in _VLA_FIELDS:
            # Deep copies again, so one snapshot can be restored any number of times.
            setattr(vla, name, copy.deepcopy(snapshot.vla[name]))


def save(env) -> SimSnapshot:
    """Return a snapshot of a SimTabletopEnv (sarl_ros.sim.env) between two decisions."""
    return SimSnapshot(world=save_world(env.world, env.robot, env.vla), decisions=int(env.decisions),
                       history=tuple(env.history), achieved=frozenset(env._achieved),
                       seed_rng=copy.deepcopy(env._seed_rng.bit_generator.state))


def restore(env, snapshot: SimSnapshot) -> None:
    """Put a SimTabletopEnv back as it was when the snapshot was taken (any number of times)."""
    restore_world(env.world, env.robot, env.vla, snapshot.world)
    env.decisions = snapshot.decisions
    env.history = list(snapshot.history)
    env._achieved = set(snapshot.achieved)
    env._seed_rng.bit_generator.state = copy.deepcopy(snapshot.seed_rng)


@contextmanager
def preserved(env, snapshot: SimSnapshot | None = None) -> Iterator[SimSnapshot]:
    """Run a block on the env and restore it afterwards (also when the block raises)."""
    snapshot = save(env) if snapshot is None else snapshot
    try:
        yield snapshot
    finally:
        restore(env, snapshot)


def try_prompt(env, prompt: str, snapshot: SimSnapshot | None = None):
    """Return the StepOutcome of executing a prompt now, leaving the env as it was.

    The trial draws the VLA's noise from the env's own stream (put back afterwards), so executing the
    same prompt right after gives the same outcome. Pass a snapshot of the current state to try many
    prompts from it without saving it each time.
    """
    with preserved(env, snapshot):
        return env.step(prompt)
