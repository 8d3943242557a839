"""Motion helpers of the simulator tests."""
import numpy as np


def hold(robot, steps, grip=1.0):
    """Apply zero-motion actions with a gripper command."""
    for _ in range(steps):
        robot.apply(np.array([0, 0, 0, 0, 0, 0, grip], dtype=float))


def move_to(robot, goal, grip=1.0, steps=20):
    """Drive the fingertips to a point with delta actions."""
    for _ in range(steps):
        error = np.asarray(goal) - robot.proprio()[:3]
        if np.linalg.norm(error) < 0.003:
            break
        robot.apply(np.concatenate([np.clip(error, -0.04, 0.04), [0, 0, 0, grip]]))


def seed_where(env, condition, seeds=range(200)):
    """Return the first reset seed whose scene meets a condition on the world (a layout to test)."""
    for seed in seeds:
        env.reset(seed=seed)
        if condition(env.world):
            return seed
    raise AssertionError('no layout found')
