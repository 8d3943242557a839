"""The grasp rule: a grounded grasp lifts the object, opening releases it, empty grasps hold nothing."""
import numpy as np
from sim_test_helpers import hold, move_to


def test_closing_around_an_object_lifts_it_and_opening_drops_it(cube_world):
    world, robot = cube_world
    cube = world.object_position('cube')
    move_to(robot, cube + [0, 0, 0.08])
    move_to(robot, cube + [0, 0, 0.002])
    hold(robot, 1, grip=0.0)
    assert world.holding == 'cube'
    move_to(robot, cube + [0, 0, 0.12], grip=0.0)
    assert world.object_position('cube')[2] > cube[2] + 0.08
    hold(robot, 3, grip=1.0)
    assert world.holding is None
    assert world.object_position('cube')[2] < cube[2] + 0.01  # fell back to the table


def test_closing_away_from_objects_grasps_nothing(cube_world):
    world, robot = cube_world
    cube = world.object_position('cube')
    move_to(robot, cube + [0.0, 0.0, 0.08])
    hold(robot, 1, grip=0.0)
    assert world.holding is None
    move_to(robot, cube + [0.06, 0.0, 0.002])
    hold(robot, 1, grip=0.0)
    assert world.holding is None


def test_containers_cannot_be_grasped(cube_world):
    world, robot = cube_world
    plate = world.object_position('plate')
    move_to(robot, plate + [0, 0, 0.01])
    hold(robot, 1, grip=0.0)
    assert world.holding is None
    assert np.allclose(world.object_position('plate'), plate)
